//! The host with its sessions on `SessionThreads` (as `stagelink-player` runs it): many clients
//! get every event and every command is acked, then a shutdown still says goodbye to everyone.

mod common;

use common::{Client, Host, TOKEN, hub_config, local_config};
use serde_json::json;
use stagelink_contracts::ErrorCode;
use stagelink_publisher::SessionThreads;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const CLIENTS: usize = 40;
const EVENTS: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_on_session_threads_get_every_event_ack_and_bye() {
    let mut host = Host::start_with(hub_config(), local_config()).await;
    assert!(
        host.hub
            .run_sessions_on(SessionThreads::new(2).expect("threads start"))
    );
    let url = host.url();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let mut client = Client::connect(&url).await;
        client
            .hello(
                json!({"role": "controller", "token": TOKEN, "subscribe": ["sounds"],
                "client": {"id": format!("t-{i}")}}),
            )
            .await;
        clients.push(client);
    }
    assert_eq!(host.hub.session_count(), CLIENTS);
    // Each client sends a command; the engine answers them all in its next tick.
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .send(json!({"type": "command", "id": i + 1,
                "command": {"kind": "custom", "name": "echo", "payload": {"n": i}}}))
            .await;
    }
    // Every hello and command has reached its session (the commands sit in the lane).
    let stats = || host.hub.stats().messages_in.load(Relaxed);
    common::wait_for(|| stats() >= 2 * CLIENTS as u64).await;
    for frame in 1..=EVENTS {
        host.engine.tick_sound(frame);
    }
    // A command that reached its session a moment after the first tick is applied by a later
    // one: tick until all are (the engine never waits for a session).
    let applied = || host.hub.stats().commands[0].load(Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while applied() < CLIENTS as u64 {
        assert!(Instant::now() < deadline, "only {} applied", applied());
        host.engine.tick();
        tokio::task::yield_now().await;
    }
    let received = Arc::new(Barrier::new(CLIENTS + 1));
    let mut readers = JoinSet::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let received = received.clone();
        readers.spawn(async move {
            let (mut acks, mut seqs) = (Vec::new(), Vec::new());
            while acks.is_empty() || seqs.len() < EVENTS as usize {
                let m = client.json().await;
                match m["type"].as_str() {
                    Some("ack") => acks.push(m),
                    Some("event") => seqs.push(m["seq"].as_u64().expect("a seq")),
                    _ => panic!("unexpected {m}"),
                }
            }
            assert_eq!(acks.len(), 1);
            assert_eq!(acks[0]["id"], i + 1);
            assert_eq!(acks[0]["status"], "applied");
            assert_eq!(acks[0]["result"], json!({"n": i}));
            assert_eq!(seqs, (1..=u64::from(EVENTS)).collect::<Vec<_>>());
            received.wait().await;
            client.expect("bye").await;
            client.expect_fatal(ErrorCode::Shutdown).await;
        });
    }
    tokio::time::timeout(Duration::from_secs(30), received.wait())
        .await
        .expect("every client got its ack and every event");
    let Host { hub, server, .. } = host;
    server.shutdown().await;
    while let Some(result) = readers.join_next().await {
        result.expect("every client got its ack, every event, bye and shutdown");
    }
    assert_eq!(hub.session_count(), 0);
}
