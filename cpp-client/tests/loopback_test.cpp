// The Client and Publisher against a scripted server, over both transports. These cover the
// session logic (hello, acks, timeouts, bad input, reconnect) without the Rust binaries.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_server.hpp"
#include "stagelink/stagelink.hpp"

using namespace stagelink;
using namespace stagelink::testing;
using namespace std::chrono_literals;

namespace {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

json welcome_json(const std::string& role = "controller") {
  Welcome w;
  w.session = "s-test";
  w.server = {"fake", "0"};
  w.project = "demo";
  w.role = role;
  w.streams = default_streams();
  w.capabilities = {"commands", "snapshots", "pixels", "custom"};
  w.heartbeat_ms = 60000;  // keep heartbeats out of the way
  w.idle_timeout_ms = 120000;
  return encode(w);
}

json frame_event(std::uint64_t seq, std::int64_t frame, bool playing) {
  Event e;
  e.stream = streams::frames;
  e.seq = seq;
  e.frame = frame;
  e.items = json::array({encode(StageFrame{frame, 240, 30, playing, frame * 33, 640, 480})});
  return encode(e);
}

class Loopback : public ::testing::TestWithParam<FakeServer::Kind> {
 protected:
  void SetUp() override { server = FakeServer::create(GetParam()); }

  ClientOptions options() {
    ClientOptions o;
    o.url = server->url();
    o.project = "demo";
    o.role = "controller";
    o.token = "s3cr3t";
    o.subscribe = {"frames"};
    o.snapshot = true;
    o.connect_timeout = 3000ms;
    o.request_timeout = 3000ms;
    o.reconnect.initial_delay = 50ms;
    o.reconnect.max_delay = 200ms;
    o.poll_queue = true;
    return o;
  }

  /// Connects `client`, answering its hello; returns the hello it sent.
  json handshake(Client& client) {
    auto connecting = client.connect_async();
    EXPECT_TRUE(server->accept());
    auto hello = server->expect("hello");
    EXPECT_TRUE(hello.has_value());
    server->send_json(welcome_json());
    Result<Welcome> w = connecting.get();
    EXPECT_TRUE(w) << w.error().to_string();
    return hello.value_or(json());
  }

  std::unique_ptr<FakeServer> server;
};

}  // namespace

TEST_P(Loopback, HelloCarriesRoleTokenAndSubscriptions) {
  Client client(options());
  const json hello = handshake(client);
  EXPECT_EQ(hello["protocol"], 1);
  EXPECT_EQ(hello["project"], "demo");
  EXPECT_EQ(hello["role"], "controller");
  EXPECT_EQ(hello["token"], "s3cr3t");
  EXPECT_EQ(hello["subscribe"], json::array({"frames"}));
  EXPECT_EQ(hello["snapshot"], true);
  EXPECT_EQ(hello["client"]["name"], "stagelink-cpp-client");
  EXPECT_TRUE(client.connected());
  ASSERT_TRUE(client.welcome());
  EXPECT_EQ(client.welcome()->session, "s-test");
}

TEST_P(Loopback, EventsReachCallbacksAndPoll) {
  Client client(options());
  std::mutex mu;
  std::vector<StageFrame> frames;
  client.on_frame([&](const StageFrame& f) {
    std::lock_guard<std::mutex> lock(mu);
    frames.push_back(f);
  });
  handshake(client);
  server->send_json(frame_event(1, 10, true));
  server->send_json(frame_event(2, 11, false));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return frames.size() == 2;
  }));
  EXPECT_EQ(frames[1].frame, 11);
  EXPECT_FALSE(frames[1].playing);
  int events = 0;
  while (auto item = client.poll(500ms)) {
    if (auto* e = std::get_if<Event>(&*item)) {
      EXPECT_EQ(e->stream, "frames");
      EXPECT_EQ(e->seq, static_cast<std::uint64_t>(++events));
    }
    if (events == 2) break;
  }
  EXPECT_EQ(events, 2);
}

