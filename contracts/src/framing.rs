//! Local-socket framing: each message is a `u32` little-endian byte length `N`, then `N` bytes.
//! A payload whose first byte is `{` is JSON; anything else is a binary message.
//!
//! [`FrameCodec`] is a `tokio_util` codec, so a transport wraps its socket in `Framed`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The default largest accepted message: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Framing failures.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A frame announced (or was given) more bytes than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    /// The underlying reader or writer failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The u32-LE length-prefixed codec with a configurable maximum.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameCodec {
    /// A codec that refuses frames longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max }
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl tokio_util::codec::Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(len).freeze()))
    }
}

impl<T: AsRef<[u8]>> tokio_util::codec::Encoder<T> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        let payload = item.as_ref();
        if payload.len() > self.max {
            return Err(FrameError::TooLarge {
                len: payload.len(),
                max: self.max,
            });
        }
        dst.reserve(4 + payload.len());
        dst.put_u32_le(payload.len() as u32);
        dst.put_slice(payload);
        Ok(())
    }
}

/// Whether a payload is JSON (first byte `{`) rather than a binary message.
pub fn is_json(payload: &[u8]) -> bool {
    payload.first() == Some(&b'{')
}

/// Frames one payload into a new buffer (for tests and simple writers).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}
