#include "stagelink/tiles.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#ifdef STAGELINK_HAVE_LZ4
#include <lz4.h>
#endif

namespace stagelink {
namespace {

/// The largest raw tile accepted from the wire (a 4096x4096 tile). Without a bound, a header
/// claiming 65535x65535 would make a decoder allocate 17 GB.
constexpr std::uint64_t kMaxTileRawBytes = 64ull * 1024 * 1024;

void put_u16(std::string& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<char>(v & 0xff);
  out[at + 1] = static_cast<char>(v >> 8);
}

void put_u32(std::string& out, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint16_t get_u16(std::string_view in, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(in[at]) |
                                    (static_cast<unsigned char>(in[at + 1]) << 8));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  }
  return v;
}

Error bad_tile(std::string message) { return make_error(errc::invalid_tile, std::move(message)); }

}  // namespace

bool lz4_available() {
#ifdef STAGELINK_HAVE_LZ4
  return true;
#else
  return false;
#endif
}

bool TileHeader::operator==(const TileHeader& o) const {
  return encoding == o.encoding && flags == o.flags && frame == o.frame && x == o.x && y == o.y &&
         w == o.w && h == o.h && stage_width == o.stage_width && stage_height == o.stage_height &&
         raw_length == o.raw_length && payload_length == o.payload_length;
}

std::string encode_tile_header(const TileHeader& h) {
  std::string out(kTileHeaderSize, '\0');
  out[0] = static_cast<char>(kOpcodeTile);
  out[1] = static_cast<char>(static_cast<std::uint8_t>(h.encoding));
  put_u16(out, 2, h.flags);
  put_u32(out, 4, h.frame);
  put_u16(out, 8, h.x);
  put_u16(out, 10, h.y);
  put_u16(out, 12, h.w);
  put_u16(out, 14, h.h);
  put_u16(out, 16, h.stage_width);
  put_u16(out, 18, h.stage_height);
  put_u32(out, 20, h.raw_length);
  put_u32(out, 24, h.payload_length);
  return out;
}

std::string encode_tile(TileHeader header, std::string_view payload) {
  header.payload_length = static_cast<std::uint32_t>(payload.size());
  std::string out = encode_tile_header(header);
  out.append(payload.data(), payload.size());
  return out;
}

Result<TileHeader> decode_tile_header(std::string_view m) {
  if (m.size() < kTileHeaderSize) {
    return bad_tile("tile message of " + std::to_string(m.size()) + " bytes is shorter than its " +
                    std::to_string(kTileHeaderSize) + "-byte header");
  }
  const auto opcode = static_cast<std::uint8_t>(m[0]);
  if (opcode != kOpcodeTile) {
    return bad_tile("unknown binary opcode " + std::to_string(opcode));
  }
  const auto encoding = static_cast<std::uint8_t>(m[1]);
  if (encoding > 1) {
    return make_error(errc::unsupported_encoding,
                      "tile encoding " + std::to_string(encoding) + " is not known");
  }
  TileHeader h;
  h.encoding = static_cast<TileEncoding>(encoding);
  h.flags = get_u16(m, 2);
  h.frame = get_u32(m, 4);
  h.x = get_u16(m, 8);
  h.y = get_u16(m, 10);
  h.w = get_u16(m, 12);
  h.h = get_u16(m, 14);
  h.stage_width = get_u16(m, 16);
  h.stage_height = get_u16(m, 18);
  h.raw_length = get_u32(m, 20);
  h.payload_length = get_u32(m, 24);
  if (h.payload_length != m.size() - kTileHeaderSize) {
    return bad_tile("payload length " + std::to_string(h.payload_length) + " but " +
                    std::to_string(m.size() - kTileHeaderSize) + " bytes follow the header");
  }
  if (h.w == 0 || h.h == 0) return bad_tile("empty tile rectangle");
  const std::uint64_t raw = std::uint64_t{h.w} * h.h * 4;
  if (raw != h.raw_length) {
    return bad_tile("raw length " + std::to_string(h.raw_length) + " is not w*h*4 = " +
                    std::to_string(raw));
  }
  if (raw > kMaxTileRawBytes) return bad_tile("tile of " + std::to_string(raw) + " bytes is too large");
  if (std::uint32_t{h.x} + h.w > h.stage_width || std::uint32_t{h.y} + h.h > h.stage_height) {
    return bad_tile("tile " + std::to_string(h.w) + "x" + std::to_string(h.h) + " at (" +
                    std::to_string(h.x) + "," + std::to_string(h.y) + ") lies outside the " +
                    std::to_string(h.stage_width) + "x" + std::to_string(h.stage_height) +
                    " stage");
  }
  if (h.encoding == TileEncoding::raw && h.payload_length != h.raw_length) {
    return bad_tile("raw tile payload of " + std::to_string(h.payload_length) +
                    " bytes, expected " + std::to_string(h.raw_length));
  }
  return h;
}

Result<Tile> decode_tile(std::string_view m) {
  Result<TileHeader> h = decode_tile_header(m);
  if (!h) return h.error();
  return Tile{*h, std::string(m.substr(kTileHeaderSize))};
}