TEST_P(Loopback, CommandsResolveWithTheirAcks) {
  Client client(options());
  handshake(client);
  auto go = client.go_to_frame(42);
  auto cmd = server->expect("command");
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->at("command"), json({{"kind", "go_to_frame"}, {"frame", 42}}));
  server->send_json({{"type", "ack"}, {"id", (*cmd)["id"]}, {"status", "applied"}, {"frame", 42}});
  Result<Ack> ack = go.get();
  ASSERT_TRUE(ack) << ack.error().to_string();
  EXPECT_EQ(ack->status, AckStatus::applied);
  EXPECT_EQ(ack->frame, std::optional<std::int64_t>(42));

  auto pause = client.pause();
  cmd = server->expect("command");
  ASSERT_TRUE(cmd);
  EXPECT_EQ((*cmd)["command"]["kind"], "pause");
  server->send_json({{"type", "ack"},
                     {"id", (*cmd)["id"]},
                     {"status", "rejected"},
                     {"error", {{"code", "forbidden"}, {"message", "observer"}}}});
  ack = pause.get();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::rejected);
  EXPECT_EQ(ack->error->code, "forbidden");
}

TEST_P(Loopback, ConcurrentRequestsCorrelateById) {
  Client client(options());
  handshake(client);
  auto first = client.request("movie_state");
  auto second = client.request("stats");
  auto r1 = server->expect("request");
  auto r2 = server->expect("request");
  ASSERT_TRUE(r1 && r2);
  EXPECT_NE((*r1)["id"], (*r2)["id"]);
  // Answer in reverse order.
  server->send_json({{"type", "response"}, {"id", (*r2)["id"]}, {"ok", true}, {"data", {{"messages_in", 1}}}});
  server->send_json({{"type", "response"},
                     {"id", (*r1)["id"]},
                     {"ok", true},
                     {"data", {{"frame", 5}, {"frame_count", 240}, {"tempo", 30}, {"playing", true}}}});
  Result<Response> a = first.get();
  Result<Response> b = second.get();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->data["frame"], 5);
  EXPECT_EQ(b->data["messages_in"], 1);
}

TEST_P(Loopback, ErrorWithIdFailsThatRequest) {
  Client client(options());
  handshake(client);
  auto f = client.request("nonsense");
  auto r = server->expect("request");
  ASSERT_TRUE(r);
  server->send_json({{"type", "error"}, {"code", "unknown_request"}, {"message", "no"}, {"fatal", false}, {"id", (*r)["id"]}});
  Result<Response> res = f.get();
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, "unknown_request");
  EXPECT_TRUE(client.connected());
}

TEST_P(Loopback, UnansweredCommandTimesOut) {
  Client client(options());
  handshake(client);
  const auto start = std::chrono::steady_clock::now();
  Result<Ack> ack = client.command(commands::pause(), 150ms).get();
  ASSERT_FALSE(ack);
  EXPECT_EQ(ack.error().code, errc::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 140ms);
  // A late ack for it is reported, not crashed on.
  auto cmd = server->expect("command");
  ASSERT_TRUE(cmd);
  server->send_json({{"type", "ack"}, {"id", (*cmd)["id"]}, {"status", "applied"}});
  EXPECT_TRUE(eventually([&] { return client.stats().protocol_errors >= 1; }));
}

