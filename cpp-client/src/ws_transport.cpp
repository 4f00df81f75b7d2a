// WebSocket transport: Boost.Beast over TCP; text messages are JSON, binary messages are tiles.
#include <deque>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "stagelink/version.hpp"
#include "transport.hpp"

namespace stagelink::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class WsTransport final : public Transport {
 public:
  WsTransport(asio::io_context& io, const Endpoint& endpoint, TransportOptions options)
      : resolver_(io), ws_(io), close_timer_(io), endpoint_(endpoint), options_(options) {}

  void async_connect(ConnectHandler done) override {
    connect_done_ = std::move(done);
    resolver_.async_resolve(
        endpoint_.host, endpoint_.port,
        [self = shared_from(this)](const boost::system::error_code& ec,
                                   const tcp::resolver::results_type& results) {
          self->on_resolved(ec, results);
        });
  }

  void start(MessageHandler on_message, CloseHandler on_close) override {
    on_message_ = std::move(on_message);
    on_close_ = std::move(on_close);
    if (!ws_.is_open()) {
      finish(make_error(errc::not_connected, "websocket is not open"));
      return;
    }
    read_more();
  }

  Result<void> send(WireMessage message) override {
    if (closed_ || closing_) return make_error(errc::not_connected, "connection is closing");
    if (message.data.size() > options_.max_message) {
      return make_error(errc::frame_too_large,
                        "outgoing message of " + std::to_string(message.data.size()) + " bytes");
    }
    queued_ += message.data.size();
    queue_.push_back(std::move(message));
    if (!writing_) write_next();
    return {};
  }

  std::size_t queued_bytes() const override { return queued_; }

  void close() override {
    if (closed_ || closing_) return;
    if (!ws_.is_open()) {
      finish(make_error(errc::disconnected, "closed by client"));
      return;
    }
    closing_ = true;
    close_timer_.expires_after(options_.close_timeout);
    close_timer_.async_wait([self = shared_from(this)](const boost::system::error_code& ec) {
      if (!ec) self->finish(make_error(errc::disconnected, "closed by client (timed out)"));
    });
    if (!writing_) send_close();
  }

  void abort() override { finish(make_error(errc::disconnected, "connection aborted")); }

 private:
  static std::shared_ptr<WsTransport> shared_from(WsTransport* self) {
    return std::static_pointer_cast<WsTransport>(self->shared_from_this());
  }

  void connect_failed(const std::string& what) {
    if (!connect_done_) return;
    ConnectHandler done = std::move(connect_done_);
    connect_done_ = nullptr;
    closed_ = true;
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    done(make_error(errc::connect_failed, endpoint_.url + ": " + what));
  }

  void on_resolved(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
    if (ec) return connect_failed("resolve " + endpoint_.host + ": " + ec.message());
    if (closed_) return connect_failed("aborted");
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(
        results, [self = shared_from(this)](const boost::system::error_code& ec2,
                                            const tcp::endpoint&) { self->on_tcp_connected(ec2); });
  }

