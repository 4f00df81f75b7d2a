//! Mirror mode in process: a host (the demo engine ticked by hand, a hub, a WebSocket host on
//! `127.0.0.1:0`) and a mirror (a client, `Mirror` and a second engine that never ticks). After
//! commands, a gap and a host restart, the mirror's engine reports the host's stage exactly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use stagelink_client::{
    Client, ClientConfig, ClientEvent, ConnectionState, Mirror, ReconnectPolicy,
};
use stagelink_contracts::{AckStatus, Command, PropValue, Role, StageSnapshot};
use stagelink_host_ws::{WsConfig, WsServer};
use stagelink_player::mirror::{self, LocalOutput, MirroredEngine, SharedMirror};
use stagelink_player::{Engine, demo, runner};
use stagelink_publisher::{AuthConfig, Hub, HubConfig, Publisher, SnapshotProvider};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);
/// The host's tick period: fast, so that a test sees hundreds of frames.
const TICK: Duration = Duration::from_millis(5);

/// What the host's ticker owns: the engine and the publisher of the current hub.
struct Core {
    engine: Engine,
    publisher: Publisher,
}

/// A host process stand-in whose network side can be restarted under a running engine.
struct Host {
    core: Arc<Mutex<Core>>,
    hub: Hub,
    server: Option<WsServer>,
    addr: SocketAddr,
    ticker: JoinHandle<()>,
}

fn hub_config(stream_queue: usize) -> HubConfig {
    HubConfig {
        project: "demo".into(),
        server_name: "mirror-test-host".into(),
        auth: AuthConfig::open(),
        heartbeat: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        stream_queue,
        // The gap test needs bursts to overflow a session's queue: with direct writes the
        // engine thread would put every tick into the socket itself while the client keeps up.
        direct_write_sessions: 0,
        ..HubConfig::default()
    }
}

/// Small enough that a burst of ticks overflows the fifo streams of a session (a `gap`).
const SMALL_QUEUE: usize = 8;

impl Host {
    async fn start() -> Host {
        let hub = Hub::new(hub_config(SMALL_QUEUE));
        let core = Arc::new(Mutex::new(Core {
            engine: demo::demo_engine(),
            publisher: Publisher::new(hub.clone()),
        }));
        let server = serve(&hub, "127.0.0.1:0".parse().unwrap());
        let addr = server.local_addr();
        let ticking = core.clone();
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            loop {
                interval.tick().await;
                let mut core = ticking.lock().unwrap();
                let Core { engine, publisher } = &mut *core;
                runner::step(engine, publisher, None);
            }
        });
        Host {
            core,
            hub,
            server: Some(server),
            addr,
            ticker,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The host engine's `stage`, as its `stage` request would answer (without the seqs).
    fn stage(&self) -> StageSnapshot {
        self.core.lock().unwrap().engine.stage()
    }

    /// `n` ticks at once: far more than a socket drains between two of them.
    fn burst(&self, n: usize) {
        let mut core = self.core.lock().unwrap();
        let Core { engine, publisher } = &mut *core;
        for _ in 0..n {
            runner::step(engine, publisher, None);
        }
    }

    /// Applies a command on the engine directly (while no client can reach it).
    fn apply(&self, command: Command) {
        let result = self.core.lock().unwrap().engine.apply(command.clone());
        assert!(result.is_ok(), "{command:?}: {result:?}");
    }

    /// Stops the WebSocket host (every client gets `bye`; the hub shuts down with it).
    async fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// A new hub and WebSocket host on the same address; the engine goes on where it was.
    fn restart_server(&mut self) {
        let hub = Hub::new(hub_config(SMALL_QUEUE));
        self.core.lock().unwrap().publisher = Publisher::new(hub.clone());
        self.server = Some(serve(&hub, self.addr));
        self.hub = hub;
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

fn serve(hub: &Hub, addr: SocketAddr) -> WsServer {
    stagelink_host_ws::serve(
        hub.clone(),
        WsConfig {
            addr,
            ..WsConfig::default()
        },
    )
    .expect("the WebSocket host starts")
}

fn client_config(url: String, role: Role) -> ClientConfig {
    ClientConfig {
        role,
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            jitter: false,
            ..ReconnectPolicy::default()
        },
        connect_timeout: WAIT,
        command_timeout: WAIT,
        request_timeout: WAIT,
        ..ClientConfig::new(url)
    }
}

/// A mirror following `url`: its client, the shared mirror, and the follow loop.
struct MirrorSide {
    client: Client,
    mirror: SharedMirror,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), stagelink_client::ClientError>>,
}

