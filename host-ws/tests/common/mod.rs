//! Shared test helpers: a host on `127.0.0.1:0`, a tiny engine that ticks on demand, a raw
//! WebSocket client that speaks JSON, and a raw HTTP/1.1 GET.
//!
//! Nothing here sleeps: every wait is for a message or a condition, bounded by [`WAIT`].

#![allow(dead_code)] // each test binary uses its own part of the helpers

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use stagelink_contracts::{
    Command, ErrorCode, MovieProp, MovieState, PropValue, SoundCue, StageSnapshot,
};
use stagelink_host_ws::{WsConfig, WsServer, serve};
use stagelink_publisher::{AuthConfig, Hub, HubConfig, Publisher, SnapshotProvider};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The controller token of test hosts.
pub const TOKEN: &str = "secret-controller";
/// The observer token of test hosts.
pub const OBSERVER_TOKEN: &str = "secret-observer";

/// A hub configuration with tokens and timers long enough never to fire unless a test wants.
pub fn hub_config() -> HubConfig {
    HubConfig {
        project: "demo".into(),
        auth: AuthConfig {
            controller_token: Some(TOKEN.into()),
            observer_token: Some(OBSERVER_TOKEN.into()),
            ..AuthConfig::default()
        },
        heartbeat: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        ..HubConfig::default()
    }
}

/// Waits until `condition` holds, checking every few milliseconds, failing after [`WAIT`]. For
/// state with no message to wait on (a session leaving the hub after its client hung up).
pub async fn wait_for(condition: impl Fn() -> bool) {
    let mut check = tokio::time::interval(Duration::from_millis(5));
    tokio::time::timeout(WAIT, async {
        while !condition() {
            check.tick().await;
        }
    })
    .await
    .expect("the condition holds in time");
}

/// A running host and the engine feeding it.
pub struct Host {
    pub hub: Hub,
    pub server: WsServer,
    pub engine: TestEngine,
}

impl Host {
    /// A host with [`hub_config`] on `127.0.0.1:0`.
    pub async fn start() -> Host {
        Host::start_with(hub_config(), local_config()).await
    }

    /// A host with this hub configuration on `127.0.0.1:0`.
    pub async fn start_hub(config: HubConfig) -> Host {
        Host::start_with(config, local_config()).await
    }

    pub async fn start_with(config: HubConfig, ws: WsConfig) -> Host {
        let hub = Hub::new(config);
        let engine = TestEngine::new(hub.clone());
        let server = serve(hub.clone(), ws).expect("the host starts");
        Host {
            hub,
            server,
            engine,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.ws_url()
    }

    /// A client connected and welcomed as a controller with `extra` hello fields.
    pub async fn controller(&self, extra: Value) -> Client {
        let mut client = Client::connect(&self.url()).await;
        let mut hello = json!({"role": "controller", "token": TOKEN});
        merge(&mut hello, extra);
        client.hello(hello).await;
        client
    }
}

/// `127.0.0.1:0`, viewer on, no TLS.
pub fn local_config() -> WsConfig {
    WsConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..WsConfig::default()
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// The engine of the tests: a playhead, movie props, and a [`Publisher`]; it ticks only when
/// told to, so every test decides exactly what each tick publishes.
pub struct TestEngine {
    pub publisher: Publisher,
    pub state: EngineState,
}

/// What the engine shows to requests and snapshots.
#[derive(Debug, Clone)]
pub struct EngineState {
    pub frame: u32,
    pub frame_count: u32,
    pub tempo: u32,
    pub playing: bool,
    pub movie_props: BTreeMap<String, PropValue>,
}

impl SnapshotProvider for EngineState {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: self.frame_count,
            tempo: self.tempo,
            playing: self.playing,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot {
            movie: Some(self.movie_state()),
            movie_props: self.movie_props.clone(),
            ..StageSnapshot::default()
        }
    }
    fn project(&self) -> Value {
        json!({"name": "demo", "frame_count": self.frame_count})
    }
}

impl TestEngine {
    pub fn new(hub: Hub) -> Self {
        Self {
            publisher: Publisher::new(hub),
            state: EngineState {
                frame: 1,
                frame_count: 240,
                tempo: 30,
                playing: true,
                movie_props: BTreeMap::new(),
            },
        }
    }

    /// One tick: applies waiting commands, lets `record` publish, flushes, answers requests.
    pub fn tick_with(&mut self, record: impl FnOnce(&mut Publisher, &mut EngineState)) {
        for pending in self.publisher.drain_commands() {
            match pending.command.clone() {
                Command::GoToFrame { frame } => {
                    self.state.frame = frame;
                    pending.applied(frame, None);
                }
                Command::Pause => {
                    self.state.playing = false;
                    pending.applied(self.state.frame, None);
                }
                Command::Resume => {
                    self.state.playing = true;
                    pending.applied(self.state.frame, None);
                }
                Command::SetMovieProp { prop, value } => {
                    self.state.movie_props.insert(prop.clone(), value.clone());
                    self.publisher.record(MovieProp { prop, value });
                    pending.applied(self.state.frame, None);
                }
                Command::Custom { name, payload } if name == "echo" => {
                    pending.applied(self.state.frame, Some(payload));
                }
                Command::Custom { name, .. } => {
                    pending.rejected(ErrorCode::UnknownCommand, format!("no handler `{name}`"));
                }
                _ => pending.applied(self.state.frame, None),
            }
        }
        record(&mut self.publisher, &mut self.state);
        self.publisher.end_tick(self.state.frame, &self.state);
    }

