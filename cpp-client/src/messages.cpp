#include "stagelink/messages.hpp"

#include <exception>

#include "json_fields.hpp"

namespace stagelink {

using detail::FieldReader;

namespace {

json error_body_json(const ErrorBody& e) { return json{{"code", e.code}, {"message", e.message}}; }

/// Reads an optional `{code, message}` object into `out`.
void read_error_body(FieldReader& r, const char* key, std::optional<ErrorBody>& out) {
  const json* e = r.object(key, false);
  if (e == nullptr) return;
  FieldReader er(*e, key);
  ErrorBody body{er.str("code"), er.opt_str("message").value_or("")};
  if (!er.ok()) {
    r.fail(er.error().code.c_str(), er.error().message);
    return;
  }
  out = std::move(body);
}

json string_array(const std::vector<std::string>& v) {
  json a = json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

}  // namespace

std::string_view to_string(AckStatus status) {
  switch (status) {
    case AckStatus::applied: return "applied";
    case AckStatus::rejected: return "rejected";
    case AckStatus::busy: return "busy";
  }
  return "applied";
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- encode ----------------------------------------------------------------------------------

json encode(const Hello& m) {
  json j{{"type", "hello"},
         {"protocol", m.protocol},
         {"project", m.project},
         {"client", {{"id", m.client.id}, {"name", m.client.name}, {"version", m.client.version}}},
         {"role", m.role},
         {"snapshot", m.snapshot}};
  if (m.token) j["token"] = *m.token;
  if (m.subscribe) j["subscribe"] = string_array(*m.subscribe);
  if (m.takeover) j["takeover"] = true;
  return j;
}

json encode(const Welcome& m) {
  json streams = json::array();
  for (const auto& s : m.streams) streams.push_back({{"name", s.name}, {"policy", s.policy}});
  return json{{"type", "welcome"},
              {"protocol", m.protocol},
              {"session", m.session},
              {"server", {{"name", m.server.name}, {"version", m.server.version}}},
              {"project", m.project},
              {"role", m.role},
              {"streams", streams},
              {"capabilities", string_array(m.capabilities)},
              {"heartbeat_ms", m.heartbeat_ms},
              {"idle_timeout_ms", m.idle_timeout_ms}};
}

json encode(const Subscribe& m) {
  return json{{"type", "subscribe"}, {"streams", string_array(m.streams)}, {"snapshot", m.snapshot}};
}

json encode(const Unsubscribe& m) {
  return json{{"type", "unsubscribe"}, {"streams", string_array(m.streams)}};
}

json encode(const Request& m) { return json{{"type", "request"}, {"id", m.id}, {"what", m.what}}; }

json encode(const Response& m) {
  json j{{"type", "response"}, {"id", m.id}, {"ok", m.ok}};
  if (m.ok) {
    j["data"] = m.data;
  } else {
    j["error"] = error_body_json(m.error.value_or(ErrorBody{errc::internal, ""}));
  }
  return j;
}

json encode(const Command& m) {
  return json{{"type", "command"}, {"id", m.id}, {"command", m.command}};
}

json encode(const Ack& m) {
  json j{{"type", "ack"}, {"id", m.id}, {"status", std::string(to_string(m.status))}};
  if (m.frame) j["frame"] = *m.frame;
  if (m.result) j["result"] = *m.result;
  if (m.error) j["error"] = error_body_json(*m.error);
  return j;
}

json encode(const Event& m) {
  json j{{"type", "event"}, {"stream", m.stream}, {"seq", m.seq}, {"frame", m.frame},
         {"items", m.items.is_array() ? m.items : json::array({m.items})}};
  if (m.first_seq) j["first_seq"] = *m.first_seq;
  return j;
}

json encode(const Snapshot& m) {
  json j = m.body.is_object() ? m.body : json::object();
  j["type"] = "snapshot";
  json seqs = json::object();
  for (const auto& [stream, seq] : m.seqs) seqs[stream] = seq;
  j["seqs"] = seqs;
  return j;
}

json encode(const Gap& m) {
  return json{{"type", "gap"}, {"stream", m.stream}, {"from_seq", m.from_seq}, {"to_seq", m.to_seq}};
}

json encode(const Notice& m) {
  return json{{"type", "notice"}, {"code", m.code}, {"message", m.message}};
}

json encode(const ErrorMessage& m) {
  json j{{"type", "error"}, {"code", m.code}, {"message", m.message}, {"fatal", m.fatal}};
  if (m.id) j["id"] = *m.id;
  return j;
}

json encode(const Ping& m) { return json{{"type", "ping"}, {"t", m.t}}; }
json encode(const Pong& m) { return json{{"type", "pong"}, {"t", m.t}}; }
json encode(const Bye& m) { return json{{"type", "bye"}, {"reason", m.reason}}; }
json encode(const PixelsAck& m) { return json{{"type", "pixels_ack"}, {"frame", m.frame}}; }

json encode(const StageFrame& m) {
  return json{{"frame", m.frame},       {"frame_count", m.frame_count}, {"tempo", m.tempo},
              {"playing", m.playing},   {"time_ms", m.time_ms},         {"width", m.width},
              {"height", m.height}};
}

json encode(const MovieState& m) {
  return json{{"frame", m.frame}, {"frame_count", m.frame_count}, {"tempo", m.tempo},
              {"playing", m.playing}};
}

json encode(const Message& m) {
  return std::visit([](const auto& v) { return encode(v); }, m);
}

std::string_view type_name(const Message& m) {
  struct Names {
    std::string_view operator()(const Hello&) const { return "hello"; }
    std::string_view operator()(const Welcome&) const { return "welcome"; }
    std::string_view operator()(const Subscribe&) const { return "subscribe"; }
    std::string_view operator()(const Unsubscribe&) const { return "unsubscribe"; }
    std::string_view operator()(const Request&) const { return "request"; }
    std::string_view operator()(const Response&) const { return "response"; }
    std::string_view operator()(const Command&) const { return "command"; }
    std::string_view operator()(const Ack&) const { return "ack"; }
    std::string_view operator()(const Event&) const { return "event"; }
    std::string_view operator()(const Snapshot&) const { return "snapshot"; }
    std::string_view operator()(const Gap&) const { return "gap"; }
    std::string_view operator()(const Notice&) const { return "notice"; }
    std::string_view operator()(const ErrorMessage&) const { return "error"; }
    std::string_view operator()(const Ping&) const { return "ping"; }
    std::string_view operator()(const Pong&) const { return "pong"; }
    std::string_view operator()(const Bye&) const { return "bye"; }
    std::string_view operator()(const PixelsAck&) const { return "pixels_ack"; }
  };
  return std::visit(Names{}, m);
}

// ---- decode ----------------------------------------------------------------------------------

template <>
Result<Hello> decode<Hello>(const json& j) {
  FieldReader r(j, "hello");
  Hello m;
  m.protocol = static_cast<int>(r.i64("protocol"));
  m.project = r.opt_str("project").value_or("");
  if (const json* c = r.object("client", false)) {
    FieldReader cr(*c, "hello.client");
    m.client.id = cr.opt_str("id").value_or("");
    m.client.name = cr.opt_str("name").value_or("");
    m.client.version = cr.opt_str("version").value_or("");
    if (!cr.ok()) return cr.error();
  }
  m.role = r.opt_str("role").value_or("observer");
  m.token = r.opt_str("token");
  m.subscribe = r.str_array("subscribe", false);
  m.snapshot = r.opt_bool("snapshot").value_or(false);
  m.takeover = r.opt_bool("takeover").value_or(false);
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Welcome> decode<Welcome>(const json& j) {
  FieldReader r(j, "welcome");
  Welcome m;
  m.protocol = static_cast<int>(r.i64("protocol"));
  m.session = r.str("session");
  if (const json* s = r.object("server", false)) {
    FieldReader sr(*s, "welcome.server");
    m.server.name = sr.opt_str("name").value_or("");
    m.server.version = sr.opt_str("version").value_or("");
    if (!sr.ok()) return sr.error();
  }
  m.project = r.opt_str("project").value_or("");
  m.role = r.opt_str("role").value_or("");
  if (const json* streams = r.array("streams", false)) {
    for (const auto& s : *streams) {
      if (s.is_string()) {  // tolerated: a bare stream name
        m.streams.push_back({s.get<std::string>(), ""});
        continue;
      }
      FieldReader sr(s, "welcome.streams[]");
      StreamInfo info{sr.str("name"), sr.opt_str("policy").value_or("")};
      if (!sr.ok()) return sr.error();
      m.streams.push_back(std::move(info));
    }
  }
  m.capabilities = r.str_array("capabilities", false).value_or(std::vector<std::string>{});
  m.heartbeat_ms = r.opt_i64("heartbeat_ms").value_or(5000);
  m.idle_timeout_ms = r.opt_i64("idle_timeout_ms").value_or(30000);
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Subscribe> decode<Subscribe>(const json& j) {
  FieldReader r(j, "subscribe");
  Subscribe m;
  m.streams = r.str_array("streams", true).value_or(std::vector<std::string>{});
  m.snapshot = r.opt_bool("snapshot").value_or(false);
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Unsubscribe> decode<Unsubscribe>(const json& j) {
  FieldReader r(j, "unsubscribe");
  Unsubscribe m;
  m.streams = r.str_array("streams", true).value_or(std::vector<std::string>{});
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Request> decode<Request>(const json& j) {
  FieldReader r(j, "request");
  Request m;
  m.id = r.u64("id");
  m.what = r.str("what");
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Response> decode<Response>(const json& j) {
  FieldReader r(j, "response");
  Response m;
  m.id = r.u64("id");
  m.ok = r.boolean("ok");
  m.data = r.any("data", false);
  read_error_body(r, "error", m.error);
  if (!r.ok()) return r.error();
  if (!m.ok && !m.error) m.error = ErrorBody{errc::internal, "response without error details"};
  return m;
}

template <>
Result<Command> decode<Command>(const json& j) {
  FieldReader r(j, "command");
  Command m;
  m.id = r.u64("id");
  if (const json* c = r.object("command", true)) m.command = *c;
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Ack> decode<Ack>(const json& j) {
  FieldReader r(j, "ack");
  Ack m;
  m.id = r.u64("id");
  const std::string status = r.str("status");
  if (r.ok()) {
    if (status == "applied") {
      m.status = AckStatus::applied;
    } else if (status == "rejected") {
      m.status = AckStatus::rejected;
    } else if (status == "busy") {
      m.status = AckStatus::busy;
    } else {
      r.fail(errc::invalid_field, "unknown status '" + status + "'");
    }
  }
  m.frame = r.opt_i64("frame");
  if (j.is_object() && j.contains("result") && !j["result"].is_null()) m.result = j["result"];
  read_error_body(r, "error", m.error);
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Event> decode<Event>(const json& j) {
  FieldReader r(j, "event");
  Event m;
  m.stream = r.str("stream");
  m.seq = r.u64("seq");
  m.first_seq = r.opt_u64("first_seq");
  m.frame = r.opt_i64("frame").value_or(0);
  if (const json* items = r.array("items", true)) m.items = *items;
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Snapshot> decode<Snapshot>(const json& j) {
  FieldReader r(j, "snapshot");
  Snapshot m;
  if (const json* seqs = r.object("seqs", false)) {
    for (auto it = seqs->begin(); it != seqs->end(); ++it) {
      if (it.value().is_number_unsigned() ||
          (it.value().is_number_integer() && it.value().get<std::int64_t>() >= 0)) {
        m.seqs[it.key()] = it.value().get<std::uint64_t>();
      } else if (!it.value().is_null()) {
        r.fail(errc::invalid_field, "seqs." + it.key() + " must be a non-negative integer");
      }
    }
  }
  if (!r.ok()) return r.error();
  m.body = j;
  m.body.erase("type");
  m.body.erase("seqs");
  return m;
}

template <>
Result<Gap> decode<Gap>(const json& j) {
  FieldReader r(j, "gap");
  Gap m{r.str("stream"), r.u64("from_seq"), r.u64("to_seq")};
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Notice> decode<Notice>(const json& j) {
  FieldReader r(j, "notice");
  Notice m{r.str("code"), r.opt_str("message").value_or("")};
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<ErrorMessage> decode<ErrorMessage>(const json& j) {
  FieldReader r(j, "error");
  ErrorMessage m;
  m.code = r.str("code");
  m.message = r.opt_str("message").value_or("");
  m.fatal = r.opt_bool("fatal").value_or(false);
  m.id = r.opt_u64("id");
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Ping> decode<Ping>(const json& j) {
  FieldReader r(j, "ping");
  Ping m{r.opt_i64("t").value_or(0)};
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Pong> decode<Pong>(const json& j) {
  FieldReader r(j, "pong");
  Pong m{r.opt_i64("t").value_or(0)};
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<Bye> decode<Bye>(const json& j) {
  FieldReader r(j, "bye");
  Bye m{r.opt_str("reason").value_or("")};
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<PixelsAck> decode<PixelsAck>(const json& j) {
  FieldReader r(j, "pixels_ack");
  PixelsAck m{r.u64("frame")};
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<StageFrame> decode<StageFrame>(const json& j) {
  FieldReader r(j, "frames item");
  StageFrame m;
  m.frame = r.i64("frame");
  m.frame_count = r.i64("frame_count");
  m.playing = r.boolean("playing");
  m.tempo = r.opt_num("tempo").value_or(0.0);
  m.time_ms = r.opt_i64("time_ms").value_or(0);
  m.width = r.opt_i64("width").value_or(0);
  m.height = r.opt_i64("height").value_or(0);
  if (!r.ok()) return r.error();
  return m;
}

template <>
Result<MovieState> decode<MovieState>(const json& j) {
  FieldReader r(j, "movie_state");
  MovieState m;
  m.frame = r.i64("frame");
  m.playing = r.boolean("playing");
  m.frame_count = r.opt_i64("frame_count").value_or(0);
  m.tempo = r.opt_num("tempo").value_or(0.0);
  if (!r.ok()) return r.error();
  return m;
}

namespace {

/// Deeper JSON is refused before parsing: copying and destroying a JSON value recurses once per
/// level, so a hostile 16 MiB `[[[[...` would otherwise overflow the stack.
constexpr int kMaxJsonDepth = 512;

bool too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<json> parse_json(std::string_view text) {
  if (too_deep(text)) {
    return make_error(errc::bad_json,
                      "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      // Parse again only to say where it broke (the cheap non-throwing parse has no detail).
      std::string detail = "malformed JSON";
      try {
        const json reparsed = json::parse(text.begin(), text.end());
        (void)reparsed;
      } catch (const std::exception& e) {
        detail = e.what();
      }
      return make_error(errc::bad_json, detail);
    }
    return value;
  } catch (const std::exception& e) {  // e.g. allocation failure on absurd input
    return make_error(errc::bad_json, e.what());
  }
}

namespace {

template <class T>
Result<Message> as_message(const json& j) {
  Result<T> r = decode<T>(j);
  if (!r) return r.error();
  return Message{std::move(r).value()};
}

}  // namespace

Result<Message> decode_message(const json& j) {
  if (!j.is_object()) return make_error(errc::invalid_field, "message is not a JSON object");
  auto it = j.find("type");
  if (it == j.end()) return make_error(errc::missing_field, "message has no 'type'");
  if (!it->is_string()) return make_error(errc::invalid_field, "'type' must be a string");
  const std::string& type = it->get_ref<const std::string&>();
  try {
    if (type == "hello") return as_message<Hello>(j);
    if (type == "welcome") return as_message<Welcome>(j);
    if (type == "subscribe") return as_message<Subscribe>(j);
    if (type == "unsubscribe") return as_message<Unsubscribe>(j);
    if (type == "request") return as_message<Request>(j);
    if (type == "response") return as_message<Response>(j);
    if (type == "command") return as_message<Command>(j);
    if (type == "ack") return as_message<Ack>(j);
    if (type == "event") return as_message<Event>(j);
    if (type == "snapshot") return as_message<Snapshot>(j);
    if (type == "gap") return as_message<Gap>(j);
    if (type == "notice") return as_message<Notice>(j);
    if (type == "error") return as_message<ErrorMessage>(j);
    if (type == "ping") return as_message<Ping>(j);
    if (type == "pong") return as_message<Pong>(j);
    if (type == "bye") return as_message<Bye>(j);
    if (type == "pixels_ack") return as_message<PixelsAck>(j);
  } catch (const std::exception& e) {  // defensive: the readers check types before reading
    return make_error(errc::invalid_field, std::string("message '") + type + "': " + e.what());
  }
  return make_error(errc::unknown_type, "unknown message type '" + type + "'");
}

Result<Message> parse_message(std::string_view text) {
  Result<json> j = parse_json(text);
  if (!j) return j.error();
  return decode_message(*j);
}

std::optional<std::uint64_t> salvage_id(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("id");
  if (it == j.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(it->get<std::int64_t>());
  }
  return std::nullopt;
}

}  // namespace stagelink
