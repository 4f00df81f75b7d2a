//! The rendered-pixel path: the hub keeps the current frame as compressed 64×64 tiles, each
//! compressed once when it changes; every session keeps a cursor saying which tile versions it
//! has, and receives only the tiles that changed since — within a window of unacknowledged
//! frames, so a slow viewer gets fewer, fresher frames, never stale tiles or unbounded memory.

use std::collections::VecDeque;

use bytes::Bytes;
use stagelink_contracts::pixels::{FLAG_KEYFRAME, FLAG_LAST, TileEncoding, TileHeader, write_tile};

/// Tile edge in pixels.
pub const TILE_SIZE: u32 = 64;

#[derive(Debug, Clone)]
struct StoredTile {
    x: u16,
    y: u16,
    w: u16,
    h: u16,
    /// The store version at which this tile last changed.
    version: u64,
    encoding: TileEncoding,
    payload: Bytes,
    /// The raw pixels, to detect change cheaply next frame.
    raw: Vec<u8>,
}

/// The current rendered frame, as tiles.
#[derive(Debug, Default)]
pub struct PixelStore {
    frame: u32,
    width: u32,
    height: u32,
    version: u64,
    tiles: Vec<StoredTile>,
    /// Bumped when the geometry changes, so cursors know to start over.
    generation: u64,
}

/// What one [`PixelStore::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishStats {
    pub tiles_total: usize,
    pub tiles_changed: usize,
    pub bytes_encoded: usize,
}

impl PixelStore {
    /// The store's version (bumped by each publish that changed a tile).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The frame number of the current image.
    pub fn frame(&self) -> u32 {
        self.frame
    }

    /// Takes a new RGBA8 frame (`width*height*4` bytes, row-major), finds the tiles that
    /// changed, and compresses only those.
    pub fn publish(&mut self, frame: u32, width: u32, height: u32, rgba: &[u8]) -> PublishStats {
        let mut stats = PublishStats::default();
        if rgba.len() != (width as usize) * (height as usize) * 4 || width > 65535 || height > 65535
        {
            return stats;
        }
        if width != self.width || height != self.height {
            self.width = width;
            self.height = height;
            self.generation += 1;
            self.tiles.clear();
            for ty in (0..height).step_by(TILE_SIZE as usize) {
                for tx in (0..width).step_by(TILE_SIZE as usize) {
                    self.tiles.push(StoredTile {
                        x: tx as u16,
                        y: ty as u16,
                        w: (width - tx).min(TILE_SIZE) as u16,
                        h: (height - ty).min(TILE_SIZE) as u16,
                        version: 0,
                        encoding: TileEncoding::Raw,
                        payload: Bytes::new(),
                        raw: Vec::new(),
                    });
                }
            }
        }
        let next_version = self.version + 1;
        let stride = width as usize * 4;
        let mut scratch = Vec::with_capacity((TILE_SIZE * TILE_SIZE * 4) as usize);
        for tile in &mut self.tiles {
            scratch.clear();
            let row_bytes = tile.w as usize * 4;
            for row in 0..tile.h as usize {
                let start = (tile.y as usize + row) * stride + tile.x as usize * 4;
                scratch.extend_from_slice(&rgba[start..start + row_bytes]);
            }
            stats.tiles_total += 1;
            if tile.version != 0 && scratch == tile.raw {
                continue;
            }
            let compressed = lz4_flex::block::compress(&scratch);
            if compressed.len() < scratch.len() {
                tile.encoding = TileEncoding::Lz4;
                tile.payload = Bytes::from(compressed);
            } else {
                tile.encoding = TileEncoding::Raw;
                tile.payload = Bytes::copy_from_slice(&scratch);
            }
            std::mem::swap(&mut tile.raw, &mut scratch);
            tile.version = next_version;
            stats.tiles_changed += 1;
            stats.bytes_encoded +=
                tile.payload.len() + stagelink_contracts::pixels::TILE_HEADER_LEN;
        }
        if stats.tiles_changed > 0 {
            self.version = next_version;
        }
        self.frame = frame;
        stats
    }
}

/// One session's position in the pixel stream.
#[derive(Debug)]
pub struct PixelCursor {
    subscribed: bool,
    window: u32,
    unacked: VecDeque<u32>,
    /// Per tile, the version this client holds.
    held: Vec<u64>,
    /// The store version this client last caught up to.
    seen_version: u64,
    generation: u64,
}

