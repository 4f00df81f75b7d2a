//! The host's rendered frame, assembled from its tiles so the relay can republish it through a
//! hub (which then sends each client only what changed for it). The host's node assembles it
//! from the host's socket; every other node from the tiles on the backplane.

use stagelink_contracts::pixels::decode_tile;
use stagelink_publisher::Hub;

/// One host's frame in RGBA8.
#[derive(Debug, Default)]
pub struct Canvas {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Canvas {
    /// Paints one binary tile message. On a frame's last tile the frame is published through
    /// `hub` and its number returned (the host's node acknowledges it to the host).
    ///
    /// # Errors
    /// A tile that does not decode, or does not fit the stage it announces.
    pub fn paint(&mut self, hub: &Hub, msg: &[u8]) -> Result<Option<u32>, String> {
        let tile = decode_tile(msg).map_err(|e| e.to_string())?;
        let h = tile.header;
        let (w, ht) = (u32::from(h.stage_w), u32::from(h.stage_h));
        if self.width != w || self.height != ht {
            *self = Canvas {
                width: w,
                height: ht,
                rgba: vec![0; (w * ht * 4) as usize],
            };
        }
        let stride = w as usize * 4;
        let row = h.w as usize * 4;
        if h.x as usize + h.w as usize > w as usize
            || h.y as usize + h.h as usize > ht as usize
            || tile.rgba.len() < row * h.h as usize
        {
            return Err(format!(
                "tile {}x{} at {},{} does not fit a {w}x{ht} stage",
                h.w, h.h, h.x, h.y
            ));
        }
        for y in 0..h.h as usize {
            let dst = (h.y as usize + y) * stride + h.x as usize * 4;
            self.rgba[dst..dst + row].copy_from_slice(&tile.rgba[y * row..(y + 1) * row]);
        }
        if h.is_last() {
            hub.publish_pixels(h.frame, w, ht, &self.rgba);
            return Ok(Some(h.frame));
        }
        Ok(None)
    }
}
