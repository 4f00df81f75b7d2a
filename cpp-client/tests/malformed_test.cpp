// Whatever a server sends, parsing returns a value: never a crash, never an exception.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "stagelink/framing.hpp"
#include "stagelink/messages.hpp"
#include "stagelink/tiles.hpp"

using namespace stagelink;

TEST(Malformed, HostileJsonIsAnErrorValue) {
  const std::vector<std::string> inputs = {
      "",
      "{",
      "}",
      "null",
      "true",
      "\"type\"",
      "{\"type\":null}",
      "{\"type\":\"event\",\"stream\":[],\"seq\":1,\"items\":[]}",
      "{\"type\":\"event\",\"stream\":\"s\",\"seq\":1e400,\"items\":[]}",
      "{\"type\":\"event\",\"stream\":\"s\",\"seq\":18446744073709551616,\"items\":[]}",
      "{\"type\":\"ack\",\"id\":{},\"status\":\"applied\"}",
      "{\"type\":\"ack\",\"id\":1,\"status\":\"applied\",\"frame\":\"x\"}",
      "{\"type\":\"welcome\",\"protocol\":\"1\",\"session\":\"s\"}",
      "{\"type\":\"welcome\",\"protocol\":1,\"session\":\"s\",\"streams\":7}",
      "{\"type\":\"response\",\"id\":1,\"ok\":\"yes\"}",
      "{\"type\":\"error\",\"code\":1}",
      "{\"type\":\"gap\",\"stream\":\"s\",\"from_seq\":-1,\"to_seq\":2}",
      "{\"type\":\"hello\",\"protocol\":1,\"client\":[]}",
      std::string("{\"type\":\"notice\",\"code\":\"\xff\xfe\"}"),
      "{\"type\":\"bye\",\"reason\":5}",
      "{\"a\":1,\"a\":2}",
      std::string(100000, '['),
      std::string(5000, '{'),
  };
  for (const auto& text : inputs) {
    Result<Message> r = parse_message(text);
    EXPECT_FALSE(r) << text.substr(0, 80);
    if (!r) {
      EXPECT_FALSE(r.error().code.empty());
    }
  }
}

namespace {
std::string nested_ack(int depth) {
  std::string deep = "{\"type\":\"ack\",\"id\":1,\"status\":\"applied\",\"result\":";
  for (int i = 0; i < depth; ++i) deep += "[";
  for (int i = 0; i < depth; ++i) deep += "]";
  return deep + "}";
}
}  // namespace

TEST(Malformed, ModeratelyNestedJsonIsAccepted) {
  Result<Message> r = parse_message(nested_ack(200));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(std::holds_alternative<Ack>(*r));
}

TEST(Malformed, HostileNestingIsRefusedBeforeParsing) {
  // Copying a JSON value recurses per level; a million levels would overflow the stack.
  Result<Message> r = parse_message(nested_ack(1000000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::bad_json);
  // Brackets inside strings do not count.
  const std::string in_string = "{\"type\":\"bye\",\"reason\":\"" + std::string(5000, '[') + "\"}";
  EXPECT_TRUE(parse_message(in_string));
}

TEST(Malformed, RandomBytesNeverCrashParsers) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> len(0, 200);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::string alphabet = "{}[]\":,0123456789.-eEtruefalsnl \\typeidackeventstatus";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int n = len(rng);
    for (int k = 0; k < n; ++k) {
      s += (i % 2 == 0) ? static_cast<char>(byte(rng)) : alphabet[pick(rng)];
    }
    if (i % 3 == 0) s = "{\"type\":\"event\"," + s;
    (void)parse_message(s);
    (void)decode_tile(s);
    if (s.size() >= kTileHeaderSize) {
      std::string t = s;
      t[0] = '\x01';
      Result<Tile> tile = decode_tile(t);
      if (tile) (void)tile_pixels(*tile);
    }
    FrameDecoder d(4096);
    d.feed(s);
    for (int k = 0; k < 10; ++k) {
      auto m = d.next();
      if (!m || !m->has_value()) break;
    }
  }
  SUCCEED();
}

TEST(Malformed, MutatedValidMessagesNeverCrash) {
  const std::string base =
      R"({"type":"event","stream":"frames","seq":3,"frame":2,"items":[{"frame":2,"frame_count":240,"tempo":30,"playing":true}]})";
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pos(0, base.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 5000; ++i) {
    std::string s = base;
    for (int k = 0; k < 3; ++k) s[pos(rng)] = static_cast<char>(byte(rng));
    Result<Message> r = parse_message(s);
    if (r && std::holds_alternative<Event>(*r)) {
      for (const auto& item : std::get<Event>(*r).items) (void)decode<StageFrame>(item);
    }
  }
  SUCCEED();
}
