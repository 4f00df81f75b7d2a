// The observer/controller client: connect with a hello, subscribe, receive typed events through
// callbacks or a poll loop, send requests and commands that return futures, ping, disconnect,
// and reconnect with resync.
//
// Threading: each Client runs one I/O thread. Callbacks run on that thread, one at a time, in
// the order messages arrived; they must not block on the futures this client returns (the
// thread that would fulfil them is the one waiting). All public methods are thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "stagelink/messages.hpp"
#include "stagelink/result.hpp"
#include "stagelink/tiles.hpp"
#include "stagelink/version.hpp"

namespace stagelink {

/// How a client comes back after losing its session.
struct ReconnectPolicy {
  bool enabled = true;
  std::chrono::milliseconds initial_delay{100};
  std::chrono::milliseconds max_delay{5000};
  double multiplier = 2.0;
  /// Give up after this many failed attempts in a row; 0 = never give up.
  int max_attempts = 0;
};

struct ClientOptions {
  /// `pipe:///path.sock`, `pipe://project` or `ws://host:port/ws`.
  std::string url;
  std::string project = "demo";
  /// "observer" or "controller".
  std::string role = "controller";
  /// Sent in `hello` when set (see `token_from_env()`).
  std::optional<std::string> token;
  ClientInfo client{"stagelink-cpp", "stagelink-cpp-client", kLibraryVersion};
  /// Streams subscribed in the first `hello` (`{"*"}` for all).
  std::vector<std::string> subscribe;
  /// Ask for a snapshot before the first live event.
  bool snapshot = false;
  /// Covers transport connect + hello/welcome.
  std::chrono::milliseconds connect_timeout{5000};
  /// Default for requests, commands and pings that do not give their own.
  std::chrono::milliseconds request_timeout{5000};
  std::size_t max_message = 16u * 1024u * 1024u;
  ReconnectPolicy reconnect;
  /// Send `pixels_ack` after each tile carrying the last-tile flag.
  bool auto_pixels_ack = true;
  /// Answer a `gap` by requesting a fresh `stage`, delivered to `on_snapshot`.
  bool resync_on_gap = true;
  /// Send a `ping` every `welcome.heartbeat_ms` so the server never idles us out.
  bool heartbeat = true;
  /// Queue incoming messages for `poll()` (in addition to the callbacks).
  bool poll_queue = false;
  /// Oldest queued items are dropped past this (counted in `ClientStats::poll_dropped`).
  std::size_t poll_queue_limit = 10000;
};

/// `STAGELINK_TOKEN` from the environment, if set and non-empty.
std::optional<std::string> token_from_env();

/// The session ended (on_disconnect, poll).
struct Disconnected {
  Error reason;
  /// True when the client is about to retry (reconnect enabled and the reason allows it).
  bool will_reconnect = false;
};

/// The session came back after a disconnect and its state was refreshed.
struct Resynced {
  Welcome welcome;
  Snapshot snapshot;
};

/// What `poll()` returns. `Error` is a problem found in the server's input (reported, skipped).
using Incoming = std::variant<Event, Snapshot, Tile, Gap, Notice, ErrorMessage, Error,
                              Disconnected, Resynced, Bye>;

struct ClientStats {
  std::uint64_t messages_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_out = 0;
  /// Server messages that could not be parsed or did not fit the protocol.
  std::uint64_t protocol_errors = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t poll_dropped = 0;
  std::uint64_t gaps = 0;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects and waits for `welcome` (or a fatal error, or `connect_timeout`).
  Result<Welcome> connect();
  std::future<Result<Welcome>> connect_async();

  /// Sends `bye`, closes, and stops reconnecting. Waits up to `timeout` for the close.
  void disconnect(std::string reason = "client closing",
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  /// True while a session is established (welcome received, not yet closed).
  bool connected() const;
  /// The latest welcome, if any.
  std::optional<Welcome> welcome() const;

  Result<void> subscribe(std::vector<std::string> streams, bool snapshot = false);
  Result<void> unsubscribe(std::vector<std::string> streams);

  /// Requests and commands: the future always becomes ready, with the answer, the error the
  /// server sent for this id, `timeout`, `not_connected` or `disconnected`.
  /// A rejected or busy ack is a successful Result: look at `Ack::status`.
  std::future<Result<Response>> request(std::string what,
                                        std::optional<std::chrono::milliseconds> timeout = {});
  std::future<Result<Ack>> command(json command,
                                   std::optional<std::chrono::milliseconds> timeout = {});
  std::future<Result<Ack>> pause() { return command(make_pause()); }
  std::future<Result<Ack>> resume() { return command(make_resume()); }
  std::future<Result<Ack>> go_to_frame(std::int64_t frame) { return command(make_go_to(frame)); }
  std::future<Result<Ack>> custom(std::string name, json payload = json::object());

  /// `movie_state` request, decoded.
  Result<MovieState> movie_state(std::optional<std::chrono::milliseconds> timeout = {});

  /// Round trip of a ping.
  std::future<Result<std::chrono::milliseconds>> ping(
      std::optional<std::chrono::milliseconds> timeout = {});

  /// Acknowledges a pixel frame (done automatically when `auto_pixels_ack`).
  Result<void> send_pixels_ack(std::uint64_t frame);

  // Callbacks (run on the I/O thread; set them before `connect()`).
  void on_event(std::function<void(const Event&)> handler);
  /// Each item of the `frames` stream, decoded (undecodable items go to on_protocol_error).
  void on_frame(std::function<void(const StageFrame&)> handler);
  void on_snapshot(std::function<void(const Snapshot&)> handler);
  void on_tile(std::function<void(const Tile&)> handler);
  void on_gap(std::function<void(const Gap&)> handler);
  void on_notice(std::function<void(const Notice&)> handler);
  void on_server_error(std::function<void(const ErrorMessage&)> handler);
  /// Bad input from the server: reported here and skipped, the session goes on.
  void on_protocol_error(std::function<void(const Error&)> handler);
  void on_disconnect(std::function<void(const Disconnected&)> handler);
  /// After a reconnect: re-hello'd, resubscribed, and this snapshot is the fresh state.
  void on_resync(std::function<void(const Resynced&)> handler);

  /// The next queued message (needs `poll_queue`), waiting up to `timeout`.
  std::optional<Incoming> poll(std::chrono::milliseconds timeout);

  ClientStats stats() const;

  class Impl;

 private:
  static json make_pause();
  static json make_resume();
  static json make_go_to(std::int64_t frame);
  std::shared_ptr<Impl> impl_;
};

}  // namespace stagelink
