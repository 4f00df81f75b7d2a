//! The client against real hosts, in process: the same assertions over the WebSocket host and the
//! local-socket host (and a `wss://` smoke test). A small engine thread drives a Publisher the
//! way the player does: it applies commands at the start of each tick, publishes every stream,
//! renders pixels, and answers requests at the tick boundary.
//!
//! Nothing here sleeps to wait: every wait is for an event or a state, bounded by [`WAIT`]. (The
//! engine thread paces its ticks like a real engine does.)

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use stagelink_client::{
    Applied, Client, ClientConfig, ClientError, ClientEvent, ClientState, CloseReason,
    ConnectionState, EventStream, Mirror, ReconnectPolicy, TlsOptions,
};
use stagelink_contracts::{
    AckStatus, Color, Command, ErrorCode, FilmLoop, FrameScript, Keyframe, MemberInfo, MemberProp,
    MemberRef, MovieProp, MovieState, Palette, PropValue, Role, SoundCue, SpriteDelta, SpriteEvent,
    SpriteEventKind, StageFrame, StageProp, StageSnapshot, StreamName, TempoChange, TextStyle,
    Transition,
};
use stagelink_host_pipe::PipeServer;
use stagelink_host_ws::{TlsFiles, WsConfig, WsServer};
use stagelink_publisher::{
    AuthConfig, Hub, HubConfig, PendingCommand, Publisher, SnapshotProvider,
};
use tempfile::TempDir;

/// The longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
/// The engine's tick.
const TICK: Duration = Duration::from_millis(5);
const TOKEN: &str = "conformance-token";
const STAGE_W: u32 = 96;
const STAGE_H: u32 = 80;
const FRAME_COUNT: u32 = 240;
const UNICODE: &str = "Grüße — 日本語 🎬 «ok»";

// ---------------------------------------------------------------------------------------------
// The engine

/// What the test can tell the engine thread.
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    /// Leave commands on the lane (so they are never acked while set).
    hold_commands: AtomicBool,
    /// Publish this many extra ticks of `sounds` as fast as possible (to overflow a queue).
    burst: AtomicU32,
}

/// The movie the engine plays.
struct Movie {
    frame: u32,
    tempo: u32,
    playing: bool,
    ticks: u64,
    sprites: BTreeMap<(u32, u32), SpriteDelta>,
    members: BTreeMap<(u32, u32), MemberInfo>,
    movie_props: BTreeMap<String, PropValue>,
    stage_props: BTreeMap<String, PropValue>,
}

fn full_sprite(num: u32, begin: u32, end: u32, member: u32, loc_h: f64) -> SpriteDelta {
    SpriteDelta {
        sprite_num: num,
        begin_frame: begin,
        end_frame: Some(end),
        member: Some(MemberRef {
            cast_lib: 1,
            member_num: member,
        }),
        loc_h: Some(loc_h),
        loc_v: Some(40.0),
        loc_z: Some(num as i32),
        width: Some(16.0),
        height: Some(16.0),
        rotation: Some(0.0),
        skew: Some(0.0),
        blend: Some(100),
        ink: Some(36),
        visible: Some(true),
        color: Some(Color::rgb(255, 64, 64)),
    }
}

impl Movie {
    fn new(first_frame: u32, text: &str) -> Self {
        let member = |num: u32, name: &str, kind: &str, props: Vec<(&str, PropValue)>| {
            (
                (1, num),
                MemberInfo {
                    cast_lib: 1,
                    member_num: num,
                    name: name.into(),
                    kind: kind.into(),
                    props: props.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                },
            )
        };
        Movie {
            frame: first_frame,
            tempo: 30,
            playing: true,
            ticks: 0,
            sprites: [
                ((1, 1), full_sprite(1, 1, FRAME_COUNT, 2, 0.0)),
                ((2, 1), full_sprite(2, 1, FRAME_COUNT, 5, 8.0)),
            ]
            .into(),
            members: [
                member(2, "ball", "shape", vec![("filled", true.into())]),
                member(5, "score_text", "text", vec![("text", text.into())]),
            ]
            .into(),
            movie_props: [("name".to_string(), "demo".into())].into(),
            stage_props: [
                ("width".to_string(), STAGE_W.into()),
                ("height".to_string(), STAGE_H.into()),
            ]
            .into(),
        }
    }

