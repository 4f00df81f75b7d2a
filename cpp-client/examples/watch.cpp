// watch — prints one line per frame of a running player or relay project.
//
//   watch URL [--project NAME] [--frames N] [--role observer|controller]
//
// URL is pipe:///path.sock, pipe://project or ws://host:port/ws; the token comes from
// STAGELINK_TOKEN. Uses the poll loop (no callbacks). Exits after N frames when --frames is given.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <stagelink/stagelink.hpp>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

int usage() {
  std::fprintf(stderr,
               "usage: watch URL [--project NAME] [--frames N] [--role observer|controller]\n"
               "  URL: pipe:///path.sock | pipe://project | ws://host:port/ws\n"
               "  token: $STAGELINK_TOKEN\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") return usage();
  stagelink::ClientOptions options;
  options.url = argv[1];
  options.role = "observer";
  long max_frames = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--project") {
      options.project = argv[++i];
    } else if (arg == "--frames") {
      max_frames = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--role") {
      options.role = argv[++i];
    } else {
      return usage();
    }
  }
  options.token = stagelink::token_from_env();
  options.client.name = "stagelink-cpp-watch";
  options.subscribe = {stagelink::streams::frames};
  options.snapshot = true;
  options.poll_queue = true;

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  stagelink::Client client(options);
  stagelink::Result<stagelink::Welcome> welcome = client.connect();
  if (!welcome) {
    std::fprintf(stderr, "watch: %s\n", welcome.error().to_string().c_str());
    return 1;
  }
  std::printf("connected to %s (%s %s), project %s, session %s\n", options.url.c_str(),
              welcome->server.name.c_str(), welcome->server.version.c_str(),
              welcome->project.c_str(), welcome->session.c_str());
  std::fflush(stdout);

  long frames = 0;
  int exit_code = 0;
  while (!stop_requested && (max_frames <= 0 || frames < max_frames)) {
    std::optional<stagelink::Incoming> item = client.poll(std::chrono::milliseconds(200));
    if (!item) continue;
    if (auto* event = std::get_if<stagelink::Event>(&*item)) {
      if (event->stream != stagelink::streams::frames) continue;
      for (const auto& raw : event->items) {
        auto f = stagelink::decode<stagelink::StageFrame>(raw);
        if (!f) {
          std::fprintf(stderr, "watch: bad frame item: %s\n", f.error().to_string().c_str());
          continue;
        }
        std::printf("frame %lld/%lld %s tempo %g time %lldms stage %lldx%lld seq %llu\n",
                    static_cast<long long>(f->frame), static_cast<long long>(f->frame_count),
                    f->playing ? "playing" : "paused", f->tempo,
                    static_cast<long long>(f->time_ms), static_cast<long long>(f->width),
                    static_cast<long long>(f->height),
                    static_cast<unsigned long long>(event->seq));
        ++frames;
      }
      std::fflush(stdout);
    } else if (auto* err = std::get_if<stagelink::ErrorMessage>(&*item)) {
      std::fprintf(stderr, "watch: server error %s: %s\n", err->code.c_str(), err->message.c_str());
    } else if (auto* bad = std::get_if<stagelink::Error>(&*item)) {
      std::fprintf(stderr, "watch: ignored bad input: %s\n", bad->to_string().c_str());
    } else if (auto* gone = std::get_if<stagelink::Disconnected>(&*item)) {
      std::fprintf(stderr, "watch: disconnected: %s%s\n", gone->reason.to_string().c_str(),
                   gone->will_reconnect ? " (reconnecting)" : "");
      if (!gone->will_reconnect) {
        exit_code = 1;
        break;
      }
    } else if (std::get_if<stagelink::Resynced>(&*item)) {
      std::fprintf(stderr, "watch: reconnected and resynced\n");
    } else if (auto* notice = std::get_if<stagelink::Notice>(&*item)) {
      std::fprintf(stderr, "watch: notice %s: %s\n", notice->code.c_str(), notice->message.c_str());
    }
  }
  client.disconnect("watch done");
  return exit_code;
}