impl MirrorSide {
    async fn start(url: String, local: Option<LocalOutput>) -> MirrorSide {
        let client = Client::connect(client_config(url, Role::Observer))
            .await
            .expect("the mirror connects");
        let document = client.project().await.expect("the project document");
        let (movie, problem) = mirror::movie_from_project(&document, "demo");
        assert_eq!(problem, None, "the demo's project document is a movie");
        let engine = Engine::new(movie);
        let target = if local.is_some() {
            MirroredEngine::republishing(engine)
        } else {
            MirroredEngine::new(engine)
        };
        let shared = SharedMirror::new(Mirror::new(target));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = {
            let client = client.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut local = local;
                let stopped = async {
                    let _ = stopped.await;
                };
                mirror::follow(&client, &shared, local.as_mut(), stopped).await
            })
        };
        MirrorSide {
            client,
            mirror: shared,
            stop: Some(stop),
            task,
        }
    }

    fn snapshots(&self) -> u64 {
        self.mirror.lock().target().snapshots_applied()
    }

    async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ended = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the follow loop stops")
            .expect("the follow loop did not panic");
        assert!(ended.is_ok(), "{ended:?}");
        self.client.close().await;
    }
}

/// Waits until the mirror's engine reports what `expected` gives (the host is paused, so its
/// stage holds still), then asserts it, so a failure shows the difference.
async fn assert_mirrors(
    mirror: &SharedMirror,
    what: &str,
    expected: impl Fn() -> StageSnapshot,
) -> StageSnapshot {
    let reached = mirror
        .wait_until(WAIT, |m| m.target().engine().stage() == expected())
        .await;
    let mirrored = mirror.lock().target().engine().stage();
    let wanted = expected();
    if !reached {
        let key = |s: &stagelink_contracts::SpriteDelta| (s.sprite_num, s.begin_frame);
        let only_mirrored: Vec<_> = mirrored
            .sprites
            .iter()
            .filter(|s| !wanted.sprites.contains(s))
            .collect();
        let only_wanted: Vec<_> = wanted
            .sprites
            .iter()
            .filter(|s| !mirrored.sprites.contains(s))
            .collect();
        assert!(
            only_mirrored.is_empty() && only_wanted.is_empty(),
            "{what}: sprites differ: mirror has {only_mirrored:?}, host has {only_wanted:?} (keys {:?} vs {:?})",
            only_mirrored.iter().map(|s| key(s)).collect::<Vec<_>>(),
            only_wanted.iter().map(|s| key(s)).collect::<Vec<_>>(),
        );
        assert_eq!(mirrored.movie, wanted.movie, "{what}: movie state");
        assert_eq!(
            mirrored.stage_props, wanted.stage_props,
            "{what}: stage props"
        );
        assert_eq!(
            mirrored.movie_props, wanted.movie_props,
            "{what}: movie props"
        );
        assert_eq!(mirrored.sprites, wanted.sprites, "{what}: sprites");
        assert_eq!(mirrored.members, wanted.members, "{what}: members");
        panic!("{what}: the mirror never matched the host");
    }
    mirrored
}

