//! The host under test, run in a child process (`stagelink-bench serve …`) so its CPU time
//! and resident memory can be read from `/proc` apart from the clients'.
//!
//! It is what `stagelink-player` hosts, minus the parts the bench does not measure: a
//! [`Hub`], the WebSocket host ([`stagelink_host_ws::serve`]), optionally the local-socket host
//! and a relay uplink, and an engine thread that publishes:
//! - `demo`: the player's demo movie ticking at `--fps` through a real [`Publisher`] (the same
//!   steps as [`stagelink_player::publish_tick`]), plus one `movie_props` item carrying the
//!   publish time ([`crate::clock::STAMP_PROP`]);
//! - `latency`: only the stamp, every `--interval-us`;
//! - `idle`: nothing (connections only).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use stagelink_contracts::{MovieProp, MovieState, PropValue, StageSnapshot};
use stagelink_host_ws::WsConfig;
use stagelink_host_ws::uplink::{UplinkConfig, UplinkState, run_uplink};
use stagelink_player::Engine;
use stagelink_publisher::{
    AuthConfig, Hub, HubConfig, Publisher, SessionThreads, SnapshotProvider,
};

use crate::clock::{STAMP_PROP, now_ns};

/// The engine thread's name (the bench reads its CPU time by it).
pub const ENGINE_THREAD: &str = "bench-engine";

/// What the engine thread publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeMode {
    Demo,
    Latency,
    Idle,
}

/// `stagelink-bench serve`: the host under test.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, value_enum, default_value = "demo")]
    pub mode: ServeMode,
    /// Ticks per second of the demo movie.
    #[arg(long, default_value_t = 60)]
    pub fps: u32,
    /// Microseconds between stamps in `latency` mode.
    #[arg(long, default_value_t = 1000)]
    pub interval_us: u64,
    /// Serve WebSocket on a free loopback port (prints `ws: ADDR`).
    #[arg(long)]
    pub ws: bool,
    /// Serve the local socket at this path (prints `pipe: PATH`).
    #[arg(long)]
    pub pipe: Option<PathBuf>,
    /// Publish to a relay at this `ws://…/ws` URL (prints `uplink: connected`).
    #[arg(long)]
    pub uplink: Option<String>,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Session threads (`SessionThreads`); default one per CPU as `stagelink-player` runs,
    /// 0 runs the sessions on the tokio workers. Read from `STAGELINK_SESSION_THREADS` too
    /// (as the player does), so a whole bench run can be repeated without session threads.
    #[arg(long, env = "STAGELINK_SESSION_THREADS")]
    pub session_threads: Option<usize>,
    /// Sessions the engine thread may write to directly (`HubConfig::direct_write_sessions`,
    /// the local socket's); 0 turns direct writes off. Read from `STAGELINK_DIRECT_WRITES` too.
    #[arg(long, env = "STAGELINK_DIRECT_WRITES")]
    pub direct_writes: Option<usize>,
}

/// The hub configuration every bench host uses: the defaults, open (loopback only), and an
/// idle timeout long enough that clients which only read are not dropped mid-run.
pub fn hub_config() -> HubConfig {
    HubConfig {
        project: "demo".into(),
        server_name: "stagelink-bench".into(),
        auth: AuthConfig::open(),
        idle_timeout: Duration::from_secs(600),
        ..HubConfig::default()
    }
}

/// One demo tick through the publisher: [`stagelink_player::publish_tick`] with the stamp
/// recorded right before the flush, so the measured latency starts when the tick is handed to
/// the publisher.
pub fn demo_tick(engine: &mut Engine, publisher: &mut Publisher, stamp: impl FnOnce() -> i64) {
    stagelink_player::publish_tick_with(engine, publisher, |publisher| {
        publisher.record(MovieProp {
            prop: STAMP_PROP.into(),
            value: PropValue::Int(stamp()),
        });
    });
}

/// The snapshot provider of the `latency` mode (nothing to show but a frame number).
struct Bare(u32);

