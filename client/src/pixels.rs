//! [`PixelFrames`]: assembles binary pixel tiles into whole RGBA frames (protocol §11).
//!
//! Tiles only carry what changed since the client's previous pixel frame, so the assembler keeps
//! a canvas and paints each tile into it; the tile with the "last" flag completes a frame, which
//! the client then acknowledges with `pixels_ack`. A malformed tile is dropped and the assembler
//! asks for a keyframe (the client re-subscribes to `pixels`), and until one arrives no frame is
//! presented: a frame is never shown with a hole in it.

use std::sync::Arc;

use stagelink_contracts::pixels::{PixelError, TileHeader, decode_tile};

/// A complete stage image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelFrame {
    /// The score frame it was rendered for.
    pub frame: u32,
    /// Stage width, pixels.
    pub width: u32,
    /// Stage height, pixels.
    pub height: u32,
    /// Whether this frame was sent whole (every tile).
    pub keyframe: bool,
    /// Straight-alpha sRGB RGBA8, row-major, top row first: `width * height * 4` bytes.
    pub rgba: Arc<[u8]>,
}

impl PixelFrame {
    /// The RGBA of pixel `(x, y)`, if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = ((y * self.width + x) * 4) as usize;
        self.rgba.get(i..i + 4).and_then(|p| p.try_into().ok())
    }
}

/// What one tile did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TileOutcome {
    /// Send `pixels_ack` with this frame (the tile completed a frame).
    pub ack: Option<u32>,
    /// A complete, hole-free frame to present.
    pub frame: Option<PixelFrame>,
    /// Ask the server for a keyframe (re-subscribe to `pixels`).
    pub request_keyframe: bool,
    /// Why the tile was dropped, if it was.
    pub dropped: Option<PixelError>,
}

/// The tile assembler. One per connection's pixel subscription.
#[derive(Debug, Default)]
pub struct PixelFrames {
    width: u32,
    height: u32,
    canvas: Vec<u8>,
    /// The canvas holds a complete image (a keyframe was painted and nothing broke since).
    complete: bool,
    /// The frame being assembled is a keyframe.
    in_keyframe: bool,
    /// A tile of the frame being assembled was dropped (or the canvas does not fit it).
    broken: bool,
    /// A keyframe was asked for and has not arrived yet (so we ask only once).
    keyframe_requested: bool,
    /// A tile arrived since the last "last" tile.
    in_frame: bool,
    /// The frame number of the frame being assembled (a different one starts a new frame even
    /// when the previous one's last tile was lost).
    current: u32,
}

impl PixelFrames {
    /// An empty assembler: it presents nothing until a keyframe arrives.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget everything (the pixel subscription starts over; the server sends a keyframe).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds one binary message.
    pub fn push(&mut self, message: &[u8]) -> TileOutcome {
        let mut outcome = TileOutcome::default();
        let tile = match decode_tile(message) {
            Ok(t) => t,
            Err(PixelError::UnknownOpcode(op)) => {
                // A future binary message type: not ours to judge (protocol §17).
                tracing::debug!(opcode = op, "ignoring binary message with unknown opcode");
                return outcome;
            }
            Err(e) => {
                tracing::warn!(error = %e, "dropping malformed pixel tile");
                // We cannot tell whether it was the frame's last tile; the frame is broken
                // either way, and the next keyframe starts over.
                self.in_frame = true;
                self.broken = true;
                self.complete = false;
                outcome.request_keyframe = self.ask_keyframe();
                outcome.dropped = Some(e);
                return outcome;
            }
        };
        let h = tile.header;
        let starts_frame =
            !self.in_frame || h.frame != self.current || h.is_keyframe() != self.in_keyframe;
        if starts_frame {
            // The previous frame never saw its last tile: the canvas misses tiles the server
            // believes we hold, so only a keyframe can be trusted from here.
            let unfinished = self.in_frame;
            self.in_frame = true;
            self.current = h.frame;
            self.in_keyframe = h.is_keyframe();
            self.broken = false;
            if h.is_keyframe() {
                self.resize(h.stage_w.into(), h.stage_h.into());
                self.keyframe_requested = false;
            } else if unfinished {
                self.broken = true;
                self.complete = false;
                outcome.request_keyframe = self.ask_keyframe();
            }
        }
        if h.stage_w as u32 != self.width || h.stage_h as u32 != self.height {
            // A delta for a canvas we do not have (we missed the keyframe of a new size).
            self.broken = true;
            self.complete = false;
            outcome.request_keyframe = self.ask_keyframe();
        } else {
            self.paint(&h, &tile.rgba);
        }
        if h.is_last() {
            self.in_frame = false;
            outcome.ack = Some(h.frame);
            if self.broken {
                self.complete = false;
                outcome.request_keyframe |= self.ask_keyframe();
            } else if self.in_keyframe {
                self.complete = true;
            }
            if self.complete {
                outcome.frame = Some(PixelFrame {
                    frame: h.frame,
                    width: self.width,
                    height: self.height,
                    keyframe: self.in_keyframe,
                    rgba: Arc::from(self.canvas.as_slice()),
                });
            }
        }
        outcome
    }

