// Binary pixel tiles (docs/DECISIONS.md): a 28-byte little-endian header then the payload.
//
// | off | type | field                                                            |
// |-----|------|------------------------------------------------------------------|
// | 0   | u8   | opcode = 0x01                                                    |
// | 1   | u8   | encoding: 0 raw RGBA8 (row-major), 1 LZ4 block of the raw RGBA8 |
// | 2   | u16  | flags: bit0 keyframe (every tile sent), bit1 last tile of frame |
// | 4   | u32  | frame                                                            |
// | 8   | u16  | x, y, w, h (tile rectangle, px)  at 8, 10, 12, 14               |
// | 16  | u16  | stage width, stage height        at 16, 18                      |
// | 20  | u32  | raw length (= w*h*4)                                             |
// | 24  | u32  | payload length                                                   |
// | 28  | ..   | payload                                                          |
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stagelink/result.hpp"

namespace stagelink {

inline constexpr std::uint8_t kOpcodeTile = 0x01;
inline constexpr std::size_t kTileHeaderSize = 28;
inline constexpr std::uint16_t kTileFlagKeyframe = 1u << 0;
inline constexpr std::uint16_t kTileFlagLastTile = 1u << 1;
inline constexpr std::uint16_t kDefaultTileSize = 64;

enum class TileEncoding : std::uint8_t { raw = 0, lz4 = 1 };

/// True when this build can encode and decode LZ4 tiles.
bool lz4_available();

struct TileHeader {
  TileEncoding encoding = TileEncoding::raw;
  std::uint16_t flags = 0;
  std::uint32_t frame = 0;
  std::uint16_t x = 0;
  std::uint16_t y = 0;
  std::uint16_t w = 0;
  std::uint16_t h = 0;
  std::uint16_t stage_width = 0;
  std::uint16_t stage_height = 0;
  std::uint32_t raw_length = 0;
  std::uint32_t payload_length = 0;

  bool keyframe() const { return (flags & kTileFlagKeyframe) != 0; }
  bool last_tile() const { return (flags & kTileFlagLastTile) != 0; }
  bool operator==(const TileHeader& o) const;
};

/// A decoded tile message: header and (still encoded) payload.
struct Tile {
  TileHeader header;
  std::string payload;
};

/// The 28 header bytes.
std::string encode_tile_header(const TileHeader& header);

/// Header + payload; `payload_length` is taken from the payload.
std::string encode_tile(TileHeader header, std::string_view payload);

/// Parses and checks a tile message: opcode, known encoding, payload length matching the
/// message, raw length = w*h*4, non-empty rectangle inside the stage.
Result<TileHeader> decode_tile_header(std::string_view message);
Result<Tile> decode_tile(std::string_view message);

/// The tile's raw RGBA8 pixels (w*h*4 bytes), decompressing LZ4 when needed.
Result<std::vector<std::uint8_t>> tile_pixels(const Tile& tile);

/// Encodes raw RGBA8 with `encoding` (LZ4 block format, no size prefix).
Result<std::string> encode_pixels(std::string_view raw_rgba, TileEncoding encoding);

/// Splits a whole RGBA8 stage image (row-major, width*height*4 bytes) into tile messages of
/// `tile_size` (edge tiles smaller), row by row. Every tile carries the keyframe flag (a whole
/// frame is sent) and the final one the last-tile flag.
Result<std::vector<std::string>> encode_frame_tiles(std::uint32_t frame,
                                                    const std::uint8_t* rgba, std::uint16_t width,
                                                    std::uint16_t height, TileEncoding encoding,
                                                    std::uint16_t tile_size = kDefaultTileSize);

/// Copies a decoded tile into a stage-sized RGBA8 image (resized to the tile's stage size).
Result<void> blit_tile(const Tile& tile, std::vector<std::uint8_t>& stage_rgba);

}  // namespace stagelink
