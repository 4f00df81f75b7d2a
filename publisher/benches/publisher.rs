//! Publisher hot paths, each next to a baseline measured in the same run.
//!
//! 1. `record/*` — recording one property change (`MovieProp`), target median ≤ 100 ns;
//!    baseline: a plain `Vec::push` of the same item.
//! 2. `end_tick_64_sprites/*` — a tick where 64 sprites change a few fields each, including the
//!    one serialization of the flush, target ≤ 50 µs; baseline: `serde_json::to_vec` of the same
//!    64 items.
//! 3. `fan_out_1000/*` — one flush fanned out to 1,000 subscribed sessions (throughput is per
//!    session); baseline: copying the same bytes 1,000 times. `tests/fanout_shared.rs` proves the
//!    sessions receive the very same allocation.
//!
//! Run: `cargo bench -p stagelink-publisher -- --warm-up-time 1 --measurement-time 3`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stagelink_contracts::{
    Color, MovieProp, MovieState, PropValue, SpriteDelta, StageSnapshot, StreamName, encode_event,
};
use stagelink_publisher::{ConnectionInfo, Hub, HubConfig, Outgoing, Publisher, Session};

struct Engine;

impl stagelink_publisher::SnapshotProvider for Engine {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: 1,
            frame_count: 240,
            tempo: 30,
            playing: true,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot::default()
    }
    fn project(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// Takes everything a session has ready, without waiting (its future is polled once per
/// message with a no-op waker; a pending one is dropped).
fn drain(session: &mut Session) -> usize {
    let mut n = 0;
    loop {
        let mut fut = pin!(session.next_outgoing());
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Outgoing::Close { .. }) | Poll::Pending => return n,
            Poll::Ready(out) => {
                black_box(out);
                n += 1;
            }
        }
    }
}

fn session(hub: &Hub, streams: &str) -> Session {
    let mut s = Session::new(hub, ConnectionInfo::default());
    let hello = format!(r#"{{"type":"hello","protocol":1,"subscribe":{streams}}}"#);
    s.handle_message(hello.as_bytes());
    drain(&mut s);
    s
}

fn sprite(i: u32, tick: u64) -> SpriteDelta {
    let t = tick as f64;
    SpriteDelta {
        loc_h: Some(100.0 + t + f64::from(i)),
        loc_v: Some(200.5 - t),
        rotation: Some((t * 3.0) % 360.0),
        color: tick.is_multiple_of(4).then(|| Color::rgb(i as u8, 64, 200)),
        ..SpriteDelta::new(i + 1, 1)
    }
}

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub);
    let mut n = 0i64;
    g.bench_function("movie_prop", |b| {
        b.iter(|| {
            n += 1;
            publisher.record(black_box(MovieProp {
                prop: "title".into(),
                value: PropValue::Int(n),
            }));
        })
    });
    // Eight properties in turn: the buffer holds eight items, each write hits an existing key.
    let props = [
        "title",
        "loop",
        "update_lock",
        "a",
        "bb",
        "ccc",
        "dddd",
        "eeeee",
    ];
    g.bench_function("movie_prop_8_keys", |b| {
        b.iter(|| {
            n += 1;
            publisher.record(black_box(MovieProp {
                prop: props[(n & 7) as usize].into(),
                value: PropValue::Int(n),
            }));
        })
    });
    let mut baseline: Vec<MovieProp> = Vec::with_capacity(1024);
    g.bench_function("baseline_vec_push", |b| {
        b.iter(|| {
            n += 1;
            if baseline.len() == 1024 {
                baseline.clear();
            }
            baseline.push(black_box(MovieProp {
                prop: "title".into(),
                value: PropValue::Int(n),
            }));
        })
    });
    g.finish();
}

fn end_tick(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut g = c.benchmark_group("end_tick_64_sprites");
    for sessions in [0usize, 1] {
        let hub = Hub::new(HubConfig::default());
        let mut publisher = Publisher::new(hub.clone());
        let mut clients: Vec<Session> = (0..sessions)
            .map(|_| session(&hub, r#"["sprites"]"#))
            .collect();
        let mut tick = 0u64;
        // The whole publishing cost of the tick: 64 records, then the flush.
        g.bench_function(format!("record_and_end_tick/{sessions}_sessions"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    tick += 1;
                    let start = Instant::now();
                    for i in 0..64 {
                        publisher.record(sprite(i, tick));
                    }
                    black_box(publisher.end_tick(tick as u32, &Engine));
                    total += start.elapsed();
                    clients.iter_mut().for_each(|s| {
                        drain(s);
                    });
                }
                total
            })
        });
        // The flush alone (the 64 records happen outside the timed region).
        g.bench_function(format!("end_tick_only/{sessions}_sessions"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    tick += 1;
                    for i in 0..64 {
                        publisher.record(sprite(i, tick));
                    }
                    let start = Instant::now();
                    black_box(publisher.end_tick(tick as u32, &Engine));
                    total += start.elapsed();
                    clients.iter_mut().for_each(|s| {
                        drain(s);
                    });
                }
                total
            })
        });
    }
    let items: Vec<SpriteDelta> = (0..64).map(|i| sprite(i, 7)).collect();
    g.bench_function("baseline_serde_json_to_vec", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&items)).unwrap()))
    });
    g.finish();
}

fn fan_out(c: &mut Criterion) {
    const SESSIONS: usize = 1000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let hub = Hub::new(HubConfig::default());
    let _publisher = Publisher::new(hub.clone());
    let mut clients: Vec<Session> = (0..SESSIONS)
        .map(|_| session(&hub, r#"["sprites"]"#))
        .collect();
    let items: Vec<SpriteDelta> = (0..64).map(|i| sprite(i, 7)).collect();
    let bytes = encode_event(StreamName::Sprites, 1, None, 1, &items);

    let mut g = c.benchmark_group("fan_out_1000");
    g.throughput(Throughput::Elements(SESSIONS as u64));
    // Every session reads what it got before the next flush (untimed), as live clients do.
    g.bench_function(format!("shared_bytes_{}B", bytes.len()), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let seq = hub.next_seq(StreamName::Sprites);
                let start = Instant::now();
                hub.fan_out(StreamName::Sprites, seq, 1, black_box(&bytes));
                total += start.elapsed();
                clients.iter_mut().for_each(|s| {
                    drain(s);
                });
            }
            total
        })
    });
    let mut copies: Vec<Bytes> = Vec::with_capacity(SESSIONS);
    g.bench_function(format!("baseline_copy_{}B", bytes.len()), |b| {
        b.iter(|| {
            copies.clear();
            for _ in 0..SESSIONS {
                copies.push(Bytes::copy_from_slice(black_box(&bytes)));
            }
            black_box(&copies);
        })
    });
    g.finish();
}

criterion_group!(benches, record, end_tick, fan_out);
criterion_main!(benches);
