// control — pauses a running player (or relay project) and goes to a frame, printing each ack.
//
//   control URL [--frame N] [--project NAME] [--resume]
//
// URL is pipe:///path.sock, pipe://project or ws://host:port/ws; the token comes from
// STAGELINK_TOKEN. Exits 0 when every command was applied.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <stagelink/stagelink.hpp>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: control URL [--frame N] [--project NAME] [--resume]\n"
               "  URL: pipe:///path.sock | pipe://project | ws://host:port/ws\n"
               "  token: $STAGELINK_TOKEN\n");
  return 2;
}

bool report(const char* what, const stagelink::Result<stagelink::Ack>& ack) {
  if (!ack) {
    std::printf("%s: failed: %s\n", what, ack.error().to_string().c_str());
    return false;
  }
  std::printf("%s: %s", what, std::string(stagelink::to_string(ack->status)).c_str());
  if (ack->frame) std::printf(" (frame %lld)", static_cast<long long>(*ack->frame));
  if (ack->error) std::printf(" %s: %s", ack->error->code.c_str(), ack->error->message.c_str());
  std::printf("\n");
  std::fflush(stdout);
  return ack->status == stagelink::AckStatus::applied;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") return usage();
  stagelink::ClientOptions options;
  options.url = argv[1];
  options.role = "controller";
  options.reconnect.enabled = false;
  long long frame = 42;
  bool resume = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--resume") {
      resume = true;
    } else if (arg == "--frame" && i + 1 < argc) {
      frame = std::strtoll(argv[++i], nullptr, 10);
    } else if (arg == "--project" && i + 1 < argc) {
      options.project = argv[++i];
    } else {
      return usage();
    }
  }
  options.token = stagelink::token_from_env();
  options.client.name = "stagelink-cpp-control";

  stagelink::Client client(options);
  stagelink::Result<stagelink::Welcome> welcome = client.connect();
  if (!welcome) {
    std::fprintf(stderr, "control: %s\n", welcome.error().to_string().c_str());
    return 1;
  }
  std::printf("connected to %s, project %s, role %s\n", welcome->server.name.c_str(),
              welcome->project.c_str(), welcome->role.c_str());

  bool ok = report("pause", client.pause().get());
  ok = report(("go_to_frame " + std::to_string(frame)).c_str(), client.go_to_frame(frame).get()) && ok;
  stagelink::Result<stagelink::MovieState> state = client.movie_state();
  if (state) {
    std::printf("movie_state: frame %lld of %lld, %s\n", static_cast<long long>(state->frame),
                static_cast<long long>(state->frame_count), state->playing ? "playing" : "paused");
  } else {
    std::printf("movie_state: failed: %s\n", state.error().to_string().c_str());
  }
  if (resume) ok = report("resume", client.resume().get()) && ok;
  client.disconnect("control done");
  return ok ? 0 : 1;
}
