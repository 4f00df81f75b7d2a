//! The binary pixel-tile message (opcode `0x01`).
//!
//! Layout, all little-endian, a 28-byte header then the payload:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | u8 | opcode `0x01` |
//! | 1 | u8 | encoding: 0 raw RGBA8, 1 LZ4 block of the raw RGBA8 |
//! | 2 | u16 | flags: bit 0 keyframe, bit 1 last tile of the frame |
//! | 4 | u32 | frame |
//! | 8 | u16 ×4 | x, y, w, h of the tile |
//! | 16 | u16 ×2 | stage width, stage height |
//! | 20 | u32 | raw length (`w*h*4`) |
//! | 24 | u32 | payload length |
//! | 28 | … | payload |

use bytes::{BufMut, Bytes, BytesMut};

/// Opcode of a stage pixel tile.
pub const OPCODE_TILE: u8 = 0x01;
/// Header size in bytes.
pub const TILE_HEADER_LEN: usize = 28;
/// Flag: this frame carries every tile (late joiners and gaps get one).
pub const FLAG_KEYFRAME: u16 = 1;
/// Flag: the last tile of its frame — the client may present the frame and send `pixels_ack`.
pub const FLAG_LAST: u16 = 2;

/// How a tile's payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileEncoding {
    /// Raw RGBA8, row-major.
    Raw = 0,
    /// LZ4 block format (no size prefix) of the raw RGBA8.
    Lz4 = 1,
}

impl TileEncoding {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(TileEncoding::Raw),
            1 => Some(TileEncoding::Lz4),
            _ => None,
        }
    }
}

/// A tile's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileHeader {
    pub encoding: TileEncoding,
    pub flags: u16,
    pub frame: u32,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    pub stage_w: u16,
    pub stage_h: u16,
}

impl TileHeader {
    /// Bytes of the decoded RGBA8 tile.
    pub fn raw_len(&self) -> usize {
        self.w as usize * self.h as usize * 4
    }
    /// Whether this frame is a keyframe.
    pub fn is_keyframe(&self) -> bool {
        self.flags & FLAG_KEYFRAME != 0
    }
    /// Whether this is the last tile of its frame.
    pub fn is_last(&self) -> bool {
        self.flags & FLAG_LAST != 0
    }
}

/// A decoded tile: its header and RGBA8 pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub header: TileHeader,
    pub rgba: Vec<u8>,
}

/// Why a binary message is not a valid tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixelError {
    #[error("binary message of {0} bytes is shorter than the 28-byte tile header")]
    Short(usize),
    #[error("unknown binary opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("unknown tile encoding {0}")]
    UnknownEncoding(u8),
    #[error("tile {x},{y} {w}x{h} does not fit the {stage_w}x{stage_h} stage")]
    OutOfStage {
        x: u16,
        y: u16,
        w: u16,
        h: u16,
        stage_w: u16,
        stage_h: u16,
    },
    #[error("raw length {got} does not match the tile size ({want} bytes)")]
    RawLength { got: usize, want: usize },
    #[error("payload length {declared} does not match the {actual} bytes present")]
    PayloadLength { declared: usize, actual: usize },
    #[error("LZ4 payload is corrupt: {0}")]
    Lz4(String),
}

/// Encodes one tile message. `rgba` is the tile's raw RGBA8 (`w*h*4` bytes).
/// With [`TileEncoding::Lz4`], the compressed form is used only when it is smaller;
/// otherwise the tile goes raw.
pub fn encode_tile(mut header: TileHeader, rgba: &[u8]) -> Bytes {
    debug_assert_eq!(rgba.len(), header.raw_len());
    let compressed;
    let payload: &[u8] = match header.encoding {
        TileEncoding::Lz4 => {
            compressed = lz4_flex::block::compress(rgba);
            if compressed.len() < rgba.len() {
                &compressed
            } else {
                header.encoding = TileEncoding::Raw;
                rgba
            }
        }
        TileEncoding::Raw => rgba,
    };
    write_tile(&header, payload)
}

