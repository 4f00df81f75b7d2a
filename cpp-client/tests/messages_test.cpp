// Build and parse every message type of protocol v1, from the brief's own examples.
#include <gtest/gtest.h>

#include "stagelink/messages.hpp"

using namespace stagelink;

namespace {

/// Encodes, serializes, parses back and returns the variant alternative.
template <class T>
T round_trip(const T& message) {
  const std::string text = serialize(message);
  Result<Message> parsed = parse_message(text);
  EXPECT_TRUE(parsed) << text << " -> " << parsed.error().to_string();
  if (!parsed) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*parsed)) << text;
  if (!std::holds_alternative<T>(*parsed)) return T{};
  return std::get<T>(*parsed);
}

template <class T>
T parse_as(const std::string& text) {
  Result<Message> parsed = parse_message(text);
  EXPECT_TRUE(parsed) << text << " -> " << parsed.error().to_string();
  if (!parsed || !std::holds_alternative<T>(*parsed)) {
    ADD_FAILURE() << "wrong alternative for " << text;
    return T{};
  }
  return std::get<T>(*parsed);
}

Error parse_error(const std::string& text) {
  Result<Message> parsed = parse_message(text);
  EXPECT_FALSE(parsed) << text;
  return parsed.error();
}

}  // namespace

TEST(Messages, HelloFromBrief) {
  const Hello h = parse_as<Hello>(
      R"({"type":"hello","protocol":1,"project":"demo",
          "client":{"id":"term-1","name":"stagelink-term","version":"0.1.0"},
          "role":"controller","token":"t0k","subscribe":["frames","sprites"],"snapshot":true})");
  EXPECT_EQ(h.protocol, 1);
  EXPECT_EQ(h.project, "demo");
  EXPECT_EQ(h.client.id, "term-1");
  EXPECT_EQ(h.client.name, "stagelink-term");
  EXPECT_EQ(h.role, "controller");
  EXPECT_EQ(h.token, std::optional<std::string>("t0k"));
  ASSERT_TRUE(h.subscribe.has_value());
  EXPECT_EQ(*h.subscribe, (std::vector<std::string>{"frames", "sprites"}));
  EXPECT_TRUE(h.snapshot);
  EXPECT_FALSE(h.takeover);
}

TEST(Messages, HelloRoundTripAndOptionalFields) {
  Hello h;
  h.project = "gradient";
  h.client = {"cpp", "display_driver", "0.1.0"};
  h.role = "host";
  h.token = "host-token";
  h.takeover = true;
  const json j = encode(h);
  EXPECT_EQ(j["type"], "hello");
  EXPECT_EQ(j["takeover"], true);
  EXPECT_FALSE(j.contains("subscribe"));  // absent = no streams yet
  const Hello back = round_trip(h);
  EXPECT_EQ(back.project, "gradient");
  EXPECT_EQ(back.role, "host");
  EXPECT_TRUE(back.takeover);
  EXPECT_EQ(back.token, h.token);
  EXPECT_FALSE(back.subscribe.has_value());
}

TEST(Messages, RelayHelloWithoutProjectOrToken) {
  const Hello h = parse_as<Hello>(
      R"({"type":"hello","protocol":1,"role":"controller","client":{"id":"relay"},"subscribe":["*"],"snapshot":true})");
  EXPECT_EQ(h.client.id, "relay");
  EXPECT_EQ(h.project, "");
  EXPECT_FALSE(h.token.has_value());
  EXPECT_EQ(*h.subscribe, std::vector<std::string>{"*"});
}

TEST(Messages, WelcomeFromBrief) {
  const Welcome w = parse_as<Welcome>(
      R"({"type":"welcome","protocol":1,"session":"s-7f3a","server":{"name":"stagelink-player","version":"0.1.0"},
          "project":"demo","role":"controller",
          "streams":[{"name":"frames","policy":"latest"},{"name":"sprites","policy":"coalesce"}],
          "capabilities":["commands","snapshots","pixels","custom"],
          "heartbeat_ms":5000,"idle_timeout_ms":30000})");
  EXPECT_EQ(w.session, "s-7f3a");
  EXPECT_EQ(w.server.name, "stagelink-player");
  ASSERT_EQ(w.streams.size(), 2u);
  EXPECT_EQ(w.streams[1].name, "sprites");
  EXPECT_EQ(w.streams[1].policy, "coalesce");
  EXPECT_EQ(w.capabilities.size(), 4u);
  EXPECT_EQ(w.heartbeat_ms, 5000);
  EXPECT_EQ(w.idle_timeout_ms, 30000);
  const Welcome back = round_trip(w);
  EXPECT_EQ(back.session, w.session);
  EXPECT_EQ(back.streams.size(), 2u);
}

