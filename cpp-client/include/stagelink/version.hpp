#pragma once

namespace stagelink {
/// The library's version (also the `client.version` it sends in `hello`).
inline constexpr const char* kLibraryVersion = "0.1.0";
}  // namespace stagelink