async fn applied(client: &Client, command: Command) -> u32 {
    let ack = client.command(command.clone()).await.expect("an ack");
    assert_eq!(ack.status, AckStatus::Applied, "{command:?}: {ack:?}");
    ack.frame.expect("an applied ack names its frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_tracks_the_host_through_commands_a_gap_and_a_restart() {
    let mut host = Host::start().await;
    let controller = Client::connect(client_config(host.url(), Role::Controller))
        .await
        .expect("the controller connects");
    let side = MirrorSide::start(host.url(), None).await;
    let mirror = side.mirror.clone();

    // Synchronised from the start; paused, the stage holds still and the mirror matches it.
    applied(&controller, Command::Pause).await;
    assert_mirrors(&mirror, "after pause", || host.stage()).await;
    assert!(side.snapshots() >= 1);

    // Commands: a jump, a puppet sprite, movie, stage and member properties.
    let frame = applied(&controller, Command::GoToFrame { frame: 120 }).await;
    assert_eq!(frame, 120);
    let sprite = host.stage().sprites[0].clone();
    applied(
        &controller,
        Command::SetSpriteProp {
            sprite_num: sprite.sprite_num,
            begin_frame: sprite.begin_frame,
            prop: "loc_h".into(),
            value: PropValue::from(123.5),
        },
    )
    .await;
    applied(
        &controller,
        Command::SetMovieProp {
            prop: "name".into(),
            value: "mirrored".into(),
        },
    )
    .await;
    applied(
        &controller,
        Command::SetStageProp {
            prop: "title".into(),
            value: "seen twice".into(),
        },
    )
    .await;
    applied(
        &controller,
        Command::SetMemberProp {
            cast_lib: demo::TITLE.cast_lib,
            member_num: demo::TITLE.member_num,
            prop: "text".into(),
            value: "hello, mirror".into(),
        },
    )
    .await;
    let mirrored = assert_mirrors(&mirror, "after commands", || host.stage()).await;
    assert_eq!(mirrored.movie.unwrap().frame, 120);
    let moved = mirrored
        .sprites
        .iter()
        .find(|s| (s.sprite_num, s.begin_frame) == (sprite.sprite_num, sprite.begin_frame))
        .unwrap();
    assert_eq!(moved.loc_h, Some(123.5));
    assert_eq!(
        mirrored.movie_props.get("name"),
        Some(&PropValue::from("mirrored"))
    );

    // Playing, the mirror follows frame by frame without ticking on its own.
    applied(&controller, Command::Resume).await;
    let following = mirror
        .wait_until(WAIT, |m| {
            m.target().engine().state().frame() > 130 && m.frames_applied() > 10
        })
        .await;
    assert!(following, "the mirror follows the playing host");
    let ticks = mirror.lock().target().engine().state().ticks();
    assert!(ticks > 10, "one mirrored tick per host frame seen: {ticks}");
    applied(&controller, Command::Pause).await;
    assert_mirrors(&mirror, "after playing", || host.stage()).await;

    // A gap: bursts of ticks overflow the mirror's fifo queues on the host; the client
    // resyncs, and the mirror applies the fresh snapshot.
    applied(&controller, Command::Resume).await;
    let before = side.snapshots();
    let mut events = side.client.events();
    let give_up = tokio::time::Instant::now() + WAIT;
    let mut gap = None;
    while gap.is_none() {
        assert!(tokio::time::Instant::now() < give_up, "no gap was reported");
        host.burst(2000);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(event) = tokio::time::timeout_at(deadline, events.next()).await {
            match event.expect("the mirror's client is open") {
                ClientEvent::Gap(g) => {
                    gap = Some(g);
                    break;
                }
                _ => continue,
            }
        }
    }
    drop(events);
    applied(&controller, Command::Pause).await;
    assert_mirrors(&mirror, "after a gap", || host.stage()).await;
    assert!(
        side.snapshots() > before,
        "the gap {gap:?} was repaired by a resync"
    );

    // A restart: the host's WebSocket server goes away; the engine changes meanwhile; a new
    // server on the same port (a new hub: seqs start again) and the mirror catches up.
    let before = side.snapshots();
    host.stop_server().await;
    side.client
        .wait_for_state(WAIT, |s| matches!(s, ConnectionState::Reconnecting { .. }))
        .await
        .expect("the mirror notices the host went away");
    host.apply(Command::GoToFrame { frame: 33 });
    host.apply(Command::SetMovieProp {
        prop: "name".into(),
        value: "after the restart".into(),
    });
    host.restart_server();
    side.client
        .wait_for_state(WAIT, |s| *s == ConnectionState::Connected)
        .await
        .expect("the mirror reconnects");
    let mirrored = assert_mirrors(&mirror, "after a restart", || host.stage()).await;
    assert_eq!(mirrored.movie.unwrap().frame, 33);
    assert!(side.snapshots() > before, "the reconnect resynced");

    // And it keeps following the new run.
    controller
        .wait_for_state(WAIT, |s| *s == ConnectionState::Connected)
        .await
        .expect("the controller reconnects");
    applied(&controller, Command::GoToFrame { frame: 200 }).await;
    let mirrored = assert_mirrors(&mirror, "after the restart's commands", || host.stage()).await;
    assert_eq!(mirrored.movie.unwrap().frame, 200);

    side.finish().await;
    controller.close().await;
    host.stop_server().await;
}

/// A mirror serving its own listener: a second viewer watches the mirror, and its commands
/// reach the remote host through the mirror (an observer there, so they come back
/// `forbidden`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_serves_the_mirrored_stage_to_its_own_clients() {
    let mut host = Host::start().await;
    let controller = Client::connect(client_config(host.url(), Role::Controller))
        .await
        .expect("the controller connects");
    applied(&controller, Command::Pause).await;
    applied(&controller, Command::GoToFrame { frame: 77 }).await;

    let local_hub = Hub::new(hub_config(1024));
    let local_server = serve(&local_hub, "127.0.0.1:0".parse().unwrap());
    let local = LocalOutput {
        publisher: Publisher::new(local_hub.clone()),
        renderer: None,
    };
    let side = MirrorSide::start(host.url(), Some(local)).await;
    assert_mirrors(&side.mirror, "the mirror", || host.stage()).await;

    let viewer = Client::connect(client_config(
        format!("ws://{}/ws", local_server.local_addr()),
        Role::Controller,
    ))
    .await
    .expect("a viewer connects to the mirror");
    // The viewer's model is the mirror's stage, which is the host's.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut events = viewer.events();
    loop {
        let state = viewer.current_state();
        if state.frame() == Some(77) && state.sprites.len() == host.stage().sprites.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the viewer sees frame 77"
        );
        let _ = tokio::time::timeout_at(deadline, events.next()).await;
    }
    let stage = viewer.stage().await.expect("the mirror answers `stage`");
    let mut expected = host.stage();
    expected.seqs = stage.seqs.clone();
    assert_eq!(stage, expected);

    let ack = viewer.command(Command::Resume).await.expect("an ack");
    assert_eq!(ack.status, AckStatus::Rejected, "{ack:?}");
    assert_eq!(ack.error.map(|e| e.code.as_str()), Some("forbidden"));

    // Moves on the host reach the viewer through the mirror.
    applied(&controller, Command::GoToFrame { frame: 90 }).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while viewer.current_state().frame() != Some(90) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the viewer sees frame 90"
        );
        let _ = tokio::time::timeout_at(deadline, events.next()).await;
    }

    viewer.close().await;
    side.finish().await;
    local_server.shutdown().await;
    controller.close().await;
    host.stop_server().await;
}