TEST_P(Loopback, BadServerInputIsReportedAndSkipped) {
  Client client(options());
  std::atomic<int> reported{0};
  client.on_protocol_error([&](const Error&) { ++reported; });
  handshake(client);
  const std::vector<std::string> junk = {
      "{not json",
      R"({"type":"event"})",
      R"({"type":"teleport"})",
      R"([1,2,3])",
      R"({"type":"ack","id":99999,"status":"applied"})",
      R"({"type":"event","stream":"frames","seq":1,"frame":1,"items":[{"frame":"one"}]})",
      R"({"type":"hello","protocol":1})",
      std::string(3000, '['),
  };
  for (const auto& j : junk) server->send_text(j);
  server->send_binary(std::string("\x01\x00garbage", 9));
  server->send_binary(std::string("\x09", 1));
  server->send_binary(std::string());
  const int expected = static_cast<int>(junk.size()) + 3;
  ASSERT_TRUE(eventually([&] { return reported.load() >= expected; }))
      << "reported " << reported.load();
  EXPECT_TRUE(client.connected());
  EXPECT_GE(client.stats().protocol_errors, static_cast<std::uint64_t>(expected));
  // The session still works.
  auto go = client.go_to_frame(3);
  auto cmd = server->expect("command");
  ASSERT_TRUE(cmd);
  server->send_json({{"type", "ack"}, {"id", (*cmd)["id"]}, {"status", "applied"}, {"frame", 3}});
  EXPECT_TRUE(go.get());
}

TEST_P(Loopback, PingPongBothWays) {
  Client client(options());
  handshake(client);
  auto rtt = client.ping();
  auto ping = server->expect("ping");
  ASSERT_TRUE(ping);
  server->send_json({{"type", "pong"}, {"t", (*ping)["t"]}});
  Result<std::chrono::milliseconds> r = rtt.get();
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_GE(r->count(), 0);
  server->send_json({{"type", "ping"}, {"t", 4242}});
  auto pong = server->expect("pong");
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["t"], 4242);
}

TEST_P(Loopback, DisconnectSaysByeAndCloses) {
  Client client(options());
  handshake(client);
  client.disconnect("done here");
  auto bye = server->expect("bye");
  ASSERT_TRUE(bye);
  EXPECT_EQ((*bye)["reason"], "done here");
  EXPECT_TRUE(server->wait_closed());
  EXPECT_FALSE(client.connected());
  // Futures issued after the close resolve at once.
  Result<Ack> late = client.pause().get();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, errc::not_connected);
}

TEST_P(Loopback, ReconnectsResubscribesAndResyncs) {
  Client client(options());
  std::atomic<int> disconnects{0};
  std::atomic<bool> will_reconnect{false};
  std::mutex mu;
  std::optional<Resynced> resynced;
  client.on_disconnect([&](const Disconnected& d) {
    will_reconnect = d.will_reconnect;
    ++disconnects;
  });
  client.on_resync([&](const Resynced& r) {
    std::lock_guard<std::mutex> lock(mu);
    resynced = r;
  });
  handshake(client);
  ASSERT_TRUE(client.subscribe({"sprites"}));
  ASSERT_TRUE(server->expect("subscribe"));
  auto pending = client.request("stats", 5000ms);
  ASSERT_TRUE(server->expect("request"));

  server->drop();
  ASSERT_TRUE(eventually([&] { return disconnects.load() == 1; }));
  EXPECT_TRUE(will_reconnect.load());
  Result<Response> lost = pending.get();
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, errc::disconnected);

  ASSERT_TRUE(server->accept());
  auto hello = server->expect("hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ((*hello)["subscribe"], json::array({"frames", "sprites"}));
  EXPECT_EQ((*hello)["snapshot"], true);
  server->send_json(welcome_json());
  server->send_json({{"type", "snapshot"}, {"seqs", {{"frames", 77}}}, {"movie", {{"frame", 9}}}});
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return resynced.has_value();
  }));
  EXPECT_EQ(resynced->snapshot.seqs.at("frames"), 77u);
  EXPECT_EQ(resynced->snapshot.body["movie"]["frame"], 9);
  EXPECT_EQ(client.stats().reconnects, 1u);
  EXPECT_TRUE(client.connected());
}

