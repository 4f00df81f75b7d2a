// Errors as values: every failure the library can observe (bad server input, I/O, timeouts)
// is returned as an `Error` inside a `Result<T>`, never thrown and never fatal to the process.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace stagelink {

/// Error codes. The protocol's codes (docs/DECISIONS.md, close code = 4000 + n) come first,
/// then codes this client produces itself for problems that never reach the wire.
namespace errc {
inline constexpr const char* bad_json = "bad_json";
inline constexpr const char* unknown_type = "unknown_type";
inline constexpr const char* missing_field = "missing_field";
inline constexpr const char* invalid_field = "invalid_field";
inline constexpr const char* not_identified = "not_identified";
inline constexpr const char* already_identified = "already_identified";
inline constexpr const char* auth_failed = "auth_failed";
inline constexpr const char* protocol_version = "protocol_version";
inline constexpr const char* unknown_project = "unknown_project";
inline constexpr const char* unknown_stream = "unknown_stream";
inline constexpr const char* forbidden = "forbidden";
inline constexpr const char* frame_too_large = "frame_too_large";
inline constexpr const char* rate_limited = "rate_limited";
inline constexpr const char* idle_timeout = "idle_timeout";
inline constexpr const char* session_replaced = "session_replaced";
inline constexpr const char* host_left = "host_left";
inline constexpr const char* host_joined = "host_joined";
inline constexpr const char* busy = "busy";
inline constexpr const char* unknown_request = "unknown_request";
inline constexpr const char* unknown_sprite = "unknown_sprite";
inline constexpr const char* unknown_member = "unknown_member";
inline constexpr const char* unknown_property = "unknown_property";
inline constexpr const char* invalid_value = "invalid_value";
inline constexpr const char* out_of_range = "out_of_range";
inline constexpr const char* unknown_command = "unknown_command";
inline constexpr const char* no_host = "no_host";
inline constexpr const char* timeout = "timeout";
inline constexpr const char* shutdown = "shutdown";
inline constexpr const char* internal = "internal";
inline constexpr const char* project_taken = "project_taken";

// Client-side only (never sent on the wire).
inline constexpr const char* invalid_url = "invalid_url";
inline constexpr const char* connect_failed = "connect_failed";
inline constexpr const char* not_connected = "not_connected";
inline constexpr const char* disconnected = "disconnected";
inline constexpr const char* io_error = "io_error";
inline constexpr const char* unexpected_message = "unexpected_message";
inline constexpr const char* invalid_tile = "invalid_tile";
inline constexpr const char* unsupported_encoding = "unsupported_encoding";
inline constexpr const char* invalid_argument = "invalid_argument";
}  // namespace errc

/// The WebSocket close code of a protocol error code (4000 + n), or 0 for codes that have none.
int close_code_for(std::string_view code);

/// The protocol error code behind a WebSocket close code 4000 + n, or "" when unknown.
std::string_view code_for_close_code(int close_code);

/// True for the protocol codes that end a session (auth_failed, frame_too_large, ...).
bool is_fatal_code(std::string_view code);

/// What went wrong, with enough context to act on it.
struct Error {
  /// One of `errc::*` (protocol codes are passed through verbatim, even unknown ones).
  std::string code;
  /// Human-readable detail; for server errors, the server's own message.
  std::string message;
  /// True when the session cannot go on after this error.
  bool fatal = false;

  /// "code: message".
  std::string to_string() const { return message.empty() ? code : code + ": " + message; }
  bool operator==(const Error& other) const {
    return code == other.code && message == other.message && fatal == other.fatal;
  }
};

inline Error make_error(std::string code, std::string message, bool fatal = false) {
  return Error{std::move(code), std::move(message), fatal};
}

/// Thrown only by `Result::value()` when a caller asks for the value of an error result:
/// a programming error in the caller, never a reaction to outside input.
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(const Error& e)
      : std::logic_error("stagelink: value() on an error result: " + e.to_string()) {}
};

/// Either a `T` or an `Error`: a small `std::expected`.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    if (!ok()) throw BadResultAccess(std::get<1>(v_));
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) throw BadResultAccess(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw BadResultAccess(std::get<1>(v_));
    return std::get<0>(std::move(v_));
  }
  T value_or(T fallback) const { return ok() ? std::get<0>(v_) : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; only meaningful when `!ok()` (an empty error otherwise).
  const Error& error() const {
    static const Error none{};
    return ok() ? none : std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  void value() const {
    if (error_) throw BadResultAccess(*error_);
  }
  const Error& error() const {
    static const Error none{};
    return error_ ? *error_ : none;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace stagelink
