#include "stagelink/client.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <set>

#include <boost/asio/steady_timer.hpp>

#include "io_thread.hpp"
#include "pending.hpp"
#include "stagelink/commands.hpp"
#include "stagelink/url.hpp"
#include "transport.hpp"

namespace stagelink {

namespace asio = boost::asio;
using detail::safe_call;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::optional<std::string> token_from_env() {
  const char* token = std::getenv("STAGELINK_TOKEN");
  if (token == nullptr || token[0] == '\0') return std::nullopt;
  return std::string(token);
}

namespace {

/// Errors after which reconnecting cannot help (or is explicitly unwanted).
bool forbids_reconnect(const std::string& code) {
  return code == errc::auth_failed || code == errc::protocol_version ||
         code == errc::unknown_project || code == errc::session_replaced ||
         code == errc::project_taken || code == errc::not_identified ||
         code == errc::invalid_url;
}

Snapshot snapshot_from_stage(const json& data) {
  Snapshot s;
  if (data.is_object()) {
    Result<Snapshot> parsed = decode<Snapshot>(data);
    if (parsed) s = std::move(parsed).value();
  }
  return s;
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options)
      : opts_(std::move(options)),
        endpoint_(parse_url(opts_.url)),
        connect_timer_(io_.context()),
        heartbeat_timer_(io_.context()),
        reconnect_timer_(io_.context()),
        backoff_(opts_.reconnect.initial_delay) {
    subscriptions_.insert(opts_.subscribe.begin(), opts_.subscribe.end());
  }

  ~Impl() { shutdown(); }

  // ---- called from user threads ------------------------------------------------------------

  std::future<Result<Welcome>> connect_async() {
    auto promise = std::make_shared<std::promise<Result<Welcome>>>();
    auto future = promise->get_future();
    io_.post([this, promise] {
      if (!endpoint_) {
        promise->set_value(endpoint_.error());
        return;
      }
      if (phase_ != Phase::idle && phase_ != Phase::closed) {
        promise->set_value(make_error(errc::invalid_argument, "already connected or connecting"));
        return;
      }
      user_closed_ = false;
      established_once_ = false;
      failed_attempts_ = 0;
      connect_promise_ = promise;
      start_attempt();
    });
    return future;
  }

  void disconnect(std::string reason, milliseconds timeout) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    io_.post([this, done, reason = std::move(reason)] {
      user_closed_ = true;
      reconnect_timer_.cancel();
      if (phase_ == Phase::open && transport_) {
        close_waiters_.push_back(done);
        send_message(Bye{reason});
        transport_->close();  // its close handler ends the session
      } else if (phase_ == Phase::connecting || phase_ == Phase::handshaking) {
        close_waiters_.push_back(done);
        end_session(make_error(errc::disconnected, "closed by client"));
      } else {
        phase_ = Phase::closed;
        done->set_value();
      }
    });
    if (io_.in_thread()) return;  // cannot wait for ourselves
    if (future.wait_for(timeout) != std::future_status::ready) {
      io_.post([this] {
        if (transport_) transport_->abort();
      });
    }
  }

  void shutdown() {
    if (stopped_) return;
    stopped_ = true;
    if (!io_.in_thread()) {
      auto done = std::make_shared<std::promise<void>>();
      auto future = done->get_future();
      io_.post([this, done] {
        user_closed_ = true;
        reconnect_timer_.cancel();
        heartbeat_timer_.cancel();
        connect_timer_.cancel();
        const Error gone = make_error(errc::disconnected, "client destroyed");
        fail_pending(gone);
        if (connect_promise_) {
          connect_promise_->set_value(gone);
          connect_promise_.reset();
        }
        ++generation_;
        retire_transport();
        for (auto& w : close_waiters_) w->set_value();
        close_waiters_.clear();
        done->set_value();
      });
      future.wait_for(std::chrono::seconds(2));
    }
    io_.stop();
  }

  bool connected() const { return open_.load(); }

  std::optional<Welcome> welcome() const {
    std::lock_guard<std::mutex> lock(state_mu_);
    return welcome_;
  }

  Result<void> subscribe(std::vector<std::string> streams, bool snapshot) {
    if (!open_) return make_error(errc::not_connected, "not connected");
    io_.post([this, streams = std::move(streams), snapshot] {
      subscriptions_.insert(streams.begin(), streams.end());
      if (phase_ == Phase::open) send_message(Subscribe{streams, snapshot});
    });
    return {};
  }

