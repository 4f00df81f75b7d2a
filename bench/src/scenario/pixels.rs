//! Pixels: bytes and encode time per frame of `Hub::publish_pixels` (64×64 tiles, only changed
//! tiles, LZ4 when it is smaller) against raw RGBA, on frames of the demo movie drawn by the
//! player's CPU renderer (synthetic frames if it cannot draw). Baselines from the same frames:
//! shipping the raw RGBA (a copy into a buffer) and LZ4 of the whole frame.

use std::time::Instant;

use anyhow::Result;
use hdrhistogram::Histogram;
use stagelink_player::render::{RenderList, StageRenderer};
use stagelink_publisher::Hub;

use crate::host::hub_config;
use crate::report::{Report, Table, fmt_us, histogram, quantile_us};

/// Where the frames come from.
enum Source {
    Renderer(Box<StageRenderer>),
    Synthetic,
}

/// Per method: bytes per frame and encode time per frame.
struct Method {
    bytes: Vec<usize>,
    time: Histogram<u64>,
}

impl Method {
    fn new() -> Self {
        Self {
            bytes: Vec::new(),
            time: histogram(),
        }
    }

    fn record(&mut self, bytes: usize, started: Instant) {
        self.bytes.push(bytes);
        self.time
            .saturating_record((started.elapsed().as_micros() as u64).max(1));
    }

    fn mean_bytes(&self) -> f64 {
        self.bytes.iter().sum::<usize>() as f64 / self.bytes.len().max(1) as f64
    }
}

/// Runs the scenario.
///
/// # Errors
/// Never for a renderer problem (it falls back to synthetic frames).
pub fn run(opts: &crate::scenario::Opts) -> Result<Report> {
    let frames = opts
        .frames
        .unwrap_or(if opts.quick { 6 } else { 240 })
        .max(2);
    let mut engine = stagelink_player::demo::demo_engine();
    let mut source = Source::Renderer(Box::new(StageRenderer::cpu()));
    let mut source_note = "frames of the demo movie drawn by the player's CPU renderer \
                           (`StageRenderer::cpu`), one per engine tick"
        .to_owned();
    let hub = Hub::new(hub_config());
    let (mut keyframe, mut delta, mut raw, mut whole) =
        (Method::new(), Method::new(), Method::new(), Method::new());
    let (mut width, mut height) = (0u32, 0u32);
    let mut changed_tiles = Vec::new();
    let mut total_tiles = 0;
    for i in 0..frames {
        let output = engine.tick([]);
        let rgba: Vec<u8> = match &mut source {
            Source::Renderer(renderer) => {
                let list = RenderList::from_state(engine.state());
                match renderer.render(&list) {
                    Ok(pixels) => {
                        (width, height) = (list.width, list.height);
                        pixels.to_vec()
                    }
                    Err(e) => {
                        source_note = format!("synthetic frames (the CPU renderer failed: {e})");
                        source = Source::Synthetic;
                        (width, height) = (640, 480);
                        synthetic(width, height, i as u32)
                    }
                }
            }
            Source::Synthetic => synthetic(width, height, i as u32),
        };
        let started = Instant::now();
        let stats = hub.publish_pixels(output.frame, width, height, &rgba);
        if i > 0 {
            delta.record(stats.bytes_encoded, started);
            changed_tiles.push(stats.tiles_changed);
        }
        total_tiles = stats.tiles_total;
        // What a client joining now costs: every tile of this frame, into an empty store.
        let fresh = Hub::new(hub_config());
        let started = Instant::now();
        let stats = fresh.publish_pixels(output.frame, width, height, &rgba);
        keyframe.record(stats.bytes_encoded, started);

        let started = Instant::now();
        let copy = bytes::Bytes::copy_from_slice(&rgba);
        raw.record(copy.len(), started);
        let started = Instant::now();
        let compressed = lz4_flex::block::compress(&rgba);
        whole.record(compressed.len(), started);
    }

    let raw_bytes = (width as usize * height as usize * 4) as f64;
    let mut table = Table::new(
        format!("Pixels: {width}×{height} RGBA frames ({frames} frames)"),
        &[
            "method",
            "bytes/frame (mean)",
            "vs raw",
            "encode p50",
            "encode p99",
        ],
    );
    let mut add = |name: &str, m: &Method| {
        table.row(vec![
            name.to_owned(),
            format!("{:.0}", m.mean_bytes()),
            format!("{:.1}%", 100.0 * m.mean_bytes() / raw_bytes.max(1.0)),
            fmt_us(quantile_us(&m.time, 0.5)),
            fmt_us(quantile_us(&m.time, 0.99)),
        ]);
    };
    add("raw RGBA (baseline: copy the frame)", &raw);
    add("LZ4 of the whole frame (baseline)", &whole);
    add("Stagelink keyframe (every tile, empty store)", &keyframe);
    add("Stagelink next frame (changed tiles only)", &delta);
    let mean_changed =
        changed_tiles.iter().sum::<usize>() as f64 / changed_tiles.len().max(1) as f64;
    table.note(source_note);
    table.note(format!(
        "Stagelink bytes include each tile's 28-byte header; a frame after the first sends \
         {mean_changed:.1} of {total_tiles} tiles on average; encode = `Hub::publish_pixels` \
         (change detection + LZ4 per changed tile, once for all clients)"
    ));
    Ok(Report {
        tables: vec![table],
        verdicts: Vec::new(),
    })
}

/// A synthetic frame: a gradient with a square that moves each frame.
fn synthetic(width: u32, height: u32, frame: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((width * height * 4) as usize);
    let (sx, sy) = ((frame * 7) % width.max(1), (frame * 5) % height.max(1));
    for y in 0..height {
        for x in 0..width {
            let inside = x >= sx && x < sx + 64 && y >= sy && y < sy + 64;
            v.extend_from_slice(&[
                if inside { 255 } else { (x % 256) as u8 },
                (y % 256) as u8,
                ((x + y + frame) % 256) as u8,
                255,
            ]);
        }
    }
    v
}