    /// A tick at `frame` that publishes one `sounds` event (a fifo stream: every one counts).
    pub fn tick_sound(&mut self, frame: u32) {
        self.tick_with(|p, s| {
            s.frame = frame;
            p.record(SoundCue {
                frame,
                channel: 1,
                cast_lib: 1,
                member_num: 4,
                playing: true,
            });
        });
    }

    /// A tick that publishes nothing new (commands, requests and snapshots are still served).
    pub fn tick(&mut self) {
        self.tick_with(|_, _| {});
    }

    /// A tick that sets a movie prop.
    pub fn set_movie_prop(&mut self, prop: &str, value: impl Into<PropValue>) {
        let value = value.into();
        self.tick_with(|p, s| {
            s.movie_props.insert(prop.into(), value.clone());
            p.record(MovieProp {
                prop: prop.into(),
                value,
            });
        });
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a client received.
#[derive(Debug)]
pub enum Incoming {
    Json(Value),
    Binary(Vec<u8>),
    /// A close frame: its code and reason (`1005` when the frame had none).
    Close(u16, String),
    /// The connection ended without a close frame.
    Ended,
}

/// A test client on one WebSocket.
pub struct Client {
    pub ws: Socket,
    next_ping: u64,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("the upgrade succeeds");
        Client::from_socket(ws)
    }

    /// Connects with extra request headers; the upgrade's error when it is refused.
    pub async fn connect_with_headers(
        url: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect in time")?;
        Ok(Client::from_socket(ws))
    }

    pub fn from_socket(ws: Socket) -> Client {
        Client { ws, next_ping: 1 }
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("the message goes out");
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.ws
            .send(Message::binary(data))
            .await
            .expect("the message goes out");
    }

    /// The next message (protocol pings from the server are answered and skipped).
    pub async fn recv(&mut self) -> Incoming {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message in time");
            let incoming = match next {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("the server sends JSON");
                    if value["type"] == "ping" {
                        let t = value["t"].clone();
                        self.send(json!({"type": "pong", "t": t})).await;
                        continue;
                    }
                    Incoming::Json(value)
                }
                Some(Ok(Message::Binary(data))) => Incoming::Binary(data.to_vec()),
                Some(Ok(Message::Close(frame))) => match frame {
                    Some(f) => Incoming::Close(u16::from(f.code), f.reason.to_string()),
                    None => Incoming::Close(u16::from(CloseCode::Status), String::new()),
                },
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Incoming::Ended,
            };
            return incoming;
        }
    }

    /// The next message, which must be JSON.
    pub async fn json(&mut self) -> Value {
        match self.recv().await {
            Incoming::Json(v) => v,
            other => panic!("expected a JSON message, got {other:?}"),
        }
    }

    /// The next message, which must be JSON of this `type`.
    pub async fn expect(&mut self, ty: &str) -> Value {
        let v = self.json().await;
        assert_eq!(v["type"], ty, "expected `{ty}`, got {v}");
        v
    }

    /// The next message must be an `error` with this code.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let v = self.expect("error").await;
        assert_eq!(v["code"], code, "unexpected error {v}");
        v
    }

    /// The next message must be the close frame; returns its code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.recv().await {
            Incoming::Close(code, reason) => (code, reason),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// The next messages must be the fatal `error` `code` and then close `4000 + n`.
    pub async fn expect_fatal(&mut self, code: ErrorCode) {
        let error = self.expect_error(code.as_str()).await;
        assert_eq!(error["fatal"], true, "{error}");
        let (close, reason) = self.expect_close().await;
        assert_eq!(close, code.close_code(), "close code for {code}");
        assert_eq!(reason, code.as_str());
    }

    /// Sends `hello` (protocol 1 plus `fields`) and expects `welcome`.
    pub async fn hello(&mut self, fields: Value) -> Value {
        let mut hello = json!({"type": "hello", "protocol": 1});
        merge(&mut hello, fields);
        self.send(hello).await;
        self.expect("welcome").await
    }

    /// A round trip: sends a `ping` and returns everything received before its `pong`. Once it
    /// returns, every message sent before it has been handled by the session.
    pub async fn barrier(&mut self) -> Vec<Value> {
        let t = 1_000_000 + self.next_ping;
        self.next_ping += 1;
        self.send(json!({"type": "ping", "t": t})).await;
        let mut before = Vec::new();
        loop {
            let v = self.json().await;
            if v["type"] == "pong" && v["t"] == t {
                return before;
            }
            before.push(v);
        }
    }

    /// Reads until a message matches `pred`, returning the ones before it and the match.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let v = self.json().await;
            if pred(&v) {
                return (before, v);
            }
            before.push(v);
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// `GET path` over a fresh plain TCP connection.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    let stream = TcpStream::connect(addr).await.expect("connect");
    http_get_on(stream, &addr.to_string(), path).await
}

/// `GET path` on any byte stream (plain or TLS), `Connection: close`, read to the end.
pub async fn http_get_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
    path: &str,
) -> HttpResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("a response in time")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}