  Result<void> unsubscribe(std::vector<std::string> streams) {
    if (!open_) return make_error(errc::not_connected, "not connected");
    io_.post([this, streams = std::move(streams)] {
      for (const auto& s : streams) subscriptions_.erase(s);
      if (phase_ == Phase::open) send_message(Unsubscribe{streams});
    });
    return {};
  }

  std::future<Result<Response>> request(std::string what, std::optional<milliseconds> timeout) {
    auto promise = std::make_shared<std::promise<Result<Response>>>();
    auto future = promise->get_future();
    const std::uint64_t id = next_id_++;
    io_.post([this, promise, id, what = std::move(what), t = timeout.value_or(opts_.request_timeout)] {
      if (phase_ != Phase::open) {
        promise->set_value(make_error(errc::not_connected, "not connected"));
        return;
      }
      requests_.add(io_.context(), id, promise, t, "request '" + what + "'");
      send_message(Request{id, what});
    });
    return future;
  }

  std::future<Result<Ack>> command(json command, std::optional<milliseconds> timeout) {
    auto promise = std::make_shared<std::promise<Result<Ack>>>();
    auto future = promise->get_future();
    const std::uint64_t id = next_id_++;
    io_.post([this, promise, id, command = std::move(command),
              t = timeout.value_or(opts_.request_timeout)] {
      if (phase_ != Phase::open) {
        promise->set_value(make_error(errc::not_connected, "not connected"));
        return;
      }
      std::string kind = command.is_object() && command.contains("kind") && command["kind"].is_string()
                             ? command["kind"].get<std::string>()
                             : std::string("?");
      commands_.add(io_.context(), id, promise, t, "command '" + kind + "'");
      send_message(Command{id, command});
    });
    return future;
  }

  std::future<Result<milliseconds>> ping(std::optional<milliseconds> timeout) {
    auto promise = std::make_shared<std::promise<Result<milliseconds>>>();
    auto future = promise->get_future();
    io_.post([this, promise, t = timeout.value_or(opts_.request_timeout)] {
      if (phase_ != Phase::open) {
        promise->set_value(make_error(errc::not_connected, "not connected"));
        return;
      }
      const std::int64_t stamp = next_ping_++;
      ping_sent_at_[stamp] = Clock::now();
      pings_.add(io_.context(), stamp, promise, t, "ping");
      send_message(Ping{stamp});
    });
    return future;
  }

  Result<void> send_pixels_ack(std::uint64_t frame) {
    if (!open_) return make_error(errc::not_connected, "not connected");
    io_.post([this, frame] {
      if (phase_ == Phase::open) send_message(PixelsAck{frame});
    });
    return {};
  }

  std::optional<Incoming> poll(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (!queue_cv_.wait_for(lock, timeout, [this] { return !queue_.empty(); })) return std::nullopt;
    Incoming item = std::move(queue_.front());
    queue_.pop_front();
    return item;
  }

  ClientStats stats() const {
    std::lock_guard<std::mutex> lock(state_mu_);
    return stats_;
  }

  struct Callbacks {
    std::function<void(const Event&)> event;
    std::function<void(const StageFrame&)> frame;
    std::function<void(const Snapshot&)> snapshot;
    std::function<void(const Tile&)> tile;
    std::function<void(const Gap&)> gap;
    std::function<void(const Notice&)> notice;
    std::function<void(const ErrorMessage&)> server_error;
    std::function<void(const Error&)> protocol_error;
    std::function<void(const Disconnected&)> disconnect;
    std::function<void(const Resynced&)> resync;
  };

  template <class F>
  void set_callback(F Callbacks::*member, F handler) {
    std::lock_guard<std::mutex> lock(callbacks_mu_);
    callbacks_.*member = std::move(handler);
  }

 private:
  enum class Phase { idle, connecting, handshaking, open, waiting_to_reconnect, closed };
  enum class Purpose { resync, gap };

  template <class F>
  F callback(F Callbacks::*member) {
    std::lock_guard<std::mutex> lock(callbacks_mu_);
    return callbacks_.*member;
  }

