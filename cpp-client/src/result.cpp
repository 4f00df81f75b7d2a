#include "stagelink/result.hpp"

#include <array>

namespace stagelink {
namespace {

struct CodeEntry {
  const char* code;
  bool fatal;
};

// Index n = close code 4000 + n (docs/DECISIONS.md); index 0 is unused.
constexpr std::array<CodeEntry, 31> kCodes{{
    {"", false},
    {errc::bad_json, false},
    {errc::unknown_type, false},
    {errc::missing_field, false},
    {errc::invalid_field, false},
    {errc::not_identified, true},
    {errc::already_identified, false},
    {errc::auth_failed, true},
    {errc::protocol_version, true},
    {errc::unknown_project, true},
    {errc::unknown_stream, false},
    {errc::forbidden, false},
    {errc::frame_too_large, true},
    {errc::rate_limited, false},
    {errc::idle_timeout, true},
    {errc::session_replaced, true},
    {errc::host_left, false},
    {errc::host_joined, false},
    {errc::busy, false},
    {errc::unknown_request, false},
    {errc::unknown_sprite, false},
    {errc::unknown_member, false},
    {errc::unknown_property, false},
    {errc::invalid_value, false},
    {errc::out_of_range, false},
    {errc::unknown_command, false},
    {errc::no_host, false},
    {errc::timeout, false},
    {errc::shutdown, true},
    {errc::internal, false},
    {errc::project_taken, true},
}};

}  // namespace

int close_code_for(std::string_view code) {
  for (std::size_t n = 1; n < kCodes.size(); ++n) {
    if (code == kCodes[n].code) return 4000 + static_cast<int>(n);
  }
  return 0;
}

std::string_view code_for_close_code(int close_code) {
  const int n = close_code - 4000;
  if (n < 1 || n >= static_cast<int>(kCodes.size())) return {};
  return kCodes[static_cast<std::size_t>(n)].code;
}

bool is_fatal_code(std::string_view code) {
  for (std::size_t n = 1; n < kCodes.size(); ++n) {
    if (code == kCodes[n].code) return kCodes[n].fatal;
  }
  return false;
}

}  // namespace stagelink
