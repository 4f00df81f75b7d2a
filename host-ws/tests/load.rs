//! Many clients at once, and a client that stops reading: every healthy client gets every
//! event, and the stalled one costs only its own bounded queue.

mod common;

use std::sync::Arc;

use common::{Client, Host, TOKEN};
use futures_util::StreamExt;
use serde_json::json;
use stagelink_contracts::{FrameScript, StreamName};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 200;
const EVENTS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_each_receive_every_event() {
    let mut host = Host::start().await;
    let url = host.url();
    // Every client is welcomed (and so subscribed) before the first event is published.
    let ready = Arc::new(Barrier::new(CLIENTS + 1));
    let mut clients = JoinSet::new();
    for i in 0..CLIENTS {
        let (url, ready) = (url.clone(), ready.clone());
        clients.spawn(async move {
            let mut client = Client::connect(&url).await;
            client
                .hello(
                    json!({"role": "observer", "token": TOKEN, "subscribe": ["sounds"],
                    "client": {"id": format!("load-{i}")}}),
                )
                .await;
            ready.wait().await;
            let mut seqs = Vec::new();
            while seqs.len() < EVENTS as usize {
                let event = client.expect("event").await;
                assert_eq!(event["stream"], "sounds");
                assert!(event.get("first_seq").is_none());
                seqs.push(event["seq"].as_u64().unwrap());
            }
            seqs
        });
    }
    ready.wait().await;
    assert_eq!(host.hub.session_count(), CLIENTS);
    for frame in 1..=EVENTS as u32 {
        host.engine.tick_sound(frame);
    }
    let expected: Vec<u64> = (1..=EVENTS).collect();
    let mut finished = 0;
    while let Some(result) = clients.join_next().await {
        assert_eq!(result.expect("the client task succeeds"), expected);
        finished += 1;
    }
    assert_eq!(finished, CLIENTS);
    let drops = host.hub.stats().drops[StreamName::Sounds.index()]
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(drops, 0);
}

/// Large fifo events: far more than the kernel buffers of a client that never reads.
const STALL_EVENTS: u32 = 300;
const SCRIPT_BYTES: usize = 64 * 1024;

/// The `seq` of an event, read from the front of its JSON (the payload is large; the encoder
/// always writes `type`, `stream` and `seq` first).
fn seq_of(text: &str) -> u64 {
    let at = text.find("\"seq\":").expect("an event") + 6;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_does_not_hold_back_the_others() {
    let mut host = Host::start().await;
    let hello = json!({"role": "observer", "token": TOKEN, "subscribe": ["frame_scripts"]});

    // Connected, subscribed, and then never read again.
    let mut stalled = Client::connect(&host.url()).await;
    stalled.hello(hello.clone()).await;
    let mut healthy = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(&host.url()).await;
        client.hello(hello.clone()).await;
        healthy.push(client);
    }

    let script = "x".repeat(SCRIPT_BYTES);
    for frame in 1..=STALL_EVENTS {
        host.engine.tick_with(|p, s| {
            s.frame = frame;
            p.record(FrameScript {
                frame,
                script: script.clone(),
            });
        });
        // Lockstep with the healthy clients only: each gets this very event, in order, no gap.
        for client in &mut healthy {
            let message = tokio::time::timeout(common::WAIT, client.ws.next())
                .await
                .expect("the healthy client is served in time")
                .expect("open")
                .expect("a message");
            let Message::Text(text) = message else {
                panic!("expected an event")
            };
            assert!(text.starts_with(r#"{"type":"event","stream":"frame_scripts""#));
            assert_eq!(seq_of(&text), u64::from(frame));
        }
    }

    // The stalled client's queue overflowed (only its own), so it lost events — and will be
    // told so.
    let drops = host.hub.stats().drops[StreamName::FrameScripts.index()]
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(drops > 0, "the stalled client never fell behind");
    let mut seen_gap = None;
    let mut last_seq = 0;
    while last_seq < u64::from(STALL_EVENTS) {
        match stalled.ws.next().await.expect("open").expect("a message") {
            Message::Text(text) if text.starts_with(r#"{"type":"gap""#) => {
                let gap: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(gap["from_seq"].as_u64(), Some(last_seq + 1), "{gap}");
                seen_gap = Some(gap);
                last_seq = seen_gap.as_ref().unwrap()["to_seq"].as_u64().unwrap();
            }
            Message::Text(text) => {
                let seq = seq_of(&text);
                assert_eq!(
                    seq,
                    last_seq + 1,
                    "events in order, holes only where a gap says"
                );
                last_seq = seq;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let gap = seen_gap.expect("a gap told the stalled client what it missed");
    assert_eq!(gap["stream"], "frame_scripts");
}
