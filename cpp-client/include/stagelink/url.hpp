// Server addresses: `pipe:///abs/path.sock`, `pipe://project`, `ws://host:port/ws`.
#pragma once

#include <string>
#include <string_view>

#include "stagelink/result.hpp"

namespace stagelink {

enum class Scheme { pipe, ws };

/// A parsed server URL.
struct Endpoint {
  Scheme scheme = Scheme::ws;
  /// pipe: the Unix socket path.
  std::string socket_path;
  /// ws: host (without brackets for IPv6), port (defaults to "80") and target (defaults to "/ws").
  std::string host;
  std::string port;
  std::string target;
  /// The URL as given.
  std::string url;
};

/// Parses a URL. `wss://` is refused with `invalid_url` (this library links no TLS stack).
Result<Endpoint> parse_url(std::string_view url);

/// The default socket of a project: `$XDG_RUNTIME_DIR/stagelink/<project>.sock`, else
/// `/tmp/stagelink-<uid>/<project>.sock`. `pipe://<project>` resolves to this.
std::string default_socket_path(std::string_view project);

}  // namespace stagelink