TEST_P(Loopback, ReconnectWithoutStreamsRequestsStage) {
  ClientOptions o = options();
  o.subscribe.clear();
  Client client(o);
  std::atomic<bool> resynced{false};
  client.on_resync([&](const Resynced& r) { resynced = r.snapshot.body.contains("movie"); });
  handshake(client);
  server->drop();
  ASSERT_TRUE(server->accept());
  auto hello = server->expect("hello");
  ASSERT_TRUE(hello);
  EXPECT_FALSE(hello->contains("subscribe"));
  server->send_json(welcome_json());
  auto req = server->expect("request");
  ASSERT_TRUE(req);
  EXPECT_EQ((*req)["what"], "stage");
  server->send_json({{"type", "response"}, {"id", (*req)["id"]}, {"ok", true},
                     {"data", {{"seqs", json::object()}, {"movie", {{"frame", 1}}}}}});
  EXPECT_TRUE(eventually([&] { return resynced.load(); }));
}

TEST_P(Loopback, FatalAuthErrorFailsConnectWithoutRetry) {
  Client client(options());
  auto connecting = client.connect_async();
  ASSERT_TRUE(server->accept());
  ASSERT_TRUE(server->expect("hello"));
  server->send_json({{"type", "error"}, {"code", "auth_failed"}, {"message", "wrong token"}, {"fatal", true}});
  server->close_with(4007, "auth_failed");
  Result<Welcome> w = connecting.get();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::auth_failed);
  EXPECT_FALSE(server->accept(300ms));  // no retry
}

TEST_P(Loopback, SessionReplacedStopsReconnecting) {
  Client client(options());
  std::atomic<bool> done{false};
  std::atomic<bool> retry{true};
  client.on_disconnect([&](const Disconnected& d) {
    retry = d.will_reconnect;
    done = d.reason.code == errc::session_replaced;
  });
  handshake(client);
  server->send_json({{"type", "error"}, {"code", "session_replaced"}, {"message", "x"}, {"fatal", true}});
  ASSERT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_FALSE(retry.load());
  EXPECT_FALSE(server->accept(300ms));
}

TEST_P(Loopback, TilesAreDecodedAndAcked) {
  Client client(options());
  std::atomic<int> tiles{0};
  client.on_tile([&](const Tile&) { ++tiles; });
  handshake(client);
  std::vector<std::uint8_t> img(128 * 64 * 4, 200);
  auto msgs = encode_frame_tiles(12, img.data(), 128, 64, TileEncoding::raw);
  ASSERT_TRUE(msgs);
  for (const auto& m : *msgs) server->send_binary(m);
  auto ack = server->expect("pixels_ack");
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["frame"], 12);
  EXPECT_EQ(tiles.load(), 2);
}

TEST_P(Loopback, GapTriggersStageRequest) {
  Client client(options());
  std::atomic<int> gaps{0};
  std::atomic<int> snapshots{0};
  client.on_gap([&](const Gap&) { ++gaps; });
  client.on_snapshot([&](const Snapshot&) { ++snapshots; });
  handshake(client);
  server->send_json({{"type", "gap"}, {"stream", "sounds"}, {"from_seq", 3}, {"to_seq", 9}});
  auto req = server->expect("request");
  ASSERT_TRUE(req);
  EXPECT_EQ((*req)["what"], "stage");
  server->send_json({{"type", "response"}, {"id", (*req)["id"]}, {"ok", true}, {"data", {{"seqs", {{"sounds", 9}}}}}});
  EXPECT_TRUE(eventually([&] { return snapshots.load() == 1; }));
  EXPECT_EQ(gaps.load(), 1);
}

TEST_P(Loopback, ConnectFailuresAreValues) {
  ClientOptions o = options();
  o.url = GetParam() == FakeServer::Kind::pipe ? "pipe:///nonexistent/dir/x.sock" : "ws://127.0.0.1:1/ws";
  Client client(o);
  Result<Welcome> w = client.connect();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::connect_failed);

  o.url = "gopher://x";
  Client bad(o);
  Result<Welcome> b = bad.connect();
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, errc::invalid_url);
}

