//! End to end through one relay node: a real host (a Hub + Publisher publishing through the
//! uplink) and real WebSocket clients.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use stagelink_host_ws::uplink::UplinkState;
use stagelink_relay::{RelayConfig, RelayServer};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn clients_see_the_host_through_the_relay() {
    let (server, url) = relay(RelayConfig {
        dev: true,
        ..RelayConfig::default()
    })
    .await;
    let mut host = TestHost::start(&url, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;

    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut ws = connect(&url, client_hello("demo", None)).await;
        assert_eq!(next_json(&mut ws).await["type"], "welcome");
        clients.push(ws);
    }
    for ws in &mut clients {
        let snap = until(ws, Some(&host), |v| v["type"] == "snapshot").await;
        // A resync (a `host_joined` racing this client's hello) may send a newer snapshot
        // first; the first live event follows the last snapshot before it.
        let last_snapshot = std::cell::Cell::new(snap["seqs"]["frames"].as_u64().unwrap());
        let between = std::cell::RefCell::new(Vec::new());
        let ev = until(ws, Some(&host), |v| {
            between.borrow_mut().push(v["type"].to_string());
            if v["type"] == "snapshot" {
                last_snapshot.set(v["seqs"]["frames"].as_u64().unwrap());
            }
            v["type"] == "event" && v["stream"] == "frames"
        })
        .await;
        let seq = last_snapshot.get();
        // `frames` is a `latest` stream: an event merged while queued says which seqs it
        // stands for with `first_seq`.
        let first = ev["first_seq"].as_u64().or(ev["seq"].as_u64()).unwrap();
        assert_eq!(
            first,
            seq + 1,
            "snapshot then live, no hole: {ev} after {:?}",
            between.borrow()
        );
    }

    // A command from a client reaches the host and its ack comes back to that client only.
    let ws = &mut clients[0];
    ws.send(Message::Text(
        json!({"type":"command","id":41,"command":{"kind":"go_to_frame","frame":7}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = until(ws, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(ack["id"], 41);
    assert_eq!(ack["status"], "applied");
    assert_eq!(ack["frame"], 7);
    ws.send(Message::Text(
        json!({"type":"command","id":42,"command":{"kind":"go_to_frame","frame":700}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = until(ws, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(42), Some("rejected"))
    );
    assert_eq!(ack["error"]["code"], "out_of_range");

    // Requests are forwarded and answered.
    ws.send(Message::Text(
        json!({"type":"request","id":5,"what":"project"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let resp = until(ws, Some(&host), |v| v["type"] == "response").await;
    assert_eq!(resp["id"], 5);
    assert_eq!(resp["data"]["name"], "test-movie");

    // The registry lists the project.
    let body: Value = http_get(&format!("http://{}/projects", server.local_addr())).await;
    assert_eq!(body["projects"][0]["name"], "demo");
    assert_eq!(body["projects"][0]["clients"], 5);
    assert_eq!(body["projects"][0]["host"], true);

    host.stop().await;
    server.shutdown().await;
}

/// The relay gets the host's answer to its `stage` request ahead of events the host queued
/// before answering; a client's snapshot must still never be followed by an event it covers.
#[tokio::test]
async fn a_late_client_gets_no_event_its_snapshot_covers() {
    let (server, url) = relay(RelayConfig {
        dev: true,
        ..RelayConfig::default()
    })
    .await;
    let mut host = TestHost::start(&url, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    let mut early = connect(&url, client_hello("demo", None)).await;
    until(&mut early, Some(&host), |v| v["type"] == "snapshot").await;
    for _ in 0..3 {
        let mut late = connect(&url, client_hello("demo", None)).await;
        let snap = until(&mut late, Some(&host), |v| v["type"] == "snapshot").await;
        let covered = snap["seqs"]["frames"].as_u64().unwrap();
        let ev = until(&mut late, Some(&host), |v| {
            v["type"] == "event" && v["stream"] == "frames"
        })
        .await;
        assert!(
            ev["seq"].as_u64().unwrap() > covered,
            "{ev} after a snapshot at {covered}"
        );
        until(&mut early, Some(&host), |v| v["type"] == "event").await;
    }
    host.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn host_loss_and_return() {
    let (server, url) = relay(RelayConfig {
        dev: true,
        ..RelayConfig::default()
    })
    .await;
    let mut host = TestHost::start(&url, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    let mut ws = connect(&url, client_hello("demo", None)).await;
    until(&mut ws, Some(&host), |v| v["type"] == "snapshot").await;

    host.stop().await;
    let notice = until(&mut ws, None, |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_left");
    // Commands meanwhile are rejected with a clear code, not lost.
    ws.send(Message::Text(
        json!({"type":"command","id":1,"command":{"kind":"pause"}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = until(&mut ws, None, |v| v["type"] == "ack").await;
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["error"]["code"], "no_host");

    let mut host = TestHost::start(&url, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    let notice = until(&mut ws, Some(&host), |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_joined");
    let snap = until(&mut ws, Some(&host), |v| v["type"] == "snapshot").await;
    assert!(snap["movie"].is_object());
    until(&mut ws, Some(&host), |v| v["type"] == "event").await;
    host.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn auth_and_takeover_rules() {
    let mut config = RelayConfig::default();
    config
        .set_token("demo=hosttok", |p| &mut p.host_token)
        .unwrap();
    config
        .set_token("demo=clienttok", |p| &mut p.client_token)
        .unwrap();
    let (server, url) = relay(config).await;

    // A host without the token is refused for good.
    let mut bad = TestHost::start(&url, "demo", Some("wrong"), false);
    let s = bad
        .wait_state(|s| matches!(s, UplinkState::Stopped(_)))
        .await;
    assert!(
        matches!(s, UplinkState::Stopped(ref why) if why.contains("auth_failed")),
        "{s:?}"
    );
    bad.stop().await;

    let mut first = TestHost::start(&url, "demo", Some("hosttok"), false);
    first.wait_state(|s| *s == UplinkState::Connected).await;

    // A second host without takeover: project_taken.
    let mut second = TestHost::start(&url, "demo", Some("hosttok"), false);
    let s = second
        .wait_state(|s| matches!(s, UplinkState::Stopped(_)))
        .await;
    assert!(
        matches!(s, UplinkState::Stopped(ref why) if why.contains("project_taken")),
        "{s:?}"
    );
    second.stop().await;

    // With takeover and the token: the old host is replaced.
    assert_eq!(*first.state.borrow(), UplinkState::Connected);
    let mut third = TestHost::start(&url, "demo", Some("hosttok"), true);
    third.wait_state(|s| *s == UplinkState::Connected).await;
    let s = first
        .wait_state(|s| matches!(s, UplinkState::Stopped(_)))
        .await;
    assert!(
        matches!(s, UplinkState::Stopped(ref why) if why.contains("session_replaced")),
        "{s:?}"
    );

    // Clients need the client token.
    let mut ws = connect(&url, client_hello("demo", None)).await;
    let err = next_json(&mut ws).await;
    assert_eq!(err["code"], "auth_failed");
    let mut ws = connect(&url, client_hello("demo", Some("clienttok"))).await;
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    // Unknown project.
    let mut ws = connect(&url, client_hello("nope", Some("clienttok"))).await;
    let err = next_json(&mut ws).await;
    assert_eq!(err["code"], "unknown_project");
    assert_eq!(next_json(&mut ws).await["code"], 4009);

    first.stop().await;
    third.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn dev_mode_is_refused_off_loopback() {
    let err = RelayServer::start(RelayConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        dev: true,
        ..RelayConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[tokio::test]
async fn in_dev_mode_a_client_can_wait_for_its_host() {
    let (server, url) = relay(RelayConfig {
        dev: true,
        ..RelayConfig::default()
    })
    .await;
    let mut ws = connect(&url, client_hello("later", None)).await;
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    let notice = until(&mut ws, None, |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_left");
    ws.send(Message::Text(
        json!({"type":"command","id":3,"command":{"kind":"pause"}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = until(&mut ws, None, |v| v["type"] == "ack").await;
    assert_eq!(ack["error"]["code"], "no_host");

    let mut host = TestHost::start(&url, "later", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    let notice = until(&mut ws, Some(&host), |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_joined");
    let snap = until(&mut ws, Some(&host), |v| v["type"] == "snapshot").await;
    let seq = snap["seqs"]["frames"].as_u64().unwrap();
    let ev = until(&mut ws, Some(&host), |v| {
        v["type"] == "event" && v["stream"] == "frames"
    })
    .await;
    let first = ev["first_seq"].as_u64().or(ev["seq"].as_u64()).unwrap();
    assert_eq!(first, seq + 1);
    host.stop().await;
    server.shutdown().await;
}
