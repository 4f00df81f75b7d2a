#include "stagelink/publisher.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <boost/asio/steady_timer.hpp>

#include "io_thread.hpp"
#include "stagelink/url.hpp"
#include "transport.hpp"

namespace stagelink {

namespace asio = boost::asio;
using detail::safe_call;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::vector<StreamInfo> default_streams() {
  return {{streams::frames, "latest"},        {streams::pixels, "latest"},
          {streams::sprites, "coalesce"},     {streams::sprite_events, "fifo"},
          {streams::member_props, "coalesce"}, {streams::movie_props, "coalesce"},
          {streams::stage_props, "coalesce"}, {streams::keyframes, "fifo"},
          {streams::film_loops, "fifo"},      {streams::sounds, "fifo"},
          {streams::tempos, "fifo"},          {streams::palettes, "latest"},
          {streams::frame_scripts, "fifo"},   {streams::transitions, "fifo"},
          {streams::text_styles, "fifo"}};
}

AckOutcome AckOutcome::applied(std::optional<std::int64_t> frame, std::optional<json> result) {
  AckOutcome o;
  o.status = AckStatus::applied;
  o.frame = frame;
  o.result = std::move(result);
  return o;
}

AckOutcome AckOutcome::rejected(std::string code, std::string message) {
  AckOutcome o;
  o.status = AckStatus::rejected;
  o.error = ErrorBody{std::move(code), std::move(message)};
  return o;
}

namespace {

std::string random_session_id() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> hex(0, 15);
  std::string id = "s-";
  for (int i = 0; i < 12; ++i) id += "0123456789abcdef"[hex(rd)];
  return id;
}

Ack make_ack(std::uint64_t id, const AckOutcome& o) {
  Ack a;
  a.id = id;
  a.status = o.status;
  a.frame = o.frame;
  a.result = o.result;
  a.error = o.error;
  if (a.status != AckStatus::applied && !a.error) {
    a.error = ErrorBody{a.status == AckStatus::busy ? errc::busy : errc::internal, ""};
  }
  return a;
}

}  // namespace

class Publisher::Impl {
 public:
  explicit Impl(PublisherOptions options)
      : opts_(std::move(options)),
        endpoint_(parse_url(opts_.url)),
        connect_timer_(io_.context()),
        heartbeat_timer_(io_.context()),
        session_id_(random_session_id()) {
    for (const auto& s : opts_.streams) known_streams_.insert(s.name);
  }

  ~Impl() { shutdown(); }

  // ---- user threads -------------------------------------------------------------------------