TEST_P(Loopback, SilentServerTimesOutConnect) {
  ClientOptions o = options();
  o.connect_timeout = 200ms;
  Client client(o);
  auto connecting = client.connect_async();
  ASSERT_TRUE(server->accept());
  Result<Welcome> w = connecting.get();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::timeout);
}

TEST(LoopbackPipe, OversizeFrameEndsSessionWithFrameTooLarge) {
  auto server = FakeServer::create(FakeServer::Kind::pipe);
  ClientOptions o;
  o.url = server->url();
  o.max_message = 1024;
  o.reconnect.enabled = false;
  Client client(o);
  std::mutex mu;
  std::optional<Error> reason;
  client.on_disconnect([&](const Disconnected& d) {
    std::lock_guard<std::mutex> lock(mu);
    reason = d.reason;
  });
  auto connecting = client.connect_async();
  ASSERT_TRUE(server->accept());
  ASSERT_TRUE(server->expect("hello"));
  server->send_json(welcome_json());
  ASSERT_TRUE(connecting.get());
  server->send_raw(std::string("\x00\x00\x10\x00", 4));  // 1 MiB declared
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return reason.has_value();
  }));
  EXPECT_EQ(reason->code, errc::frame_too_large);
}

TEST(LoopbackWs, CloseCodeMapsToProtocolError) {
  auto server = FakeServer::create(FakeServer::Kind::ws);
  ClientOptions o;
  o.url = server->url();
  o.reconnect.enabled = true;
  Client client(o);
  std::mutex mu;
  std::optional<Disconnected> seen;
  client.on_disconnect([&](const Disconnected& d) {
    std::lock_guard<std::mutex> lock(mu);
    seen = d;
  });
  auto connecting = client.connect_async();
  ASSERT_TRUE(server->accept());
  ASSERT_TRUE(server->expect("hello"));
  server->send_json(welcome_json());
  ASSERT_TRUE(connecting.get());
  server->close_with(4015, "replaced");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.has_value();
  }));
  EXPECT_EQ(seen->reason.code, errc::session_replaced);
  EXPECT_FALSE(seen->will_reconnect);
}

// ---- Publisher (the relay host flow) ------------------------------------------------------------

namespace {

class PublisherLoopback : public ::testing::TestWithParam<FakeServer::Kind> {
 protected:
  void SetUp() override { server = FakeServer::create(GetParam()); }

  PublisherOptions options() {
    PublisherOptions o;
    o.url = server->url();
    o.project = "gradient";
    o.token = "host-token";
    o.connect_timeout = 3000ms;
    return o;
  }

  /// Runs the relay side of the handshake: our welcome, then the relay's own hello.
  void relay_handshake(Publisher& publisher, bool snapshot = true) {
    auto connecting = std::async(std::launch::async, [&] { return publisher.connect(); });
    ASSERT_TRUE(server->accept());
    auto hello = server->expect("hello");
    ASSERT_TRUE(hello);
    EXPECT_EQ((*hello)["role"], "host");
    EXPECT_EQ((*hello)["project"], "gradient");
    EXPECT_EQ((*hello)["token"], "host-token");
    server->send_json(welcome_json("host"));
    Result<Welcome> w = connecting.get();
    ASSERT_TRUE(w) << w.error().to_string();
    server->send_json({{"type", "hello"},
                       {"protocol", 1},
                       {"role", "controller"},
                       {"client", {{"id", "relay"}}},
                       {"subscribe", {"*"}},
                       {"snapshot", snapshot}});
    auto welcome = server->expect("welcome");
    ASSERT_TRUE(welcome);
    EXPECT_EQ((*welcome)["project"], "gradient");
    EXPECT_EQ((*welcome)["role"], "controller");
    EXPECT_EQ((*welcome)["streams"].size(), default_streams().size());
    ASSERT_TRUE(eventually([&] { return publisher.peer_ready(); }));
  }