TEST(Messages, SubscribeAndUnsubscribe) {
  const Subscribe s = round_trip(Subscribe{{"sounds", "frames"}, true});
  EXPECT_EQ(s.streams, (std::vector<std::string>{"sounds", "frames"}));
  EXPECT_TRUE(s.snapshot);
  EXPECT_EQ(parse_as<Subscribe>(R"({"type":"subscribe","streams":["sounds"],"snapshot":false})").streams.size(), 1u);
  const Unsubscribe u = parse_as<Unsubscribe>(R"({"type":"unsubscribe","streams":["sounds"]})");
  EXPECT_EQ(u.streams, std::vector<std::string>{"sounds"});
  EXPECT_EQ(round_trip(Unsubscribe{{"a"}}).streams, std::vector<std::string>{"a"});
}

TEST(Messages, RequestAndResponses) {
  const Request r = parse_as<Request>(R"({"type":"request","id":5,"what":"movie_state"})");
  EXPECT_EQ(r.id, 5u);
  EXPECT_EQ(r.what, "movie_state");
  EXPECT_EQ(round_trip(Request{6, "stage"}).what, "stage");

  const Response ok = parse_as<Response>(
      R"({"type":"response","id":5,"ok":true,"data":{"frame":17,"frame_count":240,"tempo":30,"playing":true}})");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.data["frame"], 17);
  const MovieState ms = *decode<MovieState>(ok.data);
  EXPECT_EQ(ms.frame, 17);
  EXPECT_EQ(ms.frame_count, 240);
  EXPECT_DOUBLE_EQ(ms.tempo, 30);
  EXPECT_TRUE(ms.playing);

  const Response err = parse_as<Response>(
      R"({"type":"response","id":6,"ok":false,"error":{"code":"unknown_request","message":"nope"}})");
  EXPECT_FALSE(err.ok);
  ASSERT_TRUE(err.error);
  EXPECT_EQ(err.error->code, "unknown_request");
  EXPECT_EQ(err.error->message, "nope");

  Response built;
  built.id = 9;
  built.ok = false;
  built.error = ErrorBody{"unknown_request", "x"};
  const Response back = round_trip(built);
  EXPECT_FALSE(back.ok);
  EXPECT_EQ(back.error->code, "unknown_request");
}

TEST(Messages, CommandAndAcks) {
  const Command c =
      parse_as<Command>(R"({"type":"command","id":9,"command":{"kind":"go_to_frame","frame":42}})");
  EXPECT_EQ(c.id, 9u);
  EXPECT_EQ(c.command["kind"], "go_to_frame");
  EXPECT_EQ(c.command["frame"], 42);
  EXPECT_EQ(round_trip(c).command, c.command);

  const Ack applied = parse_as<Ack>(R"({"type":"ack","id":9,"status":"applied","frame":43})");
  EXPECT_EQ(applied.status, AckStatus::applied);
  EXPECT_EQ(applied.frame, std::optional<std::int64_t>(43));
  EXPECT_FALSE(applied.error);

  const Ack rejected = parse_as<Ack>(
      R"({"type":"ack","id":10,"status":"rejected","error":{"code":"unknown_sprite","message":"no sprite in channel 99 at frame 42"}})");
  EXPECT_EQ(rejected.status, AckStatus::rejected);
  EXPECT_EQ(rejected.error->code, "unknown_sprite");

  const Ack busy = parse_as<Ack>(
      R"({"type":"ack","id":11,"status":"busy","error":{"code":"busy","message":"command queue full"}})");
  EXPECT_EQ(busy.status, AckStatus::busy);

  Ack with_result;
  with_result.id = 12;
  with_result.frame = 7;
  with_result.result = json{{"pong", true}};
  const Ack back = round_trip(with_result);
  EXPECT_EQ(back.result, json({{"pong", true}}));
  EXPECT_EQ(back.frame, std::optional<std::int64_t>(7));
  EXPECT_EQ(to_string(AckStatus::busy), "busy");
}

TEST(Messages, EventWithStageFrameItems) {
  const Event e = parse_as<Event>(
      R"({"type":"event","stream":"frames","seq":1042,"frame":17,
          "items":[{"frame":17,"frame_count":240,"tempo":30,"playing":true,"time_ms":566,"width":640,"height":480}]})");
  EXPECT_EQ(e.stream, "frames");
  EXPECT_EQ(e.seq, 1042u);
  EXPECT_EQ(e.frame, 17);
  EXPECT_FALSE(e.first_seq);
  ASSERT_EQ(e.items.size(), 1u);
  const StageFrame f = *decode<StageFrame>(e.items[0]);
  EXPECT_EQ(f.frame, 17);
  EXPECT_EQ(f.frame_count, 240);
  EXPECT_TRUE(f.playing);
  EXPECT_EQ(f.time_ms, 566);
  EXPECT_EQ(f.width, 640);
  EXPECT_EQ(f.height, 480);

  StageFrame built{42, 240, 24.5, false, 1000, 256, 192};
  const StageFrame back = *decode<StageFrame>(encode(built));
  EXPECT_EQ(back.frame, 42);
  EXPECT_DOUBLE_EQ(back.tempo, 24.5);
  EXPECT_FALSE(back.playing);
}