  Result<Welcome> connect() {
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
      connect_promise_ = promise;
      start();
    });
    return future.get();
  }

  void disconnect(std::string reason, milliseconds timeout) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    io_.post([this, done, reason = std::move(reason)] {
      user_closed_ = true;
      if (phase_ == Phase::open && transport_) {
        close_waiters_.push_back(done);
        send_message(Bye{reason});
        transport_->close();
      } else if (phase_ == Phase::connecting || phase_ == Phase::handshaking) {
        close_waiters_.push_back(done);
        end_session(make_error(errc::disconnected, "closed by host"));
      } else {
        done->set_value();
      }
    });
    if (io_.in_thread()) return;
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
        connect_timer_.cancel();
        heartbeat_timer_.cancel();
        if (connect_promise_) {
          connect_promise_->set_value(make_error(errc::disconnected, "publisher destroyed"));
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
  bool peer_ready() const { return peer_ready_.load(); }

  Result<void> ack(std::uint64_t id, AckOutcome outcome) {
    {
      std::lock_guard<std::mutex> lock(commands_mu_);
      if (awaiting_ack_.erase(id) == 0) {
        return make_error(errc::invalid_argument,
                          "command " + std::to_string(id) + " is not awaiting an ack");
      }
    }
    io_.post([this, id, outcome = std::move(outcome)] { send_ack(id, outcome); });
    return {};
  }

  void publish_event(std::string stream, std::int64_t frame, json items) {
    io_.post([this, stream = std::move(stream), frame, items = std::move(items)]() mutable {
      Event e;
      e.stream = stream;
      e.seq = ++seqs_[stream];
      e.frame = frame;
      e.items = items.is_array() ? std::move(items) : json::array({std::move(items)});
      if (phase_ != Phase::open || !peer_ || !subscribed(stream)) {
        bump(&PublisherStats::events_unsubscribed);
        return;
      }
      send_message(e);
      bump(&PublisherStats::events_sent);
    });
  }

  Result<void> publish_pixels(std::uint32_t frame, const std::uint8_t* rgba, std::uint16_t width,
                              std::uint16_t height, TileEncoding encoding,
                              std::uint16_t tile_size) {
    // Encode on the caller's thread: the I/O thread only moves bytes.
    Result<std::vector<std::string>> tiles =
        encode_frame_tiles(frame, rgba, width, height, encoding, tile_size);
    if (!tiles) return tiles.error();
    io_.post([this, frame, tiles = std::move(tiles).value()]() mutable {
      if (phase_ != Phase::open || !peer_ || !subscribed(streams::pixels) || !transport_) {
        bump(&PublisherStats::pixel_frames_skipped);
        return;
      }
      const auto now = Clock::now();
      while (!unacked_frames_.empty() &&
             now - unacked_frames_.front().second > opts_.pixels_ack_timeout) {
        unacked_frames_.pop_front();
      }
      if (unacked_frames_.size() >= std::max<std::size_t>(1, opts_.max_unacked_pixel_frames) ||
          transport_->queued_bytes() > opts_.max_queued_bytes) {
        bump(&PublisherStats::pixel_frames_skipped);
        return;
      }
      for (auto& tile : tiles) send_wire(detail::WireMessage{true, std::move(tile)});
      unacked_frames_.emplace_back(frame, now);
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.pixel_frames_sent;
      stats_.tiles_sent += tiles.size();
    });
    return {};
  }

  Result<json> run_custom(const CommandSpec& spec) const {
    if (spec.kind != "custom") {
      return make_error(errc::invalid_argument, "not a custom command: " + spec.kind);
    }
    const std::string name = spec.text("name");
    std::function<Result<json>(const json&)> handler;
    {
      std::lock_guard<std::mutex> lock(handlers_mu_);
      auto it = custom_.find(name);
      if (it != custom_.end()) handler = it->second;
    }
    if (!handler) {
      return make_error(errc::unknown_command, "no handler registered for '" + name + "'");
    }
    try {
      return handler(spec.value("payload"));
    } catch (const std::exception& e) {
      return make_error(errc::internal, std::string("custom handler threw: ") + e.what());
    }
  }

  PublisherStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

  struct Handlers {
    std::function<json()> snapshot;
    std::function<MovieState()> movie_state;
    std::function<std::optional<Result<json>>(const Request&)> request;
    std::function<std::optional<AckOutcome>(const IncomingCommand&)> command;
    std::function<void(const Hello&)> peer;
    std::function<void(const Error&)> disconnect;
    std::function<void(const Error&)> protocol_error;
  };

  template <class F>
  void set_handler(F Handlers::*member, F handler) {
    std::lock_guard<std::mutex> lock(handlers_mu_);
    handlers_.*member = std::move(handler);
  }

  void register_custom(std::string name, std::function<Result<json>(const json&)> handler) {
    std::lock_guard<std::mutex> lock(handlers_mu_);
    custom_[std::move(name)] = std::move(handler);
  }

 private:
  enum class Phase { idle, connecting, handshaking, open, closed };

  template <class F>
  F handler(F Handlers::*member) const {
    std::lock_guard<std::mutex> lock(handlers_mu_);
    return handlers_.*member;
  }

  void bump(std::uint64_t PublisherStats::*counter) {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++(stats_.*counter);
  }

  bool subscribed(const std::string& stream) const {
    return peer_all_streams_ || peer_streams_.count(stream) != 0;
  }

  // ---- lifecycle (I/O thread) ---------------------------------------------------------------

  void start() {
    const std::uint64_t gen = ++generation_;
    phase_ = Phase::connecting;
    transport_ = detail::make_transport(io_.context(), *endpoint_,
                                        detail::TransportOptions{opts_.max_message, milliseconds(1000)});
    connect_timer_.expires_after(opts_.connect_timeout);
    connect_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (ec || gen != generation_) return;
      if (phase_ == Phase::connecting || phase_ == Phase::handshaking) {
        end_session(make_error(errc::timeout, "no welcome from the relay within " +
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
      hello.role = "host";
      hello.token = opts_.token;
      hello.takeover = opts_.takeover;
      send_message(hello);
    });
  }

  void end_session(const Error& cause) {
    const Error reason = last_fatal_.value_or(cause);
    last_fatal_.reset();
    ++generation_;
    connect_timer_.cancel();
    heartbeat_timer_.cancel();
    retire_transport();
    const bool was_open = phase_ == Phase::open;
    phase_ = Phase::closed;
    open_ = false;
    peer_ready_ = false;
    peer_.reset();
    peer_streams_.clear();
    peer_all_streams_ = false;
    unacked_frames_.clear();
    {
      std::lock_guard<std::mutex> lock(commands_mu_);
      awaiting_ack_.clear();  // nobody is left to receive those acks
    }
    if (connect_promise_) {
      connect_promise_->set_value(reason);
      connect_promise_.reset();
    }
    if (was_open && !user_closed_) safe_call(handler(&Handlers::disconnect), reason);
    for (auto& w : close_waiters_) w->set_value();
    close_waiters_.clear();
  }

  void retire_transport() {
    std::shared_ptr<detail::Transport> old = std::move(transport_);
    transport_.reset();
    if (!old) return;
    old->abort();
    io_.post([old] {});
  }

  void arm_heartbeat() {
    if (heartbeat_ms_ <= 0) return;
    heartbeat_timer_.expires_after(milliseconds(std::max<std::int64_t>(heartbeat_ms_, 50)));
    const std::uint64_t gen = generation_;
    heartbeat_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (ec || gen != generation_ || phase_ != Phase::open) return;
      send_message(Ping{next_ping_++});
      arm_heartbeat();
    });
  }

  void send_wire(detail::WireMessage message) {
    if (!transport_) return;
    const std::size_t size = message.data.size();
    if (!transport_->send(std::move(message))) return;
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.messages_out;
    stats_.bytes_out += size;
  }

  template <class M>
  void send_message(const M& message) {
    send_wire(detail::WireMessage{false, dump(encode(message))});
  }

  void send_ack(std::uint64_t id, const AckOutcome& outcome) {
    if (phase_ != Phase::open) return;
    send_message(make_ack(id, outcome));
    bump(&PublisherStats::acks_sent);
  }

  void protocol_error(const Error& e) {
    bump(&PublisherStats::protocol_errors);
    safe_call(handler(&Handlers::protocol_error), e);
  }

  /// Tells the peer its message was bad (non-fatal: the session goes on).
  void reply_error(const Error& e, std::optional<std::uint64_t> id = std::nullopt) {
    ErrorMessage m;
    m.code = e.code;
    m.message = e.message;
    m.fatal = false;
    m.id = id;
    send_message(m);
  }

  // ---- incoming (I/O thread) ----------------------------------------------------------------

  void on_wire(std::uint64_t gen, detail::WireMessage&& wire) {
    if (gen != generation_) return;
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.messages_in;
      stats_.bytes_in += wire.data.size();
    }
    if (wire.binary) {
      protocol_error(make_error(errc::unexpected_message, "a host does not accept binary messages"));
      return;
    }
    Result<json> value = parse_json(wire.data);
    if (!value) {
      protocol_error(value.error());
      if (phase_ == Phase::open) reply_error(value.error());
      return;
    }
    Result<Message> parsed = decode_message(*value);
    if (!parsed) {
      protocol_error(parsed.error());
      if (phase_ != Phase::open) return;
      const std::optional<std::uint64_t> id = salvage_id(*value);
      const bool is_command = value->is_object() && value->value("type", json()) == "command";
      if (is_command && id) {
        // Every command gets exactly one ack, even a malformed one.
        send_ack(*id, AckOutcome::rejected(parsed.error().code, parsed.error().message));
      } else {
        reply_error(parsed.error(), id);
      }
      return;
    }
    std::visit([this](auto& m) { on_message(m); }, *parsed);
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
    arm_heartbeat();
    if (connect_promise_) {
      connect_promise_->set_value(w);
      connect_promise_.reset();
    }
  }

  void on_message(ErrorMessage& e) {
    const Error as_error{e.code, e.message, e.fatal};
    protocol_error(make_error(e.code, "relay: " + e.message, e.fatal));
    if (e.fatal || phase_ == Phase::handshaking) {
      last_fatal_ = as_error;
      if (e.fatal) end_session(as_error);
    }
  }

  /// The relay, speaking as a client, introduces itself.
  void on_message(Hello& h) {
    if (phase_ != Phase::open) {
      protocol_error(make_error(errc::unexpected_message, "hello before our own welcome"));
      return;
    }
    if (peer_) {
      reply_error(make_error(errc::already_identified, "this session already said hello"));
      return;
    }
    if (h.protocol != kProtocolVersion) {
      // Not fatal to us: the relay session is what carries our project.
      reply_error(make_error(errc::protocol_version,
                             "protocol " + std::to_string(h.protocol) + " is not supported"));
      return;
    }
    peer_ = h;
    Welcome w;
    w.protocol = kProtocolVersion;
    w.session = session_id_;
    w.server = opts_.server;
    w.project = opts_.project;
    w.role = h.role.empty() ? "controller" : h.role;
    w.streams = opts_.streams;
    w.capabilities = opts_.capabilities;
    w.heartbeat_ms = opts_.heartbeat_ms;
    w.idle_timeout_ms = opts_.idle_timeout_ms;
    send_message(w);
    if (h.subscribe) add_subscriptions(*h.subscribe);
    if (h.snapshot) send_snapshot();
    peer_ready_ = true;
    safe_call(handler(&Handlers::peer), h);
  }

  void add_subscriptions(const std::vector<std::string>& list) {
    for (const auto& s : list) {
      if (s == "*") {
        peer_all_streams_ = true;
      } else if (known_streams_.count(s) != 0) {
        peer_streams_.insert(s);
      } else {
        reply_error(make_error(errc::unknown_stream, "no stream named '" + s + "'"));
      }
    }
  }

  void on_message(Subscribe& s) {
    add_subscriptions(s.streams);
    if (s.snapshot) send_snapshot();
  }

  void on_message(Unsubscribe& u) {
    for (const auto& s : u.streams) {
      if (s == "*") {
        peer_all_streams_ = false;
        peer_streams_.clear();
      } else {
        peer_streams_.erase(s);
      }
    }
  }

  json stage_body() {
    json body;
    if (auto provider = handler(&Handlers::snapshot)) {
      try {
        body = provider();
      } catch (const std::exception& e) {
        protocol_error(make_error(errc::internal, std::string("snapshot provider threw: ") + e.what()));
      }
    }
    if (!body.is_object()) body = json::object();
    if (!body.contains("movie")) {
      if (auto movie = handler(&Handlers::movie_state)) body["movie"] = encode(movie());
    }
    for (const char* key : {"stage_props", "movie_props"}) {
      if (!body.contains(key)) body[key] = json::object();
    }
    for (const char* key : {"sprites", "members"}) {
      if (!body.contains(key)) body[key] = json::array();
    }
    return body;
  }

  json seqs_json() const {
    json seqs = json::object();
    for (const auto& [stream, seq] : seqs_) seqs[stream] = seq;
    return seqs;
  }

  void send_snapshot() {
    Snapshot s;
    s.body = stage_body();
    s.seqs = seqs_;
    send_message(s);
  }

  void on_message(Request& r) {
    bump(&PublisherStats::requests_answered);
    Response resp;
    resp.id = r.id;
    std::optional<Result<json>> answer;
    if (auto custom = handler(&Handlers::request)) {
      try {
        answer = custom(r);
      } catch (const std::exception& e) {
        answer = Result<json>(make_error(errc::internal, e.what()));
      }
    }
    if (!answer) {
      if (r.what == "movie_state") {
        if (auto movie = handler(&Handlers::movie_state)) {
          answer = Result<json>(encode(movie()));
        } else {
          json body = stage_body();
          if (body.contains("movie")) answer = Result<json>(body["movie"]);
        }
      } else if (r.what == "stage") {
        json body = stage_body();
        body["seqs"] = seqs_json();
        answer = Result<json>(std::move(body));
      } else if (r.what == "stats") {
        const PublisherStats st = stats();
        answer = Result<json>(json{{"messages_in", st.messages_in},
                                   {"messages_out", st.messages_out},
                                   {"bytes_in", st.bytes_in},
                                   {"bytes_out", st.bytes_out},
                                   {"drops", st.pixel_frames_skipped},
                                   {"gaps", 0},
                                   {"per_stream", json::object()},
                                   {"commands", {{"applied", 0}, {"rejected", 0}, {"busy", 0}}}});
      }
    }
    if (!answer) {
      answer = Result<json>(make_error(errc::unknown_request, "unknown request '" + r.what + "'"));
    }
    if (*answer) {
      resp.ok = true;
      resp.data = std::move(**answer);
    } else {
      resp.ok = false;
      resp.error = ErrorBody{answer->error().code, answer->error().message};
    }
    send_message(resp);
  }

  void on_message(Command& c) {
    bump(&PublisherStats::commands_received);
    Result<CommandSpec> spec = validate_command(c.command);
    if (!spec) {
      send_ack(c.id, AckOutcome::rejected(spec.error().code, spec.error().message));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(commands_mu_);
      if (awaiting_ack_.size() >= std::max<std::size_t>(1, opts_.max_pending_commands)) {
        AckOutcome busy;
        busy.status = AckStatus::busy;
        busy.error = ErrorBody{errc::busy, "command queue full"};
        send_ack(c.id, busy);
        return;
      }
      awaiting_ack_.insert(c.id);
    }
    std::optional<AckOutcome> outcome;
    if (auto decide = handler(&Handlers::command)) {
      try {
        outcome = decide(IncomingCommand{c.id, *spec});
      } catch (const std::exception& e) {
        outcome = AckOutcome::rejected(errc::internal, e.what());
      }
    } else if (spec->kind == "custom") {
      Result<json> result = run_custom(*spec);
      outcome = result ? AckOutcome::applied(std::nullopt, *result)
                       : AckOutcome::rejected(result.error().code, result.error().message);
    } else {
      outcome = AckOutcome::rejected(errc::unknown_command,
                                     "this host handles no '" + spec->kind + "' commands");
    }
    if (!outcome) return;  // deferred: the application calls ack()
    bool still_waiting = false;
    {
      std::lock_guard<std::mutex> lock(commands_mu_);
      still_waiting = awaiting_ack_.erase(c.id) != 0;
    }
    if (still_waiting) send_ack(c.id, *outcome);
  }

  void on_message(PixelsAck& a) {
    // Frames are acked in order; frame numbers may repeat or go back (loops, go_to_frame).
    auto it = std::find_if(unacked_frames_.begin(), unacked_frames_.end(),
                           [&](const auto& f) { return f.first == a.frame; });
    if (it != unacked_frames_.end()) {
      unacked_frames_.erase(unacked_frames_.begin(), it + 1);
    } else {
      unacked_frames_.erase(std::remove_if(unacked_frames_.begin(), unacked_frames_.end(),
                                           [&](const auto& f) { return f.first <= a.frame; }),
                            unacked_frames_.end());
    }
  }

  void on_message(Ping& p) { send_message(Pong{p.t}); }
  void on_message(Pong&) {}
  void on_message(Notice&) {}

  void on_message(Bye& b) {
    // The relay ends its client session with us; the connection follows.
    last_fatal_ = make_error(errc::disconnected, "relay said bye: " + b.reason);
  }

  template <class M>
  void on_message(M& m) {
    const Error e = make_error(errc::unexpected_message, "a host does not expect '" +
                                                            std::string(type_name(Message{m})) +
                                                            "'");
    protocol_error(e);
    if (phase_ == Phase::open) reply_error(make_error(errc::unknown_type, e.message));
  }

  // ---- state --------------------------------------------------------------------------------

  /// First member, so it is destroyed last (see Client::Impl).
  detail::IoThread io_;
  PublisherOptions opts_;
  Result<Endpoint> endpoint_;
  bool stopped_ = false;

  mutable std::mutex handlers_mu_;
  Handlers handlers_;
  std::map<std::string, std::function<Result<json>(const json&)>> custom_;

  mutable std::mutex stats_mu_;
  PublisherStats stats_;

  /// Commands received and not yet acked (ack() runs on user threads).
  std::mutex commands_mu_;
  std::set<std::uint64_t> awaiting_ack_;

  std::atomic<bool> open_{false};
  std::atomic<bool> peer_ready_{false};

  // I/O thread only.
  Phase phase_ = Phase::idle;
  std::shared_ptr<detail::Transport> transport_;
  std::uint64_t generation_ = 0;
  bool user_closed_ = false;
  std::shared_ptr<std::promise<Result<Welcome>>> connect_promise_;
  std::vector<std::shared_ptr<std::promise<void>>> close_waiters_;
  std::optional<Error> last_fatal_;
  std::int64_t heartbeat_ms_ = 0;
  std::int64_t next_ping_ = 1;
  std::set<std::string> known_streams_;
  /// The relay's client session on our socket: its hello, and the streams it wants.
  std::optional<Hello> peer_;
  std::set<std::string> peer_streams_;
  bool peer_all_streams_ = false;
  std::map<std::string, std::uint64_t> seqs_;
  /// Pixel frames sent and not yet acked, oldest first, with when they were sent.
  std::deque<std::pair<std::uint64_t, Clock::time_point>> unacked_frames_;

  asio::steady_timer connect_timer_;
  asio::steady_timer heartbeat_timer_;
  std::string session_id_;
};