/// Writes a tile message around an already-encoded payload (the hub compresses each changed
/// tile once and only rewrites the 28-byte header per client).
pub fn write_tile(header: &TileHeader, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(TILE_HEADER_LEN + payload.len());
    out.put_u8(OPCODE_TILE);
    out.put_u8(header.encoding as u8);
    out.put_u16_le(header.flags);
    out.put_u32_le(header.frame);
    for v in [
        header.x,
        header.y,
        header.w,
        header.h,
        header.stage_w,
        header.stage_h,
    ] {
        out.put_u16_le(v);
    }
    out.put_u32_le(header.raw_len() as u32);
    out.put_u32_le(payload.len() as u32);
    out.put_slice(payload);
    out.freeze()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a tile's header and returns it with the payload slice, without decompressing.
///
/// # Errors
/// A [`PixelError`] for any malformed input; never panics.
pub fn decode_tile_header(msg: &[u8]) -> Result<(TileHeader, &[u8]), PixelError> {
    if msg.len() < TILE_HEADER_LEN {
        return Err(PixelError::Short(msg.len()));
    }
    if msg[0] != OPCODE_TILE {
        return Err(PixelError::UnknownOpcode(msg[0]));
    }
    let encoding = TileEncoding::from_u8(msg[1]).ok_or(PixelError::UnknownEncoding(msg[1]))?;
    let header = TileHeader {
        encoding,
        flags: u16_at(msg, 2),
        frame: u32_at(msg, 4),
        x: u16_at(msg, 8),
        y: u16_at(msg, 10),
        w: u16_at(msg, 12),
        h: u16_at(msg, 14),
        stage_w: u16_at(msg, 16),
        stage_h: u16_at(msg, 18),
    };
    if header.x as u32 + header.w as u32 > header.stage_w as u32
        || header.y as u32 + header.h as u32 > header.stage_h as u32
    {
        return Err(PixelError::OutOfStage {
            x: header.x,
            y: header.y,
            w: header.w,
            h: header.h,
            stage_w: header.stage_w,
            stage_h: header.stage_h,
        });
    }
    let raw_len = u32_at(msg, 20) as usize;
    if raw_len != header.raw_len() {
        return Err(PixelError::RawLength {
            got: raw_len,
            want: header.raw_len(),
        });
    }
    let declared = u32_at(msg, 24) as usize;
    let payload = &msg[TILE_HEADER_LEN..];
    if declared != payload.len() {
        return Err(PixelError::PayloadLength {
            declared,
            actual: payload.len(),
        });
    }
    if encoding == TileEncoding::Raw && payload.len() != raw_len {
        return Err(PixelError::RawLength {
            got: payload.len(),
            want: raw_len,
        });
    }
    Ok((header, payload))
}

/// The most an LZ4 block can expand: each sequence costs at least 3 bytes (token, offset) for at
/// most 19 bytes of match, and each extra match-length byte adds at most 255 bytes.
const LZ4_MAX_RATIO: usize = 255;

/// Decodes a whole tile message into RGBA8.
///
/// # Errors
/// A [`PixelError`] for any malformed input; never panics and never allocates more than the
/// tile's declared size (itself bounded by the u16 geometry).
pub fn decode_tile(msg: &[u8]) -> Result<Tile, PixelError> {
    let (header, payload) = decode_tile_header(msg)?;
    let rgba = match header.encoding {
        TileEncoding::Raw => payload.to_vec(),
        TileEncoding::Lz4 => {
            // An LZ4 block expands at most ~255× (a match-length byte of 255 is the densest
            // code), so a payload too small for the declared size is refused before the output
            // buffer is allocated: a 29-byte message must not make us allocate 4 GiB.
            if header.raw_len() > payload.len().saturating_mul(LZ4_MAX_RATIO) {
                return Err(PixelError::Lz4(format!(
                    "{} payload bytes cannot expand to {} bytes",
                    payload.len(),
                    header.raw_len()
                )));
            }
            let mut out = vec![0u8; header.raw_len()];
            let n = lz4_flex::block::decompress_into(payload, &mut out)
                .map_err(|e| PixelError::Lz4(e.to_string()))?;
            if n != out.len() {
                return Err(PixelError::Lz4(format!(
                    "decompressed {n} bytes, expected {}",
                    out.len()
                )));
            }
            out
        }
    };
    Ok(Tile { header, rgba })
}