    fn apply(&mut self, pending: PendingCommand, publisher: &mut Publisher) {
        let frame = self.frame;
        match pending.command.clone() {
            Command::GoToFrame { frame: f } if (1..=FRAME_COUNT).contains(&f) => {
                self.frame = f;
                pending.applied(f, None);
            }
            Command::GoToFrame { frame: f } => pending.rejected(
                ErrorCode::OutOfRange,
                format!("frame {f} is outside 1..240"),
            ),
            Command::Pause => {
                self.playing = false;
                pending.applied(frame, None);
            }
            Command::Resume => {
                self.playing = true;
                pending.applied(frame, None);
            }
            Command::SetSpriteProp {
                sprite_num,
                begin_frame,
                prop,
                value,
            } => match self.sprites.get_mut(&(sprite_num, begin_frame)) {
                Some(sprite) if prop == "loc_v" => {
                    let Some(v) = value.as_f64() else {
                        return pending.rejected(ErrorCode::InvalidValue, "loc_v takes a number");
                    };
                    sprite.loc_v = Some(v);
                    publisher.record(SpriteDelta {
                        loc_v: Some(v),
                        ..SpriteDelta::new(sprite_num, begin_frame)
                    });
                    pending.applied(frame, None);
                }
                Some(_) => pending.rejected(ErrorCode::UnknownProperty, format!("`{prop}`")),
                None => pending.rejected(
                    ErrorCode::UnknownSprite,
                    format!("no sprite in channel {sprite_num} at frame {begin_frame}"),
                ),
            },
            Command::SetMemberProp {
                cast_lib,
                member_num,
                prop,
                value,
            } => match self.members.get_mut(&(cast_lib, member_num)) {
                Some(member) => {
                    member.props.insert(prop.clone(), value.clone());
                    publisher.record(MemberProp {
                        cast_lib,
                        member_num,
                        prop,
                        value,
                    });
                    pending.applied(frame, None);
                }
                None => pending.rejected(ErrorCode::UnknownMember, "no such member"),
            },
            Command::SetMovieProp { prop, value } => {
                self.movie_props.insert(prop.clone(), value.clone());
                publisher.record(MovieProp { prop, value });
                pending.applied(frame, None);
            }
            Command::SetStageProp { prop, value } => {
                self.stage_props.insert(prop.clone(), value.clone());
                publisher.record(StageProp { prop, value });
                pending.applied(frame, None);
            }
            Command::Custom { name, payload } if name == "echo" => {
                pending.applied(frame, Some(payload))
            }
            Command::Custom { name, .. } => {
                pending.rejected(ErrorCode::UnknownCommand, format!("no handler `{name}`"))
            }
            _ => pending.applied(frame, None),
        }
    }

    /// One tick: while playing, the playhead moves and every stream publishes; while paused
    /// only `frames` does (so a paused movie is quiet and its state stable).
    fn tick(&mut self, publisher: &mut Publisher, hub: &Hub) {
        self.ticks += 1;
        if self.playing {
            self.frame = self.frame % FRAME_COUNT + 1;
            let f = self.frame;
            let loc_h = f as f64 * 0.5;
            if let Some(s) = self.sprites.get_mut(&(1, 1)) {
                s.loc_h = Some(loc_h);
            }
            publisher.record(SpriteDelta {
                loc_h: Some(loc_h),
                ..SpriteDelta::new(1, 1)
            });
            // Sprite 9 comes and goes every 10 frames.
            if f.is_multiple_of(10) {
                let event = if let Some(sprite) = self.sprites.remove(&(9, 1)) {
                    SpriteEvent {
                        manager: "score".into(),
                        event: SpriteEventKind::Removed,
                        sprite_num: sprite.sprite_num,
                        begin_frame: 1,
                        sprite: None,
                    }
                } else {
                    let sprite = full_sprite(9, 1, FRAME_COUNT, 2, 60.0);
                    self.sprites.insert((9, 1), sprite.clone());
                    SpriteEvent {
                        manager: "score".into(),
                        event: SpriteEventKind::Added,
                        sprite_num: 9,
                        begin_frame: 1,
                        sprite: Some(sprite),
                    }
                };
                publisher.record(event);
            }
            let counter = PropValue::Int(self.ticks as i64);
            self.members
                .get_mut(&(1, 2))
                .map(|m| m.props.insert("counter".into(), counter.clone()));
            publisher.record(MemberProp {
                cast_lib: 1,
                member_num: 2,
                prop: "counter".into(),
                value: counter.clone(),
            });
            self.movie_props.insert("ticks".into(), counter.clone());
            publisher.record(MovieProp {
                prop: "ticks".into(),
                value: counter.clone(),
            });
            self.stage_props.insert("ticks".into(), counter.clone());
            publisher.record(StageProp {
                prop: "ticks".into(),
                value: counter,
            });
            publisher.record(Keyframe {
                frame: f,
                sprite_num: 1,
                begin_frame: 1,
                prop: "loc_h".into(),
                value: loc_h.into(),
            });
            publisher.record(FilmLoop {
                cast_lib: 1,
                member_num: 9,
                start_frame: 1,
                end_frame: 12,
                playing: true,
            });
            publisher.record(sound(f));
            publisher.record(TempoChange {
                frame: f,
                tempo: self.tempo,
            });
            publisher.record(Palette {
                frame: f,
                colors: vec![Color::rgb(0, 0, 0), Color::rgb(255, 255, 255)],
            });
            publisher.record(FrameScript {
                frame: f,
                script: "tick".into(),
            });
            publisher.record(Transition {
                frame: f,
                kind: "dissolve".into(),
                duration_ms: 100,
            });
            publisher.record(TextStyle {
                cast_lib: 1,
                member_num: 5,
                start: 0,
                end: 3,
                style: "bold".into(),
                value: true.into(),
            });
            hub.publish_pixels(f, STAGE_W, STAGE_H, &image(f));
        }
        publisher.record(StageFrame {
            frame: self.frame,
            frame_count: FRAME_COUNT,
            tempo: self.tempo,
            playing: self.playing,
            time_ms: self.ticks * 4,
            width: STAGE_W,
            height: STAGE_H,
        });
    }
}

