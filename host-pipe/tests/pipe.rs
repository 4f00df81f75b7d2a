//! The local-socket host end to end: a real socket in a temporary directory, a small engine
//! ticking a Publisher, and clients speaking raw framed bytes (as the C++ client does).

#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use stagelink_contracts::{
    Command, ErrorCode, FrameCodec, MovieProp, MovieState, PropValue, SoundCue, StageSnapshot,
};
use stagelink_host_pipe::{PipeError, PipeServer, serve};
use stagelink_publisher::{
    AuthConfig, Hub, HubConfig, Publisher, SessionThreads, SnapshotProvider,
};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

/// How long any single wait in these tests may take before it counts as a failure.
const WAIT: Duration = Duration::from_secs(10);

const UNICODE: &str = "héllo — 世界 🎬";

// ---------------------------------------------------------------------------------------------
// A small engine: ticks every 2 ms, applies queued changes, answers commands and requests.

enum Change {
    MovieProp(&'static str, PropValue),
    Sound(u32),
}

struct EngineState {
    frame: u32,
    movie_props: BTreeMap<String, PropValue>,
}

impl SnapshotProvider for EngineState {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: 1000,
            tempo: 30,
            playing: true,
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
        json!({"name": "pipe-test"})
    }
}

struct TestEngine {
    changes: mpsc::UnboundedSender<(Change, Option<oneshot::Sender<()>>)>,
    task: JoinHandle<()>,
}

impl TestEngine {
    fn start(hub: &Hub) -> Self {
        let mut publisher = Publisher::new(hub.clone());
        let (changes, mut inbox) =
            mpsc::unbounded_channel::<(Change, Option<oneshot::Sender<()>>)>();
        let task = tokio::spawn(async move {
            let mut state = EngineState {
                frame: 0,
                movie_props: BTreeMap::new(),
            };
            let mut ticks = tokio::time::interval(Duration::from_millis(2));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticks.tick().await;
                state.frame += 1;
                for command in publisher.drain_commands() {
                    match &command.command {
                        Command::Custom { name, payload } if name == "echo" => {
                            let payload = payload.clone();
                            command.applied(state.frame, Some(payload));
                        }
                        Command::Custom { name, .. } => {
                            let message = format!("no handler `{name}`");
                            command.rejected(ErrorCode::UnknownCommand, message);
                        }
                        _ => command.applied(state.frame, None),
                    }
                }
                let mut flushed = Vec::new();
                while let Ok((change, done)) = inbox.try_recv() {
                    match change {
                        Change::MovieProp(prop, value) => {
                            state.movie_props.insert(prop.into(), value.clone());
                            publisher.record(MovieProp {
                                prop: prop.into(),
                                value,
                            });
                        }
                        Change::Sound(channel) => publisher.record(SoundCue {
                            frame: state.frame,
                            channel,
                            cast_lib: 1,
                            member_num: 1,
                            playing: true,
                        }),
                    }
                    flushed.extend(done);
                }
                publisher.end_tick(state.frame, &state);
                for done in flushed {
                    let _ = done.send(());
                }
            }
        });
        Self { changes, task }
    }

    /// Queues a change for the next tick.
    fn record(&self, change: Change) {
        self.changes.send((change, None)).unwrap();
    }

    /// Queues a change and waits until the tick that flushed it has ended.
    async fn flushed(&self, change: Change) {
        let (done, flushed) = oneshot::channel();
        self.changes.send((change, Some(done))).unwrap();
        tokio::time::timeout(WAIT, flushed).await.unwrap().unwrap();
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// A host in a temporary directory.

struct Host {
    _dir: TempDir,
    hub: Hub,
    engine: TestEngine,
    server: Option<PipeServer>,
}

impl Host {
    fn start() -> Self {
        Self::with_config(config())
    }

    fn with_config(config: HubConfig) -> Self {
        Self::with_hub(Hub::new(config))
    }

    fn with_hub(hub: Hub) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = TestEngine::start(&hub);
        let server = serve(hub.clone(), socket_in(&dir)).unwrap();
        Self {
            _dir: dir,
            hub,
            engine,
            server: Some(server),
        }
    }

    fn path(&self) -> PathBuf {
        self.server.as_ref().unwrap().path().to_path_buf()
    }

    async fn client(&self) -> Client {
        Client::connect(&self.path()).await
    }

    async fn shutdown(&mut self) {
        self.server.take().unwrap().shutdown().await;
    }
}

