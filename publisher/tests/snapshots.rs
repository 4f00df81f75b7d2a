//! Snapshot/live consistency (protocol §9) while the engine keeps changing things: for every
//! session and stream, `snapshot.seqs[s] + 1` is the first live seq of `s` (or a gap's
//! `from_seq`), with no missing or duplicated seq afterwards, and the client's state is exact.

mod common;

use common::*;
use serde_json::{Value, json};
use stagelink_contracts::*;
use stagelink_publisher::*;

const COALESCE: [&str; 4] = ["sprites", "member_props", "movie_props", "stage_props"];

#[derive(Debug, Clone, Copy)]
enum Join {
    /// `hello` with `snapshot: true`.
    Hello,
    /// `hello` with no streams, then `subscribe` with `snapshot: true`.
    Subscribe,
    /// Subscribed live from the start, later re-subscribes with `snapshot: true` while events
    /// are still queued for it.
    Resubscribe { at: u32 },
}

struct Client {
    session: Session,
    mirror: Mirror,
    every: u32,
    join: Join,
    /// Snapshots asked for and received.
    asked: usize,
    /// Streams subscribed (for the final state check).
    all: bool,
}

impl Client {
    fn read(&mut self) {
        for msg in drain_json(&mut self.session) {
            match msg["type"].as_str() {
                Some("event" | "gap") => {
                    if matches!(self.join, Join::Hello | Join::Subscribe) {
                        assert!(
                            self.mirror.snapshots > 0,
                            "a live event before the snapshot: {msg}"
                        );
                    }
                }
                Some("snapshot") => {
                    // The seqs cover every event stream but pixels.
                    let seqs = msg["seqs"].as_object().unwrap();
                    assert_eq!(seqs.len(), STREAM_COUNT - 1);
                    assert!(!seqs.contains_key("pixels"));
                }
                _ => {}
            }
            self.mirror.apply(&msg);
        }
    }
}

#[tokio::test]
async fn many_sessions_join_with_snapshots_at_random_ticks() {
    let hub = Hub::new(HubConfig {
        stream_queue: 6,
        ..HubConfig::default()
    });
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(11);
    let mut rng = Rng::new(99);
    let mut clients: Vec<Client> = Vec::new();

    for tick in 1..=1500u32 {
        engine.tick(&mut publisher);
        if rng.chance(4) && clients.len() < 60 {
            let every = [1, 2, 5, 40][rng.below(4) as usize];
            let all = rng.chance(60);
            let streams: Value = if all {
                json!(["*"])
            } else {
                json!(["sprites", "sounds", "frames"])
            };
            let join = match rng.below(3) {
                0 => Join::Hello,
                1 => Join::Subscribe,
                _ => Join::Resubscribe {
                    at: tick + 1 + rng.below(30) as u32,
                },
            };
            let (session, mirror, asked) = match join {
                Join::Hello => (
                    connect(&hub, json!({"subscribe": streams, "snapshot": true})),
                    Mirror::default(),
                    1,
                ),
                Join::Subscribe => {
                    let mut s = connect(&hub, json!({}));
                    send(
                        &mut s,
                        json!({"type":"subscribe","streams":streams,"snapshot":true}),
                    );
                    (s, Mirror::default(), 1)
                }
                Join::Resubscribe { .. } => {
                    // Live without a snapshot: it only learns the seqs from its first events.
                    (
                        connect(&hub, json!({"subscribe": streams})),
                        Mirror::default(),
                        0,
                    )
                }
            };
            clients.push(Client {
                session,
                mirror,
                every,
                join,
                asked,
                all,
            });
        }
        for c in &mut clients {
            if let Join::Resubscribe { at } = c.join
                && at == tick
            {
                send(
                    &mut c.session,
                    json!({"type":"subscribe","streams":["sprites"],"snapshot":true}),
                );
                c.asked += 1;
            }
            if tick % c.every == 0 {
                c.read();
            }
        }
    }
    // One quiet tick answers the last snapshot requests; then everyone reads everything.
    engine.tick(&mut publisher);
    assert!(clients.len() >= 30, "{} clients", clients.len());
    let mut checked = 0;
    for (i, c) in clients.iter_mut().enumerate() {
        c.read();
        assert_eq!(
            c.mirror.snapshots, c.asked,
            "client {i}: one snapshot per request"
        );
        if c.all && c.asked > 0 {
            c.mirror.assert_matches(&engine, &format!("client {i}"));
            checked += 1;
        }
        // After the last snapshot, every stream it carries resumed at seqs + 1 and then went on
        // without holes or repeats: `Mirror::apply` asserted that on every message.
        for s in COALESCE {
            if c.all {
                assert_eq!(
                    c.mirror.last.get(s).copied(),
                    Some(hub.seqs()[StreamName::parse(s).unwrap().index()]),
                    "client {i} caught up on {s}"
                );
            }
        }
    }
    assert!(checked > 5);
}

/// The first live event after a snapshot is exactly `seqs[s] + 1`, even when the snapshot is
/// requested while the engine already has events of this tick queued.
#[tokio::test]
async fn snapshot_then_first_live_event_is_the_next_seq() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(5);
    for _ in 0..10 {
        engine.tick(&mut publisher);
    }
    let mut s = connect(&hub, json!({"subscribe": ["*"], "snapshot": true}));
    // Changes recorded before the snapshot's tick ends are in the snapshot, not in events.
    engine.change_sprite(&mut publisher, 24);
    engine.tick(&mut publisher);
    let msgs = drain_json(&mut s);
    assert_eq!(msgs[0]["type"], "snapshot", "{:?}", msgs[0]);
    assert_eq!(msgs.len(), 1, "nothing live before the next tick");
    let seqs = msgs[0]["seqs"].clone();
    assert_eq!(seqs["frames"], 11);
    engine.tick(&mut publisher);
    for m in drain_json(&mut s) {
        assert_eq!(m["type"], "event");
        let stream = m["stream"].as_str().unwrap();
        assert_eq!(m["seq"].as_u64(), seqs[stream].as_u64().map(|n| n + 1));
    }
}

/// §9: events of `s` with `seq <= seqs[s]` that were queued when the snapshot was taken are
/// sent before it or discarded — never after it.
#[tokio::test]
async fn resubscribing_with_a_snapshot_discards_covered_queued_events() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(6);
    let mut s = connect(&hub, json!({"subscribe": ["*"]}));
    let mut mirror = Mirror::from_start();
    for _ in 0..5 {
        engine.tick(&mut publisher);
    }
    for m in drain_json(&mut s) {
        mirror.apply(&m);
    }
    for _ in 0..5 {
        engine.tick(&mut publisher);
    }
    // Queued: five ticks of events. Now ask for a snapshot of a stream already live.
    send(
        &mut s,
        json!({"type":"subscribe","streams":["frames"],"snapshot":true}),
    );
    engine.tick(&mut publisher);
    let msgs = drain_json(&mut s);
    let at = msgs.iter().position(|m| m["type"] == "snapshot").unwrap();
    for m in &msgs {
        mirror.apply(m); // asserts seqs[s] + 1 follows the snapshot for every stream
    }
    mirror.assert_matches(&engine, "resubscribed");
    assert!(
        msgs[at + 1..].iter().all(|m| m["type"] != "event"
            || m["seq"].as_u64() > msgs[at]["seqs"][m["stream"].as_str().unwrap()].as_u64()),
        "an event the snapshot already covers came after it"
    );
}
