//! Serialize once: a flush is encoded once and every session sends the same allocation.

mod common;

use bytes::Bytes;
use common::*;
use serde_json::json;
use stagelink_contracts::*;
use stagelink_publisher::*;

fn event_bytes(session: &mut Session) -> Bytes {
    let out = drain(session);
    assert_eq!(out.len(), 1, "{out:?}");
    match out.into_iter().next().unwrap() {
        Outgoing::Text(b) => b,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn two_sessions_send_the_same_bytes() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut a = connect(&hub, json!({"subscribe": ["sprites"]}));
    let mut b = connect(&hub, json!({"subscribe": ["*"]}));
    publisher.record(SpriteDelta {
        loc_h: Some(12.0),
        ..SpriteDelta::new(3, 1)
    });
    let report = publisher.end_tick(1, &StillEngine::default());
    let (ba, bb) = (event_bytes(&mut a), event_bytes(&mut b));
    assert_eq!(ba, bb);
    assert_eq!(ba.as_ptr(), bb.as_ptr(), "the bytes are shared, not copied");
    assert_eq!(report.bytes, ba.len(), "encoded once");
}

#[tokio::test]
async fn a_thousand_sessions_share_one_allocation() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut sessions: Vec<Session> = (0..1000)
        .map(|_| connect(&hub, json!({"subscribe": ["member_props"]})))
        .collect();
    publisher.record(MemberProp {
        cast_lib: 1,
        member_num: 5,
        prop: "text".into(),
        value: "Score: 120".into(),
    });
    publisher.end_tick(1, &StillEngine::default());
    let first = event_bytes(&mut sessions[0]);
    for s in &mut sessions[1..] {
        assert_eq!(event_bytes(s).as_ptr(), first.as_ptr());
    }
}
