//! Several relay nodes sharing projects through a real Redis: a client on one node observes and
//! controls a host on another; Redis restarting; a node going away; takeover across nodes.
//!
//! Each test starts its own `redis-server` on a free port (no persistence) and kills it at the
//! end. They are ignored by default (`scripts/test` runs them); without `redis-server` they skip,
//! or fail when `STAGELINK_REQUIRE_REDIS=1`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use stagelink_host_ws::uplink::UplinkState;
use stagelink_relay::{BackplaneHealth, RelayConfig, RelayServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Whether the Redis tests can run: `redis-server` is installed. Without it they skip — unless
/// `STAGELINK_REQUIRE_REDIS=1`, when a missing Redis is a failure, not a silent pass.
fn redis_available() -> bool {
    let installed = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return true;
    }
    assert!(
        std::env::var("STAGELINK_REQUIRE_REDIS").as_deref() != Ok("1"),
        "redis-server is not installed (Debian package redis-server) and STAGELINK_REQUIRE_REDIS=1"
    );
    eprintln!("skipping: redis-server is not installed");
    false
}

/// A `redis-server` of our own, without persistence.
struct Redis {
    child: tokio::process::Child,
    port: u16,
}

impl Redis {
    /// Starts one on `port` and waits until it accepts connections.
    async fn start(port: u16) -> Self {
        let mut child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.expect("redis-server output") {
                if line.contains("Ready to accept connections") {
                    return;
                }
            }
            panic!("redis-server exited before it was ready");
        })
        .await
        .expect("redis-server ready in time");
        // Keep reading its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A relay node in dev mode sharing projects through `redis`.
async fn node(redis: &str, id: &str) -> (RelayServer, String) {
    let (server, url) = relay(RelayConfig {
        dev: true,
        backplane: Some(redis.into()),
        node_id: Some(id.into()),
        ..RelayConfig::default()
    })
    .await;
    assert!(
        server
            .relay
            .backplane
            .wait_for_health(BackplaneHealth::Up, WAIT)
            .await,
        "{id} connects to Redis"
    );
    (server, url)
}

async fn healthz(server: &RelayServer) -> Value {
    http_get(&format!("http://{}/healthz", server.local_addr())).await
}

async fn projects(server: &RelayServer) -> Value {
    http_get(&format!("http://{}/projects", server.local_addr())).await
}

fn row<'a>(listing: &'a Value, project: &str) -> Option<&'a Value> {
    listing["projects"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == project)
}

/// Polls `GET /projects` until `project`'s row satisfies `want` (the registry is written
/// asynchronously); returns that row.
async fn wait_row(server: &RelayServer, project: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        poll.tick().await;
        let listing = projects(server).await;
        if let Some(r) = row(&listing, project).filter(|r| want(r)) {
            return r.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching row for `{project}` in time: {listing}"
        );
    }
}

async fn wait_health(server: &RelayServer, want: BackplaneHealth) {
    assert!(
        server.relay.backplane.wait_for_health(want, WAIT).await,
        "backplane of {} not {want:?} in time",
        server.relay.node_id
    );
}