impl PixelCursor {
    /// A cursor allowing `window` unacknowledged frames.
    pub fn new(window: u32) -> Self {
        Self {
            subscribed: false,
            window: window.max(1),
            unacked: VecDeque::new(),
            held: Vec::new(),
            seen_version: 0,
            generation: u64::MAX,
        }
    }

    /// Starts (or restarts) the stream: the next frame is a keyframe.
    pub fn subscribe(&mut self) {
        self.subscribed = true;
        self.held.clear();
        self.unacked.clear();
        self.seen_version = 0;
        self.generation = u64::MAX;
    }

    /// Stops the stream.
    pub fn unsubscribe(&mut self) {
        self.subscribed = false;
        self.unacked.clear();
    }

    /// Whether the client receives pixels.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// The client drew `frame`: it and every frame sent before it leave the window. Frames
    /// are matched in the order they were sent (score frame numbers repeat when a movie loops).
    /// An ack that matches nothing outstanding is ignored (protocol §11.2) — a stale or
    /// duplicated ack must not free a slot of a frame the client has not drawn; a client that
    /// lost track re-subscribes to `pixels` for a keyframe.
    pub fn ack(&mut self, frame: u32) {
        if let Some(i) = self.unacked.iter().position(|f| *f == frame) {
            self.unacked.drain(..=i);
        }
    }

    /// Whether a frame is waiting for this client and the window allows it.
    pub fn wants(&self, store: &PixelStore) -> bool {
        self.subscribed
            && (self.unacked.len() as u32) < self.window
            && store.version > self.seen_version
    }

    /// Appends the tile messages of the current frame this client lacks.
    pub fn take_frame(&mut self, store: &PixelStore, out: &mut VecDeque<Bytes>) {
        if !self.wants(store) {
            return;
        }
        let keyframe = self.generation != store.generation || self.held.len() != store.tiles.len();
        if keyframe {
            self.held = vec![0; store.tiles.len()];
            self.generation = store.generation;
        }
        let changed: Vec<usize> = store
            .tiles
            .iter()
            .enumerate()
            .filter(|(i, t)| t.version > self.held[*i])
            .map(|(i, _)| i)
            .collect();
        self.seen_version = store.version;
        if changed.is_empty() {
            return;
        }
        let last = changed.len() - 1;
        for (n, &i) in changed.iter().enumerate() {
            let t = &store.tiles[i];
            let mut flags = 0;
            if keyframe {
                flags |= FLAG_KEYFRAME;
            }
            if n == last {
                flags |= FLAG_LAST;
            }
            let header = TileHeader {
                encoding: t.encoding,
                flags,
                frame: store.frame,
                x: t.x,
                y: t.y,
                w: t.w,
                h: t.h,
                stage_w: store.width as u16,
                stage_h: store.height as u16,
            };
            out.push_back(write_tile(&header, &t.payload));
            self.held[i] = t.version;
        }
        self.unacked.push_back(store.frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::pixels::decode_tile;

    fn image(w: u32, h: u32, f: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let inside = x < 10 + f && y < 10;
                v.extend_from_slice(&[if inside { 255 } else { 0 }, (x % 7) as u8, y as u8, 255]);
            }
        }
        v
    }

    #[test]
    fn only_changed_tiles_go_out_and_the_window_holds() {
        let mut store = PixelStore::default();
        let mut cursor = PixelCursor::new(2);
        cursor.subscribe();
        store.publish(1, 200, 100, &image(200, 100, 0));
        let mut out = VecDeque::new();
        cursor.take_frame(&store, &mut out);
        assert_eq!(out.len(), 8, "keyframe: every tile");
        let tiles: Vec<_> = out.iter().map(|b| decode_tile(b).unwrap()).collect();
        assert!(tiles.iter().all(|t| t.header.is_keyframe()));
        assert!(tiles.last().unwrap().header.is_last());
        out.clear();
        let stats = store.publish(2, 200, 100, &image(200, 100, 1));
        assert_eq!(stats.tiles_changed, 1);
        cursor.take_frame(&store, &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        store.publish(3, 200, 100, &image(200, 100, 60));
        cursor.take_frame(&store, &mut out);
        assert!(out.is_empty(), "window of 2 is full");
        cursor.ack(2);
        cursor.take_frame(&store, &mut out);
        assert_eq!(out.len(), 2, "tiles changed since what this client holds");
        let t = decode_tile(&out[1]).unwrap();
        assert_eq!(t.header.frame, 3);
    }
}
