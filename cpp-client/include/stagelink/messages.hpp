// Every JSON message of protocol v1 as a typed struct, with a builder (`encode`) and a checked
// parser (`decode<T>` / `parse_message`). Parsing never throws: malformed input comes back as an
// `Error` with the protocol's code (`bad_json`, `unknown_type`, `missing_field`, `invalid_field`).
// Unknown fields are ignored, as the protocol requires for forward compatibility.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "stagelink/result.hpp"

namespace stagelink {

using json = nlohmann::json;

inline constexpr int kProtocolVersion = 1;

/// Stream names of protocol v1 (brief §3).
namespace streams {
inline constexpr const char* frames = "frames";
inline constexpr const char* pixels = "pixels";
inline constexpr const char* sprites = "sprites";
inline constexpr const char* sprite_events = "sprite_events";
inline constexpr const char* member_props = "member_props";
inline constexpr const char* movie_props = "movie_props";
inline constexpr const char* stage_props = "stage_props";
inline constexpr const char* keyframes = "keyframes";
inline constexpr const char* film_loops = "film_loops";
inline constexpr const char* sounds = "sounds";
inline constexpr const char* tempos = "tempos";
inline constexpr const char* palettes = "palettes";
inline constexpr const char* frame_scripts = "frame_scripts";
inline constexpr const char* transitions = "transitions";
inline constexpr const char* text_styles = "text_styles";
}  // namespace streams

struct ClientInfo {
  std::string id;
  std::string name;
  std::string version;
};

struct ServerInfo {
  std::string name;
  std::string version;
};

/// `{code, message}` inside responses and acks.
struct ErrorBody {
  std::string code;
  std::string message;
};

// ---- client → server -------------------------------------------------------------------------

struct Hello {
  int protocol = kProtocolVersion;
  std::string project;
  ClientInfo client;
  /// "observer", "controller" or "host" (relay only).
  std::string role = "observer";
  std::optional<std::string> token;
  /// Streams to subscribe at once; absent means none yet.
  std::optional<std::vector<std::string>> subscribe;
  bool snapshot = false;
  /// Relay hosts only: replace a host already publishing the project.
  bool takeover = false;
};

struct Subscribe {
  std::vector<std::string> streams;
  bool snapshot = false;
};

struct Unsubscribe {
  std::vector<std::string> streams;
};

struct Request {
  std::uint64_t id = 0;
  /// "movie_state", "stage", "project", "stats".
  std::string what;
};

struct Command {
  std::uint64_t id = 0;
  /// The inner command object, `{"kind": ..., ...}` (see commands.hpp for builders).
  json command;
};

struct PixelsAck {
  std::uint64_t frame = 0;
};

// ---- server → client -------------------------------------------------------------------------

struct StreamInfo {
  std::string name;
  /// "latest", "coalesce" or "fifo".
  std::string policy;
};

struct Welcome {
  int protocol = kProtocolVersion;
  std::string session;
  ServerInfo server;
  std::string project;
  std::string role;
  std::vector<StreamInfo> streams;
  std::vector<std::string> capabilities;
  std::int64_t heartbeat_ms = 5000;
  std::int64_t idle_timeout_ms = 30000;
};

struct Event {
  std::string stream;
  std::uint64_t seq = 0;
  /// Set when a slow session's queued events were merged: the oldest seq merged in.
  std::optional<std::uint64_t> first_seq;
  std::int64_t frame = 0;
  /// Always an array.
  json items = json::array();
};

/// A snapshot message: the shape of a `stage` response plus the per-stream `seqs` it includes.
struct Snapshot {
  std::map<std::string, std::uint64_t> seqs;
  /// Everything else (`movie`, `stage_props`, `movie_props`, `sprites`, `members`, ...), as sent.
  json body = json::object();
};

struct Response {
  std::uint64_t id = 0;
  bool ok = true;
  json data;
  std::optional<ErrorBody> error;
};

enum class AckStatus { applied, rejected, busy };

std::string_view to_string(AckStatus status);

struct Ack {
  std::uint64_t id = 0;
  AckStatus status = AckStatus::applied;
  /// The frame the command took effect on (applied acks).
  std::optional<std::int64_t> frame;
  /// A custom handler's return value, or the per-command results of a batch.
  std::optional<json> result;
  std::optional<ErrorBody> error;
};

struct Gap {
  std::string stream;
  std::uint64_t from_seq = 0;
  std::uint64_t to_seq = 0;
};

struct Notice {
  std::string code;
  std::string message;
};

/// The `error` message (named so to keep it apart from the library's own `Error` value).
struct ErrorMessage {
  std::string code;
  std::string message;
  bool fatal = false;
  /// The request/command id this error answers, when it answers one.
  std::optional<std::uint64_t> id;
};

// ---- either direction ------------------------------------------------------------------------

struct Ping {
  std::int64_t t = 0;
};

struct Pong {
  std::int64_t t = 0;
};

struct Bye {
  std::string reason;
};

/// Any JSON message of the protocol.
using Message = std::variant<Hello, Welcome, Subscribe, Unsubscribe, Request, Response, Command,
                             Ack, Event, Snapshot, Gap, Notice, ErrorMessage, Ping, Pong, Bye,
                             PixelsAck>;

/// The `"type"` string of a message.
std::string_view type_name(const Message& message);

// ---- item DTOs -------------------------------------------------------------------------------

/// An item of the `frames` stream.
struct StageFrame {
  std::int64_t frame = 0;
  std::int64_t frame_count = 0;
  double tempo = 0;
  bool playing = false;
  std::int64_t time_ms = 0;
  std::int64_t width = 0;
  std::int64_t height = 0;
};

/// The data of a `movie_state` response (and the `movie` part of a snapshot).
struct MovieState {
  std::int64_t frame = 0;
  std::int64_t frame_count = 0;
  double tempo = 0;
  bool playing = false;
};

// ---- building --------------------------------------------------------------------------------

json encode(const Hello&);
json encode(const Welcome&);
json encode(const Subscribe&);
json encode(const Unsubscribe&);
json encode(const Request&);
json encode(const Response&);
json encode(const Command&);
json encode(const Ack&);
json encode(const Event&);
json encode(const Snapshot&);
json encode(const Gap&);
json encode(const Notice&);
json encode(const ErrorMessage&);
json encode(const Ping&);
json encode(const Pong&);
json encode(const Bye&);
json encode(const PixelsAck&);
json encode(const StageFrame&);
json encode(const MovieState&);
json encode(const Message&);

/// Compact UTF-8 text of a JSON value; invalid UTF-8 in strings is replaced, never thrown on.
std::string dump(const json& value);

/// The wire text of a message.
template <class T>
std::string serialize(const T& message) {
  return dump(encode(message));
}

// ---- parsing ---------------------------------------------------------------------------------

/// Decodes one message type from a JSON object (the `"type"` field is not checked here).
template <class T>
Result<T> decode(const json& value);

template <> Result<Hello> decode<Hello>(const json&);
template <> Result<Welcome> decode<Welcome>(const json&);
template <> Result<Subscribe> decode<Subscribe>(const json&);
template <> Result<Unsubscribe> decode<Unsubscribe>(const json&);
template <> Result<Request> decode<Request>(const json&);
template <> Result<Response> decode<Response>(const json&);
template <> Result<Command> decode<Command>(const json&);
template <> Result<Ack> decode<Ack>(const json&);
template <> Result<Event> decode<Event>(const json&);
template <> Result<Snapshot> decode<Snapshot>(const json&);
template <> Result<Gap> decode<Gap>(const json&);
template <> Result<Notice> decode<Notice>(const json&);
template <> Result<ErrorMessage> decode<ErrorMessage>(const json&);
template <> Result<Ping> decode<Ping>(const json&);
template <> Result<Pong> decode<Pong>(const json&);
template <> Result<Bye> decode<Bye>(const json&);
template <> Result<PixelsAck> decode<PixelsAck>(const json&);
template <> Result<StageFrame> decode<StageFrame>(const json&);
template <> Result<MovieState> decode<MovieState>(const json&);

/// Parses JSON text without throwing; `bad_json` on malformed text.
Result<json> parse_json(std::string_view text);

/// Parses and dispatches on `"type"`: `bad_json`, `invalid_field` (not an object / type not a
/// string), `missing_field`, or `unknown_type` on failure.
Result<Message> parse_message(std::string_view text);
Result<Message> decode_message(const json& value);

/// The id a malformed message carried, if one can be read (to answer it with an error or ack).
std::optional<std::uint64_t> salvage_id(const json& value);

}  // namespace stagelink
