// display_driver — a native renderer that publishes its own project through the relay
// (role: host): stage frames, a sprite, stage properties, and the rendered stage as pixel tiles.
// It answers the relay's requests and applies the commands clients send, acking each one.
//
//   display_driver URL [--project gradient] [--fps 30] [--frames N]
//                      [--encoding raw|lz4|alternate] [--takeover]
//
// URL is the relay, ws://host:port/ws (the host token comes from STAGELINK_TOKEN).
//
// THE GRADIENT (receivers check it exactly): the stage is 256x192 RGBA8, sent as 64x64 tiles.
// For frame f (the tile header's frame number) and stage pixel (x, y):
//     r = (x + f) % 256,   g = (y * 2 + f) % 256,   b = (x + y) % 256,   a = 255
// Encoding "alternate" (the default) sends even frames raw (0) and odd frames LZ4 (1).
//
// Commands: pause, resume, go_to_frame, rewind, step, set_tempo, and the custom command
// "ping_driver", which is acked applied with result {"pong":true}. Commands are applied at the
// start of the next tick and acked with the frame they took effect on.
//
// Output (one line each, flushed): "connected: ...", "peer: ...", "ready",
// "command: <kind> -> <status> (frame F)", "frames: N" every 100 frames, "done".
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <stagelink/stagelink.hpp>

namespace {

constexpr std::uint16_t kStageWidth = 256;
constexpr std::uint16_t kStageHeight = 192;
constexpr std::int64_t kFrameCount = 240;

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

/// The gradient formula (see the header comment).
void render_gradient(std::uint32_t f, std::vector<std::uint8_t>& rgba) {
  rgba.resize(std::size_t{kStageWidth} * kStageHeight * 4);
  for (std::uint32_t y = 0; y < kStageHeight; ++y) {
    for (std::uint32_t x = 0; x < kStageWidth; ++x) {
      std::uint8_t* p = &rgba[(std::size_t{y} * kStageWidth + x) * 4];
      p[0] = static_cast<std::uint8_t>((x + f) % 256);
      p[1] = static_cast<std::uint8_t>((y * 2 + f) % 256);
      p[2] = static_cast<std::uint8_t>((x + y) % 256);
      p[3] = 255;
    }
  }
}

/// The movie the driver "plays": guarded because requests are answered on the I/O thread.
struct Engine {
  std::mutex mu;
  std::int64_t frame = 1;
  double tempo = 30;
  bool playing = true;
  std::int64_t time_ms = 0;
  /// Commands received, applied at the start of the next tick.
  std::deque<stagelink::IncomingCommand> inbox;

