// Outstanding requests/commands/pings: each holds a promise that is fulfilled exactly once,
// by its answer, by its timeout, or by the end of the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "stagelink/result.hpp"

namespace stagelink::detail {

template <class T, class Key = std::uint64_t>
class PendingMap {
 public:
  using Promise = std::promise<Result<T>>;

  /// Registers `promise` under `key`; after `timeout` it fails with `timeout`.
  void add(boost::asio::io_context& io, Key key, std::shared_ptr<Promise> promise,
           std::chrono::milliseconds timeout, std::string what) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io, timeout);
    timer->async_wait([this, key, timeout, what](const boost::system::error_code& ec) {
      if (ec) return;
      resolve(key, make_error(errc::timeout, what + ": no answer within " +
                                                 std::to_string(timeout.count()) + " ms"));
    });
    entries_[key] = Entry{std::move(promise), std::move(timer)};
  }

  /// Fulfils and forgets `key`; false when nothing waits under it.
  bool resolve(Key key, Result<T> result) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    Entry entry = std::move(it->second);
    entries_.erase(it);
    if (entry.timer) entry.timer->cancel();
    entry.promise->set_value(std::move(result));
    return true;
  }

  bool contains(Key key) const { return entries_.count(key) != 0; }

  void fail_all(const Error& error) {
    auto entries = std::move(entries_);
    entries_.clear();
    for (auto& [key, entry] : entries) {
      if (entry.timer) entry.timer->cancel();
      entry.promise->set_value(error);
    }
  }

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<Promise> promise;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  std::map<Key, Entry> entries_;
};

/// A future that is already ready.
template <class T>
std::future<Result<T>> ready_future(Result<T> value) {
  std::promise<Result<T>> p;
  p.set_value(std::move(value));
  return p.get_future();
}

}  // namespace stagelink::detail