  void enqueue(Incoming item) {
    if (!opts_.poll_queue) return;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (queue_.size() >= std::max<std::size_t>(1, opts_.poll_queue_limit)) {
        queue_.pop_front();
        std::lock_guard<std::mutex> slock(state_mu_);
        ++stats_.poll_dropped;
      }
      queue_.push_back(std::move(item));
    }
    queue_cv_.notify_one();
  }

  // ---- connection lifecycle (I/O thread) ---------------------------------------------------

  void start_attempt() {
    const std::uint64_t gen = ++generation_;
    phase_ = Phase::connecting;
    last_fatal_.reset();
    transport_ = detail::make_transport(io_.context(), *endpoint_,
                                        detail::TransportOptions{opts_.max_message, milliseconds(1000)});
    connect_timer_.expires_after(opts_.connect_timeout);
    connect_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (ec || gen != generation_) return;
      if (phase_ == Phase::connecting || phase_ == Phase::handshaking) {
        end_session(make_error(errc::timeout, "no welcome from " + opts_.url + " within " +
                                                  std::to_string(opts_.connect_timeout.count()) +
                                                  " ms"));
      }
    });
    transport_->async_connect([this, gen](Result<void> r) {
      if (gen != generation_) return;
      if (!r) {
        end_session(r.error());
        return;
      }
      transport_->start([this, gen](detail::WireMessage&& m) { on_wire(gen, std::move(m)); },
                        [this, gen](const Error& e) {
                          if (gen == generation_) end_session(e);
                        });
      phase_ = Phase::handshaking;
      Hello hello;
      hello.project = opts_.project;
      hello.client = opts_.client;
      hello.role = opts_.role;
      hello.token = opts_.token;
      if (!subscriptions_.empty()) {
        hello.subscribe = std::vector<std::string>(subscriptions_.begin(), subscriptions_.end());
      }
      // A first session asks for a snapshot if told to; a resumed one always does, so the
      // caller's state is rebuilt from a consistent base.
      hello.snapshot = established_once_ ? !subscriptions_.empty() : opts_.snapshot;
      send_message(hello);
    });
  }

  /// The current connection is over (failed to open, closed, timed out, fatal error).
  void end_session(const Error& cause) {
    Error reason = last_fatal_.value_or(cause);
    ++generation_;  // late callbacks of this connection are ignored from now on
    connect_timer_.cancel();
    heartbeat_timer_.cancel();
    retire_transport();
    const bool was_open = phase_ == Phase::open;
    open_ = false;
    resync_pending_ = false;
    fail_pending(make_error(errc::disconnected, reason.to_string()));

    if (user_closed_ || !established_once_) {
      phase_ = Phase::closed;
      if (connect_promise_) {
        connect_promise_->set_value(reason);
        connect_promise_.reset();
      }
      if (was_open) deliver_disconnect(Disconnected{reason, false});
      notify_close_waiters();
      return;
    }

    if (!was_open) ++failed_attempts_;
    const bool retry = opts_.reconnect.enabled && !forbids_reconnect(reason.code) &&
                       (opts_.reconnect.max_attempts <= 0 ||
                        failed_attempts_ < opts_.reconnect.max_attempts);
    if (was_open || !retry) deliver_disconnect(Disconnected{reason, retry});
    if (!retry) {
      phase_ = Phase::closed;
      notify_close_waiters();
      return;
    }
    phase_ = Phase::waiting_to_reconnect;
    const milliseconds delay = backoff_;
    backoff_ = std::min(opts_.reconnect.max_delay,
                        milliseconds(static_cast<std::int64_t>(
                            static_cast<double>(backoff_.count()) *
                            std::max(1.0, opts_.reconnect.multiplier))));
    reconnect_timer_.expires_after(delay);
    reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || user_closed_ || phase_ != Phase::waiting_to_reconnect) return;
      start_attempt();
    });
  }

  /// Aborts and drops the current transport. Its destruction is deferred to a later turn of
  /// the loop because this may run inside one of its own callbacks.
  void retire_transport() {
    std::shared_ptr<detail::Transport> old = std::move(transport_);
    transport_.reset();
    if (!old) return;
    old->abort();
    io_.post([old] {});
  }

  void notify_close_waiters() {
    for (auto& w : close_waiters_) w->set_value();
    close_waiters_.clear();
  }

  void fail_pending(const Error& error) {
    requests_.fail_all(error);
    commands_.fail_all(error);
    pings_.fail_all(error);
    ping_sent_at_.clear();
    internal_requests_.clear();
  }

  void deliver_disconnect(const Disconnected& d) {
    safe_call(callback(&Callbacks::disconnect), d);
    enqueue(d);
  }

  void protocol_error(const Error& e) {
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      ++stats_.protocol_errors;
    }
    safe_call(callback(&Callbacks::protocol_error), e);
    enqueue(e);
  }

  void send_json(const json& value) {
    if (!transport_) return;
    std::string text = dump(value);
    const std::size_t size = text.size();
    Result<void> r = transport_->send(detail::WireMessage{false, std::move(text)});
    if (!r) return;
    std::lock_guard<std::mutex> lock(state_mu_);
    ++stats_.messages_out;
    stats_.bytes_out += size;
  }

  template <class M>
  void send_message(const M& message) {
    send_json(encode(message));
  }

  void arm_heartbeat() {
    if (!opts_.heartbeat || heartbeat_ms_ <= 0) return;
    heartbeat_timer_.expires_after(milliseconds(std::max<std::int64_t>(heartbeat_ms_, 50)));
    const std::uint64_t gen = generation_;
    heartbeat_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (ec || gen != generation_ || phase_ != Phase::open) return;
      send_message(Ping{next_ping_++});
      arm_heartbeat();
    });
  }

  void internal_request(const std::string& what, Purpose purpose) {
    const std::uint64_t id = next_id_++;
    internal_requests_[id] = purpose;
    send_message(Request{id, what});
  }

  // ---- incoming (I/O thread) ---------------------------------------------------------------

  void on_wire(std::uint64_t gen, detail::WireMessage&& wire) {
    if (gen != generation_) return;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      ++stats_.messages_in;
      stats_.bytes_in += wire.data.size();
    }
    if (wire.binary) {
      on_binary(wire.data);
      return;
    }
    Result<Message> parsed = parse_message(wire.data);
    if (!parsed) {
      protocol_error(parsed.error());
      return;
    }
    std::visit([this](auto& m) { on_message(m); }, *parsed);
  }

  void on_binary(const std::string& data) {
    Result<Tile> tile = decode_tile(data);
    if (!tile) {
      protocol_error(tile.error());
      return;
    }
    safe_call(callback(&Callbacks::tile), *tile);
    if (opts_.auto_pixels_ack && tile->header.last_tile() && phase_ == Phase::open) {
      send_message(PixelsAck{tile->header.frame});
    }
    enqueue(std::move(*tile));
  }

  void on_message(Welcome& w) {
    if (phase_ != Phase::handshaking) {
      protocol_error(make_error(errc::unexpected_message, "welcome outside the handshake"));
      return;
    }
    connect_timer_.cancel();
    phase_ = Phase::open;
    open_ = true;
    heartbeat_ms_ = w.heartbeat_ms;
    backoff_ = opts_.reconnect.initial_delay;
    failed_attempts_ = 0;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      welcome_ = w;
    }
    arm_heartbeat();
    if (!established_once_) {
      established_once_ = true;
      if (connect_promise_) {
        connect_promise_->set_value(w);
        connect_promise_.reset();
      }
      return;
    }
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      ++stats_.reconnects;
    }
    // Resync: the hello resubscribed and asked for a snapshot when there were streams;
    // otherwise ask for the stage explicitly.
    if (!subscriptions_.empty()) {
      resync_pending_ = true;
    } else {
      internal_request("stage", Purpose::resync);
    }
  }

  void on_message(Event& e) {
    safe_call(callback(&Callbacks::event), e);
    if (e.stream == streams::frames) {
      auto on_frame = callback(&Callbacks::frame);
      for (const auto& item : e.items) {
        Result<StageFrame> f = decode<StageFrame>(item);
        if (!f) {
          protocol_error(f.error());
          continue;
        }
        safe_call(on_frame, *f);
      }
    }
    enqueue(std::move(e));
  }

  void on_message(Snapshot& s) {
    safe_call(callback(&Callbacks::snapshot), s);
    if (resync_pending_) {
      resync_pending_ = false;
      deliver_resync(s);
    }
    enqueue(std::move(s));
  }

  void deliver_resync(const Snapshot& s) {
    Resynced r{welcome().value_or(Welcome{}), s};
    safe_call(callback(&Callbacks::resync), r);
    enqueue(std::move(r));
  }

  void on_message(Ack& a) {
    if (!commands_.resolve(a.id, a)) {
      protocol_error(make_error(errc::unexpected_message,
                                "ack for unknown command id " + std::to_string(a.id)));
    }
  }

  void on_message(Response& r) {
    auto internal = internal_requests_.find(r.id);
    if (internal != internal_requests_.end()) {
      const Purpose purpose = internal->second;
      internal_requests_.erase(internal);
      if (!r.ok) {
        protocol_error(make_error(r.error ? r.error->code : errc::internal,
                                  "stage request failed: " + (r.error ? r.error->message : "")));
        return;
      }
      Snapshot s = snapshot_from_stage(r.data);
      safe_call(callback(&Callbacks::snapshot), s);
      if (purpose == Purpose::resync) deliver_resync(s);
      enqueue(std::move(s));
      return;
    }
    if (!requests_.resolve(r.id, r)) {
      protocol_error(make_error(errc::unexpected_message,
                                "response for unknown request id " + std::to_string(r.id)));
    }
  }

  void on_message(Gap& g) {
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      ++stats_.gaps;
    }
    safe_call(callback(&Callbacks::gap), g);
    enqueue(g);
    if (opts_.resync_on_gap && phase_ == Phase::open) internal_request("stage", Purpose::gap);
  }

  void on_message(Notice& n) {
    safe_call(callback(&Callbacks::notice), n);
    enqueue(std::move(n));
  }

  void on_message(ErrorMessage& e) {
    const Error as_error{e.code, e.message, e.fatal};
    if (e.id) {
      if (!requests_.resolve(*e.id, as_error) && !commands_.resolve(*e.id, as_error)) {
        internal_requests_.erase(*e.id);
      }
    }
    safe_call(callback(&Callbacks::server_error), e);
    enqueue(e);
    if (e.fatal) {
      last_fatal_ = as_error;
      end_session(as_error);
    }
  }

  void on_message(Ping& p) { send_message(Pong{p.t}); }

  void on_message(Pong& p) {
    auto it = ping_sent_at_.find(p.t);
    if (it == ping_sent_at_.end()) return;  // a heartbeat's pong
    const auto rtt = std::chrono::duration_cast<milliseconds>(Clock::now() - it->second);
    ping_sent_at_.erase(it);
    pings_.resolve(p.t, rtt);
  }

  void on_message(Bye& b) { enqueue(std::move(b)); }

  template <class M>
  void on_message(M& m) {
    protocol_error(make_error(errc::unexpected_message,
                              "a server does not send '" +
                                  std::string(type_name(Message{m})) + "'"));
  }

  // ---- state ------------------------------------------------------------------------------

  /// First member, so it is destroyed last: timers and sockets below unregister from it.
  /// shutdown() stops its thread before any member is destroyed.
  detail::IoThread io_;
  ClientOptions opts_;
  Result<Endpoint> endpoint_;
  bool stopped_ = false;

  mutable std::mutex callbacks_mu_;
  Callbacks callbacks_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Incoming> queue_;

  /// Guards what user threads read: stats and the latest welcome.
  mutable std::mutex state_mu_;
  ClientStats stats_;
  std::optional<Welcome> welcome_;

  std::atomic<bool> open_{false};
  std::atomic<std::uint64_t> next_id_{1};

  // Everything below is touched only on the I/O thread.
  Phase phase_ = Phase::idle;
  std::shared_ptr<detail::Transport> transport_;
  /// Bumped whenever a connection ends, so its late callbacks are recognised and dropped.
  std::uint64_t generation_ = 0;
  bool user_closed_ = false;
  /// A session was welcomed since connect(): later losses reconnect instead of failing connect.
  bool established_once_ = false;
  int failed_attempts_ = 0;
  std::shared_ptr<std::promise<Result<Welcome>>> connect_promise_;
  std::vector<std::shared_ptr<std::promise<void>>> close_waiters_;
  std::set<std::string> subscriptions_;
  bool resync_pending_ = false;
  std::optional<Error> last_fatal_;
  std::int64_t heartbeat_ms_ = 0;
  std::int64_t next_ping_ = 1;
  std::map<std::int64_t, Clock::time_point> ping_sent_at_;
  detail::PendingMap<Response> requests_;
  detail::PendingMap<Ack> commands_;
  detail::PendingMap<milliseconds, std::int64_t> pings_;
  std::map<std::uint64_t, Purpose> internal_requests_;

  asio::steady_timer connect_timer_;
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer reconnect_timer_;
  milliseconds backoff_;
};