  stagelink::MovieState movie_state() {
    std::lock_guard<std::mutex> lock(mu);
    return {frame, kFrameCount, tempo, playing};
  }
};

stagelink::json sprite_state(std::int64_t frame) {
  return {{"sprite_num", 1},
          {"begin_frame", 1},
          {"end_frame", kFrameCount},
          {"member", {{"cast_lib", 1}, {"member_num", 1}}},
          {"loc_h", (frame * 4) % kStageWidth},
          {"loc_v", kStageHeight / 2},
          {"loc_z", 1},
          {"width", 16},
          {"height", 16},
          {"rotation", 0},
          {"skew", 0},
          {"blend", 100},
          {"ink", 0},
          {"visible", true},
          {"color", {{"r", 255}, {"g", 255}, {"b", 255}, {"a", 255}}}};
}

/// Applies one command to the engine (caller holds the lock) and says how it went.
stagelink::AckOutcome apply(Engine& e, const stagelink::IncomingCommand& c,
                            const stagelink::Publisher& publisher) {
  using stagelink::AckOutcome;
  const auto& spec = c.spec;
  if (spec.kind == "pause") {
    e.playing = false;
  } else if (spec.kind == "resume") {
    e.playing = true;
  } else if (spec.kind == "rewind") {
    e.frame = 1;
  } else if (spec.kind == "go_to_frame") {
    const std::int64_t f = spec.integer("frame");
    if (f < 1 || f > kFrameCount) {
      return AckOutcome::rejected(stagelink::errc::out_of_range,
                                  "frame " + std::to_string(f) + " is not in 1.." +
                                      std::to_string(kFrameCount));
    }
    e.frame = f;
  } else if (spec.kind == "step") {
    e.frame = ((e.frame - 1 + spec.integer("delta")) % kFrameCount + kFrameCount) % kFrameCount + 1;
  } else if (spec.kind == "set_tempo") {
    const double t = spec.number("tempo");
    if (!(t > 0 && t <= 240)) {
      return AckOutcome::rejected(stagelink::errc::invalid_value, "tempo must be in (0, 240]");
    }
    e.tempo = t;
  } else if (spec.kind == "custom") {
    stagelink::Result<stagelink::json> result = publisher.run_custom(spec);
    if (!result) return AckOutcome::rejected(result.error().code, result.error().message);
    return AckOutcome::applied(e.frame, *result);
  } else {
    return AckOutcome::rejected(stagelink::errc::unknown_command,
                                "display_driver does not handle '" + spec.kind + "'");
  }
  return AckOutcome::applied(e.frame);
}

int usage() {
  std::fprintf(stderr,
               "usage: display_driver URL [--project gradient] [--fps 30] [--frames N]\n"
               "                      [--encoding raw|lz4|alternate] [--takeover]\n"
               "  URL: the relay, ws://host:port/ws; host token: $STAGELINK_TOKEN\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") return usage();
  stagelink::PublisherOptions options;
  options.url = argv[1];
  options.project = "gradient";
  double fps = 30;
  long max_frames = 0;
  std::string encoding = "alternate";
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--takeover") {
      options.takeover = true;
    } else if (i + 1 < argc && arg == "--project") {
      options.project = argv[++i];
    } else if (i + 1 < argc && arg == "--fps") {
      fps = std::strtod(argv[++i], nullptr);
    } else if (i + 1 < argc && arg == "--frames") {
      max_frames = std::strtol(argv[++i], nullptr, 10);
    } else if (i + 1 < argc && arg == "--encoding") {
      encoding = argv[++i];
    } else {
      return usage();
    }
  }
  if (encoding != "raw" && encoding != "lz4" && encoding != "alternate") return usage();
  if ((encoding == "lz4") && !stagelink::lz4_available()) {
    std::fprintf(stderr, "display_driver: this build has no LZ4; use --encoding raw\n");
    return 2;
  }
  if (!(fps > 0)) fps = 30;
  options.token = stagelink::token_from_env();
  options.client.name = "stagelink-cpp-display-driver";
  options.server.name = "stagelink-cpp-display-driver";

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  Engine engine;
  engine.tempo = fps;
  stagelink::Publisher publisher(options);
  std::atomic<bool> lost{false};

  publisher.register_custom("ping_driver", [](const stagelink::json&) -> stagelink::Result<stagelink::json> {
    return stagelink::json{{"pong", true}};
  });
  publisher.set_command_handler(
      [&](const stagelink::IncomingCommand& c) -> std::optional<stagelink::AckOutcome> {
        std::lock_guard<std::mutex> lock(engine.mu);
        engine.inbox.push_back(c);
        return std::nullopt;  // acked by the tick loop
      });
  publisher.set_movie_state_provider([&] { return engine.movie_state(); });
  publisher.set_snapshot_provider([&] {
    const stagelink::MovieState m = engine.movie_state();
    return stagelink::json{
        {"movie", stagelink::encode(m)},
        {"stage_props",
         {{"width", kStageWidth}, {"height", kStageHeight},
          {"bgColor", {{"r", 0}, {"g", 0}, {"b", 0}, {"a", 255}}}}},
        {"movie_props", {{"name", "gradient"}, {"frame_count", kFrameCount}}},
        {"sprites", stagelink::json::array({sprite_state(m.frame)})},
        {"members", stagelink::json::array({{{"cast_lib", 1},
                                             {"member_num", 1},
                                             {"name", "dot"},
                                             {"kind", "shape"},
                                             {"props", stagelink::json::object()}}})}};
  });
  publisher.on_peer([](const stagelink::Hello& h) {
    std::printf("peer: hello from %s (role %s)\n", h.client.id.c_str(), h.role.c_str());
    std::fflush(stdout);
  });
  publisher.on_disconnect([&](const stagelink::Error& e) {
    std::fprintf(stderr, "display_driver: lost the relay: %s\n", e.to_string().c_str());
    lost = true;
  });
  publisher.on_protocol_error([](const stagelink::Error& e) {
    std::fprintf(stderr, "display_driver: bad input: %s\n", e.to_string().c_str());
  });

  // The relay may still be starting: retry the first connection briefly.
  stagelink::Result<stagelink::Welcome> welcome = stagelink::make_error("none", "");
  for (int attempt = 0; attempt < 20 && !stop_requested; ++attempt) {
    welcome = publisher.connect();
    if (welcome || welcome.error().code != stagelink::errc::connect_failed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!welcome) {
    std::fprintf(stderr, "display_driver: %s\n", welcome.error().to_string().c_str());
    return 1;
  }
  std::printf("connected: %s as host of '%s' (session %s)\n", options.url.c_str(),
              options.project.c_str(), welcome->session.c_str());
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<std::uint8_t> rgba;
  long ticks = 0;
  bool stage_props_sent = false;
  auto next_tick = std::chrono::steady_clock::now();
  while (!stop_requested && !lost && (max_frames <= 0 || ticks < max_frames)) {
    stagelink::StageFrame frame;
    {
      std::lock_guard<std::mutex> lock(engine.mu);
      // 1. Commands take effect at the start of the tick, each acked with its frame.
      while (!engine.inbox.empty()) {
        const stagelink::IncomingCommand c = engine.inbox.front();
        engine.inbox.pop_front();
        const stagelink::AckOutcome outcome = apply(engine, c, publisher);
        std::printf("command: %s -> %s", c.spec.kind == "custom" ? ("custom " + c.spec.text("name")).c_str()
                                                                 : c.spec.kind.c_str(),
                    std::string(stagelink::to_string(outcome.status)).c_str());
        if (outcome.frame) std::printf(" (frame %lld)", static_cast<long long>(*outcome.frame));
        std::printf("\n");
        std::fflush(stdout);
        (void)publisher.ack(c.id, outcome);
      }
      frame = {engine.frame, kFrameCount, engine.tempo, engine.playing, engine.time_ms,
               kStageWidth, kStageHeight};
    }

    // 2. Render and publish this frame.
    const auto f = static_cast<std::uint32_t>(frame.frame);
    render_gradient(f, rgba);
    publisher.publish_frame(frame);
    publisher.publish_event(stagelink::streams::sprites, frame.frame,
                            stagelink::json::array({sprite_state(frame.frame)}));
    if (!stage_props_sent) {
      publisher.publish_event(stagelink::streams::stage_props, frame.frame,
                              stagelink::json::array({{{"prop", "width"}, {"value", kStageWidth}},
                                                      {{"prop", "height"}, {"value", kStageHeight}}}));
      stage_props_sent = publisher.peer_ready();
    }
    stagelink::TileEncoding enc = stagelink::TileEncoding::raw;
    if (encoding == "lz4" || (encoding == "alternate" && (f % 2 == 1) && stagelink::lz4_available())) {
      enc = stagelink::TileEncoding::lz4;
    }
    stagelink::Result<void> sent = publisher.publish_pixels(f, rgba.data(), kStageWidth, kStageHeight, enc);
    if (!sent) std::fprintf(stderr, "display_driver: tiles: %s\n", sent.error().to_string().c_str());

    // 3. Advance.
    {
      std::lock_guard<std::mutex> lock(engine.mu);
      if (engine.playing) {
        engine.frame = engine.frame % kFrameCount + 1;
        engine.time_ms += static_cast<std::int64_t>(1000.0 / engine.tempo);
      }
      next_tick += std::chrono::microseconds(static_cast<std::int64_t>(1e6 / engine.tempo));
    }
    if (++ticks % 100 == 0) {
      const stagelink::PublisherStats st = publisher.stats();
      std::printf("frames: %ld (pixel frames sent %llu, skipped %llu)\n", ticks,
                  static_cast<unsigned long long>(st.pixel_frames_sent),
                  static_cast<unsigned long long>(st.pixel_frames_skipped));
      std::fflush(stdout);
    }
    std::this_thread::sleep_until(next_tick);
  }

  publisher.disconnect("display_driver stopping");
  std::printf("done\n");
  std::fflush(stdout);
  return lost ? 3 : 0;
}