TEST(Messages, MergedEventCarriesFirstSeq) {
  Event e;
  e.stream = "sprites";
  e.seq = 20;
  e.first_seq = 15;
  e.frame = 3;
  e.items = json::array({{{"sprite_num", 1}, {"begin_frame", 1}, {"loc_h", 10}}});
  const Event back = round_trip(e);
  EXPECT_EQ(back.first_seq, std::optional<std::uint64_t>(15));
  EXPECT_EQ(back.items, e.items);
}

TEST(Messages, Snapshot) {
  const Snapshot s = parse_as<Snapshot>(
      R"({"type":"snapshot","seqs":{"sprites":1041,"frames":7},"movie":{"frame":17,"frame_count":240,"tempo":30,"playing":true},
          "stage_props":{"bgColor":{"r":0,"g":0,"b":0,"a":255}},"movie_props":{},"sprites":[],"members":[]})");
  EXPECT_EQ(s.seqs.at("sprites"), 1041u);
  EXPECT_EQ(s.seqs.at("frames"), 7u);
  EXPECT_EQ(s.body["movie"]["frame"], 17);
  EXPECT_FALSE(s.body.contains("type"));
  EXPECT_FALSE(s.body.contains("seqs"));
  const Snapshot back = round_trip(s);
  EXPECT_EQ(back.seqs, s.seqs);
  EXPECT_EQ(back.body, s.body);
}

TEST(Messages, GapNoticeError) {
  const Gap g = parse_as<Gap>(R"({"type":"gap","stream":"sounds","from_seq":100,"to_seq":140})");
  EXPECT_EQ(g.stream, "sounds");
  EXPECT_EQ(g.from_seq, 100u);
  EXPECT_EQ(g.to_seq, 140u);
  EXPECT_EQ(round_trip(g).to_seq, 140u);

  const Notice n = parse_as<Notice>(R"({"type":"notice","code":"host_left","message":"bye"})");
  EXPECT_EQ(n.code, "host_left");
  EXPECT_EQ(round_trip(n).message, "bye");

  const ErrorMessage e = parse_as<ErrorMessage>(
      R"({"type":"error","code":"bad_json","message":"expected value at line 1 column 7","fatal":false})");
  EXPECT_EQ(e.code, "bad_json");
  EXPECT_FALSE(e.fatal);
  EXPECT_FALSE(e.id);
  ErrorMessage with_id{"unknown_request", "x", false, 33};
  EXPECT_EQ(round_trip(with_id).id, std::optional<std::uint64_t>(33));
  ErrorMessage fatal{"auth_failed", "bad token", true, std::nullopt};
  EXPECT_TRUE(round_trip(fatal).fatal);
}

TEST(Messages, PingPongByePixelsAck) {
  EXPECT_EQ(parse_as<Ping>(R"({"type":"ping","t":123})").t, 123);
  EXPECT_EQ(parse_as<Pong>(R"({"type":"pong","t":123})").t, 123);
  EXPECT_EQ(round_trip(Ping{-5}).t, -5);
  EXPECT_EQ(round_trip(Pong{99}).t, 99);
  EXPECT_EQ(parse_as<Bye>(R"({"type":"bye","reason":"shutdown"})").reason, "shutdown");
  EXPECT_EQ(round_trip(Bye{"done"}).reason, "done");
  EXPECT_EQ(parse_as<PixelsAck>(R"({"type":"pixels_ack","frame":12})").frame, 12u);
  EXPECT_EQ(round_trip(PixelsAck{77}).frame, 77u);
}

TEST(Messages, EveryAlternativeRoundTripsThroughVariant) {
  const std::vector<Message> all = {
      Hello{}, Welcome{}, Subscribe{}, Unsubscribe{}, Request{1, "stats"}, Response{},
      Command{1, json{{"kind", "pause"}}}, Ack{}, Event{}, Snapshot{}, Gap{}, Notice{"c", "m"},
      ErrorMessage{"c", "m", false, std::nullopt}, Ping{}, Pong{}, Bye{}, PixelsAck{}};
  for (const Message& m : all) {
    Welcome placeholder;
    const std::string text = dump(encode(m));
    if (std::holds_alternative<Welcome>(m)) {
      // A welcome needs its session; give it one.
      placeholder.session = "s";
      const Result<Message> back = parse_message(serialize(placeholder));
      ASSERT_TRUE(back) << back.error().to_string();
      continue;
    }
    const Result<Message> back = parse_message(text);
    ASSERT_TRUE(back) << text << ": " << back.error().to_string();
    EXPECT_EQ(back->index(), m.index()) << text;
    EXPECT_EQ(type_name(*back), type_name(m));
    EXPECT_EQ(encode(*back)["type"], std::string(type_name(m)));
  }
}

