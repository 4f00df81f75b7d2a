//! Any byte stream through the local socket's frame decoder, fed in chunks, and every frame into
//! `decode_tile` (binary) or `decode_client` (JSON): never a panic, never a frame over the limit,
//! and a decoded tile re-encodes to the same pixels.
//!
//! Input: byte 0 picks the frame limit, byte 1 the chunk size, the rest is the stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use stagelink_contracts::framing::is_json;
use stagelink_contracts::pixels::{decode_tile, encode_tile};
use stagelink_contracts::{DEFAULT_MAX_FRAME, FrameCodec, decode_client};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let [limit, chunk, stream @ ..] = data else {
        return;
    };
    let max = match limit {
        0 => DEFAULT_MAX_FRAME,
        n => usize::from(*n) * 256,
    };
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(usize::from(*chunk) + 1) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max);
                    if is_json(&frame) {
                        let _ = decode_client(&frame);
                    } else if let Ok(tile) = decode_tile(&frame) {
                        assert_eq!(tile.rgba.len(), tile.header.raw_len());
                        let again = decode_tile(&encode_tile(tile.header, &tile.rgba))
                            .expect("a re-encoded tile decodes");
                        assert_eq!(again.rgba, tile.rgba);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
