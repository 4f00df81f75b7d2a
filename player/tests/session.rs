//! The engine driving the real Publisher, seen from a real Session (driven in-process, no
//! transport): welcome, snapshot, every stream's events, acks with the right frames and codes,
//! and requests answered from the engine.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use serde_json::{Value, json};
use stagelink_player::{demo, publish_tick};
use stagelink_publisher::{ConnectionInfo, Hub, HubConfig, Outgoing, Publisher, Session};

/// Every message the session has ready now. Nothing waits: the session's future is polled
/// once per message with a no-op waker, as a transport would find them queued.
async fn drain(session: &mut Session) -> Vec<Value> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    loop {
        let next = std::pin::pin!(session.next_outgoing()).poll(&mut cx);
        match next {
            Poll::Ready(Outgoing::Text(bytes)) => out.push(serde_json::from_slice(&bytes).unwrap()),
            Poll::Ready(Outgoing::Binary(_)) => {}
            Poll::Ready(Outgoing::Raw(bytes)) => {
                panic!("raw bytes without a direct writer: {bytes:?}")
            }
            Poll::Ready(Outgoing::Close { code, reason }) => {
                panic!("session closed: {code} {reason}")
            }
            Poll::Pending => return out,
        }
    }
}

fn send(session: &mut Session, message: Value) {
    session.handle_message(&serde_json::to_vec(&message).unwrap());
}

fn ack(messages: &[Value], id: u64) -> Value {
    messages
        .iter()
        .find(|m| m["type"] == "ack" && m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no ack {id} in {messages:?}"))
}

#[tokio::test]
async fn a_session_sees_every_stream_and_every_ack() {
    let hub = Hub::new(HubConfig {
        server_name: "stagelink-player".into(),
        ..HubConfig::default()
    });
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = demo::demo_engine();
    publish_tick(&mut engine, &mut publisher);

    let mut session = Session::new(&hub, ConnectionInfo::default());
    send(
        &mut session,
        json!({"type":"hello","protocol":1,"project":"demo","role":"controller","subscribe":["*"],"snapshot":true}),
    );
    let welcome = drain(&mut session).await;
    assert_eq!(welcome[0]["type"], "welcome");
    assert_eq!(welcome[0]["server"]["name"], "stagelink-player");

    // The snapshot is taken at the next tick boundary, consistent with the events after it.
    publish_tick(&mut engine, &mut publisher);
    let messages = drain(&mut session).await;
    let snapshot = messages
        .iter()
        .find(|m| m["type"] == "snapshot")
        .expect("a snapshot");
    assert_eq!(snapshot["movie"]["frame"], 2);
    assert_eq!(snapshot["movie"]["frame_count"], 240);
    assert!(snapshot["sprites"].as_array().unwrap().len() >= 67);
    assert_eq!(snapshot["stage_props"]["width"], 640);
    assert_eq!(snapshot["movie_props"]["frame_label"], "intro");
    assert!(snapshot["members"].as_array().unwrap().len() >= 15);
    let frames_seq = snapshot["seqs"]["frames"].as_u64().unwrap();

    // One loop of the movie: every JSON stream arrives, seqs without holes.
    let mut seen = BTreeSet::new();
    let mut last_frames_seq = frames_seq;
    for _ in 0..240 {
        publish_tick(&mut engine, &mut publisher);
        for m in drain(&mut session).await {
            if m["type"] == "event" {
                let stream = m["stream"].as_str().unwrap().to_owned();
                if stream == "frames" {
                    assert_eq!(m["seq"].as_u64().unwrap(), last_frames_seq + 1);
                    last_frames_seq += 1;
                    assert_eq!(m["items"][0]["frame"], m["frame"]);
                }
                seen.insert(stream);
            }
            assert_ne!(m["type"], "gap", "no client here is slow: {m}");
        }
    }
    let expected: BTreeSet<String> = common::json_streams()
        .into_iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(seen, expected);

    // Commands: each acked once, after the tick that applied it, with that tick's frame.
    send(
        &mut session,
        json!({"type":"command","id":1,"command":{"kind":"go_to_frame","frame":42}}),
    );
    send(
        &mut session,
        json!({"type":"command","id":2,"command":{"kind":"set_sprite_prop","sprite_num":99,"begin_frame":1,"prop":"loc_h","value":1}}),
    );
    send(
        &mut session,
        json!({"type":"command","id":3,"command":{"kind":"custom","name":"list_sprites_at","payload":{"frame":10}}}),
    );
    send(
        &mut session,
        json!({"type":"command","id":4,"command":{"kind":"batch","commands":[{"kind":"pause"},{"kind":"set_tempo","tempo":0}]}}),
    );
    send(
        &mut session,
        json!({"type":"command","id":5,"command":{"kind":"custom","name":"explode"}}),
    );
    send(
        &mut session,
        json!({"type":"request","id":6,"what":"project"}),
    );
    send(
        &mut session,
        json!({"type":"request","id":7,"what":"movie_state"}),
    );
    publish_tick(&mut engine, &mut publisher);
    let messages = drain(&mut session).await;

    assert_eq!(
        ack(&messages, 1),
        json!({"type":"ack","id":1,"status":"applied","frame":42})
    );
    let a2 = ack(&messages, 2);
    assert_eq!(a2["status"], "rejected");
    assert_eq!(a2["error"]["code"], "unknown_sprite");
    let a3 = ack(&messages, 3);
    assert_eq!(a3["status"], "applied");
    assert!(a3["result"].as_array().unwrap().len() >= 64);
    let a4 = ack(&messages, 4);
    assert_eq!(a4["error"]["code"], "out_of_range");
    assert!(
        a4["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("command 1 of batch")
    );
    assert_eq!(ack(&messages, 5)["error"]["code"], "unknown_command");

    let project = messages
        .iter()
        .find(|m| m["type"] == "response" && m["id"] == 6)
        .unwrap();
    assert_eq!(project["ok"], true);
    assert_eq!(project["data"]["name"], "demo");
    assert_eq!(
        project["data"]["score"]["frame_scripts"][3]["script"],
        "loop_to_start"
    );
    let state = messages
        .iter()
        .find(|m| m["type"] == "response" && m["id"] == 7)
        .unwrap();
    assert_eq!(
        state["data"],
        json!({"frame":42,"frame_count":240,"tempo":30,"playing":true})
    );

    // The jump's events carry frame 42, and the batch changed nothing (still playing).
    let frames = messages
        .iter()
        .find(|m| m["type"] == "event" && m["stream"] == "frames")
        .unwrap();
    assert_eq!(frames["items"][0]["frame"], 42);
    assert_eq!(frames["items"][0]["playing"], true);
    assert_eq!(hub.movie_state().unwrap().frame, 42);
}

#[tokio::test]
async fn observers_cannot_steer_the_engine() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = demo::demo_engine();
    let mut session = Session::new(&hub, ConnectionInfo::default());
    send(
        &mut session,
        json!({"type":"hello","protocol":1,"role":"observer"}),
    );
    drain(&mut session).await;
    send(
        &mut session,
        json!({"type":"command","id":1,"command":{"kind":"pause"}}),
    );
    publish_tick(&mut engine, &mut publisher);
    let messages = drain(&mut session).await;
    assert_eq!(ack(&messages, 1)["error"]["code"], "forbidden");
    assert!(engine.state().playing());
}