  void on_tcp_connected(const boost::system::error_code& ec) {
    if (ec) return connect_failed("connect: " + ec.message());
    if (closed_) return connect_failed("aborted");
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts =
        websocket::stream_base::timeout::suggested(beast::role_type::client);
    timeouts.handshake_timeout = std::chrono::seconds(10);
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(http::field::user_agent, std::string("stagelink-cpp/") + kLibraryVersion);
    }));
    ws_.read_message_max(options_.max_message);
    std::string host = endpoint_.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    ws_.async_handshake(handshake_response_, host + ":" + endpoint_.port, endpoint_.target,
                        [self = shared_from(this)](const boost::system::error_code& ec2) {
                          self->on_handshake(ec2);
                        });
  }

  void on_handshake(const boost::system::error_code& ec) {
    if (ec) {
      std::string what = "websocket handshake: " + ec.message();
      if (handshake_response_.result_int() != 0) {
        what += " (HTTP " + std::to_string(handshake_response_.result_int()) + ")";
      }
      return connect_failed(what);
    }
    if (closed_) return connect_failed("aborted");
    ConnectHandler done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (done) done(Result<void>{});
  }

  void read_more() {
    ws_.async_read(read_buffer_, [self = shared_from(this)](const boost::system::error_code& ec,
                                                            std::size_t) { self->on_read(ec); });
  }

  void on_read(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
      finish(error_for(ec));
      return;
    }
    WireMessage message{ws_.got_binary(), beast::buffers_to_string(read_buffer_.data())};
    read_buffer_.consume(read_buffer_.size());
    if (on_message_) on_message_(std::move(message));
    if (closed_) return;
    read_more();
  }

  /// Turns a read error into the protocol's vocabulary: a close frame with 4000+n carries the
  /// server's fatal error code.
  Error error_for(const boost::system::error_code& ec) {
    if (ec == websocket::error::closed) {
      const websocket::close_reason& reason = ws_.reason();
      const int code = static_cast<int>(reason.code);
      const std::string_view protocol_code = code_for_close_code(code);
      std::string message = reason.reason.empty() ? "connection closed by server"
                                                  : std::string(reason.reason.c_str());
      if (!protocol_code.empty()) {
        return make_error(std::string(protocol_code), message, is_fatal_code(protocol_code));
      }
      return make_error(errc::disconnected, message + " (close code " + std::to_string(code) + ")");
    }
    if (ec == websocket::error::message_too_big || ec == beast::http::error::buffer_overflow) {
      return make_error(errc::frame_too_large,
                        "incoming message exceeds " + std::to_string(options_.max_message) +
                            " bytes",
                        true);
    }
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == beast::error::timeout) {
      return make_error(errc::disconnected, "connection lost: " + ec.message());
    }
    return make_error(errc::io_error, "read: " + ec.message());
  }

  void write_next() {
    writing_ = true;
    const WireMessage& out = queue_.front();
    ws_.binary(out.binary);
    ws_.async_write(asio::buffer(out.data),
                    [self = shared_from(this)](const boost::system::error_code& ec, std::size_t) {
                      self->on_written(ec);
                    });
  }

  void on_written(const boost::system::error_code& ec) {
    if (closed_) return;
    queued_ -= queue_.front().data.size();
    queue_.pop_front();
    if (ec) {
      finish(make_error(errc::io_error, "write: " + ec.message()));
      return;
    }
    if (!queue_.empty()) {
      write_next();
      return;
    }
    writing_ = false;
    if (closing_) send_close();
  }

  void send_close() {
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from(this)](const boost::system::error_code&) {
                      self->finish(make_error(errc::disconnected, "closed by client"));
                    });
  }

  void finish(const Error& error) {
    if (closed_) return;
    closed_ = true;
    close_timer_.cancel();
    resolver_.cancel();
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (connect_done_) {
      ConnectHandler done = std::move(connect_done_);
      connect_done_ = nullptr;
      done(make_error(errc::connect_failed, endpoint_.url + ": " + error.message));
    }
    CloseHandler handler = std::move(on_close_);
    on_close_ = nullptr;
    // on_message_ stays: finish() may run inside it, and closed_ already stops deliveries.
    if (handler) handler(error);
  }

  tcp::resolver resolver_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer close_timer_;
  Endpoint endpoint_;
  TransportOptions options_;
  websocket::response_type handshake_response_;
  beast::flat_buffer read_buffer_;
  std::deque<WireMessage> queue_;
  std::size_t queued_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  ConnectHandler connect_done_;
  MessageHandler on_message_;
  CloseHandler on_close_;
};

}  // namespace

std::shared_ptr<Transport> make_ws_transport(asio::io_context& io, const Endpoint& endpoint,
                                             TransportOptions options) {
  return std::make_shared<WsTransport>(io, endpoint, options);
}

}  // namespace stagelink::detail