// ---- Publisher --------------------------------------------------------------------------------

Publisher::Publisher(PublisherOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}
Publisher::~Publisher() { impl_->shutdown(); }

Result<Welcome> Publisher::connect() { return impl_->connect(); }
void Publisher::disconnect(std::string reason, milliseconds timeout) {
  impl_->disconnect(std::move(reason), timeout);
}
bool Publisher::connected() const { return impl_->connected(); }
bool Publisher::peer_ready() const { return impl_->peer_ready(); }

void Publisher::set_snapshot_provider(std::function<json()> p) {
  impl_->set_handler(&Impl::Handlers::snapshot, std::move(p));
}
void Publisher::set_movie_state_provider(std::function<MovieState()> p) {
  impl_->set_handler(&Impl::Handlers::movie_state, std::move(p));
}
void Publisher::set_request_handler(
    std::function<std::optional<Result<json>>(const Request&)> h) {
  impl_->set_handler(&Impl::Handlers::request, std::move(h));
}
void Publisher::set_command_handler(
    std::function<std::optional<AckOutcome>(const IncomingCommand&)> h) {
  impl_->set_handler(&Impl::Handlers::command, std::move(h));
}
void Publisher::register_custom(std::string name,
                                std::function<Result<json>(const json& payload)> handler) {
  impl_->register_custom(std::move(name), std::move(handler));
}
Result<json> Publisher::run_custom(const CommandSpec& spec) const { return impl_->run_custom(spec); }
void Publisher::on_peer(std::function<void(const Hello&)> h) {
  impl_->set_handler(&Impl::Handlers::peer, std::move(h));
}
void Publisher::on_disconnect(std::function<void(const Error&)> h) {
  impl_->set_handler(&Impl::Handlers::disconnect, std::move(h));
}
void Publisher::on_protocol_error(std::function<void(const Error&)> h) {
  impl_->set_handler(&Impl::Handlers::protocol_error, std::move(h));
}

Result<void> Publisher::ack(std::uint64_t id, AckOutcome outcome) {
  return impl_->ack(id, std::move(outcome));
}
void Publisher::publish_event(std::string stream, std::int64_t frame, json items) {
  impl_->publish_event(std::move(stream), frame, std::move(items));
}
void Publisher::publish_frame(const StageFrame& frame) {
  impl_->publish_event(streams::frames, frame.frame, json::array({encode(frame)}));
}
Result<void> Publisher::publish_pixels(std::uint32_t frame, const std::uint8_t* rgba,
                                       std::uint16_t width, std::uint16_t height,
                                       TileEncoding encoding, std::uint16_t tile_size) {
  return impl_->publish_pixels(frame, rgba, width, height, encoding, tile_size);
}
PublisherStats Publisher::stats() const { return impl_->stats(); }

}  // namespace stagelink