fn sound(frame: u32) -> SoundCue {
    SoundCue {
        frame,
        channel: 1,
        cast_lib: 1,
        member_num: 4,
        playing: true,
    }
}

/// The rendered stage of `frame`: one colour that names the frame, a white square top left.
fn image(frame: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((STAGE_W * STAGE_H * 4) as usize);
    for y in 0..STAGE_H {
        for x in 0..STAGE_W {
            if x < 8 && y < 8 {
                rgba.extend_from_slice(&[255, 255, 255, 255]);
            } else {
                rgba.extend_from_slice(&[frame as u8, 100, 200, 255]);
            }
        }
    }
    rgba
}

impl SnapshotProvider for Movie {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: FRAME_COUNT,
            tempo: self.tempo,
            playing: self.playing,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot {
            seqs: BTreeMap::new(),
            movie: Some(self.movie_state()),
            stage_props: self.stage_props.clone(),
            movie_props: self.movie_props.clone(),
            sprites: self.sprites.values().cloned().collect(),
            members: self.members.values().cloned().collect(),
        }
    }
    fn project(&self) -> Value {
        json!({"name": "demo", "frame_count": FRAME_COUNT, "tempo": self.tempo})
    }
}

/// The engine thread: ticks every [`TICK`] until stopped.
struct Engine {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    fn start(hub: Hub, movie: Movie) -> Engine {
        let control = Arc::new(Control::default());
        let c = control.clone();
        let thread = std::thread::spawn(move || {
            let mut publisher = Publisher::new(hub.clone());
            let mut movie = movie;
            while !c.stop.load(SeqCst) {
                if !c.hold_commands.load(SeqCst) {
                    for pending in publisher.drain_commands() {
                        movie.apply(pending, &mut publisher);
                    }
                }
                movie.tick(&mut publisher, &hub);
                publisher.end_tick(movie.frame, &movie);
                for _ in 0..c.burst.swap(0, SeqCst) {
                    publisher.record(sound(movie.frame));
                    publisher.end_tick(movie.frame, &movie);
                }
                std::thread::sleep(TICK);
            }
        });
        Engine {
            control,
            thread: Some(thread),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.control.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hosts

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Ws,
    Pipe,
}

/// Where a host listens, so a restarted one can listen there again.
#[derive(Clone)]
enum Place {
    Ws(SocketAddr),
    Pipe(PathBuf, Arc<TempDir>),
}

enum Server {
    Ws(WsServer),
    Pipe(PipeServer),
}

struct TestHost {
    hub: Hub,
    engine: Engine,
    server: Server,
    place: Place,
}

fn hub_config() -> HubConfig {
    HubConfig {
        project: "demo".into(),
        server_name: "conformance".into(),
        auth: AuthConfig::with_token(TOKEN),
        heartbeat: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        // Deep enough that only the gap test (which sets its own) ever overflows.
        stream_queue: 4096,
        ..HubConfig::default()
    }
}

impl TestHost {
    async fn start(transport: Transport) -> TestHost {
        TestHost::start_with(transport, hub_config(), Movie::new(1, "Score: 0")).await
    }