  std::unique_ptr<FakeServer> server;
};

}  // namespace

TEST_P(PublisherLoopback, AnswersRelayHelloWithWelcomeAndSnapshot) {
  Publisher publisher(options());
  publisher.set_snapshot_provider([] {
    return json{{"movie", {{"frame", 3}, {"frame_count", 240}, {"tempo", 30}, {"playing", true}}},
                {"stage_props", {{"width", 256}}}};
  });
  publisher.publish_frame(StageFrame{1, 240, 30, true, 0, 256, 192});  // before the peer: not sent
  relay_handshake(publisher);
  auto snap = server->expect("snapshot");
  ASSERT_TRUE(snap);
  EXPECT_EQ((*snap)["movie"]["frame"], 3);
  EXPECT_EQ((*snap)["seqs"]["frames"], 1);  // the unsent event still took seq 1
  EXPECT_TRUE((*snap)["sprites"].is_array());
  EXPECT_TRUE((*snap)["members"].is_array());
  publisher.publish_frame(StageFrame{2, 240, 30, true, 33, 256, 192});
  auto ev = server->expect("event");
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["seq"], 2);
  EXPECT_EQ((*ev)["items"][0]["frame"], 2);
}

TEST_P(PublisherLoopback, StreamsTilesWithFlowControl) {
  PublisherOptions o = options();
  o.pixels_ack_timeout = 60000ms;
  Publisher publisher(o);
  relay_handshake(publisher, false);
  std::vector<std::uint8_t> img(256 * 192 * 4);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint8_t>(i * 7);
  for (std::uint32_t f = 1; f <= 3; ++f) {
    ASSERT_TRUE(publisher.publish_pixels(f, img.data(), 256, 192, TileEncoding::raw));
  }
  std::vector<std::uint8_t> stage;
  int tiles = 0;
  std::uint32_t last_frame = 0;
  while (auto m = server->next(1000ms)) {
    if (!m->binary) continue;
    Result<Tile> t = decode_tile(m->data);
    ASSERT_TRUE(t);
    ASSERT_TRUE(blit_tile(*t, stage));
    ++tiles;
    last_frame = t->header.frame;
    if (tiles == 24) break;
  }
  EXPECT_EQ(tiles, 24);  // frames 1 and 2; frame 3 waits for an ack
  EXPECT_EQ(last_frame, 2u);
  EXPECT_EQ(stage, img);
  EXPECT_FALSE(server->next(300ms).has_value());
  ASSERT_TRUE(eventually([&] { return publisher.stats().pixel_frames_skipped == 1; }));
  server->send_json({{"type", "pixels_ack"}, {"frame", 1}});
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(publisher.publish_pixels(4, img.data(), 256, 192, TileEncoding::raw));
  auto m = server->next(2000ms);
  ASSERT_TRUE(m && m->binary);
  EXPECT_EQ(decode_tile(m->data)->header.frame, 4u);
}

TEST_P(PublisherLoopback, AnswersRequests) {
  Publisher publisher(options());
  publisher.set_movie_state_provider([] { return MovieState{5, 240, 30, false}; });
  relay_handshake(publisher, false);
  server->send_json({{"type", "request"}, {"id", 1}, {"what", "movie_state"}});
  auto r = server->expect("response");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["id"], 1);
  EXPECT_EQ((*r)["ok"], true);
  EXPECT_EQ((*r)["data"]["frame"], 5);
  server->send_json({{"type", "request"}, {"id", 2}, {"what", "stage"}});
  r = server->expect("response");
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)["data"]["seqs"].is_object());
  EXPECT_EQ((*r)["data"]["movie"]["frame"], 5);
  server->send_json({{"type", "request"}, {"id", 3}, {"what", "weather"}});
  r = server->expect("response");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_EQ((*r)["error"]["code"], "unknown_request");
}

