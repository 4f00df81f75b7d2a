#include <gtest/gtest.h>

#include <string>

#include "stagelink/framing.hpp"

using namespace stagelink;

namespace {

std::string header(std::uint32_t n) { return frame_header(n); }

}  // namespace

TEST(Framing, HeaderIsLittleEndianLength) {
  EXPECT_EQ(header(0), std::string("\x00\x00\x00\x00", 4));
  EXPECT_EQ(header(5), std::string("\x05\x00\x00\x00", 4));
  EXPECT_EQ(header(0x01020304), std::string("\x04\x03\x02\x01", 4));
}

TEST(Framing, EncodePrefixesPayload) {
  Result<std::string> f = encode_frame("{\"type\":\"ping\"}");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), 4u + 15u);
  EXPECT_EQ(f->substr(0, 4), header(15));
  EXPECT_EQ(f->substr(4), "{\"type\":\"ping\"}");
}

TEST(Framing, EncodeRefusesOversize) {
  Result<std::string> f = encode_frame(std::string(11, 'x'), 10);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, errc::frame_too_large);
  EXPECT_TRUE(encode_frame(std::string(10, 'x'), 10));
}

TEST(Framing, DecodesOneMessage) {
  FrameDecoder d;
  d.feed(*encode_frame("hello"));
  auto m = d.next();
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ(**m, "hello");
  auto none = d.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Framing, DecodesSeveralMessagesFromOneRead) {
  FrameDecoder d;
  d.feed(*encode_frame("one") + *encode_frame("") + *encode_frame("three"));
  std::vector<std::string> out;
  for (;;) {
    auto m = d.next();
    ASSERT_TRUE(m);
    if (!m->has_value()) break;
    out.push_back(**m);
  }
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "one");
  EXPECT_EQ(out[1], "");
  EXPECT_EQ(out[2], "three");
}

TEST(Framing, ReassemblesByteByByte) {
  const std::string stream = *encode_frame("{\"a\":1}") + *encode_frame(std::string(300, 'z'));
  FrameDecoder d;
  std::vector<std::string> out;
  for (char c : stream) {
    d.feed(&c, 1);
    auto m = d.next();
    ASSERT_TRUE(m);
    if (m->has_value()) out.push_back(**m);
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "{\"a\":1}");
  EXPECT_EQ(out[1], std::string(300, 'z'));
}

TEST(Framing, HeaderSplitAcrossReads) {
  const std::string f = *encode_frame("abc");
  FrameDecoder d;
  d.feed(f.substr(0, 2));
  EXPECT_FALSE(d.next()->has_value());
  d.feed(f.substr(2, 3));  // rest of header + 1 byte of body
  EXPECT_FALSE(d.next()->has_value());
  d.feed(f.substr(5));
  auto m = d.next();
  ASSERT_TRUE(m && m->has_value());
  EXPECT_EQ(**m, "abc");
}

TEST(Framing, OversizeLengthFailsBeforeBuffering) {
  FrameDecoder d(1024);
  d.feed(header(1025));
  auto m = d.next();
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, errc::frame_too_large);
  EXPECT_TRUE(m.error().fatal);
  EXPECT_TRUE(d.failed());
  // The stream cannot be trusted any more: every later call fails the same way.
  d.feed(*encode_frame("ok"));
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Framing, HugeDeclaredLengthIsRejectedWithDefaultLimit) {
  FrameDecoder d;
  d.feed(std::string("\xff\xff\xff\xff", 4));
  auto m = d.next();
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, errc::frame_too_large);
}

TEST(Framing, ExactLimitIsAccepted) {
  FrameDecoder d(8);
  d.feed(*encode_frame("12345678", 8));
  auto m = d.next();
  ASSERT_TRUE(m && m->has_value());
  EXPECT_EQ((*m)->size(), 8u);
}

TEST(Framing, ClassifiesPayloads) {
  EXPECT_EQ(classify_payload("{\"type\":\"ping\"}"), PayloadKind::json);
  EXPECT_EQ(classify_payload(std::string("\x01\x00", 2)), PayloadKind::binary);
  EXPECT_EQ(classify_payload(""), PayloadKind::binary);
  EXPECT_EQ(classify_payload(" {}"), PayloadKind::binary);
}

TEST(Framing, LongStreamStaysCorrectAcrossCompaction) {
  FrameDecoder d;
  std::string stream;
  for (int i = 0; i < 500; ++i) stream += *encode_frame("m" + std::to_string(i));
  int count = 0;
  for (std::size_t pos = 0; pos < stream.size(); pos += 7) {
    d.feed(stream.substr(pos, 7));
    for (;;) {
      auto m = d.next();
      ASSERT_TRUE(m);
      if (!m->has_value()) break;
      EXPECT_EQ(**m, "m" + std::to_string(count));
      ++count;
    }
  }
  EXPECT_EQ(count, 500);
}
