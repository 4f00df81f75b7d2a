#include "fake_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "stagelink/framing.hpp"

namespace stagelink::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

std::optional<FakeMessage> FakeServer::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return !queue_.empty(); })) return std::nullopt;
  FakeMessage m = std::move(queue_.front());
  queue_.pop_front();
  return m;
}

std::optional<nlohmann::json> FakeServer::expect(const std::string& type,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<FakeMessage> m = next(left);
    if (!m) return std::nullopt;
    if (m->binary) continue;
    nlohmann::json j = nlohmann::json::parse(m->data, nullptr, false);
    if (j.is_object() && j.value("type", "") == type) return j;
  }
}

bool FakeServer::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return closed_; });
}

void FakeServer::push(FakeMessage m) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(m));
  }
  cv_.notify_all();
}

void FakeServer::mark_closed() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

void FakeServer::reset_queue() {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
  closed_ = false;
}

namespace {

/// Waits until `fd` is readable.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

class PipeServer final : public FakeServer {
 public:
  PipeServer() {
    char tmpl[] = "/tmp/stagelink-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (dir == nullptr) std::abort();
    dir_ = dir;
    path_ = dir_ + "/fake.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 4) != 0) {
      std::perror("fake pipe server");
      std::abort();
    }
  }

  ~PipeServer() override {
    drop();
    ::close(listen_fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string url() const override { return "pipe://" + path_; }

  bool accept(std::chrono::milliseconds timeout) override {
    drop();
    reset_queue();
    if (!wait_readable(listen_fd_, timeout)) return false;
    conn_fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn_fd_ < 0) return false;
    reader_ = std::thread([this, fd = conn_fd_] { read_loop(fd); });
    return true;
  }

  void send_text(const std::string& text) override { send_raw(frame_header(static_cast<std::uint32_t>(text.size())) + text); }
  void send_binary(const std::string& bytes) override { send_text(bytes); }

  void send_raw(const std::string& bytes) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    std::size_t off = 0;
    while (off < bytes.size() && conn_fd_ >= 0) {
      const ssize_t n = ::send(conn_fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  void close_with(int, const std::string&) override { drop(); }

  void drop() override {
    if (conn_fd_ >= 0) {
      ::shutdown(conn_fd_, SHUT_RDWR);
    }
    if (reader_.joinable()) reader_.join();
    if (conn_fd_ >= 0) {
      ::close(conn_fd_);
      conn_fd_ = -1;
    }
  }

 private:
  void read_loop(int fd) {
    FrameDecoder decoder;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      decoder.feed(buf, static_cast<std::size_t>(n));
      for (;;) {
        auto m = decoder.next();
        if (!m || !m->has_value()) break;
        std::string payload = std::move(**m);
        push(FakeMessage{classify_payload(payload) == PayloadKind::binary, std::move(payload)});
      }
    }
    mark_closed();
  }

  std::string dir_;
  std::string path_;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  std::mutex write_mu_;
  std::thread reader_;
};

class WsServer final : public FakeServer {
 public:
  WsServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    acceptor_.non_blocking(true);
  }

  ~WsServer() override { drop(); }

  std::string url() const override {
    return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/ws";
  }

  bool accept(std::chrono::milliseconds timeout) override {
    drop();
    reset_queue();
    if (!wait_readable(acceptor_.native_handle(), timeout)) return false;
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) return false;
    socket.non_blocking(false);
    // Beast does the HTTP upgrade; afterwards frames are read and written by hand on the raw
    // socket, so the reader thread and the test thread never share Beast's stream state.
    websocket::stream<tcp::socket> handshake(std::move(socket));
    handshake.accept(ec);
    if (ec) return false;
    socket_ = std::make_unique<tcp::socket>(std::move(handshake.next_layer()));
    reader_ = std::thread([this] { read_loop(); });
    return true;
  }

  void send_text(const std::string& text) override { write_frame(0x1, text); }
  void send_binary(const std::string& bytes) override { write_frame(0x2, bytes); }
  void send_raw(const std::string&) override {}

  void close_with(int code, const std::string& reason) override {
    std::string payload;
    payload += static_cast<char>((code >> 8) & 0xff);
    payload += static_cast<char>(code & 0xff);
    payload += reason.substr(0, 100);
    write_frame(0x8, payload);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    drop();
  }

  void drop() override {
    if (socket_) {
      boost::system::error_code ec;
      socket_->shutdown(tcp::socket::shutdown_both, ec);
    }
    if (reader_.joinable()) reader_.join();
    if (socket_) {
      boost::system::error_code ec;
      socket_->close(ec);
      socket_.reset();
    }
  }

 private:
  /// An unmasked server frame.
  void write_frame(int opcode, const std::string& data) {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (!socket_) return;
    std::string frame;
    frame += static_cast<char>(0x80 | opcode);
    if (data.size() < 126) {
      frame += static_cast<char>(data.size());
    } else if (data.size() < 65536) {
      frame += static_cast<char>(126);
      frame += static_cast<char>((data.size() >> 8) & 0xff);
      frame += static_cast<char>(data.size() & 0xff);
    } else {
      frame += static_cast<char>(127);
      for (int i = 7; i >= 0; --i) frame += static_cast<char>((data.size() >> (8 * i)) & 0xff);
    }
    frame += data;
    boost::system::error_code ec;
    asio::write(*socket_, asio::buffer(frame), ec);
  }

  bool read_exact(std::string& out, std::size_t n) {
    out.resize(n);
    if (n == 0) return true;
    boost::system::error_code ec;
    asio::read(*socket_, asio::buffer(out), ec);
    return !ec;
  }

  void read_loop() {
    std::string message;
    int message_opcode = 0;
    std::string head;
    std::string bytes;
    while (read_exact(head, 2)) {
      const int opcode = head[0] & 0x0f;
      const bool fin = (head[0] & 0x80) != 0;
      std::uint64_t length = static_cast<unsigned char>(head[1]) & 0x7f;
      if (length == 126 || length == 127) {
        if (!read_exact(bytes, length == 126 ? 2 : 8)) break;
        length = 0;
        for (char c : bytes) length = (length << 8) | static_cast<unsigned char>(c);
      }
      std::string mask;
      if ((head[1] & 0x80) != 0 && !read_exact(mask, 4)) break;
      if (!read_exact(bytes, static_cast<std::size_t>(length))) break;
      for (std::size_t i = 0; i < bytes.size() && mask.size() == 4; ++i) bytes[i] ^= mask[i % 4];
      if (opcode == 0x8) {  // close: answer it, then stop
        write_frame(0x8, bytes.substr(0, 2));
        break;
      }
      if (opcode == 0x9) {
        write_frame(0xA, bytes);
        continue;
      }
      if (opcode == 0xA) continue;
      if (opcode != 0) message_opcode = opcode;
      message += bytes;
      if (fin) {
        push(FakeMessage{message_opcode == 0x2, std::move(message)});
        message.clear();
      }
    }
    mark_closed();
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<tcp::socket> socket_;
  std::mutex write_mu_;
  std::thread reader_;
};

}  // namespace

std::unique_ptr<FakeServer> FakeServer::create(Kind kind) {
  if (kind == Kind::pipe) return std::make_unique<PipeServer>();
  return std::make_unique<WsServer>();
}

}  // namespace stagelink::testing
