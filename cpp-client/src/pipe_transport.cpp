// Local-socket transport: a POSIX Unix-domain stream socket carrying length-prefixed frames.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "stagelink/framing.hpp"
#include "transport.hpp"

namespace stagelink::detail {
namespace {

namespace asio = boost::asio;
using local_stream = asio::local::stream_protocol;

class PipeTransport final : public Transport {
 public:
  PipeTransport(asio::io_context& io, std::string path, TransportOptions options)
      : socket_(io), close_timer_(io), path_(std::move(path)), options_(options),
        decoder_(options.max_message) {}

  void async_connect(ConnectHandler done) override {
    Result<void> result = connect_now();
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), done = std::move(done), result]() { done(result); });
  }

  void start(MessageHandler on_message, CloseHandler on_close) override {
    on_message_ = std::move(on_message);
    on_close_ = std::move(on_close);
    if (!socket_.is_open()) {
      finish(make_error(errc::not_connected, "socket is not connected"));
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
    Outgoing out{frame_header(static_cast<std::uint32_t>(message.data.size())),
                 std::move(message.data)};
    queue_.push_back(std::move(out));
    if (!writing_) write_next();
    return {};
  }

  std::size_t queued_bytes() const override { return queued_; }

  void close() override {
    if (closed_ || closing_) return;
    closing_ = true;
    if (!writing_) {
      finish(make_error(errc::disconnected, "closed by client"));
      return;
    }
    close_timer_.expires_after(options_.close_timeout);
    close_timer_.async_wait([self = shared_from(this)](const boost::system::error_code& ec) {
      if (!ec) self->finish(make_error(errc::disconnected, "closed by client (timed out)"));
    });
  }

  void abort() override { finish(make_error(errc::disconnected, "connection aborted")); }

 private:
  struct Outgoing {
    std::string header;
    std::string payload;
  };

  static std::shared_ptr<PipeTransport> shared_from(PipeTransport* self) {
    return std::static_pointer_cast<PipeTransport>(self->shared_from_this());
  }

  Result<void> connect_now() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.empty() || path_.size() >= sizeof(addr.sun_path)) {
      return make_error(errc::invalid_url, "socket path '" + path_ + "' is empty or too long");
    }
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(errc::connect_failed, std::string("socket(): ") + std::strerror(errno));
    int rc;
    do {
      rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      ::close(fd);
      return make_error(errc::connect_failed, "connect(" + path_ + "): " + std::strerror(err));
    }
    boost::system::error_code ec;
    socket_.assign(local_stream(), fd, ec);
    if (ec) {
      ::close(fd);
      return make_error(errc::connect_failed, "assign socket: " + ec.message());
    }
    return {};
  }

  void read_more() {
    socket_.async_read_some(
        asio::buffer(read_buffer_),
        [self = shared_from(this)](const boost::system::error_code& ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      if (ec == asio::error::eof || ec == asio::error::connection_reset) {
        finish(make_error(errc::disconnected, "connection closed by server"));
      } else {
        finish(make_error(errc::io_error, "read: " + ec.message()));
      }
      return;
    }
    decoder_.feed(read_buffer_.data(), n);
    for (;;) {
      Result<std::optional<std::string>> next = decoder_.next();
      if (!next) {
        finish(next.error());
        return;
      }
      if (!next->has_value()) break;
      std::string payload = std::move(**next);
      WireMessage message{classify_payload(payload) == PayloadKind::binary, std::move(payload)};
      if (on_message_) on_message_(std::move(message));
      if (closed_) return;
    }
    read_more();
  }

  void write_next() {
    writing_ = true;
    const Outgoing& out = queue_.front();
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out.header), asio::buffer(out.payload)};
    asio::async_write(socket_, buffers,
                      [self = shared_from(this)](const boost::system::error_code& ec, std::size_t) {
                        self->on_written(ec);
                      });
  }

  void on_written(const boost::system::error_code& ec) {
    if (closed_) return;
    queued_ -= queue_.front().payload.size();
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
    if (closing_) finish(make_error(errc::disconnected, "closed by client"));
  }

  void finish(const Error& error) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    close_timer_.cancel();
    socket_.shutdown(local_stream::socket::shutdown_both, ignored);
    socket_.close(ignored);
    CloseHandler handler = std::move(on_close_);
    on_close_ = nullptr;
    // on_message_ stays: finish() may run inside it, and closed_ already stops deliveries.
    if (handler) handler(error);
  }

  local_stream::socket socket_;
  asio::steady_timer close_timer_;
  std::string path_;
  TransportOptions options_;
  FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_{};
  /// Writes in flight and waiting; the front one is being written while `writing_`.
  std::deque<Outgoing> queue_;
  std::size_t queued_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  MessageHandler on_message_;
  CloseHandler on_close_;
};

}  // namespace

std::shared_ptr<Transport> make_pipe_transport(asio::io_context& io, std::string path,
                                               TransportOptions options) {
  return std::make_shared<PipeTransport>(io, std::move(path), options);
}

}  // namespace stagelink::detail
