//! Shared by the relay's integration tests: a real host (a Hub + Publisher publishing through
//! the uplink), relay nodes on `127.0.0.1:0`, raw WebSocket clients, a tiny HTTP GET.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use stagelink_contracts::*;
use stagelink_host_ws::uplink::{UplinkConfig, UplinkState, run_uplink};
use stagelink_publisher::{Hub, HubConfig, Publisher, SnapshotProvider};
use stagelink_relay::{RelayConfig, RelayServer};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const WAIT: Duration = Duration::from_secs(10);

/// A tiny engine: a frame counter and a title, ticking when asked.
#[derive(Default)]
pub struct TestEngine {
    frame: u32,
    paused: bool,
}

impl SnapshotProvider for TestEngine {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: 100,
            tempo: 30,
            playing: !self.paused,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot {
            movie: Some(self.movie_state()),
            ..StageSnapshot::default()
        }
    }
    fn project(&self) -> Value {
        json!({"name": "test-movie"})
    }
}

/// A host process stand-in: hub, publisher, engine and uplink.
pub struct TestHost {
    /// The host's hub (to publish rendered frames).
    pub hub: Hub,
    publisher: Arc<Mutex<(Publisher, TestEngine)>>,
    pub state: watch::Receiver<UplinkState>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TestHost {
    pub fn start(url: &str, project: &str, token: Option<&str>, takeover: bool) -> Self {
        let hub = Hub::new(HubConfig {
            project: project.into(),
            ..HubConfig::default()
        });
        let publisher = Publisher::new(hub.clone());
        let (state_tx, state) = watch::channel(UplinkState::Connecting);
        let (stop, stop_rx) = watch::channel(false);
        let config = UplinkConfig {
            url: url.into(),
            project: project.into(),
            host_token: token.map(String::from),
            takeover,
            version: "test".into(),
        };
        let task = tokio::spawn(run_uplink(hub.clone(), config, state_tx, stop_rx));
        Self {
            hub,
            publisher: Arc::new(Mutex::new((publisher, TestEngine::default()))),
            state,
            stop,
            task,
        }
    }

    pub async fn wait_state(&mut self, want: impl Fn(&UplinkState) -> bool) -> UplinkState {
        tokio::time::timeout(WAIT, self.state.wait_for(|s| want(s)))
            .await
            .expect("uplink state in time")
            .expect("uplink alive")
            .clone()
    }

    /// One engine tick: apply commands, change the title, flush.
    pub fn tick(&self) {
        let mut guard = self.publisher.lock();
        let (publisher, engine) = &mut *guard;
        for command in publisher.drain_commands() {
            match command.command {
                Command::Pause => {
                    engine.paused = true;
                    let f = engine.frame;
                    command.applied(f, None);
                }
                Command::GoToFrame { frame } if frame <= 100 => {
                    engine.frame = frame;
                    command.applied(frame, None);
                }
                Command::GoToFrame { frame } => {
                    command.rejected(ErrorCode::OutOfRange, format!("frame {frame} > 100"))
                }
                _ => command.rejected(ErrorCode::UnknownCommand, "not in the test engine"),
            }
        }
        if !engine.paused {
            engine.frame += 1;
        }
        publisher.record(StageFrame {
            frame: engine.frame,
            frame_count: 100,
            tempo: 30,
            playing: !engine.paused,
            time_ms: 0,
            width: 64,
            height: 48,
        });
        publisher.record(MovieProp {
            prop: "title".into(),
            value: PropValue::Text(format!("frame {}", engine.frame)),
        });
        let frame = engine.frame;
        publisher.end_tick(frame, engine);
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}

pub async fn relay(config: RelayConfig) -> (RelayServer, String) {
    let server = RelayServer::start(RelayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config
    })
    .await
    .expect("relay starts");
    let url = format!("ws://{}/ws", server.local_addr());
    (server, url)
}

pub async fn connect(url: &str, hello: Value) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    ws.send(Message::Text(hello.to_string().into()))
        .await
        .unwrap();
    ws
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("ok");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(f) => {
                return json!({"type": "closed", "code": f.map(|f| u16::from(f.code))});
            }
            _ => {}
        }
    }
}

/// Reads until a message matches, ticking the host meanwhile.
pub async fn until(ws: &mut Ws, host: Option<&TestHost>, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        if let Some(h) = host {
            h.tick();
        }
        match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if want(&v) {
                    return v;
                }
            }
            Ok(Some(Ok(Message::Close(f)))) => {
                let v = json!({"type": "closed", "code": f.map(|f| u16::from(f.code))});
                if want(&v) {
                    return v;
                }
                panic!("closed while waiting: {v}");
            }
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(other) => panic!("socket ended: {other:?}"),
        }
    }
}

pub fn client_hello(project: &str, token: Option<&str>) -> Value {
    let mut h = json!({"type":"hello","protocol":1,"project":project,"role":"controller",
        "client":{"id":format!("c-{}", rand_id()),"name":"relay-test"},
        "subscribe":["*"],"snapshot":true});
    if let Some(t) = token {
        h["token"] = json!(t);
    }
    h
}

pub fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A minimal HTTP GET returning JSON, over a raw TCP stream (no HTTP client dependency).
pub async fn http_get(url: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // Chunked or not: find the JSON object.
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

/// Reads until a binary message (a pixel tile) arrives; returns its tile header.
pub async fn next_tile(ws: &mut Ws) -> stagelink_contracts::pixels::TileHeader {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a tile in time")
            .expect("open")
            .expect("ok");
        if let Message::Binary(bin) = msg {
            let (header, _) =
                stagelink_contracts::pixels::decode_tile_header(&bin).expect("a tile");
            return header;
        }
    }
}
