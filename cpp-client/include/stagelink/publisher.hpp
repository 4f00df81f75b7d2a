// The publisher role: a native renderer publishes its own project through the relay
// (`role: host`) — the "display driver". After its own hello/welcome the relay speaks to it as a
// client on the same socket (docs/DECISIONS.md, "Relay host flow"): the publisher answers that
// hello with a welcome, streams snapshots, events and pixel tiles, answers requests with
// responses and commands with exactly one ack each.
//
// Threading: one I/O thread per Publisher; handlers and providers run on it. `publish_*` and
// `ack` may be called from any thread (the engine's tick loop, typically).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagelink/commands.hpp"
#include "stagelink/messages.hpp"
#include "stagelink/result.hpp"
#include "stagelink/tiles.hpp"
#include "stagelink/version.hpp"

namespace stagelink {

/// The streams of protocol v1 with their delivery policies.
std::vector<StreamInfo> default_streams();

struct PublisherOptions {
  /// The relay, `ws://host:port/ws` (a `pipe://` URL works too, for local tests).
  std::string url;
  std::string project;
  /// The project's host token.
  std::optional<std::string> token;
  bool takeover = false;
  ClientInfo client{"stagelink-cpp-host", "stagelink-cpp-publisher", kLibraryVersion};
  /// What this publisher calls itself in the welcome it sends to the relay.
  ServerInfo server{"stagelink-cpp-publisher", kLibraryVersion};
  std::vector<StreamInfo> streams = default_streams();
  std::vector<std::string> capabilities{"commands", "snapshots", "pixels", "custom"};
  std::int64_t heartbeat_ms = 5000;
  std::int64_t idle_timeout_ms = 30000;
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t max_message = 16u * 1024u * 1024u;
  /// Pixel flow control: at most this many frames sent without a `pixels_ack`...
  std::size_t max_unacked_pixel_frames = 2;
  /// ...and an unacknowledged frame stops counting after this long (a peer that never acks
  /// slows to one frame per timeout instead of stalling forever).
  std::chrono::milliseconds pixels_ack_timeout{1000};
  /// Pixel frames are skipped while more than this many bytes wait to be written.
  std::size_t max_queued_bytes = 8u * 1024u * 1024u;
  /// Commands not yet acked beyond this get an immediate `busy` ack.
  std::size_t max_pending_commands = 256;
};

/// A command received from the peer, validated.
struct IncomingCommand {
  std::uint64_t id = 0;
  CommandSpec spec;
};

/// How a command ended.
struct AckOutcome {
  AckStatus status = AckStatus::applied;
  std::optional<std::int64_t> frame;
  std::optional<json> result;
  std::optional<ErrorBody> error;

  static AckOutcome applied(std::optional<std::int64_t> frame, std::optional<json> result = {});
  static AckOutcome rejected(std::string code, std::string message);
};

struct PublisherStats {
  std::uint64_t events_sent = 0;
  std::uint64_t events_unsubscribed = 0;
  std::uint64_t pixel_frames_sent = 0;
  std::uint64_t pixel_frames_skipped = 0;
  std::uint64_t tiles_sent = 0;
  std::uint64_t commands_received = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t requests_answered = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

class Publisher {
 public:
  explicit Publisher(PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  /// Connects, sends `hello` with role host, and waits for the relay's `welcome`.
  Result<Welcome> connect();
  /// Sends `bye` and closes.
  void disconnect(std::string reason = "host closing",
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  bool connected() const;
  /// True once the relay's own hello was answered with a welcome.
  bool peer_ready() const;

  /// The body of snapshots and `stage` responses:
  /// `{"movie":{...},"stage_props":{...},"movie_props":{...},"sprites":[...],"members":[...]}`.
  /// The publisher adds `seqs` (and `type` for snapshots).
  void set_snapshot_provider(std::function<json()> provider);
  /// Answers `movie_state` requests.
  void set_movie_state_provider(std::function<MovieState()> provider);
  /// Answers other requests; return `std::nullopt` to fall back to the built-ins
  /// (`movie_state`, `stage`, `stats`) and then `unknown_request`.
  void set_request_handler(std::function<std::optional<Result<json>>(const Request&)> handler);
  /// Decides each valid command. Return an outcome to ack at once, or `std::nullopt` to ack
  /// later through `ack()` (e.g. at the start of the engine's next tick). Without a handler,
  /// custom commands run their registered handler and others are rejected `unknown_command`.
  void set_command_handler(
      std::function<std::optional<AckOutcome>(const IncomingCommand&)> handler);
  /// A named handler for `custom` commands; its value becomes `ack.result`.
  void register_custom(std::string name, std::function<Result<json>(const json& payload)> handler);
  /// Runs the registered handler of a `custom` command (`unknown_command` when none).
  Result<json> run_custom(const CommandSpec& spec) const;
  /// Called when the relay says hello (after the welcome was sent).
  void on_peer(std::function<void(const Hello&)> handler);
  void on_disconnect(std::function<void(const Error&)> handler);
  void on_protocol_error(std::function<void(const Error&)> handler);

  /// Acks a command that the command handler deferred. Fails when `id` is not awaiting an ack.
  Result<void> ack(std::uint64_t id, AckOutcome outcome);

  /// Publishes one event; `seq` is assigned per stream. Sent only if the peer subscribed.
  void publish_event(std::string stream, std::int64_t frame, json items);
  void publish_frame(const StageFrame& frame);
  /// Splits a whole RGBA8 image into tiles and sends them, subject to flow control.
  Result<void> publish_pixels(std::uint32_t frame, const std::uint8_t* rgba, std::uint16_t width,
                              std::uint16_t height, TileEncoding encoding,
                              std::uint16_t tile_size = kDefaultTileSize);

  PublisherStats stats() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace stagelink