/// A hub that wants a token over every other transport: the local socket must not need one.
fn config() -> HubConfig {
    HubConfig {
        project: "pipe-test".into(),
        auth: AuthConfig::with_token("secret"),
        ..HubConfig::default()
    }
}

/// A socket path whose directory does not exist yet (the host creates it).
fn socket_in(dir: &TempDir) -> PathBuf {
    dir.path().join("run").join("pipe-test.sock")
}

/// A socket path in a directory that already exists with mode 0700.
fn socket_in_private_dir(dir: &TempDir) -> PathBuf {
    let path = socket_in(dir);
    let parent = path.parent().unwrap();
    std::fs::create_dir(parent).unwrap();
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

/// Polls `condition` until it holds, failing after [`WAIT`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(WAIT, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

// ---------------------------------------------------------------------------------------------
// A raw client: plain tokio UnixStream and the protocol's framing, nothing from interprocess.

struct Client {
    framed: Framed<UnixStream, FrameCodec>,
}

enum Received {
    Json(Value),
    Binary(Bytes),
}

impl Client {
    async fn connect(path: &Path) -> Self {
        let stream = tokio::time::timeout(WAIT, UnixStream::connect(path))
            .await
            .unwrap()
            .unwrap();
        Self {
            framed: Framed::new(stream, FrameCodec::default()),
        }
    }

    async fn send(&mut self, msg: Value) {
        let bytes = serde_json::to_vec(&msg).unwrap();
        self.framed.send(bytes).await.unwrap();
    }

    /// Writes bytes as they are, outside the framing.
    async fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.framed.get_mut();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
    }

    /// The next message other than a heartbeat `ping`.
    async fn next(&mut self) -> Received {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .expect("timed out waiting for a message")
                .expect("the host closed the connection")
                .expect("reading a frame");
            if frame.first() != Some(&b'{') {
                return Received::Binary(frame);
            }
            let msg: Value = serde_json::from_slice(&frame).unwrap();
            if msg["type"] != "ping" {
                return Received::Json(msg);
            }
        }
    }

    /// Subscribes to `stream` without a snapshot and waits until the session has handled it:
    /// live from here on (a change flushed before that would not be sent).
    async fn subscribe_live(&mut self, stream: &str) {
        self.send(json!({"type": "subscribe", "streams": [stream], "snapshot": false}))
            .await;
        self.sync().await;
    }

    /// A ping/pong round trip: everything sent before it has been handled by the session.
    async fn sync(&mut self) {
        self.send(json!({"type": "ping", "t": 424242})).await;
        while self.recv().await != json!({"type": "pong", "t": 424242}) {}
    }

    async fn recv(&mut self) -> Value {
        match self.next().await {
            Received::Json(msg) => msg,
            Received::Binary(b) => panic!("expected JSON, got {} binary bytes", b.len()),
        }
    }

    /// Skips messages until one of type `ty`.
    async fn recv_type(&mut self, ty: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for a `{ty}`"));
            if msg["type"] == ty {
                return msg;
            }
        }
    }

    /// Waits for the host to close the connection (end of stream, or a reset after it).
    async fn expect_closed(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => panic!("the host did not close the connection"),
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(frame))) => {
                    let msg: Value = serde_json::from_slice(&frame).unwrap_or_default();
                    assert_eq!(
                        msg["type"], "ping",
                        "unexpected message before close: {msg}"
                    );
                }
            }
        }
    }

    async fn hello(&mut self, extra: Value) -> Value {
        let mut hello = json!({
            "type": "hello",
            "protocol": 1,
            "role": "controller",
            "client": {"name": "pipe-test"},
        });
        if let (Some(h), Some(e)) = (hello.as_object_mut(), extra.as_object()) {
            h.extend(e.clone());
        }
        self.send(hello).await;
        let welcome = self.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        welcome
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol over the socket.

#[tokio::test]
async fn hello_gets_welcome_without_a_token() {
    let host = Host::start();
    let mut client = host.client().await;
    let welcome = client.hello(json!({})).await;
    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["project"], "pipe-test");
    assert_eq!(welcome["role"], "controller");
    assert_eq!(host.hub.session_count(), 1);
}