    async fn start_with(transport: Transport, config: HubConfig, movie: Movie) -> TestHost {
        let place = match transport {
            Transport::Ws => Place::Ws("127.0.0.1:0".parse().unwrap()),
            Transport::Pipe => {
                let dir = Arc::new(tempfile::tempdir().unwrap());
                Place::Pipe(dir.path().join("run").join("demo.sock"), dir)
            }
        };
        TestHost::start_at(place, config, movie).await
    }

    async fn start_at(place: Place, config: HubConfig, movie: Movie) -> TestHost {
        let hub = Hub::new(config);
        let engine = Engine::start(hub.clone(), movie);
        let (server, place) = match place {
            Place::Ws(addr) => {
                let ws = WsConfig {
                    addr,
                    ..WsConfig::default()
                };
                let server = stagelink_host_ws::serve(hub.clone(), ws).expect("ws host starts");
                let place = Place::Ws(server.local_addr());
                (Server::Ws(server), place)
            }
            Place::Pipe(path, dir) => {
                let server = stagelink_host_pipe::serve(hub.clone(), path.clone())
                    .expect("pipe host starts");
                (Server::Pipe(server), Place::Pipe(path, dir))
            }
        };
        TestHost {
            hub,
            engine,
            server,
            place,
        }
    }

    fn url(&self) -> String {
        match &self.place {
            Place::Ws(addr) => format!("ws://{addr}/ws"),
            Place::Pipe(path, _) => format!("pipe://{}", path.display()),
        }
    }

    fn control(&self) -> &Control {
        &self.engine.control
    }

    /// Shuts the host down gracefully (bye + shutdown to every client) and stops the engine.
    async fn stop(self) -> Place {
        match self.server {
            Server::Ws(s) => s.shutdown().await,
            Server::Pipe(s) => s.shutdown().await,
        }
        drop(self.engine);
        self.place
    }
}

fn client_config(host: &TestHost) -> ClientConfig {
    ClientConfig {
        token: Some(TOKEN.into()),
        subscribe: ClientConfig::all_but_pixels(),
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            jitter: false,
            ..ReconnectPolicy::default()
        },
        connect_timeout: WAIT,
        command_timeout: WAIT,
        request_timeout: WAIT,
        ..ClientConfig::new(host.url())
    }
}

/// The suite's tests run one at a time: each starts an engine ticking every few milliseconds, and
/// a dozen at once on a small machine would make the clients, not the code, the bottleneck.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn connect(host: &TestHost) -> Client {
    Client::connect(client_config(host))
        .await
        .expect("the client connects")
}

async fn next(events: &mut EventStream) -> ClientEvent {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event arrives in time")
        .expect("the client is open")
}

/// Waits for the first event `pick` accepts.
async fn wait_event<T>(
    events: &mut EventStream,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    loop {
        if let Some(t) = pick(&next(events).await) {
            return t;
        }
    }
}

/// Pauses the movie and waits until the client's model shows it paused and exact, then checks
/// the model against a fresh `stage` from the host: the client's state is the host's.
async fn assert_model_matches_host(client: &Client) {
    let mut events = client.events();
    let ack = client.command_applied(Command::Pause).await.unwrap();
    let paused_at = ack.frame.unwrap();
    loop {
        let state = client.current_state();
        if state.is_exact()
            && state
                .movie
                .is_some_and(|m| !m.playing && m.frame == paused_at)
        {
            break;
        }
        next(&mut events).await;
    }
    let stage = client.stage().await.unwrap();
    let model = client.current_state();
    let host = ClientState::from_snapshot(&stage);
    assert_eq!(model.sprites, host.sprites, "sprites");
    assert_eq!(model.members, host.members, "members");
    assert_eq!(model.movie_props, host.movie_props, "movie props");
    assert_eq!(model.stage_props, host.stage_props, "stage props");
    assert_eq!(model.movie, host.movie, "playhead");
    client.command_applied(Command::Resume).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The suite, run once per transport

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod ws {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let _serial = super::SERIAL.lock().await;
                super::$name(super::Transport::Ws).await
            })*
        }
        mod pipe {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let _serial = super::SERIAL.lock().await;
                super::$name(super::Transport::Pipe).await
            })*
        }
    };
}

