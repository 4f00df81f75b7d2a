// Local-socket framing (protocol brief §1): each message is a u32 little-endian byte length N
// followed by N bytes. A payload whose first byte is '{' is JSON, anything else is binary (§6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stagelink/result.hpp"

namespace stagelink {

/// The largest message accepted by default (16 MiB), on every transport.
inline constexpr std::size_t kDefaultMaxMessage = 16u * 1024u * 1024u;

/// Bytes in a local-socket frame header.
inline constexpr std::size_t kFrameHeaderSize = 4;

/// Whether a payload is a JSON message or a binary one (decided by its first byte).
enum class PayloadKind { json, binary };

PayloadKind classify_payload(std::string_view payload);

/// The 4-byte little-endian length header of a payload of `size` bytes.
std::string frame_header(std::uint32_t size);

/// Header + payload. Fails with `frame_too_large` when the payload exceeds `max_message`.
Result<std::string> encode_frame(std::string_view payload,
                                 std::size_t max_message = kDefaultMaxMessage);

/// Reassembles frames from a byte stream that arrives in arbitrary pieces.
///
/// Feed whatever `read()` returned, then call `next()` until it yields no message. An oversize
/// length is reported as `frame_too_large` before any of its body is buffered, and the decoder
/// stays failed (the stream cannot be resynchronised after a bad length).
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_message = kDefaultMaxMessage);

  void feed(const void* data, std::size_t size);
  void feed(std::string_view bytes) { feed(bytes.data(), bytes.size()); }

  /// The next complete payload; `std::nullopt` when more bytes are needed.
  Result<std::optional<std::string>> next();

  /// Bytes received but not yet returned as a message.
  std::size_t buffered() const { return buffer_.size() - start_; }
  bool failed() const { return failed_.has_value(); }

 private:
  /// Upper bound on one payload; larger declared lengths fail the stream.
  std::size_t max_message_;
  /// Received bytes; [start_, size) is not consumed yet (compacted lazily to avoid O(n^2)).
  std::string buffer_;
  std::size_t start_ = 0;
  /// Set once a bad length was seen; returned again on every later `next()`.
  std::optional<Error> failed_;
};

}  // namespace stagelink