TEST(Messages, UnknownFieldsAreIgnored) {
  const Ack a =
      parse_as<Ack>(R"({"type":"ack","id":1,"status":"applied","future_field":{"x":[1,2]},"v2":true})");
  EXPECT_EQ(a.id, 1u);
}

TEST(Messages, ErrorsUseProtocolCodes) {
  EXPECT_EQ(parse_error("{\"type\":").code, errc::bad_json);
  EXPECT_EQ(parse_error("").code, errc::bad_json);
  EXPECT_EQ(parse_error("[1,2,3]").code, errc::invalid_field);
  EXPECT_EQ(parse_error("{}").code, errc::missing_field);
  EXPECT_EQ(parse_error(R"({"type":5})").code, errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"teleport"})").code, errc::unknown_type);
  EXPECT_EQ(parse_error(R"({"type":"event","stream":"frames","seq":1})").code, errc::missing_field);
  EXPECT_EQ(parse_error(R"({"type":"event","stream":"frames","seq":-1,"items":[]})").code,
            errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"event","stream":"frames","seq":"1","items":[]})").code,
            errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"event","stream":"frames","seq":1,"items":{}})").code,
            errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"ack","id":1,"status":"maybe"})").code, errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"ack","id":1.5,"status":"applied"})").code, errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"ack","id":1,"status":"rejected","error":"x"})").code,
            errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"command","id":1})").code, errc::missing_field);
  EXPECT_EQ(parse_error(R"({"type":"hello"})").code, errc::missing_field);
  EXPECT_EQ(parse_error(R"({"type":"subscribe","streams":[1]})").code, errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"snapshot","seqs":{"a":"x"}})").code, errc::invalid_field);
  EXPECT_EQ(parse_error(R"({"type":"welcome","protocol":1,"session":"s","streams":[{"policy":"x"}]})").code,
            errc::missing_field);
}

TEST(Messages, StageFrameRequiresItsCoreFields) {
  EXPECT_FALSE(decode<StageFrame>(json{{"frame", 1}}));
  EXPECT_FALSE(decode<StageFrame>(json{{"frame", 1}, {"frame_count", 2}, {"playing", "yes"}}));
  EXPECT_FALSE(decode<StageFrame>(json::array()));
  EXPECT_TRUE(decode<StageFrame>(json{{"frame", 1}, {"frame_count", 2}, {"playing", false}}));
}

TEST(Messages, SalvageIdFromMalformedMessages) {
  EXPECT_EQ(salvage_id(json{{"type", "command"}, {"id", 7}}), std::optional<std::uint64_t>(7));
  EXPECT_FALSE(salvage_id(json{{"id", -1}}));
  EXPECT_FALSE(salvage_id(json{{"id", "7"}}));
  EXPECT_FALSE(salvage_id(json::array()));
}

TEST(Messages, DumpReplacesInvalidUtf8) {
  json j = {{"s", std::string("bad \xff byte")}};
  const std::string text = dump(j);
  EXPECT_NE(text.find("bad"), std::string::npos);
}

TEST(ErrorCodes, CloseCodesFollowTheTable) {
  EXPECT_EQ(close_code_for(errc::bad_json), 4001);
  EXPECT_EQ(close_code_for(errc::auth_failed), 4007);
  EXPECT_EQ(close_code_for(errc::frame_too_large), 4012);
  EXPECT_EQ(close_code_for(errc::session_replaced), 4015);
  EXPECT_EQ(close_code_for(errc::project_taken), 4030);
  EXPECT_EQ(close_code_for("nonsense"), 0);
  EXPECT_EQ(code_for_close_code(4009), errc::unknown_project);
  EXPECT_EQ(code_for_close_code(4031), "");
  EXPECT_EQ(code_for_close_code(1000), "");
  EXPECT_TRUE(is_fatal_code(errc::idle_timeout));
  EXPECT_TRUE(is_fatal_code(errc::shutdown));
  EXPECT_FALSE(is_fatal_code(errc::rate_limited));
  EXPECT_FALSE(is_fatal_code(errc::busy));
}

TEST(ResultType, ValueAndError) {
  Result<int> ok = 5;
  EXPECT_TRUE(ok);
  EXPECT_EQ(*ok, 5);
  Result<int> bad = make_error("x", "y");
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error().to_string(), "x: y");
  EXPECT_EQ(bad.value_or(3), 3);
  EXPECT_THROW((void)bad.value(), BadResultAccess);
  Result<void> v;
  EXPECT_TRUE(v);
  Result<void> ve = make_error("a", "");
  EXPECT_EQ(ve.error().to_string(), "a");
}
