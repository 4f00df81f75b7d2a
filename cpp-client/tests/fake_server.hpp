// A scriptable server for loopback tests: accepts one connection at a time over a Unix socket
// (length-prefixed frames) or a WebSocket (Beast), and lets a test read what the library sent
// and answer with anything — including garbage.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace stagelink::testing {

using namespace std::chrono_literals;

struct FakeMessage {
  bool binary = false;
  std::string data;
};

class FakeServer {
 public:
  enum class Kind { pipe, ws };

  static std::unique_ptr<FakeServer> create(Kind kind);
  virtual ~FakeServer() = default;

  virtual std::string url() const = 0;
  /// Waits for the next connection (dropping any current one).
  virtual bool accept(std::chrono::milliseconds timeout = 5000ms) = 0;
  virtual void send_text(const std::string& text) = 0;
  virtual void send_binary(const std::string& bytes) = 0;
  /// Raw bytes on the socket, bypassing framing (pipe only; no-op on ws).
  virtual void send_raw(const std::string& bytes) = 0;
  /// Closes the WebSocket with a close frame carrying `code` (ws), or just drops (pipe).
  virtual void close_with(int code, const std::string& reason) = 0;
  /// Drops the current connection without a goodbye.
  virtual void drop() = 0;

  void send_json(const nlohmann::json& j) { send_text(j.dump()); }

  /// The next message the client sent.
  std::optional<FakeMessage> next(std::chrono::milliseconds timeout = 5000ms);
  /// The next JSON message whose "type" is `type`, skipping others (pings, pixels_acks...).
  std::optional<nlohmann::json> expect(const std::string& type,
                                       std::chrono::milliseconds timeout = 5000ms);
  /// True once the client closed the connection (EOF or close frame).
  bool wait_closed(std::chrono::milliseconds timeout = 5000ms);

 protected:
  void push(FakeMessage m);
  void mark_closed();
  void reset_queue();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<FakeMessage> queue_;
  bool closed_ = false;
};

/// Names the transport in gtest/ctest output.
inline void PrintTo(FakeServer::Kind kind, std::ostream* os) {
  *os << (kind == FakeServer::Kind::pipe ? "pipe" : "ws");
}

}  // namespace stagelink::testing
