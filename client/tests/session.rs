//! The client's session logic against a scripted server on a temporary Unix socket: the test plays
//! the server byte for byte, so orderings a real host only produces by chance (a `stage` response
//! overtaking queued events, a silent peer, a seq hole) happen every time.
//!
//! Nothing sleeps: every wait is for a message or a state, bounded by [`WAIT`].

#![cfg(unix)]

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use stagelink_client::{
    Client, ClientConfig, ClientError, ClientEvent, CloseReason, ConnectionState, EventStream,
    ReconnectPolicy,
};
use stagelink_contracts::pixels::{
    FLAG_KEYFRAME, FLAG_LAST, TileEncoding, TileHeader, encode_tile,
};
use stagelink_contracts::{Command, ErrorCode, FrameCodec, StreamName};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::codec::Framed;

const WAIT: Duration = Duration::from_secs(10);

/// A scripted server: accepts connections on a socket file.
struct FakeServer {
    _dir: tempfile::TempDir,
    path: PathBuf,
    listener: UnixListener,
}

impl FakeServer {
    fn start() -> FakeServer {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.sock");
        let listener = UnixListener::bind(&path).unwrap();
        FakeServer {
            _dir: dir,
            path,
            listener,
        }
    }

    fn url(&self) -> String {
        format!("pipe://{}", self.path.display())
    }

    async fn accept(&self) -> FakeConn {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("the client connects")
            .unwrap();
        FakeConn {
            framed: Framed::new(stream, FrameCodec::default()),
        }
    }

    /// Accepts and completes the hello/welcome (and the snapshot the hello asks for).
    async fn accept_welcomed(&self, snapshot: Value) -> (FakeConn, Value) {
        let mut conn = self.accept().await;
        let hello = conn.expect("hello").await;
        conn.send(welcome()).await;
        if hello["snapshot"] == true {
            conn.send(snapshot).await;
        }
        (conn, hello)
    }
}

struct FakeConn {
    framed: Framed<UnixStream, FrameCodec>,
}

impl FakeConn {
    async fn send(&mut self, message: Value) {
        self.framed
            .send(serde_json::to_vec(&message).unwrap())
            .await
            .unwrap();
    }

    async fn send_binary(&mut self, bytes: &[u8]) {
        self.framed.send(bytes).await.unwrap();
    }

    /// The next message of type `ty`, skipping the client's pings.
    async fn expect(&mut self, ty: &str) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.framed.next())
                .await
                .unwrap_or_else(|_| panic!("no `{ty}` from the client"))
                .expect("the client is still connected")
                .unwrap();
            let message: Value = serde_json::from_slice(&frame).unwrap();
            if message["type"] == "ping" && ty != "ping" {
                continue;
            }
            assert_eq!(message["type"], ty, "expected `{ty}`, got {message}");
            return message;
        }
    }

    /// Waits until the client closes the connection, answering nothing.
    async fn expect_closed(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.framed.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(_))) => continue,
                Err(_) => panic!("the client did not close the connection"),
            }
        }
    }
}

fn welcome() -> Value {
    json!({"type":"welcome","protocol":1,"session":"s-1","server":{"name":"fake","version":"0"},
        "project":"demo","role":"controller","streams":[],"capabilities":["commands"],
        "heartbeat_ms":60000,"idle_timeout_ms":60000})
}

fn snapshot(seqs: Value, frame: u32) -> Value {
    json!({"type":"snapshot","seqs":seqs,"movie":{"frame":frame,"frame_count":100,"tempo":30,"playing":true},
        "stage_props":{},"movie_props":{},"sprites":[],"members":[]})
}

fn sound(seq: u64) -> Value {
    json!({"type":"event","stream":"sounds","seq":seq,"frame":seq,
        "items":[{"frame":seq,"channel":1,"cast_lib":1,"member_num":4,"playing":true}]})
}

fn config(url: String) -> ClientConfig {
    ClientConfig {
        subscribe: vec!["*".into()],
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            jitter: false,
            ..ReconnectPolicy::default()
        },
        connect_timeout: WAIT,
        ..ClientConfig::new(url)
    }
}

/// Connects a client while the fake server completes the handshake.
async fn connect(server: &FakeServer, config: ClientConfig, snapshot: Value) -> (Client, FakeConn) {
    let (client, (conn, hello)) =
        tokio::join!(Client::connect(config), server.accept_welcomed(snapshot));
    assert_eq!(hello["protocol"], 1);
    (client.expect("the client connects"), conn)
}

