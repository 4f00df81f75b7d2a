#include <cstdio>

#include <stagelink/stagelink.hpp>

int main() {
  stagelink::Result<stagelink::Message> m =
      stagelink::parse_message(R"({"type":"ack","id":1,"status":"applied","frame":42})");
  if (!m || !std::holds_alternative<stagelink::Ack>(*m)) return 1;
  stagelink::ClientOptions options;
  options.url = "pipe:///nonexistent/stagelink-consumer.sock";
  options.reconnect.enabled = false;
  stagelink::Client client(options);
  stagelink::Result<stagelink::Welcome> w = client.connect();
  if (w || w.error().code != stagelink::errc::connect_failed) return 2;
  std::printf("consumer ok (lz4: %s)\n", stagelink::lz4_available() ? "yes" : "no");
  return 0;
}