conformance!(
    hello_and_welcome,
    every_subscribed_stream_receives_events,
    pixels_arrive_as_whole_frames,
    commands_are_acked,
    requests_in_flight_correlate,
    snapshot_then_live,
    reconnects_after_the_host_restarts,
    resyncs_after_a_gap,
    command_timeouts,
    session_replaced_stops_the_client,
    non_ascii_text_round_trips,
    heartbeats_keep_a_quiet_session_alive,
    mirror_tracks_the_host,
);

async fn hello_and_welcome(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let welcome = client.welcome().unwrap();
    assert_eq!(welcome.protocol, 1);
    assert_eq!(welcome.project.as_deref(), Some("demo"));
    assert_eq!(welcome.role, Role::Controller);
    assert_eq!(welcome.server.name.as_deref(), Some("conformance"));
    assert_eq!(welcome.streams.len(), StreamName::ALL.len());
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    // Connect waited for the first snapshot: the model is there at once.
    let state = client.current_state();
    assert!(state.is_exact());
    assert_eq!(state.members.len(), 2);

    // A wrong project is refused for good.
    let wrong = Client::connect(ClientConfig {
        project: Some("nope".into()),
        ..client_config(&host)
    })
    .await;
    assert!(
        matches!(
            &wrong,
            Err(ClientError::Closed(CloseReason::Fatal {
                code: ErrorCode::UnknownProject,
                ..
            }))
        ),
        "{wrong:?}"
    );
    client.close().await;
    assert_eq!(
        client.connection_state(),
        ConnectionState::Closed(CloseReason::Requested)
    );
}