/// The next event that is not a heartbeat-level detail.
async fn next(events: &mut EventStream) -> ClientEvent {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event arrives")
        .expect("the client is open")
}

async fn next_seq_event(events: &mut EventStream) -> (String, u64) {
    loop {
        if let ClientEvent::Event(e) = next(events).await {
            return (e.stream.clone(), e.seq);
        }
    }
}

#[tokio::test]
async fn hello_carries_identity_token_project_and_subscriptions() {
    let server = FakeServer::start();
    let url = format!("{}?token=t%C3%B6ken&project=proj", server.url());
    let cfg = ClientConfig {
        client_id: Some("term-1".into()),
        client_name: "stagelink-term".into(),
        subscribe: vec!["frames".into(), "sprites".into()],
        ..config(url)
    };
    let (client, (mut conn, hello)) = tokio::join!(Client::connect(cfg), async {
        let mut conn = server.accept().await;
        let hello = conn.expect("hello").await;
        conn.send(welcome()).await;
        conn.send(snapshot(json!({}), 1)).await;
        (conn, hello)
    });
    let client = client.unwrap();
    assert_eq!(hello["token"], "töken");
    assert_eq!(hello["project"], "proj");
    assert_eq!(hello["role"], "controller");
    assert_eq!(hello["client"]["id"], "term-1");
    assert_eq!(hello["client"]["name"], "stagelink-term");
    assert_eq!(hello["subscribe"], json!(["frames", "sprites"]));
    assert_eq!(hello["snapshot"], true);
    assert_eq!(client.welcome().unwrap().session, "s-1");
    assert_eq!(client.connection_state(), ConnectionState::Connected);

    client.close().await;
    conn.expect("bye").await;
    assert_eq!(
        client.connection_state(),
        ConnectionState::Closed(CloseReason::Requested)
    );
}

#[tokio::test]
async fn server_pings_are_answered_and_unknown_messages_ignored() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(&server, config(server.url()), snapshot(json!({}), 1)).await;
    conn.send(json!({"type":"future_thing","x":1})).await;
    conn.send(json!({"type":"ping","t":77})).await;
    let pong = conn.expect("pong").await;
    assert_eq!(pong["t"], 77);
    assert_eq!(client.connection_state(), ConnectionState::Connected);
}

#[tokio::test]
async fn a_gap_resyncs_from_stage_and_holds_back_events_until_it_arrives() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(
        &server,
        config(server.url()),
        snapshot(json!({"sounds":5,"sprites":3}), 5),
    )
    .await;
    let (state, mut events) = client.subscribe_state();
    assert!(state.is_exact());

    conn.send(sound(6)).await;
    conn.send(json!({"type":"gap","stream":"sounds","from_seq":7,"to_seq":9}))
        .await;
    let request = conn.expect("request").await;
    assert_eq!(request["what"], "stage");
    // Events still queued at the server arrive before the response (which overtook them on the
    // control lane, protocol §8): the ones the snapshot includes must not be applied twice.
    conn.send(sound(10)).await;
    conn.send(json!({"type":"event","stream":"sprites","seq":4,"frame":10,"items":[{"sprite_num":1,"begin_frame":1,"loc_h":5}]}))
        .await;
    conn.send(json!({"type":"response","id":request["id"],"ok":true,"data":{
        "seqs":{"sounds":10,"sprites":4},"movie":{"frame":10,"frame_count":100,"tempo":30,"playing":true},
        "stage_props":{},"movie_props":{},"sprites":[{"sprite_num":1,"begin_frame":1,"loc_h":5}],"members":[]}}))
        .await;
    conn.send(sound(11)).await;

    assert_eq!(next_seq_event(&mut events).await, ("sounds".into(), 6));
    assert!(
        matches!(next(&mut events).await, ClientEvent::Gap(g) if g.from_seq == 7 && g.to_seq == 9)
    );
    match next(&mut events).await {
        ClientEvent::Resynced(s) => assert_eq!(s.seqs["sounds"], 10),
        other => panic!("expected Resynced, got {other:?}"),
    }
    assert_eq!(next_seq_event(&mut events).await, ("sounds".into(), 11));
    let state = client.current_state();
    assert!(state.is_exact());
    assert_eq!(state.sprite(1, 1).unwrap().loc_h, Some(5.0));
    assert_eq!(state.last_seq(StreamName::Sounds), Some(11));
}