    fn ask_keyframe(&mut self) -> bool {
        !std::mem::replace(&mut self.keyframe_requested, true)
    }

    fn resize(&mut self, width: u32, height: u32) {
        if width != self.width || height != self.height {
            self.width = width;
            self.height = height;
            self.canvas = vec![0; width as usize * height as usize * 4];
        }
    }

    fn paint(&mut self, h: &TileHeader, rgba: &[u8]) {
        // decode_tile checked the tile lies inside the stage and `rgba` is w*h*4 bytes.
        let row = h.w as usize * 4;
        let stride = self.width as usize * 4;
        for r in 0..h.h as usize {
            let src = &rgba[r * row..(r + 1) * row];
            let at = (h.y as usize + r) * stride + h.x as usize * 4;
            self.canvas[at..at + row].copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::pixels::{
        FLAG_KEYFRAME, FLAG_LAST, TileEncoding, encode_tile, write_tile,
    };

    /// Every tile of a `w`×`h` stage filled with `color`, 64×64 grid, as the host sends it.
    fn frame_tiles(frame: u32, w: u16, h: u16, keyframe: bool, color: [u8; 4]) -> Vec<Vec<u8>> {
        let mut tiles = Vec::new();
        let mut y = 0;
        while y < h {
            let mut x = 0;
            while x < w {
                let (tw, th) = ((w - x).min(64), (h - y).min(64));
                tiles.push((x, y, tw, th));
                x += 64;
            }
            y += 64;
        }
        let last = tiles.len() - 1;
        tiles
            .into_iter()
            .enumerate()
            .map(|(i, (x, y, tw, th))| {
                let mut flags = if keyframe { FLAG_KEYFRAME } else { 0 };
                if i == last {
                    flags |= FLAG_LAST;
                }
                let header = TileHeader {
                    encoding: if i % 2 == 0 {
                        TileEncoding::Lz4
                    } else {
                        TileEncoding::Raw
                    },
                    flags,
                    frame,
                    x,
                    y,
                    w: tw,
                    h: th,
                    stage_w: w,
                    stage_h: h,
                };
                let rgba: Vec<u8> = (0..tw as usize * th as usize).flat_map(|_| color).collect();
                encode_tile(header, &rgba).to_vec()
            })
            .collect()
    }

    /// One raw tile: `rect` is `(x, y, w, h)`, `stage` is `(width, height)`.
    fn one_tile(
        frame: u32,
        rect: (u16, u16, u16, u16),
        stage: (u16, u16),
        flags: u16,
        c: [u8; 4],
    ) -> Vec<u8> {
        let (x, y, w, h) = rect;
        let header = TileHeader {
            encoding: TileEncoding::Raw,
            flags,
            frame,
            x,
            y,
            w,
            h,
            stage_w: stage.0,
            stage_h: stage.1,
        };
        let rgba: Vec<u8> = (0..w as usize * h as usize).flat_map(|_| c).collect();
        encode_tile(header, &rgba).to_vec()
    }

    #[test]
    fn a_keyframe_assembles_and_acks_once_at_the_last_tile() {
        let mut frames = PixelFrames::new();
        let tiles = frame_tiles(7, 150, 70, true, [10, 20, 30, 255]);
        assert_eq!(tiles.len(), 6);
        for t in &tiles[..5] {
            assert_eq!(frames.push(t), TileOutcome::default());
        }
        let out = frames.push(&tiles[5]);
        assert_eq!(out.ack, Some(7));
        let frame = out.frame.unwrap();
        assert_eq!((frame.width, frame.height, frame.frame), (150, 70, 7));
        assert!(frame.keyframe);
        assert_eq!(frame.rgba.len(), 150 * 70 * 4);
        assert_eq!(frame.pixel(149, 69), Some([10, 20, 30, 255]));
        assert_eq!(frame.pixel(150, 0), None);
    }

    #[test]
    fn a_delta_paints_over_the_previous_frame() {
        let mut frames = PixelFrames::new();
        for t in frame_tiles(1, 128, 128, true, [0, 0, 0, 255]) {
            frames.push(&t);
        }
        let out = frames.push(&one_tile(
            2,
            (64, 64, 64, 64),
            (128, 128),
            FLAG_LAST,
            [255, 0, 0, 255],
        ));
        let frame = out.frame.unwrap();
        assert!(!frame.keyframe);
        assert_eq!(frame.pixel(0, 0), Some([0, 0, 0, 255]));
        assert_eq!(frame.pixel(64, 64), Some([255, 0, 0, 255]));
        assert_eq!(frame.pixel(127, 127), Some([255, 0, 0, 255]));
    }

    #[test]
    fn nothing_is_presented_before_a_keyframe() {
        let mut frames = PixelFrames::new();
        // A delta for a stage we have never seen: acked (so the window moves), not presented,
        // and a keyframe is asked for once.
        let out = frames.push(&one_tile(
            3,
            (0, 0, 8, 8),
            (64, 64),
            FLAG_LAST,
            [1, 2, 3, 4],
        ));
        assert_eq!(out.ack, Some(3));
        assert!(out.frame.is_none());
        assert!(out.request_keyframe);
        let out = frames.push(&one_tile(
            4,
            (0, 0, 8, 8),
            (64, 64),
            FLAG_LAST,
            [1, 2, 3, 4],
        ));
        assert!(!out.request_keyframe, "asked once until a keyframe arrives");
        let out = frames.push(&one_tile(
            5,
            (0, 0, 64, 64),
            (64, 64),
            FLAG_LAST | FLAG_KEYFRAME,
            [9, 9, 9, 9],
        ));
        assert_eq!(out.frame.unwrap().pixel(63, 63), Some([9, 9, 9, 9]));
    }

    #[test]
    fn a_malformed_tile_breaks_the_frame_until_a_keyframe() {
        let mut frames = PixelFrames::new();
        for t in frame_tiles(1, 64, 64, true, [0, 0, 0, 255]) {
            frames.push(&t);
        }
        let mut bad = one_tile(2, (0, 0, 32, 32), (64, 64), 0, [5, 5, 5, 5]);
        bad.truncate(bad.len() - 1); // payload shorter than declared
        let out = frames.push(&bad);
        assert!(out.dropped.is_some());
        assert!(out.request_keyframe);
        let out = frames.push(&one_tile(
            2,
            (32, 32, 32, 32),
            (64, 64),
            FLAG_LAST,
            [5, 5, 5, 5],
        ));
        assert_eq!(out.ack, Some(2));
        assert!(
            out.frame.is_none(),
            "a frame with a hole is never presented"
        );
        let out = frames.push(&one_tile(
            3,
            (0, 0, 64, 64),
            (64, 64),
            FLAG_LAST | FLAG_KEYFRAME,
            [7, 7, 7, 7],
        ));
        assert!(out.frame.is_some());
    }

    #[test]
    fn a_new_stage_size_arrives_as_a_keyframe() {
        let mut frames = PixelFrames::new();
        for t in frame_tiles(1, 64, 64, true, [0, 0, 0, 255]) {
            frames.push(&t);
        }
        let tiles = frame_tiles(2, 100, 40, true, [1, 1, 1, 1]);
        let mut last = TileOutcome::default();
        for t in &tiles {
            last = frames.push(t);
        }
        let frame = last.frame.unwrap();
        assert_eq!((frame.width, frame.height), (100, 40));
    }

    #[test]
    fn unknown_opcodes_are_ignored() {
        let mut frames = PixelFrames::new();
        let mut msg = write_tile(
            &TileHeader {
                encoding: TileEncoding::Raw,
                flags: 0,
                frame: 1,
                x: 0,
                y: 0,
                w: 0,
                h: 0,
                stage_w: 1,
                stage_h: 1,
            },
            &[],
        )
        .to_vec();
        msg[0] = 0x42;
        assert_eq!(frames.push(&msg), TileOutcome::default());
    }
}
