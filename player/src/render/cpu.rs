//! The CPU renderer: [`raster::shade`](super::raster::shade) at every pixel centre of every
//! item's bounding box, blended into a premultiplied 8-bit image — what the GPU does, one
//! pixel at a time.
//!
//! Two things make it quicker without changing a single value: images are converted to
//! premultiplied (and keyed) floats once and kept while frames use them, and the image is cut
//! into horizontal bands drawn on scoped threads — each band paints every item in order, so
//! every pixel sees the same operations in the same order as on one thread.

use std::collections::HashMap;
use std::sync::Arc;

use super::raster::{
    FLAG_KEYED, GpuItem, KIND_IMAGE, PremultipliedTexels, Prepared, background_pixel, blend_over,
    premultiply, shade_with,
};

/// Frames an unused converted image is kept for.
const KEEP_FRAMES: u64 = 4;
/// Fewer rows than this per band is not worth a thread.
const MIN_BAND_ROWS: usize = 64;

#[derive(Debug)]
struct Converted {
    /// Keeps the source (and so its identity key) alive while cached.
    _source: Arc<Vec<u8>>,
    texels: Vec<[f32; 4]>,
    used: u64,
}

/// Draws prepared frames on the CPU.
#[derive(Debug)]
pub struct CpuRasterizer {
    threads: usize,
    converted: HashMap<(usize, u32, u32, bool), Converted>,
    frames: u64,
}

impl Default for CpuRasterizer {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_threads(cores.min(4))
    }
}

impl CpuRasterizer {
    /// A rasteriser drawing on up to `threads` threads (1: the calling thread only).
    pub fn with_threads(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            converted: HashMap::new(),
            frames: 0,
        }
    }

    /// Draws `frame` into `out` (resized to `width × height × 4`), premultiplied.
    pub fn draw(&mut self, frame: &Prepared, out: &mut Vec<u8>) {
        self.frames += 1;
        let now = self.frames;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let bg = background_pixel(frame.background);
        out.clear();
        out.reserve(w * h * 4);
        for _ in 0..w * h {
            out.extend_from_slice(&bg);
        }
        // Each image, converted once per (image, keyed).
        for item in frame.items.iter().filter(|i| i.kind[0] == KIND_IMAGE) {
            let slot = item.kind[2] as usize;
            let Some(image) = frame.images.get(slot) else {
                continue;
            };
            let keyed = item.kind[1] & FLAG_KEYED != 0;
            let key = (image.id(), image.width, image.height, keyed);
            self.converted
                .entry(key)
                .and_modify(|c| c.used = now)
                .or_insert_with(|| Converted {
                    _source: image.pixels.clone(),
                    texels: premultiply(image, keyed),
                    used: now,
                });
        }
        self.converted.retain(|_, c| now - c.used < KEEP_FRAMES);
        let converted = &self.converted;
        let texels_of = |item: &GpuItem| -> Option<PremultipliedTexels<'_>> {
            let image = frame.images.get(item.kind[2] as usize)?;
            let keyed = item.kind[1] & FLAG_KEYED != 0;
            let c = converted.get(&(image.id(), image.width, image.height, keyed))?;
            Some(PremultipliedTexels {
                texels: &c.texels,
                width: image.width,
            })
        };
        let band_rows = h.div_ceil(self.threads).max(MIN_BAND_ROWS).max(1);
        let row_bytes = w * 4;
        if band_rows >= h || row_bytes == 0 {
            draw_band(frame, &texels_of, out, 0, w);
            return;
        }
        std::thread::scope(|scope| {
            let mut bands = out.chunks_mut(band_rows * row_bytes).enumerate();
            let first = bands.next();
            for (i, band) in bands {
                let texels_of = &texels_of;
                scope.spawn(move || draw_band(frame, texels_of, band, i * band_rows, w));
            }
            if let Some((_, band)) = first {
                draw_band(frame, &texels_of, band, 0, w);
            }
        });
    }
}

/// Paints every item over the rows `first_row..` that `band` holds.
fn draw_band<'a>(
    frame: &'a Prepared,
    texels_of: &(dyn Fn(&GpuItem) -> Option<PremultipliedTexels<'a>> + Sync),
    band: &mut [u8],
    first_row: usize,
    width: usize,
) {
    let rows = band.len() / (width * 4).max(1);
    let band_end = first_row + rows;
    for item in &frame.items {
        let texels = if item.kind[0] == KIND_IMAGE {
            match texels_of(item) {
                Some(t) => Some(t),
                None => continue,
            }
        } else {
            None
        };
        let [x0, y0, x1, y1] = item.bbox.map(|v| v as usize);
        for y in y0.max(first_row)..y1.min(band_end) {
            let py = y as f32 + 0.5;
            let start = ((y - first_row) * width + x0) * 4;
            let end = ((y - first_row) * width + x1) * 4;
            for (i, px) in band[start..end].chunks_exact_mut(4).enumerate() {
                let src = shade_with(item, texels.as_ref(), (x0 + i) as f32 + 0.5, py);
                if src[3] > 0.0 {
                    blend_over(px, src);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::list::RenderList;
    use crate::render::raster::prepare;
    use crate::render::text::rasterize;

    #[test]
    fn bands_on_threads_draw_exactly_what_one_thread_draws() {
        let mut engine = crate::demo::demo_engine();
        for _ in 0..50 {
            engine.tick([]);
        }
        let list = RenderList::from_state(engine.state());
        let frame = prepare(&list, 320, 300, rasterize);
        let (mut one, mut many) = (Vec::new(), Vec::new());
        CpuRasterizer::with_threads(1).draw(&frame, &mut one);
        CpuRasterizer::with_threads(3).draw(&frame, &mut many);
        assert_eq!(one.len(), 320 * 300 * 4);
        assert!(one == many);
    }
}