/// As `stagelink-player` runs it: sessions on `SessionThreads` (the sockets stay registered with
/// the accepting runtime). Two clients on two threads get welcome and events; a shutdown still
/// says goodbye.
#[tokio::test]
async fn sessions_on_session_threads_work_end_to_end() {
    let hub = Hub::new(config());
    assert!(hub.run_sessions_on(SessionThreads::new(2).unwrap()));
    let mut host = Host::with_hub(hub);
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut client = host.client().await;
        client.hello(json!({})).await;
        client.subscribe_live("movie_props").await;
        clients.push(client);
    }
    host.engine.record(Change::MovieProp(
        "title",
        PropValue::Text("threads".into()),
    ));
    for client in &mut clients {
        let event = client.recv_type("event").await;
        assert_eq!(event["items"][0]["value"], "threads");
    }
    host.server.take().unwrap().shutdown().await;
    for client in &mut clients {
        client.recv_type("bye").await;
        assert_eq!(client.recv_type("error").await["code"], "shutdown");
        client.expect_closed().await;
    }
}

#[tokio::test]
async fn ping_is_answered_and_an_empty_frame_is_skipped() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({})).await;
    client.send_raw(&[0, 0, 0, 0]).await;
    let error = client.recv().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "invalid_field");
    assert_eq!(error["fatal"], false);
    client.send(json!({"type": "ping", "t": 123})).await;
    assert_eq!(client.recv().await, json!({"type": "pong", "t": 123}));
}

#[tokio::test]
async fn subscribe_then_events() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({})).await;
    client.subscribe_live("movie_props").await;
    host.engine
        .record(Change::MovieProp("title", PropValue::Text("one".into())));
    let event = client.recv_type("event").await;
    assert_eq!(event["stream"], "movie_props");
    assert_eq!(event["items"][0]["prop"], "title");
    assert_eq!(event["items"][0]["value"], "one");
}

#[tokio::test]
async fn commands_get_exactly_one_ack_each() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({})).await;

    client
        .send(json!({"type": "command", "id": 1, "command": {"kind": "pause"}}))
        .await;
    let ack = client.recv_type("ack").await;
    assert_eq!(ack["id"], 1);
    assert_eq!(ack["status"], "applied");
    assert!(ack["frame"].as_u64().unwrap() >= 1);

    client
        .send(json!({"type": "command", "id": 2, "command": {"kind": "custom", "name": "echo", "payload": {"n": 7}}}))
        .await;
    let ack = client.recv_type("ack").await;
    assert_eq!(
        (ack["id"].clone(), ack["status"].clone()),
        (json!(2), json!("applied"))
    );
    assert_eq!(ack["result"], json!({"n": 7}));

    // Malformed, but its id is readable: an error and a rejected ack.
    client
        .send(json!({"type": "command", "id": 3, "command": {"kind": "go_to_frame"}}))
        .await;
    let ack = client.recv_type("ack").await;
    assert_eq!(ack["id"], 3);
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["error"]["code"], "missing_field");

    client
        .send(json!({"type": "command", "id": 4, "command": {"kind": "custom", "name": "nope"}}))
        .await;
    let ack = client.recv_type("ack").await;
    assert_eq!(ack["id"], 4);
    assert_eq!(ack["error"]["code"], "unknown_command");

    // Nothing else is owed: the next thing back is the pong.
    client.send(json!({"type": "ping", "t": 9})).await;
    assert_eq!(client.recv().await["type"], "pong");
}

