//! The pixel path at 1280×720 (the demo's 640×480 stage scaled):
//!
//! - **wire bytes** per frame over one loop of the demo (240 frames), through
//!   `PixelStore::publish` — the tile bytes (28-byte headers included) a client that keeps up
//!   receives, against raw RGBA (target ≤ 10 %). Printed before the timings;
//! - **encode**: one `PixelStore::publish` of a 1280×720 frame (tiling, change detection, LZ4),
//!   one core (target ≤ 4 ms);
//! - **render**: one frame on the CPU renderer and, when wgpu offers an adapter (lavapipe
//!   counts), on the GPU renderer; the stage size (640×480) too, as the baseline.
//!
//! `cargo bench -p stagelink-player --bench pixels`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stagelink_player::demo;
use stagelink_player::render::{RenderList, StageRenderer};
use stagelink_publisher::PixelStore;

const W: u32 = 1280;
const H: u32 = 720;
/// Consecutive frames kept for the encode benchmark (each publish sees a changed frame).
const RING: usize = 12;

/// One loop of the demo, as render lists (cheap: bitmaps are shared, not copied).
fn demo_loop() -> Vec<RenderList> {
    let mut engine = demo::demo_engine();
    (0..demo::FRAMES)
        .map(|_| {
            engine.tick([]);
            RenderList::from_state(engine.state())
        })
        .collect()
}

/// Renders the loop and reports the bytes on the wire; returns a ring of rendered frames.
fn wire_bytes(lists: &[RenderList]) -> Vec<Vec<u8>> {
    let mut renderer = StageRenderer::cpu();
    let mut store = PixelStore::default();
    let raw = u64::from(W * H * 4);
    let (mut bytes, mut changed, mut total) = (0u64, 0u64, 0u64);
    let mut ring = Vec::new();
    // The first frame is a keyframe for everyone; count the loop's steady state after it.
    for (i, list) in lists.iter().enumerate() {
        let rgba = renderer.render_scaled(list, W, H).unwrap_or_default();
        let stats = store.publish(list.frame, W, H, rgba);
        if i > 0 {
            bytes += stats.bytes_encoded as u64;
            changed += stats.tiles_changed as u64;
            total += stats.tiles_total as u64;
        }
        if (60..60 + RING).contains(&i) {
            ring.push(rgba.to_vec());
        }
    }
    let frames = (lists.len() - 1) as u64;
    let avg = bytes / frames;
    println!(
        "wire bytes per 1280x720 frame over {frames} demo frames: {avg} average \
         ({:.2} % of raw RGBA {raw}); tiles changed {:.1} % of {}",
        avg as f64 * 100.0 / raw as f64,
        changed as f64 * 100.0 / total as f64,
        total / frames,
    );
    ring
}

fn benches(c: &mut Criterion) {
    let lists = demo_loop();
    let ring = wire_bytes(&lists);

    let mut store = PixelStore::default();
    let mut i = 0usize;
    c.bench_function("encode 1280x720 (PixelStore::publish)", |b| {
        b.iter(|| {
            i += 1;
            black_box(store.publish(i as u32, W, H, &ring[i % ring.len()]))
        })
    });

    let mut n = 60usize;
    let mut next = || {
        n = (n + 1) % lists.len();
        &lists[n]
    };
    let mut cpu = StageRenderer::cpu();
    c.bench_function("render cpu 1280x720", |b| {
        b.iter(|| black_box(cpu.render_scaled(next(), W, H).map(<[u8]>::len)))
    });
    c.bench_function("render cpu 640x480 (stage size)", |b| {
        b.iter(|| black_box(cpu.render(next()).map(<[u8]>::len)))
    });
    match StageRenderer::gpu() {
        Ok(mut gpu) => {
            println!("gpu adapter: {}", gpu.name());
            c.bench_function("render gpu 1280x720", |b| {
                b.iter(|| black_box(gpu.render_scaled(next(), W, H).map(<[u8]>::len)))
            });
            c.bench_function("render gpu 640x480 (stage size)", |b| {
                b.iter(|| black_box(gpu.render(next()).map(<[u8]>::len)))
            });
        }
        Err(e) => println!("no GPU render benchmark: {e}"),
    }
}

criterion_group! {
    name = pixels;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(pixels);
