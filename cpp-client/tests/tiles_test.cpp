#include <gtest/gtest.h>

#include <vector>

#include "stagelink/tiles.hpp"

using namespace stagelink;

namespace {

std::vector<std::uint8_t> gradient(int w, int h, std::uint32_t f) {
  std::vector<std::uint8_t> img(static_cast<std::size_t>(w) * h * 4);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &img[(static_cast<std::size_t>(y) * w + x) * 4];
      p[0] = static_cast<std::uint8_t>((x + f) % 256);
      p[1] = static_cast<std::uint8_t>((y * 2 + f) % 256);
      p[2] = static_cast<std::uint8_t>((x + y) % 256);
      p[3] = 255;
    }
  }
  return img;
}

TileHeader sample_header() {
  TileHeader h;
  h.encoding = TileEncoding::raw;
  h.flags = kTileFlagKeyframe | kTileFlagLastTile;
  h.frame = 0x01020304;
  h.x = 64;
  h.y = 128;
  h.w = 2;
  h.h = 3;
  h.stage_width = 256;
  h.stage_height = 192;
  h.raw_length = 2 * 3 * 4;
  return h;
}

}  // namespace

TEST(Tiles, HeaderLayoutIsExact) {
  TileHeader h = sample_header();
  h.payload_length = 24;
  const std::string bytes = encode_tile_header(h);
  ASSERT_EQ(bytes.size(), kTileHeaderSize);
  const std::string expected(
      "\x01"              // opcode
      "\x00"              // encoding raw
      "\x03\x00"          // flags keyframe|last
      "\x04\x03\x02\x01"  // frame
      "\x40\x00"          // x = 64
      "\x80\x00"          // y = 128
      "\x02\x00"          // w
      "\x03\x00"          // h
      "\x00\x01"          // stage width 256
      "\xc0\x00"          // stage height 192
      "\x18\x00\x00\x00"  // raw length 24
      "\x18\x00\x00\x00", // payload length 24
      28);
  EXPECT_EQ(bytes, expected);
}

TEST(Tiles, HeaderRoundTrip) {
  TileHeader h = sample_header();
  const std::string payload(24, '\x7f');
  const std::string msg = encode_tile(h, payload);
  Result<Tile> t = decode_tile(msg);
  ASSERT_TRUE(t) << t.error().to_string();
  h.payload_length = 24;
  EXPECT_EQ(t->header, h);
  EXPECT_TRUE(t->header.keyframe());
  EXPECT_TRUE(t->header.last_tile());
  EXPECT_EQ(t->payload, payload);
  Result<std::vector<std::uint8_t>> px = tile_pixels(*t);
  ASSERT_TRUE(px);
  EXPECT_EQ(px->size(), 24u);
}

TEST(Tiles, RejectsMalformedTiles) {
  const std::string good = encode_tile(sample_header(), std::string(24, 'a'));
  auto code = [](const std::string& m) {
    Result<Tile> t = decode_tile(m);
    return t ? std::string("ok") : t.error().code;
  };
  EXPECT_EQ(code(good), "ok");
  EXPECT_EQ(code(good.substr(0, 27)), errc::invalid_tile);          // truncated header
  EXPECT_EQ(code(good.substr(0, good.size() - 1)), errc::invalid_tile);  // short payload
  EXPECT_EQ(code(good + "x"), errc::invalid_tile);                  // trailing bytes
  std::string bad_opcode = good;
  bad_opcode[0] = '\x02';
  EXPECT_EQ(code(bad_opcode), errc::invalid_tile);
  std::string bad_encoding = good;
  bad_encoding[1] = '\x07';
  EXPECT_EQ(code(bad_encoding), errc::unsupported_encoding);
  TileHeader wrong_raw = sample_header();
  wrong_raw.raw_length = 25;
  EXPECT_EQ(code(encode_tile(wrong_raw, std::string(25, 'a'))), errc::invalid_tile);
  TileHeader outside = sample_header();
  outside.x = 255;  // 255 + 2 > 256
  EXPECT_EQ(code(encode_tile(outside, std::string(24, 'a'))), errc::invalid_tile);
  TileHeader empty = sample_header();
  empty.w = 0;
  empty.raw_length = 0;
  EXPECT_EQ(code(encode_tile(empty, "")), errc::invalid_tile);
  TileHeader huge = sample_header();
  huge.w = 65535;
  huge.h = 65535;
  huge.x = huge.y = 0;
  huge.stage_width = huge.stage_height = 65535;
  huge.raw_length = 0xfffc0004u;  // 65535*65535*4 mod 2^32: never equals the true size
  huge.encoding = TileEncoding::lz4;
  EXPECT_EQ(code(encode_tile(huge, "xx")), errc::invalid_tile);
}

