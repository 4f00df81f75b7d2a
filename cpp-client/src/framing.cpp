#include "stagelink/framing.hpp"

#include <limits>

namespace stagelink {

PayloadKind classify_payload(std::string_view payload) {
  return (!payload.empty() && payload.front() == '{') ? PayloadKind::json : PayloadKind::binary;
}

std::string frame_header(std::uint32_t size) {
  std::string header(kFrameHeaderSize, '\0');
  for (std::size_t i = 0; i < kFrameHeaderSize; ++i) {
    header[i] = static_cast<char>((size >> (8 * i)) & 0xffu);
  }
  return header;
}

Result<std::string> encode_frame(std::string_view payload, std::size_t max_message) {
  if (payload.size() > max_message ||
      payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    return make_error(errc::frame_too_large,
                      "message of " + std::to_string(payload.size()) + " bytes exceeds the " +
                          std::to_string(max_message) + "-byte limit",
                      true);
  }
  std::string out = frame_header(static_cast<std::uint32_t>(payload.size()));
  out.append(payload.data(), payload.size());
  return out;
}

FrameDecoder::FrameDecoder(std::size_t max_message) : max_message_(max_message) {}

void FrameDecoder::feed(const void* data, std::size_t size) {
  if (failed_ || size == 0) return;
  // Compact once the consumed prefix dominates, so long streams stay O(n).
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(static_cast<const char*>(data), size);
}

Result<std::optional<std::string>> FrameDecoder::next() {
  if (failed_) return *failed_;
  if (buffered() < kFrameHeaderSize) return std::optional<std::string>{};
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kFrameHeaderSize; ++i) {
    length |= static_cast<std::uint32_t>(static_cast<unsigned char>(buffer_[start_ + i]))
              << (8 * i);
  }
  if (length > max_message_) {
    failed_ = make_error(errc::frame_too_large,
                         "incoming message of " + std::to_string(length) +
                             " bytes exceeds the " + std::to_string(max_message_) +
                             "-byte limit",
                         true);
    buffer_.clear();
    start_ = 0;
    return *failed_;
  }
  if (buffered() < kFrameHeaderSize + length) return std::optional<std::string>{};
  std::string payload = buffer_.substr(start_ + kFrameHeaderSize, length);
  start_ += kFrameHeaderSize + length;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return std::optional<std::string>{std::move(payload)};
}

}  // namespace stagelink