#[tokio::test]
async fn requests_are_answered() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({})).await;

    client
        .send(json!({"type": "request", "id": 10, "what": "movie_state"}))
        .await;
    let response = client.recv_type("response").await;
    assert_eq!(response["id"], 10);
    assert_eq!(response["ok"], true);
    assert_eq!(response["data"]["frame_count"], 1000);

    client
        .send(json!({"type": "request", "id": 11, "what": "project"}))
        .await;
    let response = client.recv_type("response").await;
    assert_eq!(response["data"]["name"], "pipe-test");

    client
        .send(json!({"type": "request", "id": 12, "what": "nonsense"}))
        .await;
    let response = client.recv_type("response").await;
    assert_eq!(response["id"], 12);
    assert_eq!(response["ok"], false);
    assert_eq!(response["error"]["code"], "unknown_request");
}

#[tokio::test]
async fn snapshot_then_live_with_matching_seqs() {
    let host = Host::start();
    host.engine
        .flushed(Change::MovieProp("title", PropValue::Text("before".into())))
        .await;

    let mut client = host.client().await;
    client
        .hello(json!({"subscribe": ["movie_props"], "snapshot": true}))
        .await;
    let snapshot = client.recv().await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["movie_props"]["title"], "before");
    let seq = snapshot["seqs"]["movie_props"].as_u64().unwrap();
    assert_eq!(seq, 1);

    host.engine
        .record(Change::MovieProp("title", PropValue::Text("after".into())));
    let event = client.recv_type("event").await;
    assert_eq!(event["seq"], seq + 1);
    assert_eq!(event["items"][0]["value"], "after");
}

#[tokio::test]
async fn non_ascii_text_round_trips_intact() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({"subscribe": ["movie_props"]})).await;

    host.engine
        .record(Change::MovieProp("title", PropValue::Text(UNICODE.into())));
    let event = client.recv_type("event").await;
    assert_eq!(event["items"][0]["value"], UNICODE);

    // And back: a command payload comes back through the engine unchanged.
    client
        .send(json!({"type": "command", "id": 1, "command": {"kind": "custom", "name": "echo", "payload": UNICODE}}))
        .await;
    let ack = client.recv_type("ack").await;
    assert_eq!(ack["result"], UNICODE);
}

