// One Asio io_context driven by one thread: every connection's state lives on it.
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace stagelink::detail {

class IoThread {
 public:
  IoThread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { run(); }) {}
  ~IoThread() { stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::io_context& context() { return io_; }
  bool in_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  template <class F>
  void post(F&& f) {
    boost::asio::post(io_, std::forward<F>(f));
  }

  /// Stops the loop and joins (detaches instead when called from the loop itself).
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) {
      if (std::this_thread::get_id() == thread_.get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
  }

 private:
  void run() {
    // A handler that throws must not take the whole process down; the library's own handlers
    // do not throw, and user callbacks are already guarded, so this is a last resort.
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "stagelink: exception escaped an I/O handler: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "stagelink: unknown exception escaped an I/O handler\n");
      }
    }
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

/// Calls a user callback, containing anything it throws.
template <class F, class... Args>
void safe_call(const F& f, Args&&... args) {
  if (!f) return;
  try {
    f(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagelink: callback threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "stagelink: callback threw a non-standard exception\n");
  }
}

}  // namespace stagelink::detail