TEST(Tiles, SplitsStageIntoTilesRowByRow) {
  const auto img = gradient(256, 192, 5);
  Result<std::vector<std::string>> tiles =
      encode_frame_tiles(5, img.data(), 256, 192, TileEncoding::raw);
  ASSERT_TRUE(tiles);
  ASSERT_EQ(tiles->size(), 12u);  // 4 x 3 tiles of 64x64
  for (std::size_t i = 0; i < tiles->size(); ++i) {
    Result<Tile> t = decode_tile((*tiles)[i]);
    ASSERT_TRUE(t) << t.error().to_string();
    EXPECT_EQ(t->header.frame, 5u);
    EXPECT_EQ(t->header.x, (i % 4) * 64);
    EXPECT_EQ(t->header.y, (i / 4) * 64);
    EXPECT_EQ(t->header.w, 64);
    EXPECT_EQ(t->header.h, 64);
    EXPECT_TRUE(t->header.keyframe());
    EXPECT_EQ(t->header.last_tile(), i == 11);
  }
}

TEST(Tiles, EdgeTilesAreSmaller) {
  const auto img = gradient(100, 70, 0);
  Result<std::vector<std::string>> tiles =
      encode_frame_tiles(1, img.data(), 100, 70, TileEncoding::raw);
  ASSERT_TRUE(tiles);
  ASSERT_EQ(tiles->size(), 4u);
  const Tile last = *decode_tile(tiles->back());
  EXPECT_EQ(last.header.x, 64);
  EXPECT_EQ(last.header.y, 64);
  EXPECT_EQ(last.header.w, 36);
  EXPECT_EQ(last.header.h, 6);
  EXPECT_EQ(last.header.raw_length, 36u * 6u * 4u);
}

TEST(Tiles, ReassembledFrameEqualsTheSource) {
  for (TileEncoding enc : {TileEncoding::raw, TileEncoding::lz4}) {
    if (enc == TileEncoding::lz4 && !lz4_available()) continue;
    const auto img = gradient(256, 192, 77);
    auto tiles = encode_frame_tiles(77, img.data(), 256, 192, enc);
    ASSERT_TRUE(tiles) << tiles.error().to_string();
    std::vector<std::uint8_t> stage;
    for (const auto& m : *tiles) {
      Result<Tile> t = decode_tile(m);
      ASSERT_TRUE(t);
      EXPECT_EQ(t->header.encoding, enc);
      ASSERT_TRUE(blit_tile(*t, stage));
    }
    EXPECT_EQ(stage, img);
  }
}

TEST(Tiles, Lz4CompressesAndRejectsCorruption) {
  if (!lz4_available()) GTEST_SKIP() << "built without LZ4";
  // A flat colour compresses; the gradient does not (every 4-byte run is new), but must still
  // round-trip.
  const std::string flat(64 * 64 * 4, '\x20');
  Result<std::string> flat_packed = encode_pixels(flat, TileEncoding::lz4);
  ASSERT_TRUE(flat_packed);
  EXPECT_LT(flat_packed->size(), flat.size() / 10);
  const auto img = gradient(64, 64, 3);
  const std::string raw(img.begin(), img.end());
  Result<std::string> packed = encode_pixels(raw, TileEncoding::lz4);
  ASSERT_TRUE(packed);
  TileHeader h;
  h.encoding = TileEncoding::lz4;
  h.w = h.h = 64;
  h.stage_width = h.stage_height = 64;
  h.raw_length = 64 * 64 * 4;
  Tile good = *decode_tile(encode_tile(h, *packed));
  Result<std::vector<std::uint8_t>> px = tile_pixels(good);
  ASSERT_TRUE(px);
  EXPECT_EQ(*px, img);
  // Garbage that is not LZ4, and LZ4 that decodes to the wrong size: errors, not crashes.
  Tile garbage = *decode_tile(encode_tile(h, std::string(40, '\xff')));
  EXPECT_FALSE(tile_pixels(garbage));
  Tile truncated = *decode_tile(encode_tile(h, packed->substr(0, packed->size() / 2)));
  EXPECT_FALSE(tile_pixels(truncated));
}

TEST(Tiles, BadArguments) {
  EXPECT_FALSE(encode_frame_tiles(0, nullptr, 10, 10, TileEncoding::raw));
  std::vector<std::uint8_t> img(4, 0);
  EXPECT_FALSE(encode_frame_tiles(0, img.data(), 1, 1, TileEncoding::raw, 0));
  EXPECT_FALSE(encode_frame_tiles(0, img.data(), 0, 1, TileEncoding::raw));
}