#[tokio::test]
async fn pixel_tiles_arrive_as_binary_frames() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({"subscribe": ["pixels"]})).await;
    let rgba = vec![200u8; 64 * 64 * 4];
    host.hub.publish_pixels(1, 64, 64, &rgba);
    match client.next().await {
        Received::Binary(tile) => {
            assert_eq!(tile[0], 0x01, "pixel tile opcode");
            assert!(tile.len() >= 28);
        }
        Received::Json(msg) => panic!("expected a tile, got {msg}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_each_receive_every_event() {
    const CLIENTS: usize = 50;
    const CUES: u32 = 20;
    let host = Host::start();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = host.client().await;
        client.hello(json!({"subscribe": ["sounds"]})).await;
        clients.push(client);
    }
    assert_eq!(host.hub.session_count(), CLIENTS);

    for channel in 1..=CUES {
        host.engine.record(Change::Sound(channel));
    }
    let readers = clients.into_iter().map(|mut client| {
        tokio::spawn(async move {
            let mut channels = Vec::new();
            let mut next_seq = 1;
            while channels.len() < CUES as usize {
                let event = client.recv_type("event").await;
                assert_eq!(event["stream"], "sounds");
                assert_eq!(event["seq"], next_seq, "no event skipped or repeated");
                next_seq += 1;
                for item in event["items"].as_array().unwrap() {
                    channels.push(item["channel"].as_u64().unwrap() as u32);
                }
            }
            channels
        })
    });
    for reader in futures_util::future::join_all(readers).await {
        assert_eq!(reader.unwrap(), (1..=CUES).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------------------------------------
// Bad frames cost only their own connection.

#[tokio::test]
async fn a_truncated_frame_costs_only_its_connection() {
    let host = Host::start();
    let mut other = host.client().await;
    other.hello(json!({"subscribe": ["movie_props"]})).await;

    let mut broken = host.client().await;
    eventually("both sessions", || host.hub.session_count() == 2).await;
    let mut half = 100u32.to_le_bytes().to_vec();
    half.extend_from_slice(br#"{"type":"he"#);
    broken.send_raw(&half).await;
    drop(broken);
    eventually("the broken session to leave", || {
        host.hub.session_count() == 1
    })
    .await;

    host.engine.record(Change::MovieProp(
        "title",
        PropValue::Text("still here".into()),
    ));
    let event = other.recv_type("event").await;
    assert_eq!(event["items"][0]["value"], "still here");
    let mut late = host.client().await;
    late.hello(json!({})).await;
}

#[tokio::test]
async fn an_oversize_frame_gets_frame_too_large_then_close() {
    let host = Host::with_config(HubConfig {
        max_message: 1024,
        ..config()
    });
    let mut other = host.client().await;
    other.hello(json!({})).await;

    let mut greedy = host.client().await;
    greedy.hello(json!({})).await;
    // Announce 1 MiB, send only a little of it: the host must not wait for the rest.
    let mut frame = (1024u32 * 1024).to_le_bytes().to_vec();
    frame.extend_from_slice(b"{\"type\":");
    greedy.send_raw(&frame).await;
    let error = greedy.recv().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "frame_too_large");
    assert_eq!(error["fatal"], true);
    greedy.expect_closed().await;

    other.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(other.recv().await["type"], "pong");
    eventually("the greedy session to leave", || {
        host.hub.session_count() == 1
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The socket file.

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn socket_is_0600_in_a_0700_directory() {
    let host = Host::start();
    let path = host.path();
    assert!(std::fs::metadata(&path).unwrap().file_type().is_socket());
    assert_eq!(mode(&path), 0o600, "socket file mode");
    assert_eq!(mode(path.parent().unwrap()), 0o700, "directory mode");
}

#[tokio::test]
async fn an_open_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = serve(Hub::new(config()), open.join("x.sock")).unwrap_err();
    assert!(matches!(err, PipeError::InsecureDirectory { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("0755") && text.contains("open"), "{text}");
    assert!(!open.join("x.sock").exists());
}

#[tokio::test]
async fn a_stale_socket_is_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in_private_dir(&dir);
    // A host that died: its socket file stays behind, nobody listens.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let hub = Hub::new(config());
    let _engine = TestEngine::start(&hub);
    let server = serve(hub, path.clone()).unwrap();
    let mut client = Client::connect(&path).await;
    client.hello(json!({})).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_live_socket_is_not_stolen() {
    let host = Host::start();
    let path = host.path();
    let err = serve(Hub::new(config()), path.clone()).unwrap_err();
    match &err {
        PipeError::InUse { path: taken } => assert_eq!(taken, &path),
        other => panic!("expected InUse, got {other}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()));
    // The first host is untouched.
    let mut client = host.client().await;
    client.hello(json!({})).await;
}

#[tokio::test]
async fn something_else_at_the_path_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in_private_dir(&dir);
    std::fs::write(&path, b"not a socket").unwrap();
    let err = serve(Hub::new(config()), path.clone()).unwrap_err();
    assert!(matches!(err, PipeError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}

#[tokio::test]
async fn shutdown_says_bye_and_removes_the_file() {
    let mut host = Host::start();
    let path = host.path();
    let mut client = host.client().await;
    client.hello(json!({"subscribe": ["*"]})).await;

    host.shutdown().await;
    let bye = client.recv_type("bye").await;
    assert!(bye["reason"].is_string());
    let error = client.recv().await;
    assert_eq!(error["code"], "shutdown");
    assert_eq!(error["fatal"], true);
    client.expect_closed().await;
    assert!(!path.exists(), "socket file removed");
    assert!(host.hub.is_shutting_down());
    // Nobody answers there any more.
    assert!(UnixStream::connect(&path).await.is_err());
}

#[tokio::test]
async fn dropping_the_server_removes_the_file() {
    let mut host = Host::start();
    let path = host.path();
    drop(host.server.take());
    eventually("the socket file to go", || !path.exists()).await;
}

// ---------------------------------------------------------------------------------------------
// Direct writes: the publishing thread writes a caught-up client's ticks itself.

/// Records `batches` ticks of `per_tick` sounds each (channels numbered in order) and waits
/// until the last tick has been flushed.
async fn record_sound_ticks(engine: &TestEngine, batches: u32, per_tick: u32) {
    for b in 0..batches {
        for i in 0..per_tick - 1 {
            engine.record(Change::Sound(b * per_tick + i));
        }
        engine
            .flushed(Change::Sound(b * per_tick + per_tick - 1))
            .await;
    }
}

/// Reads `sounds` events until `count` items came (channels 0, 1, …), checking that their
/// seqs follow each other and the items come in order.
async fn expect_sounds_in_order(client: &mut Client, count: u32) {
    let mut next_channel = 0;
    let mut last_seq = None;
    while next_channel < count {
        let event = client.recv_type("event").await;
        assert_eq!(event["stream"], "sounds", "{event}");
        let seq = event["seq"].as_u64().unwrap();
        if let Some(last) = last_seq {
            assert_eq!(seq, last + 1, "no hole, no repeat");
        }
        last_seq = Some(seq);
        for item in event["items"].as_array().unwrap() {
            assert_eq!(item["channel"], next_channel, "items in order");
            next_channel += 1;
        }
    }
}

#[tokio::test]
async fn direct_writes_keep_every_event_in_order_through_a_full_socket() {
    let host = Host::start();
    let mut client = host.client().await;
    client.hello(json!({})).await;
    client.subscribe_live("sounds").await;

    // Caught up: the publishing thread writes the ticks itself.
    record_sound_ticks(&host.engine, 3, 10).await;
    expect_sounds_in_order(&mut client, 30).await;
    let direct = host.hub.stats().direct_writes.load(Relaxed);
    assert!(direct >= 3, "ticks written directly: {direct}");

    // The client stops reading: ~1 MB, far more than the socket buffer, so a message goes out
    // only in part and the connection's task finishes it; then it all arrives, in order.
    let mut late = host.client().await;
    late.hello(json!({})).await;
    late.subscribe_live("sounds").await;
    record_sound_ticks(&host.engine, 40, 250).await;
    expect_sounds_in_order(&mut late, 10_000).await;
    // The first client kept up meanwhile (`client` was not read, so it stalled too).
    let mut all = 30;
    let mut last_seq = 3;
    while all < 10_030 {
        let event = client.recv_type("event").await;
        let seq = event["seq"].as_u64().unwrap();
        assert_eq!(seq, last_seq + 1);
        last_seq = seq;
        all += event["items"].as_array().unwrap().len();
    }
    // Both were caught up again at the end: back to direct writes.
    let before = host.hub.stats().direct_writes.load(Relaxed);
    record_sound_ticks(&host.engine, 1, 5).await;
    client.recv_type("event").await;
    late.recv_type("event").await;
    eventually("direct writes resumed", || {
        host.hub.stats().direct_writes.load(Relaxed) >= before + 2
    })
    .await;
}

#[tokio::test]
async fn beyond_the_direct_writer_limit_sessions_are_written_by_their_tasks() {
    let host = Host::with_config(HubConfig {
        direct_write_sessions: 1,
        ..config()
    });
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = host.client().await;
        client.hello(json!({})).await;
        client.subscribe_live("sounds").await;
        clients.push(client);
    }
    record_sound_ticks(&host.engine, 5, 4).await;
    for client in &mut clients {
        expect_sounds_in_order(client, 20).await;
    }
    // One session of three wrote directly: at most the five ticks.
    let direct = host.hub.stats().direct_writes.load(Relaxed);
    assert!((1..=5).contains(&direct), "direct writes: {direct}");

    let off = Host::with_config(HubConfig {
        direct_write_sessions: 0,
        ..config()
    });
    let mut client = off.client().await;
    client.hello(json!({})).await;
    client.subscribe_live("sounds").await;
    record_sound_ticks(&off.engine, 2, 3).await;
    expect_sounds_in_order(&mut client, 6).await;
    assert_eq!(off.hub.stats().direct_writes.load(Relaxed), 0);
}