async fn every_subscribed_stream_receives_events(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let mut events = client.events();
    let mut seen = BTreeSet::new();
    let wanted: BTreeSet<_> = StreamName::ALL
        .iter()
        .filter(|s| **s != StreamName::Pixels)
        .map(|s| s.as_str().to_owned())
        .collect();
    while seen != wanted {
        if let ClientEvent::Event(e) = next(&mut events).await {
            seen.insert(e.stream.clone());
        }
    }
    // Typed streams decode their items.
    let mut sprites = client.stream::<SpriteDelta>();
    let typed = tokio::time::timeout(WAIT, sprites.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(typed.meta.stream, StreamName::Sprites);
    assert!(typed.items.iter().any(|d| d.sprite_num == 1));
    let mut frames = client.stream::<StageFrame>();
    let typed = tokio::time::timeout(WAIT, frames.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(typed.items[0].width, STAGE_W);
}

async fn pixels_arrive_as_whole_frames(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let mut frames = client.pixel_frames();
    client.subscribe(&["pixels"], false).unwrap();
    // Several frames in a row: the window of 2 only moves if every frame is acked.
    for _ in 0..5 {
        let frame = tokio::time::timeout(WAIT, frames.next())
            .await
            .expect("a pixel frame arrives")
            .unwrap();
        assert_eq!((frame.width, frame.height), (STAGE_W, STAGE_H));
        assert_eq!(frame.pixel(0, 0), Some([255, 255, 255, 255]));
        let expected = [frame.frame as u8, 100, 200, 255];
        assert_eq!(frame.pixel(STAGE_W - 1, STAGE_H - 1), Some(expected));
        assert_eq!(frame.pixel(40, 40), Some(expected));
    }
}

async fn commands_are_acked(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let ack = client
        .command(Command::GoToFrame { frame: 42 })
        .await
        .unwrap();
    assert_eq!(ack.status, AckStatus::Applied);
    assert_eq!(ack.frame, Some(42));

    let ack = client
        .command(Command::GoToFrame { frame: 999 })
        .await
        .unwrap();
    assert_eq!(ack.status, AckStatus::Rejected);
    assert_eq!(ack.error.unwrap().code, ErrorCode::OutOfRange);

    let rejected = client
        .command_applied(Command::SetSpriteProp {
            sprite_num: 99,
            begin_frame: 1,
            prop: "loc_v".into(),
            value: 1.into(),
        })
        .await;
    assert!(
        matches!(&rejected, Err(ClientError::Server(e)) if e.code == ErrorCode::UnknownSprite),
        "{rejected:?}"
    );

    let ack = client
        .command_applied(Command::Custom {
            name: "echo".into(),
            payload: json!({"x": 1, "s": UNICODE}),
        })
        .await
        .unwrap();
    assert_eq!(ack.result, Some(json!({"x": 1, "s": UNICODE})));

    // The change a command makes arrives on its stream like any other.
    let mut events = client.events();
    client
        .command_applied(Command::SetSpriteProp {
            sprite_num: 2,
            begin_frame: 1,
            prop: "loc_v".into(),
            value: PropValue::Float(123.5),
        })
        .await
        .unwrap();
    wait_event(&mut events, |e| match e {
        ClientEvent::Event(e) if e.stream == "sprites" => e
            .items_as::<SpriteDelta>()
            .unwrap()
            .iter()
            .any(|d| d.sprite_num == 2 && d.loc_v == Some(123.5))
            .then_some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        client.current_state().sprite(2, 1).unwrap().loc_v,
        Some(123.5)
    );

    // An observer's command is rejected with `forbidden`.
    let observer = Client::connect(ClientConfig {
        role: Role::Observer,
        ..client_config(&host)
    })
    .await
    .unwrap();
    let ack = observer.command(Command::Pause).await.unwrap();
    assert_eq!(ack.status, AckStatus::Rejected);
    assert_eq!(ack.error.unwrap().code, ErrorCode::Forbidden);
}

async fn requests_in_flight_correlate(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let mut calls = Vec::new();
    for i in 0..24 {
        let c = client.clone();
        calls.push(tokio::spawn(async move {
            match i % 4 {
                0 => c
                    .movie_state()
                    .await
                    .map(|m| json!({"frame_count": m.frame_count})),
                1 => c.stage().await.map(|s| json!({"members": s.members.len()})),
                2 => c.project().await,
                _ => c.stats().await.map(|s| json!({"stats": s.messages_in > 0})),
            }
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        let value = call.await.unwrap().unwrap();
        let expected = match i % 4 {
            0 => json!({"frame_count": FRAME_COUNT}),
            1 => json!({"members": 2}),
            2 => json!({"name": "demo", "frame_count": FRAME_COUNT, "tempo": 30}),
            _ => json!({"stats": true}),
        };
        assert_eq!(value, expected, "request {i}");
    }
    let unknown = client.request_raw("score_dump").await;
    assert!(
        matches!(&unknown, Err(ClientError::Server(e)) if e.code == ErrorCode::UnknownRequest),
        "{unknown:?}"
    );
}

async fn snapshot_then_live(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let (mut state, mut events) = client.subscribe_state();
    assert!(state.is_exact());
    let first_frames = state
        .last_seq(StreamName::Frames)
        .expect("the snapshot has seqs");
    // Every live event continues exactly where the snapshot left off: none is stale, none
    // missing, and the model stays exact.
    let mut frames_seen = 0;
    while frames_seen < 30 {
        let event = next(&mut events).await;
        if let ClientEvent::Event(e) = &event
            && e.stream == "frames"
        {
            if frames_seen == 0 {
                assert_eq!(
                    e.first_seq.unwrap_or(e.seq),
                    first_frames + 1,
                    "{e:?} after {first_frames}"
                );
            }
            frames_seen += 1;
        }
        assert_ne!(state.apply(&event), Applied::Stale, "{event:?}");
        assert!(state.is_exact(), "after {event:?}");
    }
    assert_model_matches_host(&client).await;
}

async fn reconnects_after_the_host_restarts(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let mut events = client.events();
    let mut states = client.state();

    // A command in flight when the host goes away resolves with an error, never hangs.
    host.control().hold_commands.store(true, SeqCst);
    let pending = {
        let c = client.clone();
        tokio::spawn(async move { c.command(Command::Pause).await })
    };
    // Make sure it reached the host before the host goes.
    wait_until_queued(&host).await;
    let place = host.stop().await;
    assert!(matches!(
        tokio::time::timeout(WAIT, pending).await.unwrap().unwrap(),
        Err(ClientError::Disconnected)
    ));
    tokio::time::timeout(
        WAIT,
        states.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await
    .unwrap()
    .unwrap();

    // A new host run on the same address: different state, seqs start again at 1.
    let host = TestHost::start_at(place, hub_config(), Movie::new(100, "second run")).await;
    let resynced = wait_event(&mut events, |e| match e {
        ClientEvent::Resynced(s) => Some(s.clone()),
        _ => None,
    })
    .await;
    assert!(
        resynced
            .members
            .iter()
            .any(|m| m.props.get("text") == Some(&"second run".into()))
    );
    client
        .wait_for_state(WAIT, |s| *s == ConnectionState::Connected)
        .await
        .unwrap();
    let state = client.current_state();
    assert_eq!(
        state.member(1, 5).unwrap().props["text"].as_str(),
        Some("second run")
    );
    // Live again: commands work and the model tracks the new host exactly.
    let ack = client
        .command_applied(Command::GoToFrame { frame: 7 })
        .await
        .unwrap();
    assert_eq!(ack.frame, Some(7));
    assert_model_matches_host(&client).await;
    drop(host);
}

/// Waits until the engine's command lane holds a command (the hub counts them as they are
/// queued for the engine).
async fn wait_until_queued(host: &TestHost) {
    // The session counts what it received; poll it once per engine tick.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut tick = tokio::time::interval(TICK);
    loop {
        let received: u64 = host
            .hub
            .session_stats()
            .iter()
            .map(|(_, s)| s["messages_in"].as_u64().unwrap_or(0))
            .sum();
        // hello + command
        if received >= 2 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the command never reached the host"
        );
        tick.tick().await;
    }
}

async fn resyncs_after_a_gap(t: Transport) {
    let config = HubConfig {
        stream_queue: 2,
        // The bursts must overflow the session's queue: with direct writes the engine thread
        // would put every tick into the socket itself while the client keeps up.
        direct_write_sessions: 0,
        ..hub_config()
    };
    let host = TestHost::start_with(t, config, Movie::new(1, "Score: 0")).await;
    let client = connect(&host).await;
    let mut events = client.events();
    // Overflow the session's `sounds` queue: bursts of ticks faster than any socket drains
    // them, until the host reports a gap.
    let mut gap = None;
    let give_up = tokio::time::Instant::now() + WAIT;
    while gap.is_none() {
        assert!(
            tokio::time::Instant::now() < give_up,
            "no gap was ever reported"
        );
        host.control().burst.store(2000, SeqCst);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Some(ClientEvent::Gap(g))) => {
                    gap = Some(g);
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("client closed"),
                Err(_) => break,
            }
        }
    }
    let gap = gap.unwrap();
    assert!(gap.from_seq <= gap.to_seq, "{gap:?}");
    // The client answers the gap with a resync.
    wait_event(&mut events, |e| {
        matches!(e, ClientEvent::Resynced(_)).then_some(())
    })
    .await;
    assert_model_matches_host(&client).await;
}

async fn command_timeouts(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    host.control().hold_commands.store(true, SeqCst);
    let result = client
        .command_with_timeout(Command::Pause, Duration::from_millis(200))
        .await;
    assert!(
        matches!(result, Err(ClientError::Timeout { .. })),
        "{result:?}"
    );
    host.control().hold_commands.store(false, SeqCst);
    // The session goes on: a late ack for the timed-out command is ignored, new ones work.
    let ack = client.command_applied(Command::Resume).await.unwrap();
    assert_eq!(ack.status, AckStatus::Applied);
}

async fn session_replaced_stops_the_client(t: Transport) {
    let host = TestHost::start(t).await;
    let first = Client::connect(client_config(&host).client_id("same-id"))
        .await
        .unwrap();
    let second = Client::connect(client_config(&host).client_id("same-id"))
        .await
        .unwrap();
    let state = first
        .wait_for_state(WAIT, ConnectionState::is_closed)
        .await
        .unwrap();
    assert!(
        matches!(
            state,
            ConnectionState::Closed(CloseReason::Fatal {
                code: ErrorCode::SessionReplaced,
                ..
            })
        ),
        "{state:?}"
    );
    // The replaced client stays closed; the new one works.
    assert!(matches!(
        first.movie_state().await,
        Err(ClientError::Closed(CloseReason::Fatal {
            code: ErrorCode::SessionReplaced,
            ..
        }))
    ));
    assert_eq!(second.connection_state(), ConnectionState::Connected);
    second.movie_state().await.unwrap();
}

async fn non_ascii_text_round_trips(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let mut texts = client.stream::<MemberProp>();
    client
        .command_applied(Command::SetMemberProp {
            cast_lib: 1,
            member_num: 5,
            prop: "text".into(),
            value: UNICODE.into(),
        })
        .await
        .unwrap();
    client
        .command_applied(Command::SetMovieProp {
            prop: "title".into(),
            value: UNICODE.into(),
        })
        .await
        .unwrap();
    loop {
        let event = tokio::time::timeout(WAIT, texts.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if event
            .items
            .iter()
            .any(|p| p.prop == "text" && p.value.as_str() == Some(UNICODE))
        {
            break;
        }
    }
    let stage = client.stage().await.unwrap();
    assert_eq!(stage.movie_props["title"].as_str(), Some(UNICODE));
    let member = stage.members.iter().find(|m| m.member_num == 5).unwrap();
    assert_eq!(member.props["text"].as_str(), Some(UNICODE));
    assert_model_matches_host(&client).await;
    assert_eq!(
        client.current_state().member(1, 5).unwrap().props["text"].as_str(),
        Some(UNICODE)
    );
}

async fn heartbeats_keep_a_quiet_session_alive(t: Transport) {
    // The server closes a session silent for 300 ms; the client subscribes to nothing, so only
    // its own pings and pongs keep the session open.
    let config = HubConfig {
        heartbeat: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(300),
        ..hub_config()
    };
    let host = TestHost::start_with(t, config, Movie::new(1, "Score: 0")).await;
    let client = Client::connect(ClientConfig {
        subscribe: Vec::new(),
        snapshot: false,
        ..client_config(&host)
    })
    .await
    .unwrap();
    let mut states = client.state();
    // Several idle periods pass without the state changing (a bounded wait that must time out).
    let changed = tokio::time::timeout(Duration::from_millis(1500), states.changed()).await;
    assert!(
        changed.is_err(),
        "state changed to {:?}",
        client.connection_state()
    );
    let stats = client.stats().await.unwrap();
    assert!(stats.messages_in >= 4, "the client pinged: {stats:?}");
}

async fn mirror_tracks_the_host(t: Transport) {
    let host = TestHost::start(t).await;
    let client = connect(&host).await;
    let mirror = Mirror::new(ClientState::new());
    let c = client.clone();
    let run = tokio::spawn(async move { mirror.run(&c).await });
    // Give the mirror a known target: pause on a frame, move a sprite.
    assert_model_matches_host(&client).await;
    let ack = client.command_applied(Command::Pause).await.unwrap();
    client
        .command_applied(Command::SetSpriteProp {
            sprite_num: 2,
            begin_frame: 1,
            prop: "loc_v".into(),
            value: 77.into(),
        })
        .await
        .unwrap();
    // Wait until the client has seen both, then close: the mirror returns its target.
    let mut events = client.events();
    loop {
        let s = client.current_state();
        if s.sprite(2, 1).and_then(|s| s.loc_v) == Some(77.0) && s.movie.is_some_and(|m| !m.playing)
        {
            break;
        }
        next(&mut events).await;
    }
    let expected = client.current_state();
    client.close().await;
    let mirrored = tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(mirrored.sprites, expected.sprites);
    assert_eq!(mirrored.members, expected.members);
    assert_eq!(mirrored.movie.map(|m| m.frame), Some(ack.frame.unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Transport-specific

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_auth_token_from_the_url_and_a_wrong_token() {
    let _serial = SERIAL.lock().await;
    let host = TestHost::start(Transport::Ws).await;
    let url = format!("{}?token={TOKEN}", host.url());
    let client = Client::connect(ClientConfig {
        token: None,
        ..ClientConfig::new(url)
    })
    .await
    .unwrap();
    client.movie_state().await.unwrap();
    let refused = Client::connect(ClientConfig {
        token: Some("wrong".into()),
        ..client_config(&host)
    })
    .await;
    assert!(
        matches!(
            &refused,
            Err(ClientError::Closed(CloseReason::Fatal {
                code: ErrorCode::AuthFailed,
                ..
            }))
        ),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_a_custom_root() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let hub = Hub::new(hub_config());
    let _engine = Engine::start(hub.clone(), Movie::new(1, "tls"));
    let server = stagelink_host_ws::serve(
        hub,
        WsConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            tls: Some(TlsFiles {
                cert: cert_path.clone(),
                key: key_path,
            }),
            ..WsConfig::default()
        },
    )
    .unwrap();
    let url = server.ws_url();
    assert!(url.starts_with("wss://"));

    // Without the custom root the certificate is not trusted.
    let untrusted = Client::connect(ClientConfig {
        token: Some(TOKEN.into()),
        ..ClientConfig::new(url.clone())
    })
    .await;
    assert!(
        matches!(
            untrusted,
            Err(ClientError::Closed(CloseReason::ConnectFailed(_)))
        ),
        "{untrusted:?}"
    );

    let client = Client::connect(ClientConfig {
        token: Some(TOKEN.into()),
        tls: TlsOptions {
            extra_roots_pem: vec![cert_path],
            rustls: None,
        },
        ..ClientConfig::new(url)
    })
    .await
    .unwrap();
    let ack = client
        .command_applied(Command::GoToFrame { frame: 3 })
        .await
        .unwrap();
    assert_eq!(ack.frame, Some(3));
    assert_eq!(
        client.current_state().member(1, 5).unwrap().props["text"].as_str(),
        Some("tls")
    );
}
