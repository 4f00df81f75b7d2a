#include <gtest/gtest.h>

#include <cstdlib>

#include "stagelink/url.hpp"

using namespace stagelink;

TEST(Url, PipeAbsolutePath) {
  auto e = parse_url("pipe:///tmp/x/demo.sock");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->scheme, Scheme::pipe);
  EXPECT_EQ(e->socket_path, "/tmp/x/demo.sock");
}

TEST(Url, PipeProjectUsesDefaultPath) {
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
  auto e = parse_url("pipe://demo");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->socket_path, "/run/user/1234/stagelink/demo.sock");
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(default_socket_path("demo").rfind("/tmp/stagelink-", 0), 0u);
}

TEST(Url, WebSocketWithPath) {
  auto e = parse_url("ws://127.0.0.1:61699/ws");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->scheme, Scheme::ws);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "61699");
  EXPECT_EQ(e->target, "/ws");
}

TEST(Url, WebSocketDefaultsPathAndPort) {
  auto e = parse_url("ws://localhost");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, "80");
  EXPECT_EQ(e->target, "/ws");
  auto q = parse_url("ws://h:1?token=x");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->target, "/ws?token=x");
}

TEST(Url, Ipv6Host) {
  auto e = parse_url("ws://[::1]:8080/ws");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, "8080");
}

TEST(Url, RejectsBadUrls) {
  for (const char* bad : {"", "http://x", "wss://x:1/ws", "ws://:80/ws", "ws://h:99999/ws",
                          "ws://h:abc/ws", "ws://h:/ws", "pipe://", "pipe://a/b", "ws://[::1/ws"}) {
    auto e = parse_url(bad);
    EXPECT_FALSE(e) << bad;
    if (!e) {
      EXPECT_EQ(e.error().code, errc::invalid_url) << bad;
    }
  }
}