TEST_P(PublisherLoopback, EveryCommandGetsExactlyOneAck) {
  Publisher publisher(options());
  publisher.register_custom("ping_driver", [](const json&) -> Result<json> {
    return json{{"pong", true}};
  });
  relay_handshake(publisher, false);
  server->send_json({{"type", "command"}, {"id", 10}, {"command", commands::custom("ping_driver")}});
  auto a = server->expect("ack");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["id"], 10);
  EXPECT_EQ((*a)["status"], "applied");
  EXPECT_EQ((*a)["result"], json({{"pong", true}}));

  server->send_json({{"type", "command"}, {"id", 11}, {"command", commands::custom("nobody")}});
  a = server->expect("ack");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["status"], "rejected");
  EXPECT_EQ((*a)["error"]["code"], "unknown_command");

  server->send_json({{"type", "command"}, {"id", 12}, {"command", {{"kind", "go_to_frame"}}}});
  a = server->expect("ack");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["id"], 12);
  EXPECT_EQ((*a)["error"]["code"], "missing_field");

  server->send_json({{"type", "command"}, {"id", 13}});  // no inner command at all
  a = server->expect("ack");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["id"], 13);
  EXPECT_EQ((*a)["status"], "rejected");
  EXPECT_EQ((*a)["error"]["code"], "missing_field");

  server->send_text("{broken");
  auto e = server->expect("error");
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], "bad_json");
  EXPECT_EQ((*e)["fatal"], false);
  EXPECT_TRUE(publisher.connected());
}

TEST_P(PublisherLoopback, DeferredAcksFromTheTickLoop) {
  Publisher publisher(options());
  std::mutex mu;
  std::vector<IncomingCommand> queued;
  publisher.set_command_handler([&](const IncomingCommand& c) -> std::optional<AckOutcome> {
    std::lock_guard<std::mutex> lock(mu);
    queued.push_back(c);
    return std::nullopt;
  });
  relay_handshake(publisher, false);
  server->send_json({{"type", "command"}, {"id", 21}, {"command", commands::pause()}});
  server->send_json({{"type", "command"}, {"id", 22}, {"command", commands::go_to_frame(42)}});
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return queued.size() == 2;
  }));
  std::thread tick([&] {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& c : queued) {
      const std::int64_t frame = c.spec.kind == "go_to_frame" ? c.spec.integer("frame") : 7;
      EXPECT_TRUE(publisher.ack(c.id, AckOutcome::applied(frame)));
    }
    EXPECT_FALSE(publisher.ack(21, AckOutcome::applied(1)));  // only one ack per command
  });
  tick.join();
  auto a1 = server->expect("ack");
  auto a2 = server->expect("ack");
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ((*a1)["id"], 21);
  EXPECT_EQ((*a2)["id"], 22);
  EXPECT_EQ((*a2)["frame"], 42);
  EXPECT_FALSE(server->expect("ack", 200ms));
}

TEST_P(PublisherLoopback, FatalRelayErrorFailsConnect) {
  Publisher publisher(options());
  auto connecting = std::async(std::launch::async, [&] { return publisher.connect(); });
  ASSERT_TRUE(server->accept());
  ASSERT_TRUE(server->expect("hello"));
  server->send_json({{"type", "error"}, {"code", "project_taken"}, {"message", "taken"}, {"fatal", true}});
  Result<Welcome> w = connecting.get();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::project_taken);
}

INSTANTIATE_TEST_SUITE_P(Transports, Loopback,
                         ::testing::Values(FakeServer::Kind::pipe, FakeServer::Kind::ws),
                         [](const auto& info) {
                           return info.param == FakeServer::Kind::pipe ? "pipe" : "ws";
                         });
INSTANTIATE_TEST_SUITE_P(Transports, PublisherLoopback,
                         ::testing::Values(FakeServer::Kind::pipe, FakeServer::Kind::ws),
                         [](const auto& info) {
                           return info.param == FakeServer::Kind::pipe ? "pipe" : "ws";
                         });