impl SnapshotProvider for Bare {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.0,
            frame_count: u32::MAX,
            tempo: 1000,
            playing: true,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot::default()
    }
    fn project(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// Runs the host until stdin closes.
///
/// # Errors
/// When a listener cannot be bound or the relay uplink does not connect.
pub fn serve(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    let mut config = hub_config();
    if let Some(n) = args.direct_writes {
        config.direct_write_sessions = n;
    }
    let hub = Hub::new(config);
    match args.session_threads {
        Some(0) => {}
        Some(n) => {
            hub.run_sessions_on(SessionThreads::new(n)?);
        }
        None => {
            hub.run_sessions_on(SessionThreads::per_cpu()?);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    runtime.block_on(async {
        let _ws = if args.ws {
            let server = stagelink_host_ws::serve(
                hub.clone(),
                WsConfig {
                    addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                    allow_origins: Vec::new(),
                    tls: None,
                    viewer: false,
                },
            )?;
            println!("ws: {}", server.local_addr());
            Some(server)
        } else {
            None
        };
        let _pipe = match &args.pipe {
            Some(path) => {
                let server = stagelink_host_pipe::serve(hub.clone(), path.clone())?;
                println!("pipe: {}", server.path().display());
                Some(server)
            }
            None => None,
        };
        let (_uplink_stop, _uplink_stop_rx);
        if let Some(url) = &args.uplink {
            let (state_tx, mut state_rx) = tokio::sync::watch::channel(UplinkState::Connecting);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            (_uplink_stop, _uplink_stop_rx) = (stop_tx, stop_rx.clone());
            tokio::spawn(run_uplink(
                hub.clone(),
                UplinkConfig {
                    url: url.clone(),
                    project: "demo".into(),
                    host_token: None,
                    takeover: false,
                    version: env!("CARGO_PKG_VERSION").into(),
                },
                state_tx,
                stop_rx,
            ));
            let connected = tokio::time::timeout(
                Duration::from_secs(15),
                state_rx
                    .wait_for(|s| matches!(s, UplinkState::Connected | UplinkState::Stopped(_))),
            )
            .await
            .context("the relay uplink did not connect within 15 s")?
            .context("uplink ended")?
            .clone();
            if let UplinkState::Stopped(why) = connected {
                bail!("the relay refused the uplink: {why}");
            }
            println!("uplink: connected");
        }
        let engine = spawn_engine(&hub, &args, stop.clone())?;
        println!("ready");
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(crate::child::wait_for_stdin_eof).await?;
        stop.store(true, Ordering::Release);
        if let Some(engine) = engine {
            let _ = engine.join();
        }
        anyhow::Ok(())
    })?;
    // Exit without waiting for connection tasks: the bench is done with us.
    std::process::exit(0)
}

fn spawn_engine(
    hub: &Hub,
    args: &ServeArgs,
    stop: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>> {
    let period = match args.mode {
        ServeMode::Idle => return Ok(None),
        ServeMode::Demo => Duration::from_secs(1) / args.fps.clamp(1, 1000),
        ServeMode::Latency => Duration::from_micros(args.interval_us.max(50)),
    };
    let mode = args.mode;
    let mut publisher = Publisher::new(hub.clone());
    let handle = std::thread::Builder::new()
        .name(ENGINE_THREAD.into())
        .spawn(move || {
            let mut engine = stagelink_player::demo::demo_engine();
            let mut frame = 0u32;
            let mut next = Instant::now();
            while !stop.load(Ordering::Acquire) {
                match mode {
                    ServeMode::Demo => {
                        demo_tick(&mut engine, &mut publisher, || now_ns() as i64);
                    }
                    _ => {
                        frame = frame.wrapping_add(1);
                        for command in publisher.drain_commands() {
                            command.applied(frame, None);
                        }
                        publisher.record(MovieProp {
                            prop: STAMP_PROP.into(),
                            value: PropValue::Int(now_ns() as i64),
                        });
                        publisher.end_tick(frame, &Bare(frame));
                    }
                }
                next += period;
                let now = Instant::now();
                if now > next + period * 4 {
                    next = now;
                }
                if let Some(wait) = next.checked_duration_since(now) {
                    std::thread::sleep(wait);
                }
            }
        })?;
    Ok(Some(handle))
}