// ---- Client -----------------------------------------------------------------------------------

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Client::~Client() { impl_->shutdown(); }

Result<Welcome> Client::connect() {
  // The attempt has its own timeout (connect_timeout), so this wait always ends.
  return impl_->connect_async().get();
}

std::future<Result<Welcome>> Client::connect_async() { return impl_->connect_async(); }
void Client::disconnect(std::string reason, milliseconds timeout) {
  impl_->disconnect(std::move(reason), timeout);
}
bool Client::connected() const { return impl_->connected(); }
std::optional<Welcome> Client::welcome() const { return impl_->welcome(); }
Result<void> Client::subscribe(std::vector<std::string> streams, bool snapshot) {
  return impl_->subscribe(std::move(streams), snapshot);
}
Result<void> Client::unsubscribe(std::vector<std::string> streams) {
  return impl_->unsubscribe(std::move(streams));
}
std::future<Result<Response>> Client::request(std::string what, std::optional<milliseconds> timeout) {
  return impl_->request(std::move(what), timeout);
}
std::future<Result<Ack>> Client::command(json command, std::optional<milliseconds> timeout) {
  return impl_->command(std::move(command), timeout);
}
std::future<Result<Ack>> Client::custom(std::string name, json payload) {
  return command(commands::custom(std::move(name), std::move(payload)));
}
json Client::make_pause() { return commands::pause(); }
json Client::make_resume() { return commands::resume(); }
json Client::make_go_to(std::int64_t frame) { return commands::go_to_frame(frame); }

