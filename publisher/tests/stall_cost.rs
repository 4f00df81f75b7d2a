//! A stalled session never slows `end_tick`, shown structurally rather than by wall time:
//!
//! - `end_tick` is a plain `fn`: this test has no async runtime at all, so nothing in the
//!   publishing path can await a session;
//! - the work a stalled session costs each tick is constant: the allocations made per tick
//!   (counted on this thread) after 20,000 stalled ticks are the same as after 200, and its
//!   queue stays within the configured bound;
//! - on `latest` and `fifo` streams that constant is zero: a stalled subscriber adds no
//!   allocation at all. Only `coalesce` streams pay a bounded, amortized merge when the queue
//!   overflows (that is what keeps the memory bounded and the final state exact).
//!
//! Kept alone in its binary because it installs a counting global allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use stagelink_publisher::*;

struct Counting;

thread_local! {
    static COUNT: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    if COUNT.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `ticks` ticks.
fn count_ticks(engine: &mut TestEngine, publisher: &mut Publisher, ticks: u32) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNT.with(|c| c.set(true));
    for _ in 0..ticks {
        engine.tick(publisher);
    }
    COUNT.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

#[test]
fn a_stalled_session_costs_end_tick_the_same_whatever_its_backlog() {
    const CAP: usize = 16;
    let hub = Hub::new(HubConfig {
        stream_queue: CAP,
        ..HubConfig::default()
    });
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(3);
    // No runtime here: a session is a state machine the test can drive by hand.
    let mut stalled = Session::new(&hub, ConnectionInfo::default());
    stalled.handle_message(br#"{"type":"hello","protocol":1,"subscribe":["*"]}"#);

    let window = 400;
    count_ticks(&mut engine, &mut publisher, 200); // every sprite exists, queues are full
    let early = count_ticks(&mut engine, &mut publisher, window);
    count_ticks(&mut engine, &mut publisher, 20_000);
    let late = count_ticks(&mut engine, &mut publisher, window);
    eprintln!(
        "allocations per {window} ticks with a stalled session: after 200 ticks {early}, \
         after 20,600 ticks {late}"
    );
    let bound = stagelink_contracts::STREAM_COUNT * CAP;
    let queued = hub.queued_events()[0];
    assert!(queued <= bound, "{queued} queued > {bound}");
    assert!(
        late * 4 <= early * 5,
        "per-tick work grew with the backlog: {early} allocations per {window} ticks early, {late} late"
    );

    // And with the stalled session gone, the same ticks cost what they cost with it minus
    // its bounded share: the engine never paid for its backlog.
    drop(stalled);
    let alone = count_ticks(&mut engine, &mut publisher, window);
    eprintln!("allocations per {window} ticks without it: {alone}");
    assert!(alone <= late, "{alone} > {late}");
    assert_eq!(hub.session_count(), 0);
}

/// On `latest` and `fifo` streams a stalled session costs the publishing thread no allocation
/// at all: replacing or dropping a queued event only moves reference-counted bytes (a replaced
/// `latest` event is re-encoded with its `first_seq` when the session sends it, on its own task).
#[test]
fn a_stalled_latest_or_fifo_subscriber_costs_no_allocation() {
    let run = |with_session: bool| {
        let hub = Hub::new(HubConfig {
            stream_queue: 8,
            ..HubConfig::default()
        });
        let mut publisher = Publisher::new(hub.clone());
        let mut engine = TestEngine::new(9);
        let mut session = Session::new(&hub, ConnectionInfo::default());
        if with_session {
            session.handle_message(
                br#"{"type":"hello","protocol":1,"subscribe":["frames","sounds","palettes","keyframes"]}"#,
            );
        }
        count_ticks(&mut engine, &mut publisher, 100);
        let n = count_ticks(&mut engine, &mut publisher, 1000);
        assert!(hub.queued_events()[0] <= 1 + 8);
        n
    };
    let (without, with) = (run(false), run(true));
    eprintln!("allocations per 1000 ticks: {without} without the stalled session, {with} with it");
    assert_eq!(with, without);
}
