//! Tick cost of the demo movie, per frame: the engine alone (the baseline, measured in the same
//! run), the engine driving a real Publisher with no session, and with one session subscribed
//! to every stream whose messages are taken after each tick (as a transport would).
//!
//! `cargo bench -p stagelink-player --bench tick`

use std::future::Future;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stagelink_player::{demo, publish_tick};
use stagelink_publisher::{ConnectionInfo, Hub, HubConfig, Outgoing, Publisher, Session};

/// Takes every message the session has ready, as a transport would, without waiting: the
/// session's future is polled once per message with a no-op waker.
fn drain(session: &mut Session) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let mut bytes = 0;
    loop {
        let next = std::pin::pin!(session.next_outgoing()).poll(&mut cx);
        match next {
            Poll::Ready(Outgoing::Text(b) | Outgoing::Binary(b) | Outgoing::Raw(b)) => {
                bytes += b.len()
            }
            Poll::Ready(Outgoing::Close { .. }) | Poll::Pending => return bytes,
        }
    }
}

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("demo_tick");
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("engine_only (baseline)", |b| {
        let mut engine = demo::demo_engine();
        b.iter(|| black_box(engine.tick([])));
    });

    group.bench_function("engine+publisher, no session", |b| {
        let hub = Hub::new(HubConfig::default());
        let mut publisher = Publisher::new(hub);
        let mut engine = demo::demo_engine();
        b.iter(|| black_box(publish_tick(&mut engine, &mut publisher)));
    });

    group.bench_function("engine+publisher, 1 session drained", |b| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let hub = Hub::new(HubConfig::default());
        let mut publisher = Publisher::new(hub.clone());
        let mut engine = demo::demo_engine();
        let mut session = Session::new(&hub, ConnectionInfo::default());
        session.handle_message(br#"{"type":"hello","protocol":1,"subscribe":["*"]}"#);
        let _runtime = runtime.enter();
        b.iter(|| {
            let report = publish_tick(&mut engine, &mut publisher);
            black_box(drain(&mut session));
            report
        });
    });
    group.finish();
}

criterion_group!(benches, tick);
criterion_main!(benches);
