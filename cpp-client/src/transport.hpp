// A transport moves whole messages over one connection; it knows nothing of the protocol.
// Every method runs on the owning io_context's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "stagelink/result.hpp"
#include "stagelink/url.hpp"

namespace stagelink::detail {

/// One message as it travels: JSON text or a binary (pixel) message.
struct WireMessage {
  bool binary = false;
  std::string data;
};

struct TransportOptions {
  std::size_t max_message = 16u * 1024u * 1024u;
  /// How long a graceful close may take before the connection is cut.
  std::chrono::milliseconds close_timeout{1000};
};

class Transport : public std::enable_shared_from_this<Transport> {
 public:
  using ConnectHandler = std::function<void(Result<void>)>;
  using MessageHandler = std::function<void(WireMessage&&)>;
  /// Called exactly once, when the connection is over (whoever ended it).
  using CloseHandler = std::function<void(const Error&)>;

  virtual ~Transport() = default;

  /// Opens the connection; `done` is always called later, never from inside this call.
  virtual void async_connect(ConnectHandler done) = 0;
  /// Starts delivering incoming messages.
  virtual void start(MessageHandler on_message, CloseHandler on_close) = 0;
  /// Queues a message; it is written in order after those queued before it.
  virtual Result<void> send(WireMessage message) = 0;
  /// Bytes queued and not yet written.
  virtual std::size_t queued_bytes() const = 0;
  /// Writes what is queued, then closes cleanly.
  virtual void close() = 0;
  /// Cuts the connection now.
  virtual void abort() = 0;
};

std::shared_ptr<Transport> make_pipe_transport(boost::asio::io_context& io, std::string path,
                                               TransportOptions options);
std::shared_ptr<Transport> make_ws_transport(boost::asio::io_context& io, const Endpoint& endpoint,
                                             TransportOptions options);

inline std::shared_ptr<Transport> make_transport(boost::asio::io_context& io,
                                                 const Endpoint& endpoint,
                                                 TransportOptions options) {
  if (endpoint.scheme == Scheme::pipe) return make_pipe_transport(io, endpoint.socket_path, options);
  return make_ws_transport(io, endpoint, options);
}

}  // namespace stagelink::detail