#[tokio::test]
async fn a_seq_hole_without_a_gap_also_resyncs() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(
        &server,
        config(server.url()),
        snapshot(json!({"sounds":1}), 1),
    )
    .await;
    let mut events = client.events();
    conn.send(sound(2)).await;
    conn.send(sound(5)).await;
    let request = conn.expect("request").await;
    assert_eq!(request["what"], "stage");
    conn.send(json!({"type":"response","id":request["id"],"ok":true,"data":{"seqs":{"sounds":5},"movie":null}}))
        .await;
    assert_eq!(next_seq_event(&mut events).await, ("sounds".into(), 2));
    assert_eq!(next_seq_event(&mut events).await, ("sounds".into(), 5));
    assert!(matches!(next(&mut events).await, ClientEvent::Resynced(_)));
}

#[tokio::test]
async fn requests_and_commands_correlate_by_id_in_any_order() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(&server, config(server.url()), snapshot(json!({}), 1)).await;
    let c1 = client.clone();
    let c2 = client.clone();
    let c3 = client.clone();
    let calls = tokio::spawn(async move {
        tokio::join!(
            c1.movie_state(),
            c2.command(Command::GoToFrame { frame: 42 }),
            c3.request_raw("nope"),
        )
    });
    let mut requests = Vec::new();
    let mut command = Value::Null;
    for _ in 0..3 {
        let frame = tokio::time::timeout(WAIT, conn.framed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let m: Value = serde_json::from_slice(&frame).unwrap();
        match m["type"].as_str() {
            Some("request") => requests.push(m),
            Some("command") => command = m,
            _ => panic!("unexpected {m}"),
        }
    }
    // Answer in reverse order.
    conn.send(json!({"type":"ack","id":command["id"],"status":"applied","frame":42}))
        .await;
    for r in requests.iter().rev() {
        let answer = if r["what"] == "movie_state" {
            json!({"type":"response","id":r["id"],"ok":true,"data":{"frame":3,"frame_count":9,"tempo":12,"playing":false}})
        } else {
            json!({"type":"response","id":r["id"],"ok":false,"error":{"code":"unknown_request","message":"no"}})
        };
        conn.send(answer).await;
    }
    let (movie, ack, unknown) = calls.await.unwrap();
    assert_eq!(movie.unwrap().tempo, 12);
    assert_eq!(ack.unwrap().frame, Some(42));
    match unknown {
        Err(ClientError::Server(e)) => assert_eq!(e.code, ErrorCode::UnknownRequest),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_command_without_an_ack_times_out() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(&server, config(server.url()), snapshot(json!({}), 1)).await;
    let result = tokio::join!(
        client.command_with_timeout(Command::Pause, Duration::from_millis(100)),
        conn.expect("command")
    )
    .0;
    assert!(
        matches!(result, Err(ClientError::Timeout { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_silent_server_is_dropped_and_the_client_reconnects_and_resyncs() {
    let server = FakeServer::start();
    let cfg = ClientConfig {
        heartbeat: Some(Duration::from_millis(20)),
        idle_timeout: Some(Duration::from_millis(300)),
        ..config(server.url())
    };
    let (client, mut conn) = connect(&server, cfg, snapshot(json!({"sounds":3}), 3)).await;
    let mut events = client.events();
    // A command in flight when the connection dies resolves with an error, never hangs.
    let pending = {
        let c = client.clone();
        tokio::spawn(async move { c.command(Command::Pause).await })
    };
    conn.expect("command").await;
    // The client pings on its own while we stay silent.
    conn.expect("ping").await;
    let (mut second, hello) = server
        .accept_welcomed(snapshot(json!({"sounds":1}), 1))
        .await;
    assert_eq!(
        hello["snapshot"], true,
        "a reconnect always asks for a snapshot"
    );
    assert!(matches!(
        pending.await.unwrap(),
        Err(ClientError::Disconnected)
    ));
    loop {
        match next(&mut events).await {
            ClientEvent::Disconnected(_) | ClientEvent::Welcome(_) => continue,
            ClientEvent::Resynced(s) => {
                assert_eq!(s.seqs["sounds"], 1);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The new host run's seqs start low again; they are not mistaken for stale events.
    second.send(sound(2)).await;
    assert_eq!(next_seq_event(&mut events).await, ("sounds".into(), 2));
    client
        .wait_for_state(WAIT, |s| *s == ConnectionState::Connected)
        .await
        .unwrap();
    drop(conn);
}

#[tokio::test]
async fn session_replaced_stops_the_client_for_good() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(&server, config(server.url()), snapshot(json!({}), 1)).await;
    conn.send(json!({"type":"error","code":"session_replaced","message":"client id `x` connected again","fatal":true}))
        .await;
    let state = client
        .wait_for_state(WAIT, ConnectionState::is_closed)
        .await
        .unwrap();
    assert_eq!(
        state,
        ConnectionState::Closed(CloseReason::Fatal {
            code: ErrorCode::SessionReplaced,
            message: "client id `x` connected again".into()
        })
    );
    conn.expect_closed().await;
    // No reconnect: nothing dials the socket again within many backoff periods.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), server.listener.accept())
            .await
            .is_err()
    );
    assert!(matches!(
        client.command(Command::Pause).await,
        Err(ClientError::Closed(CloseReason::Fatal { .. }))
    ));
}

#[tokio::test]
async fn auth_failed_on_hello_fails_connect() {
    let server = FakeServer::start();
    let (result, ()) = tokio::join!(Client::connect(config(server.url())), async {
        let mut conn = server.accept().await;
        conn.expect("hello").await;
        conn.send(
            json!({"type":"error","code":"auth_failed","message":"wrong token","fatal":true}),
        )
        .await;
    });
    match result {
        Err(ClientError::Closed(CloseReason::Fatal { code, .. })) => {
            assert_eq!(code, ErrorCode::AuthFailed)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn pixel_tiles_become_frames_and_are_acked_after_the_last_tile() {
    let server = FakeServer::start();
    let (client, mut conn) = connect(&server, config(server.url()), snapshot(json!({}), 1)).await;
    let mut frames = client.pixel_frames();
    let tile = |x: u16, flags: u16, color: [u8; 4]| {
        let header = TileHeader {
            encoding: TileEncoding::Lz4,
            flags,
            frame: 9,
            x,
            y: 0,
            w: 64,
            h: 10,
            stage_w: 100,
            stage_h: 10,
        };
        let w = if x == 0 { 64 } else { 36 };
        let header = TileHeader { w, ..header };
        let rgba: Vec<u8> = (0..w as usize * 10).flat_map(|_| color).collect();
        encode_tile(header, &rgba)
    };
    conn.send_binary(&tile(0, FLAG_KEYFRAME, [255, 0, 0, 255]))
        .await;
    conn.send_binary(&tile(64, FLAG_KEYFRAME | FLAG_LAST, [0, 0, 255, 255]))
        .await;
    let ack = conn.expect("pixels_ack").await;
    assert_eq!(ack["frame"], 9);
    let frame = tokio::time::timeout(WAIT, frames.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((frame.width, frame.height, frame.frame), (100, 10, 9));
    assert_eq!(frame.pixel(0, 0), Some([255, 0, 0, 255]));
    assert_eq!(frame.pixel(99, 9), Some([0, 0, 255, 255]));

    // A malformed tile: dropped, and a keyframe is asked for by subscribing to pixels again.
    conn.send_binary(&[1, 0, 0]).await;
    let unsub = conn.expect("unsubscribe").await;
    assert_eq!(unsub["streams"], json!(["pixels"]));
    let sub = conn.expect("subscribe").await;
    assert_eq!(sub["streams"], json!(["pixels"]));
}

#[tokio::test]
async fn a_relay_project_without_a_host_connects_and_resyncs_when_one_joins() {
    let server = FakeServer::start();
    let (client, mut conn) = tokio::join!(Client::connect(config(server.url())), async {
        let mut conn = server.accept().await;
        let hello = conn.expect("hello").await;
        assert_eq!(hello["snapshot"], true);
        conn.send(welcome()).await;
        conn.send(json!({"type":"notice","code":"host_left","message":"no host yet"}))
            .await;
        conn
    });
    let client = client.expect("connects without a snapshot while the project has no host");
    assert!(!client.current_state().has_snapshot());
    let mut events = client.events();
    let ack = tokio::join!(client.command(Command::Pause), async {
        let c = conn.expect("command").await;
        conn.send(json!({"type":"ack","id":c["id"],"status":"rejected","error":{"code":"no_host","message":"no host"}}))
            .await;
    })
    .0
    .unwrap();
    assert_eq!(ack.error.unwrap().code, ErrorCode::NoHost);

    conn.send(json!({"type":"notice","code":"host_joined","message":"back"}))
        .await;
    conn.send(snapshot(json!({"sounds":1}), 1)).await;
    loop {
        match next(&mut events).await {
            ClientEvent::Notice(_) => continue,
            ClientEvent::Resynced(s) => {
                assert_eq!(s.seqs["sounds"], 1);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(client.current_state().is_exact());
}