async fn command(ws: &mut Ws, id: u64, command: Value) {
    ws.send(Message::Text(
        json!({"type":"command","id":id,"command":command})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
}

/// Reads the next frames event with a seq above `after`; returns its seq.
async fn frames_after(ws: &mut Ws, host: &TestHost, after: u64) -> u64 {
    let ev = until(ws, Some(host), |v| {
        v["type"] == "event" && v["stream"] == "frames" && v["seq"].as_u64() > Some(after)
    })
    .await;
    ev["seq"].as_u64().unwrap()
}

/// A client that got its snapshot and the first live event right after it; returns that seq.
async fn synced(ws: &mut Ws, host: &TestHost) -> u64 {
    let snap = until(ws, Some(host), |v| v["type"] == "snapshot").await;
    assert!(snap["movie"].is_object(), "{snap}");
    let seq = snap["seqs"]["frames"].as_u64().unwrap();
    let ev = until(ws, Some(host), |v| {
        v["type"] == "event" && v["stream"] == "frames"
    })
    .await;
    // A `latest` event may stand for several seqs nobody had time to send (`first_seq`, merged
    // by the host for the relay or by the relay for this client): no hole means the run it
    // stands for reaches back to the snapshot, and it is newer than the snapshot.
    let (first, last) = (
        ev.get("first_seq").unwrap_or(&ev["seq"]).as_u64().unwrap(),
        ev["seq"].as_u64().unwrap(),
    );
    assert!(
        first <= seq + 1 && last > seq,
        "snapshot then live, no hole: {ev} after {snap}"
    );
    last
}

#[tokio::test]
#[ignore = "needs redis-server; run scripts/test"]
async fn a_client_on_one_node_observes_and_controls_a_host_on_another() {
    if !redis_available() {
        return;
    }
    let redis = Redis::start(free_port()).await;
    let (a, url_a) = node(&redis.url(), "node-a").await;
    let (b, url_b) = node(&redis.url(), "node-b").await;
    assert_eq!(healthz(&a).await["backplane"], "up");

    let mut host = TestHost::start(&url_a, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    let listed = wait_row(&b, "demo", |r| r["node"] == "node-a").await;
    assert_eq!(listed["host"], true);
    assert_eq!(listed["host_version"], "test");

    // Events and a snapshot that line up, across nodes.
    let mut ws = connect(&url_b, client_hello("demo", None)).await;
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    synced(&mut ws, &host).await;

    // Commands reach the host on node A; the acks come back to this client.
    command(&mut ws, 41, json!({"kind":"go_to_frame","frame":7})).await;
    let ack = until(&mut ws, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(41), Some("applied"))
    );
    assert_eq!(ack["frame"], 7);
    command(&mut ws, 42, json!({"kind":"go_to_frame","frame":700})).await;
    let ack = until(&mut ws, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(42), Some("rejected"))
    );
    assert_eq!(ack["error"]["code"], "out_of_range");

    // Requests are answered by the host.
    ws.send(Message::Text(
        json!({"type":"request","id":5,"what":"project"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let resp = until(&mut ws, Some(&host), |v| v["type"] == "response").await;
    assert_eq!(resp["id"], 5);
    assert_eq!(resp["data"]["name"], "test-movie");

    // Every node lists the project with the node holding its host.
    for server in [&a, &b] {
        let listing = projects(server).await;
        let r = row(&listing, "demo").expect("listed");
        assert_eq!(
            (r["host"].as_bool(), r["node"].as_str()),
            (Some(true), Some("node-a"))
        );
    }
    assert_eq!(row(&projects(&b).await, "demo").unwrap()["clients"], 1);

    // Rendered frames: the host's tiles cross the backplane and are republished on node B.
    let rgba: Vec<u8> = (0..64 * 48 * 4).map(|i| (i % 251) as u8).collect();
    host.hub.publish_pixels(1, 64, 48, &rgba);
    let tile = next_tile(&mut ws).await;
    assert_eq!((tile.frame, tile.stage_w, tile.stage_h), (1, 64, 48));

    // The host leaves: the remote client hears it, and commands get `no_host`.
    host.stop().await;
    let notice = until(&mut ws, None, |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_left");
    command(&mut ws, 43, json!({"kind":"pause"})).await;
    let ack = until(&mut ws, None, |v| v["type"] == "ack").await;
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["error"]["code"], "no_host");
    wait_row(&b, "demo", |r| r["host"] == false).await;

    b.shutdown().await;
    a.shutdown().await;
    redis.kill().await;
}

#[tokio::test]
#[ignore = "needs redis-server; run scripts/test"]
async fn nodes_ride_out_a_redis_restart() {
    if !redis_available() {
        return;
    }
    let port = free_port();
    let redis = Redis::start(port).await;
    let (a, url_a) = node(&redis.url(), "node-a").await;
    let (b, url_b) = node(&redis.url(), "node-b").await;
    let mut host = TestHost::start(&url_a, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    wait_row(&b, "demo", |r| r["node"] == "node-a").await;
    let mut local = connect(&url_a, client_hello("demo", None)).await;
    let mut remote = connect(&url_b, client_hello("demo", None)).await;
    let mut seq = synced(&mut local, &host).await;
    synced(&mut remote, &host).await;

    redis.kill().await;
    wait_health(&a, BackplaneHealth::Down).await;
    wait_health(&b, BackplaneHealth::Down).await;
    assert_eq!(healthz(&a).await["backplane"], "down");

    // Node A's own clients do not notice.
    for _ in 0..3 {
        seq = frames_after(&mut local, &host, seq).await;
    }
    command(&mut local, 1, json!({"kind":"go_to_frame","frame":3})).await;
    let ack = until(&mut local, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(ack["status"], "applied");
    // The remote client is told its host is out of reach, and is not left waiting.
    let notice = until(&mut remote, Some(&host), |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_left");
    command(&mut remote, 2, json!({"kind":"pause"})).await;
    let ack = until(&mut remote, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(ack["error"]["code"], "no_host");

    // Redis returns on the same port: both nodes reconnect and resubscribe by themselves.
    let redis = Redis::start(port).await;
    wait_health(&a, BackplaneHealth::Up).await;
    wait_health(&b, BackplaneHealth::Up).await;
    assert_eq!(healthz(&b).await["backplane"], "up");
    let notice = until(&mut remote, Some(&host), |v| v["type"] == "notice").await;
    assert_eq!(notice["code"], "host_joined");
    synced(&mut remote, &host).await;
    command(&mut remote, 3, json!({"kind":"go_to_frame","frame":9})).await;
    let ack = until(&mut remote, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(3), Some("applied"))
    );
    wait_row(&b, "demo", |r| r["node"] == "node-a").await;
    frames_after(&mut local, &host, seq).await;

    host.stop().await;
    b.shutdown().await;
    a.shutdown().await;
    redis.kill().await;
}

#[tokio::test]
#[ignore = "needs redis-server; run scripts/test"]
async fn a_node_going_away_leaves_the_others_alone() {
    if !redis_available() {
        return;
    }
    let redis = Redis::start(free_port()).await;
    let (a, url_a) = node(&redis.url(), "node-a").await;
    let (b, url_b) = node(&redis.url(), "node-b").await;
    let mut host = TestHost::start(&url_a, "demo", None, false);
    host.wait_state(|s| *s == UplinkState::Connected).await;
    wait_row(&b, "demo", |r| r["node"] == "node-a").await;
    let mut local = connect(&url_a, client_hello("demo", None)).await;
    let mut remote = connect(&url_b, client_hello("demo", None)).await;
    let mut seq = synced(&mut local, &host).await;
    synced(&mut remote, &host).await;

    b.shutdown().await;
    let bye = until(&mut remote, Some(&host), |v| {
        v["type"] == "bye" || v["type"] == "closed"
    })
    .await;
    assert!(bye["type"] == "bye" || bye["type"] == "closed", "{bye}");

    for _ in 0..3 {
        seq = frames_after(&mut local, &host, seq).await;
    }
    command(&mut local, 7, json!({"kind":"go_to_frame","frame":5})).await;
    let ack = until(&mut local, Some(&host), |v| v["type"] == "ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(7), Some("applied"))
    );
    assert_eq!(healthz(&a).await["backplane"], "up");
    let listing = projects(&a).await;
    let r = row(&listing, "demo").expect("listed");
    assert_eq!(
        (r["node"].as_str(), r["clients"].as_u64()),
        (Some("node-a"), Some(1))
    );
    // A new client on the surviving node is served as before.
    let mut late = connect(&url_a, client_hello("demo", None)).await;
    synced(&mut late, &host).await;

    host.stop().await;
    a.shutdown().await;
    redis.kill().await;
}

#[tokio::test]
#[ignore = "needs redis-server; run scripts/test"]
async fn takeover_rules_hold_across_nodes() {
    if !redis_available() {
        return;
    }
    let redis = Redis::start(free_port()).await;
    let (a, url_a) = node(&redis.url(), "node-a").await;
    let (b, url_b) = node(&redis.url(), "node-b").await;
    let mut first = TestHost::start(&url_a, "demo", None, false);
    first.wait_state(|s| *s == UplinkState::Connected).await;
    wait_row(&b, "demo", |r| r["node"] == "node-a").await;
    let mut ws = connect(&url_a, client_hello("demo", None)).await;
    synced(&mut ws, &first).await;

    // A second host on another node, without takeover: project_taken.
    let mut second = TestHost::start(&url_b, "demo", None, false);
    let s = second
        .wait_state(|s| matches!(s, UplinkState::Stopped(_)))
        .await;
    assert!(
        matches!(s, UplinkState::Stopped(ref why) if why.contains("project_taken")),
        "{s:?}"
    );
    second.stop().await;

    // With takeover: the first host is replaced, and node A's client follows the new one.
    let mut third = TestHost::start(&url_b, "demo", None, true);
    third.wait_state(|s| *s == UplinkState::Connected).await;
    let s = first
        .wait_state(|s| matches!(s, UplinkState::Stopped(_)))
        .await;
    assert!(
        matches!(s, UplinkState::Stopped(ref why) if why.contains("session_replaced")),
        "{s:?}"
    );
    until(&mut ws, Some(&third), |v| {
        v["type"] == "notice" && v["code"] == "host_joined"
    })
    .await;
    synced(&mut ws, &third).await;
    command(&mut ws, 11, json!({"kind":"go_to_frame","frame":4})).await;
    let ack = until(&mut ws, Some(&third), |v| v["type"] == "ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(11), Some("applied"))
    );
    wait_row(&a, "demo", |r| r["node"] == "node-b").await;

    first.stop().await;
    third.stop().await;
    b.shutdown().await;
    a.shutdown().await;
    redis.kill().await;
}
