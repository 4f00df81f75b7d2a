//! A first end-to-end pass through Publisher → Hub → Session without any transport.

use stagelink_contracts::*;
use stagelink_publisher::*;

struct Engine {
    frame: u32,
}

impl SnapshotProvider for Engine {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: 10,
            tempo: 30,
            playing: true,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot {
            movie: Some(self.movie_state()),
            ..StageSnapshot::default()
        }
    }
    fn project(&self) -> serde_json::Value {
        serde_json::json!({"name": "test"})
    }
}

async fn next_json(session: &mut Session) -> serde_json::Value {
    match session.next_outgoing().await {
        Outgoing::Text(b) => serde_json::from_slice(&b).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn hello_snapshot_then_live_and_a_command() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = Engine { frame: 1 };
    publisher.record(MovieProp {
        prop: "title".into(),
        value: "before".into(),
    });
    publisher.end_tick(1, &engine);

    let mut session = Session::new(&hub, ConnectionInfo::default());
    let flow = session.handle_message(
        br#"{"type":"hello","protocol":1,"role":"controller","subscribe":["*"],"snapshot":true}"#,
    );
    assert_eq!(flow, Flow::Continue);
    assert_eq!(next_json(&mut session).await["type"], "welcome");

    // Changes before the snapshot is taken are in the snapshot, not sent as events.
    for i in 0..1000 {
        publisher.record(MovieProp {
            prop: "title".into(),
            value: PropValue::Int(i),
        });
    }
    engine.frame = 2;
    publisher.end_tick(2, &engine);
    let snap = next_json(&mut session).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["seqs"]["movie_props"], 2);

    publisher.record(MovieProp {
        prop: "title".into(),
        value: "after".into(),
    });
    publisher.end_tick(3, &engine);
    let event = next_json(&mut session).await;
    assert_eq!(event["type"], "event");
    assert_eq!(event["seq"], 3);
    assert_eq!(event["items"][0]["value"], "after");

    session.handle_message(br#"{"type":"command","id":7,"command":{"kind":"pause"}}"#);
    let commands = publisher.drain_commands();
    assert_eq!(commands.len(), 1);
    for c in commands {
        c.applied(3, None);
    }
    let ack = next_json(&mut session).await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["id"], 7);
    assert_eq!(ack["status"], "applied");
}