Result<std::vector<std::uint8_t>> tile_pixels(const Tile& tile) {
  const TileHeader& h = tile.header;
  if (std::uint64_t{h.w} * h.h * 4 != h.raw_length || h.raw_length > kMaxTileRawBytes) {
    return bad_tile("inconsistent tile header");
  }
  std::vector<std::uint8_t> out(h.raw_length);
  if (h.encoding == TileEncoding::raw) {
    if (tile.payload.size() != h.raw_length) return bad_tile("raw payload size mismatch");
    if (!out.empty()) std::memcpy(out.data(), tile.payload.data(), out.size());
    return out;
  }
#ifdef STAGELINK_HAVE_LZ4
  if (tile.payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return bad_tile("LZ4 payload too large");
  }
  const int n = LZ4_decompress_safe(tile.payload.data(), reinterpret_cast<char*>(out.data()),
                                    static_cast<int>(tile.payload.size()),
                                    static_cast<int>(out.size()));
  if (n < 0 || static_cast<std::uint32_t>(n) != h.raw_length) {
    return bad_tile("LZ4 payload does not decode to " + std::to_string(h.raw_length) + " bytes");
  }
  return out;
#else
  return make_error(errc::unsupported_encoding, "this build has no LZ4 support");
#endif
}

Result<std::string> encode_pixels(std::string_view raw, TileEncoding encoding) {
  if (encoding == TileEncoding::raw) return std::string(raw);
#ifdef STAGELINK_HAVE_LZ4
  if (raw.size() > static_cast<std::size_t>(LZ4_MAX_INPUT_SIZE)) {
    return make_error(errc::invalid_argument, "tile too large for LZ4");
  }
  std::string out(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(raw.size()))), '\0');
  const int n = LZ4_compress_default(raw.data(), out.data(), static_cast<int>(raw.size()),
                                     static_cast<int>(out.size()));
  if (n <= 0) return make_error(errc::internal, "LZ4 compression failed");
  out.resize(static_cast<std::size_t>(n));
  return out;
#else
  return make_error(errc::unsupported_encoding, "this build has no LZ4 support");
#endif
}

Result<std::vector<std::string>> encode_frame_tiles(std::uint32_t frame, const std::uint8_t* rgba,
                                                    std::uint16_t width, std::uint16_t height,
                                                    TileEncoding encoding,
                                                    std::uint16_t tile_size) {
  if (rgba == nullptr || width == 0 || height == 0) {
    return make_error(errc::invalid_argument, "empty image");
  }
  if (tile_size == 0) return make_error(errc::invalid_argument, "tile size 0");
  std::vector<std::string> tiles;
  const std::size_t stride = std::size_t{width} * 4;
  std::string raw;
  for (std::uint32_t ty = 0; ty < height; ty += tile_size) {
    for (std::uint32_t tx = 0; tx < width; tx += tile_size) {
      TileHeader h;
      h.encoding = encoding;
      h.flags = kTileFlagKeyframe;
      h.frame = frame;
      h.x = static_cast<std::uint16_t>(tx);
      h.y = static_cast<std::uint16_t>(ty);
      h.w = static_cast<std::uint16_t>(std::min<std::uint32_t>(tile_size, width - tx));
      h.h = static_cast<std::uint16_t>(std::min<std::uint32_t>(tile_size, height - ty));
      h.stage_width = width;
      h.stage_height = height;
      h.raw_length = std::uint32_t{h.w} * h.h * 4;
      raw.resize(h.raw_length);
      for (std::uint32_t row = 0; row < h.h; ++row) {
        std::memcpy(raw.data() + std::size_t{row} * h.w * 4,
                    rgba + (ty + row) * stride + std::size_t{tx} * 4, std::size_t{h.w} * 4);
      }
      Result<std::string> payload = encode_pixels(raw, encoding);
      if (!payload) return payload.error();
      if (tx + tile_size >= width && ty + tile_size >= height) h.flags |= kTileFlagLastTile;
      tiles.push_back(encode_tile(h, *payload));
    }
  }
  return tiles;
}

Result<void> blit_tile(const Tile& tile, std::vector<std::uint8_t>& stage) {
  const TileHeader& h = tile.header;
  if (std::uint32_t{h.x} + h.w > h.stage_width || std::uint32_t{h.y} + h.h > h.stage_height) {
    return bad_tile("tile outside its stage");
  }
  Result<std::vector<std::uint8_t>> pixels = tile_pixels(tile);
  if (!pixels) return pixels.error();
  const std::size_t stage_bytes = std::size_t{h.stage_width} * h.stage_height * 4;
  if (stage.size() != stage_bytes) stage.assign(stage_bytes, 0);
  const std::size_t stride = std::size_t{h.stage_width} * 4;
  for (std::uint32_t row = 0; row < h.h; ++row) {
    std::memcpy(stage.data() + (std::size_t{h.y} + row) * stride + std::size_t{h.x} * 4,
                pixels->data() + std::size_t{row} * h.w * 4, std::size_t{h.w} * 4);
  }
  return {};
}

}  // namespace stagelink
