#include "stagelink/url.hpp"

#include <cstdlib>
#include <unistd.h>

namespace stagelink {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  unsigned long value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  return value > 0 && value <= 65535;
}

Error bad(std::string_view url, std::string why) {
  return make_error(errc::invalid_url, "'" + std::string(url) + "': " + std::move(why));
}

}  // namespace

std::string default_socket_path(std::string_view project) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] != '\0') {
    return std::string(runtime) + "/stagelink/" + std::string(project) + ".sock";
  }
  return "/tmp/stagelink-" + std::to_string(::getuid()) + "/" + std::string(project) + ".sock";
}

Result<Endpoint> parse_url(std::string_view url) {
  Endpoint ep;
  ep.url = std::string(url);
  if (starts_with(url, "pipe://")) {
    ep.scheme = Scheme::pipe;
    std::string_view rest = url.substr(7);
    if (rest.empty()) return bad(url, "no socket path or project");
    if (rest.front() == '/') {
      ep.socket_path = std::string(rest);
    } else {
      if (rest.find('/') != std::string_view::npos) {
        return bad(url, "a project name cannot contain '/' (use pipe:///absolute/path.sock)");
      }
      ep.socket_path = default_socket_path(rest);
    }
    return ep;
  }
  if (starts_with(url, "wss://")) {
    return bad(url, "wss:// is not supported by this build (no TLS); use ws:// or a pipe");
  }
  if (!starts_with(url, "ws://")) {
    return bad(url, "expected pipe://, or ws://");
  }
  ep.scheme = Scheme::ws;
  std::string_view rest = url.substr(5);
  const std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string target = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash));
  if (target.empty() || target.front() == '?') target = "/ws" + target;
  if (authority.find('@') != std::string_view::npos) return bad(url, "user info is not supported");
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(url, "unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(url, "garbage after IPv6 address");
      port = after.substr(1);
    } else {
      port = "80";
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
      host = authority;
      port = "80";
    } else {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return bad(url, "no host");
  if (!is_port(port)) return bad(url, "bad port '" + std::string(port) + "'");
  ep.host = std::string(host);
  ep.port = std::string(port);
  ep.target = std::move(target);
  return ep;
}

}  // namespace stagelink
