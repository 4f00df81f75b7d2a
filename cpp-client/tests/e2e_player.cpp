// End to end against the real stagelink-player, over WebSocket and the local socket:
// receive frames, pause, go to frame 42, and get each ack; the frames stream must then show
// playing=false at frame 42.
//
// The player binary: $STAGELINK_PLAYER, else <CARGO_TARGET_DIR or repo/target>/debug/stagelink-player.
// When it is missing the test fails, unless STAGELINK_ALLOW_SKIP=1 (then it exits 77 = skipped).
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "stagelink/stagelink.hpp"

using namespace stagelink;
using namespace stagelink::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kSkip = 77;
constexpr const char* kToken = "s3cr3t";

int failures = 0;

void check(bool ok, const std::string& transport, const std::string& what) {
  std::printf("[%s] %s: %s\n", transport.c_str(), ok ? "ok  " : "FAIL", what.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

/// Frames seen on the `frames` stream, shared with the client's I/O thread.
struct FrameLog {
  std::mutex mu;
  std::vector<StageFrame> frames;

  void add(const StageFrame& f) {
    std::lock_guard<std::mutex> lock(mu);
    frames.push_back(f);
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return frames.size();
  }
  bool wait_for(const std::function<bool(const StageFrame&)>& pred, std::chrono::milliseconds timeout,
                std::size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu);
        for (std::size_t i = from; i < frames.size(); ++i) {
          if (pred(frames[i])) return true;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

std::string describe(const Result<Ack>& ack) {
  if (!ack) return "error " + ack.error().to_string();
  std::string s = "status " + std::string(to_string(ack->status));
  if (ack->frame) s += ", frame " + std::to_string(*ack->frame);
  if (ack->error) s += ", error " + ack->error->code + ": " + ack->error->message;
  return s;
}

void scenario(const std::string& transport, const std::string& url) {
  std::printf("[%s] connecting to %s\n", transport.c_str(), url.c_str());
  ClientOptions options;
  options.url = url;
  options.project = "demo";
  options.role = "controller";
  options.token = kToken;
  options.subscribe = {"frames"};
  options.snapshot = true;
  options.connect_timeout = 10s;
  options.request_timeout = 10s;
  options.client.id = "cpp-e2e-" + transport;
  Client client(options);
  FrameLog log;
  client.on_frame([&](const StageFrame& f) { log.add(f); });
  client.on_protocol_error([&](const Error& e) {
    std::printf("[%s] protocol error from the player: %s\n", transport.c_str(), e.to_string().c_str());
  });

  Result<Welcome> welcome = client.connect();
  check(welcome.ok(), transport, "hello -> welcome" + (welcome ? " (session " + welcome->session + ", server " +
                                                                     welcome->server.name + ")"
                                                               : ": " + welcome.error().to_string()));
  if (!welcome) return;

  // Make sure it plays (an earlier scenario may have left it paused), then watch frames arrive.
  Result<Ack> resumed = client.resume().get();
  check(resumed && resumed->status == AckStatus::applied, transport, "resume ack: " + describe(resumed));
  const std::size_t before = log.count();
  check(log.wait_for([](const StageFrame& f) { return f.playing; }, 15s, before) &&
            log.wait_for([&](const StageFrame&) { return log.frames.size() >= before + 2; }, 15s),
        transport, "frames events arrive while playing");

  Result<Ack> paused = client.pause().get();
  check(paused && paused->status == AckStatus::applied, transport, "pause ack: " + describe(paused));
  check(log.wait_for([](const StageFrame& f) { return !f.playing; }, 10s), transport,
        "frames stream shows playing=false");

  const std::size_t mark = log.count();
  Result<Ack> went = client.go_to_frame(42).get();
  check(went && went->status == AckStatus::applied && went->frame.has_value(), transport,
        "go_to_frame 42 ack (applied, with frame): " + describe(went));
  check(log.wait_for([](const StageFrame& f) { return f.frame == 42 && !f.playing; }, 10s, mark),
        transport, "frames stream shows frame 42, playing=false");

  Result<MovieState> state = client.movie_state();
  check(state && state->frame == 42 && !state->playing, transport,
        state ? "movie_state: frame " + std::to_string(state->frame) +
                    (state->playing ? " playing" : " paused")
              : "movie_state: " + state.error().to_string());

  Result<std::chrono::milliseconds> rtt = client.ping().get();
  check(rtt.ok(), transport, rtt ? "ping rtt " + std::to_string(rtt->count()) + " ms"
                                 : "ping: " + rtt.error().to_string());

  Result<Ack> resumed_again = client.resume().get();
  check(resumed_again && resumed_again->status == AckStatus::applied, transport,
        "resume ack: " + describe(resumed_again));
  client.disconnect("e2e done");
  check(!client.connected(), transport, "clean disconnect");
}

}  // namespace

int main() {
  const std::string player = locate_binary("STAGELINK_PLAYER", STAGELINK_REPO_ROOT,
                                           "stagelink-player");
  if (!is_executable(player)) {
    const char* allow = std::getenv("STAGELINK_ALLOW_SKIP");
    if (allow != nullptr && std::string(allow) == "1") {
      std::printf("SKIPPED: stagelink-player not found at %s (STAGELINK_ALLOW_SKIP=1). "
                  "Build it with `cargo build` or set STAGELINK_PLAYER.\n",
                  player.c_str());
      return kSkip;
    }
    std::printf("FAIL: stagelink-player not found at %s. Build it with `cargo build`, set "
                "STAGELINK_PLAYER, or set STAGELINK_ALLOW_SKIP=1 to skip.\n",
                player.c_str());
    return 1;
  }

  char tmpl[] = "/tmp/stagelink-e2e-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string socket_path = std::string(dir) + "/demo.sock";
  auto child = ChildProcess::spawn({player, "--ws", "127.0.0.1:0", "--pipe", socket_path, "--token",
                                    kToken, "--renderer", "off"},
                                   "player");
  if (!child) {
    std::printf("FAIL: could not start %s\n", player.c_str());
    return 1;
  }

  std::string ws_url;
  std::string pipe_path;
  bool ready = false;
  while (auto line = child->read_line(60s)) {
    std::printf("[player] %s\n", line->c_str());
    if (line->rfind("websocket: ", 0) == 0) ws_url = line->substr(11);
    if (line->rfind("socket: ", 0) == 0) pipe_path = line->substr(8);
    if (*line == "ready") {
      ready = true;
      break;
    }
  }
  child->drain_in_background();
  if (!ready || ws_url.empty() || pipe_path.empty() || pipe_path == "off") {
    std::printf("FAIL: the player did not print websocket:/socket:/ready (ws=%s socket=%s)\n",
                ws_url.c_str(), pipe_path.c_str());
    child->terminate();
    std::filesystem::remove_all(dir);
    return 1;
  }

  scenario("ws", ws_url);
  scenario("pipe", "pipe://" + pipe_path);

  child->terminate();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::printf("e2e_player: %s (%d failed check%s)\n", failures == 0 ? "passed" : "FAILED", failures,
              failures == 1 ? "" : "s");
  return failures == 0 ? 0 : 1;
}