Result<MovieState> Client::movie_state(std::optional<milliseconds> timeout) {
  Result<Response> r = request("movie_state", timeout).get();
  if (!r) return r.error();
  if (!r->ok) {
    return make_error(r->error ? r->error->code : errc::internal,
                      r->error ? r->error->message : "movie_state failed");
  }
  return decode<MovieState>(r->data);
}

std::future<Result<milliseconds>> Client::ping(std::optional<milliseconds> timeout) {
  return impl_->ping(timeout);
}
Result<void> Client::send_pixels_ack(std::uint64_t frame) { return impl_->send_pixels_ack(frame); }

void Client::on_event(std::function<void(const Event&)> h) {
  impl_->set_callback(&Impl::Callbacks::event, std::move(h));
}
void Client::on_frame(std::function<void(const StageFrame&)> h) {
  impl_->set_callback(&Impl::Callbacks::frame, std::move(h));
}
void Client::on_snapshot(std::function<void(const Snapshot&)> h) {
  impl_->set_callback(&Impl::Callbacks::snapshot, std::move(h));
}
void Client::on_tile(std::function<void(const Tile&)> h) {
  impl_->set_callback(&Impl::Callbacks::tile, std::move(h));
}
void Client::on_gap(std::function<void(const Gap&)> h) {
  impl_->set_callback(&Impl::Callbacks::gap, std::move(h));
}
void Client::on_notice(std::function<void(const Notice&)> h) {
  impl_->set_callback(&Impl::Callbacks::notice, std::move(h));
}
void Client::on_server_error(std::function<void(const ErrorMessage&)> h) {
  impl_->set_callback(&Impl::Callbacks::server_error, std::move(h));
}
void Client::on_protocol_error(std::function<void(const Error&)> h) {
  impl_->set_callback(&Impl::Callbacks::protocol_error, std::move(h));
}
void Client::on_disconnect(std::function<void(const Disconnected&)> h) {
  impl_->set_callback(&Impl::Callbacks::disconnect, std::move(h));
}
void Client::on_resync(std::function<void(const Resynced&)> h) {
  impl_->set_callback(&Impl::Callbacks::resync, std::move(h));
}

std::optional<Incoming> Client::poll(milliseconds timeout) { return impl_->poll(timeout); }
ClientStats Client::stats() const { return impl_->stats(); }

}  // namespace stagelink
