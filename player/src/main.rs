//! `stagelink-player`: plays a movie and hosts it as a live Stagelink session — on local
//! listeners, through a relay, or as a mirror of another session.
//!
//! ```text
//! stagelink-player [--movie FILE] [--ws 127.0.0.1:61699] [--project demo] [--token T] …
//! stagelink-player --relay ws://relay:61700/ws --project demo --host-token H [--takeover] …
//! stagelink-player --mirror ws://host:61699/ws --token T [--project P] [--ws ADDR] …
//! ```
//!
//! Startup prints, one per line on stdout (tests parse them; logs go to stderr):
//! `viewer: http://ADDR/?token=TOKEN` (or `viewer: off`), `websocket: ws://ADDR/ws` (or
//! `websocket: off`), `socket: PATH` (or `socket: off`), `renderer: …`; then, publishing to a
//! relay, `relay: URL project NAME` once the relay accepted the project; mirroring,
//! `mirror: URL` once synchronised; then `ready`. Ctrl-C or SIGTERM: every client gets `bye`,
//! the servers stop, the engine stops, exit 0. A relay or a remote host that refuses us for a
//! reason retrying cannot fix (`auth_failed`, `project_taken`, `session_replaced`) ends the
//! process with a non-zero status and the reason on stderr.
//!
//! The engine runs on its own thread at the movie's tempo and only ever touches the
//! Publisher, so nothing on the network can slow it down. A mirror's engine does not tick at
//! all: the remote host's frames move it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Parser, ValueEnum};
use stagelink_client::{Client, ClientConfig, Mirror};
use stagelink_contracts::Role;
use stagelink_host_pipe::PipeServer;
use stagelink_host_ws::uplink::{UplinkConfig, UplinkState, run_uplink};
use stagelink_host_ws::{TlsFiles, WsConfig, WsServer};
use stagelink_player::mirror::{self, LocalOutput, MirroredEngine, SharedMirror};
use stagelink_player::render::{self, Renderer, RendererKind};
use stagelink_player::runner::{self, RunnerConfig};
use stagelink_player::{CustomHandlers, Engine, demo, file};
use stagelink_publisher::{AuthConfig, Hub, HubConfig, Publisher, SessionThreads};
use tokio::sync::watch;

/// The project name when `--project` is not given (host and relay modes).
const DEFAULT_PROJECT: &str = "demo";

/// Plays a Director-like movie and hosts it as a live Stagelink session: a WebSocket host with
/// the browser viewer, and a local socket for tools on this machine.
///
/// With --relay URL it also publishes the session to a relay (the local listeners stay on
/// unless --no-ws / --no-pipe turn them off). With --mirror URL it plays nothing itself: it
/// follows another session frame by frame, and serves the mirrored stage only on the
/// listeners you ask for with --ws / --pipe.
#[derive(Debug, Parser)]
#[command(name = "stagelink-player", version, about, long_about = None)]
struct Args {
    /// Movie file to play (JSON, as saved by the player or returned by the `project`
    /// request). Without it, the built-in demo plays.
    #[arg(long, value_name = "FILE", env = "STAGELINK_MOVIE")]
    movie: Option<PathBuf>,

    /// Address of the WebSocket host and the browser viewer [default: 127.0.0.1:61699; with
    /// --mirror, no WebSocket host unless given]. Keep it on loopback unless you use tokens
    /// and TLS.
    #[arg(long, value_name = "ADDR", env = "STAGELINK_WS")]
    ws: Option<SocketAddr>,

    /// Do not open the WebSocket host (with --relay: publish to the relay only).
    #[arg(long, conflicts_with_all = ["ws", "tls_cert", "allow_origin"])]
    no_ws: bool,

    /// Project name that clients see (and may name in `hello.project`) [default: demo]. With
    /// --relay, the project published there; with --mirror, the project asked for (a relay
    /// needs it).
    #[arg(long, value_name = "NAME", env = "STAGELINK_PROJECT")]
    project: Option<String>,

    /// Publish the session to this relay too, e.g. ws://relay.example:61700/ws. The player
    /// connects out, says `ready` once the relay accepted the project, and reconnects by
    /// itself when the connection drops; a refusal retrying cannot fix (auth_failed,
    /// project_taken, session_replaced) ends it with a non-zero status.
    #[arg(
        long,
        value_name = "URL",
        env = "STAGELINK_RELAY_URL",
        conflicts_with = "mirror"
    )]
    relay: Option<String>,

    /// The relay's host token for the project (--relay).
    #[arg(
        long,
        value_name = "T",
        env = "STAGELINK_HOST_TOKEN",
        hide_env_values = true
    )]
    host_token: Option<String>,

    /// Replace a live host of the same project on the relay (needs the host token).
    #[arg(long, requires = "relay")]
    takeover: bool,

    /// Mirror another session instead of playing a movie: ws://HOST:PORT/ws, wss://…,
    /// pipe:///path.sock, or a relay's URL with --project. The local engine follows the
    /// remote frames (it does not tick by itself), resynchronising after every gap or
    /// reconnect. --token is then the remote session's token; --movie and --fps do not apply.
    #[arg(long, value_name = "URL", env = "STAGELINK_MIRROR")]
    mirror: Option<String>,

    /// With --mirror: connect as a controller (the remote --token must grant it), so commands
    /// from the mirror's own listeners reach the remote host. Without it the mirror is an
    /// observer and forwarded commands are refused with `forbidden`.
    #[arg(long, requires = "mirror")]
    control: bool,

    /// Controller token. A random one is generated (and printed in the viewer URL) when
    /// neither this nor STAGELINK_TOKEN is given. With --mirror: the remote session's token
    /// (the mirror's own listeners get a random one).
    #[arg(
        long,
        value_name = "T",
        env = "STAGELINK_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// An extra token that grants the observer role only.
    #[arg(
        long,
        value_name = "T",
        env = "STAGELINK_OBSERVER_TOKEN",
        hide_env_values = true
    )]
    observer_token: Option<String>,

    /// Accept every client without a token. Refused unless --ws is a loopback address.
    #[arg(long, conflicts_with = "observer_token")]
    no_auth: bool,

    /// A browser origin allowed to open the WebSocket besides the viewer's own (exact match,
    /// e.g. https://tools.example.com). Repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origin: Vec<String>,

    /// Tick at this many frames per second whatever the movie's tempo says.
    #[arg(long, value_name = "N", env = "STAGELINK_FPS", value_parser = clap::value_parser!(u32).range(1..=1000))]
    fps: Option<u32>,

    /// Log filter for stderr, e.g. `info` or `stagelink_publisher=debug` (default: RUST_LOG,
    /// else `info`).
    #[arg(long, value_name = "LEVEL", env = "STAGELINK_LOG")]
    log: Option<String>,

    /// Local socket path (default: $XDG_RUNTIME_DIR/stagelink/PROJECT.sock, else
    /// /tmp/stagelink-UID/PROJECT.sock).
    #[arg(
        long,
        value_name = "PATH",
        env = "STAGELINK_PIPE",
        conflicts_with = "no_pipe"
    )]
    pipe: Option<PathBuf>,

    /// Do not open the local socket.
    #[arg(long)]
    no_pipe: bool,

    /// Threads the sessions of the local listeners run on (default: one per CPU). Each is a
    /// single-threaded runtime, so a flush wakes one thread before the socket write; 0 runs
    /// the sessions on the shared tokio workers instead.
    #[arg(long, value_name = "N", env = "STAGELINK_SESSION_THREADS")]
    session_threads: Option<usize>,

    /// Local-socket sessions the engine thread may write to directly while they are caught
    /// up (one wake-up fewer per event); later ones are written by their session thread.
    /// 0 turns direct writes off.
    #[arg(long, value_name = "N", env = "STAGELINK_DIRECT_WRITES", default_value_t = HubConfig::default().direct_write_sessions)]
    direct_writes: usize,

    /// Which renderer draws the `pixels` stream.
    #[arg(long, value_enum, value_name = "KIND", env = "STAGELINK_RENDERER", default_value_t = RendererArg::Auto)]
    renderer: RendererArg,

    /// TLS certificate chain (PEM): serve https:// and wss://. Needs --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        env = "STAGELINK_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM). Needs --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        env = "STAGELINK_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

/// `--renderer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RendererArg {
    /// The GPU when one is usable, else the CPU.
    Auto,
    /// The GPU only.
    Gpu,
    /// The CPU only.
    Cpu,
    /// No pixels.
    Off,
}

impl From<RendererArg> for RendererKind {
    fn from(arg: RendererArg) -> Self {
        match arg {
            RendererArg::Auto => RendererKind::Auto,
            RendererArg::Gpu => RendererKind::Gpu,
            RendererArg::Cpu => RendererKind::Cpu,
            RendererArg::Off => RendererKind::Off,
        }
    }
}

/// What the process does; each mode has its own `run_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Play a movie and serve it over WebSocket and the local socket.
    Host,
    /// As `Host`, and publish the session to a relay (`--relay URL`).
    Relay { url: String },
    /// Follow a remote session (`--mirror URL`).
    Mirror { url: String },
}

impl Mode {
    fn of(args: &Args) -> Mode {
        match (&args.mirror, &args.relay) {
            (Some(url), _) => Mode::Mirror { url: url.clone() },
            (None, Some(url)) => Mode::Relay { url: url.clone() },
            (None, None) => Mode::Host,
        }
    }
}

impl Args {
    /// The WebSocket host's address, `None` when there is none: the default one unless
    /// `--no-ws`, but a mirror listens only where `--ws` says.
    fn ws_addr(&self) -> Option<SocketAddr> {
        if self.no_ws {
            return None;
        }
        match (&self.ws, &self.mirror) {
            (Some(addr), _) => Some(*addr),
            (None, Some(_)) => None,
            (None, None) => Some(SocketAddr::from((
                [127, 0, 0, 1],
                stagelink_host_ws::DEFAULT_PORT,
            ))),
        }
    }

    /// The local socket's path, `None` when there is none: the default one unless
    /// `--no-pipe`, but a mirror opens one only where `--pipe` says (the default path is
    /// the project's, which its host is likely to hold).
    fn pipe_path(&self) -> Option<PathBuf> {
        if self.no_pipe {
            return None;
        }
        match (&self.pipe, &self.mirror) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(stagelink_host_pipe::default_socket_path(self.project())),
        }
    }

    /// The project this player hosts or publishes.
    fn project(&self) -> &str {
        self.project.as_deref().unwrap_or(DEFAULT_PROJECT)
    }
}

fn main() -> ExitCode {
    // Mesa's device-select Vulkan layer prints "XDG_RUNTIME_DIR is invalid" on a headless
    // machine; a headless renderer has no window system to pick a device for.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: still single-threaded here: no other thread can be reading the environment.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    let args = Args::parse();
    init_logging(args.log.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stagelink-player: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stagelink-player: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn run(args: Args) -> anyhow::Result<()> {
    match Mode::of(&args) {
        Mode::Host => run_host(args).await,
        Mode::Relay { url } => run_relay(args, url).await,
        Mode::Mirror { url } => run_mirror(args, url).await,
    }
}

/// The movie from `--movie`, or the demo, with the built-in custom handlers.
fn load_engine(movie: Option<&PathBuf>) -> anyhow::Result<Engine> {
    let movie = match movie {
        Some(path) => file::load(path).context("cannot load the movie")?,
        None => demo::demo_movie(),
    };
    Ok(Engine::with_handlers(movie, CustomHandlers::builtin()))
}

/// The hub's tokens, and the controller token to print in the viewer URL (`None` with
/// `--no-auth`). A mirror's `--token` is the remote session's, so its own listeners get a
/// random one.
fn auth(args: &Args) -> anyhow::Result<(AuthConfig, Option<String>)> {
    let mirroring = args.mirror.is_some();
    if args.no_auth {
        if args.token.is_some() && !mirroring {
            bail!("--no-auth and --token contradict each other: pick one");
        }
        let listeners: Vec<SocketAddr> = args.ws_addr().into_iter().collect();
        stagelink_host_ws::check_no_auth(&listeners)?;
        return Ok((AuthConfig::open(), None));
    }
    let token = match &args.token {
        Some(t) if t.is_empty() => bail!("--token must not be empty"),
        Some(t) if !mirroring => t.clone(),
        _ => random_token(),
    };
    let auth = AuthConfig {
        controller_token: Some(token.clone()),
        observer_token: args.observer_token.clone(),
        ..AuthConfig::default()
    };
    Ok((auth, Some(token)))
}

/// 128 random bits as 32 hex digits (URL-safe).
fn random_token() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Starts the renderer `kind` asks for; says what runs for the `renderer:` line.
fn start_renderer(
    kind: RendererKind,
    hub: &Hub,
) -> anyhow::Result<(Option<Box<dyn Renderer>>, String)> {
    match render::create(kind, hub.clone()) {
        Ok(Some(renderer)) => {
            let name = renderer.name();
            Ok((Some(renderer), name))
        }
        Ok(None) => Ok((None, "off".into())),
        Err(e) if kind == RendererKind::Auto => {
            tracing::warn!(error = %e, "no renderer; running without pixels");
            Ok((None, format!("off ({e})")))
        }
        Err(e) => Err(e).context(format!("cannot start the {} renderer", kind.as_str())),
    }
}

/// The local side of a session: the hub and whichever listeners the flags ask for.
struct Listeners {
    hub: Hub,
    ws: Option<WsServer>,
    pipe: Option<PipeServer>,
    /// The controller token for the viewer URL (`None` with `--no-auth`).
    token: Option<String>,
}

impl Listeners {
    /// Opens the hub for `project` and the listeners of `args`.
    fn open(args: &Args, project: &str, capabilities: Vec<String>) -> anyhow::Result<Self> {
        let (auth, token) = auth(args)?;
        let hub = Hub::new(HubConfig {
            project: project.to_owned(),
            server_name: "stagelink-player".into(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            auth,
            capabilities,
            direct_write_sessions: args.direct_writes,
            ..HubConfig::default()
        });
        let threads = match args.session_threads {
            Some(0) => None,
            Some(n) => Some(SessionThreads::new(n)),
            None => Some(SessionThreads::per_cpu()),
        };
        if let Some(threads) = threads {
            hub.run_sessions_on(threads.context("cannot start the session threads")?);
        }
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        let ws = match args.ws_addr() {
            Some(addr) => Some(
                stagelink_host_ws::serve(
                    hub.clone(),
                    WsConfig {
                        addr,
                        allow_origins: args.allow_origin.clone(),
                        tls,
                        viewer: true,
                    },
                )
                .context("cannot start the WebSocket host")?,
            ),
            None => None,
        };
        let pipe = match args.pipe_path() {
            Some(path) => Some(
                stagelink_host_pipe::serve(hub.clone(), path)
                    .context("cannot open the local socket")?,
            ),
            None => None,
        };
        Ok(Self {
            hub,
            ws,
            pipe,
            token,
        })
    }

    /// Every client gets `bye`, then the listeners stop.
    async fn shutdown(self) {
        shutdown(self.hub, self.ws, self.pipe).await;
    }
}

/// The capabilities a hub announces for this engine and renderer.
fn capabilities(engine: &Engine, renderer: RendererKind) -> Vec<String> {
    let mut capabilities = vec!["commands".to_owned(), "snapshots".to_owned()];
    if renderer != RendererKind::Off {
        capabilities.push("pixels".into());
    }
    if !engine.handlers().is_empty() {
        capabilities.push("custom".into());
    }
    capabilities
}

/// A playing engine and its local listeners (host and relay modes).
struct Playing {
    listeners: Listeners,
    runner: runner::RunnerHandle,
    renderer_name: String,
}

/// Loads the movie, opens the listeners, starts the renderer and the engine thread.
fn start_playing(args: &Args) -> anyhow::Result<Playing> {
    let engine = load_engine(args.movie.as_ref())?;
    let kind = RendererKind::from(args.renderer);
    let listeners = Listeners::open(args, args.project(), capabilities(&engine, kind))?;
    let (renderer, renderer_name) = start_renderer(kind, &listeners.hub)?;
    let runner = runner::spawn_with(
        engine,
        Publisher::new(listeners.hub.clone()),
        RunnerConfig {
            fps: args.fps,
            renderer,
        },
    )
    .context("cannot start the engine thread")?;
    Ok(Playing {
        listeners,
        runner,
        renderer_name,
    })
}

async fn run_host(args: Args) -> anyhow::Result<()> {
    if args.no_ws && args.no_pipe {
        bail!("--no-ws and --no-pipe leave nothing to serve: drop one, or add --relay URL");
    }
    let playing = start_playing(&args)?;
    let signals = ShutdownSignal::install()?;
    print_listeners(&playing.listeners, &playing.renderer_name)?;
    print_line("ready")?;
    signals.wait().await;
    tracing::info!("shutting down");
    playing.listeners.shutdown().await;
    playing.runner.stop();
    Ok(())
}

/// `--relay URL`: play as in host mode and publish the session to the relay.
async fn run_relay(args: Args, url: String) -> anyhow::Result<()> {
    let playing = start_playing(&args)?;
    let signals = ShutdownSignal::install()?;
    let project = args.project().to_owned();
    let (state_tx, mut state) = watch::channel(UplinkState::Connecting);
    let (stop_uplink, stop_rx) = watch::channel(false);
    let uplink = tokio::spawn(run_uplink(
        playing.listeners.hub.clone(),
        UplinkConfig {
            url: url.clone(),
            project: project.clone(),
            host_token: args.host_token.clone(),
            takeover: args.takeover,
            version: env!("CARGO_PKG_VERSION").into(),
        },
        state_tx,
        stop_rx,
    ));
    print_listeners(&playing.listeners, &playing.renderer_name)?;
    tracing::info!(%url, %project, "relay: connecting");

    let signal = signals.wait();
    tokio::pin!(signal);
    // `ready` once the relay accepted the project; until then and after, every change of the
    // uplink's state is logged, and a refusal for good ends the process.
    let mut announced = false;
    let outcome: anyhow::Result<()> = loop {
        let now = state.borrow_and_update().clone();
        match now {
            UplinkState::Connected => {
                if announced {
                    tracing::info!(%url, "relay: connected again");
                } else {
                    print_line(&format!("relay: {url} project {project}"))?;
                    print_line("ready")?;
                    announced = true;
                }
            }
            UplinkState::Retrying(why) => {
                tracing::warn!(%why, "relay: connection lost; retrying");
            }
            UplinkState::Stopped(why) => {
                break Err(anyhow!(
                    "the relay at {url} refused project {project}: {why}"
                ));
            }
            UplinkState::Connecting => {}
        }
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    break Err(anyhow!("the relay uplink ended unexpectedly"));
                }
            }
            () = &mut signal => break Ok(()),
        }
    };
    tracing::info!("shutting down");
    // `bye` goes to every session, the relay's included, before the uplink stops.
    playing.listeners.shutdown().await;
    let _ = stop_uplink.send(true);
    if tokio::time::timeout(Duration::from_secs(2), uplink)
        .await
        .is_err()
    {
        tracing::warn!("the relay uplink did not stop in time");
    }
    playing.runner.stop();
    outcome
}

/// `--mirror URL`: follow a remote session; serve it on the listeners `--ws`/`--pipe` ask for.
async fn run_mirror(args: Args, url: String) -> anyhow::Result<()> {
    let config = ClientConfig {
        token: args.token.clone(),
        project: args.project.clone(),
        role: if args.control {
            Role::Controller
        } else {
            Role::Observer
        },
        client_name: "stagelink-player-mirror".into(),
        client_version: env!("CARGO_PKG_VERSION").into(),
        subscribe: ClientConfig::all_but_pixels(),
        snapshot: true,
        ..ClientConfig::new(url.clone())
    };
    let client = Client::connect(config)
        .await
        .with_context(|| format!("cannot mirror {url}"))?;
    let project = client
        .welcome()
        .and_then(|w| w.project.clone())
        .or_else(|| args.project.clone())
        .unwrap_or_else(|| DEFAULT_PROJECT.to_owned());
    let movie = match client.project().await {
        Ok(document) => {
            let (movie, problem) = mirror::movie_from_project(&document, &project);
            if let Some(problem) = problem {
                tracing::warn!(%problem, "the remote project is not a movie this player reads; mirroring the stage only");
            }
            movie
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot fetch the remote project; mirroring the stage only");
            mirror::empty_movie(&project)
        }
    };
    let engine = Engine::new(movie);

    let serving = args.ws_addr().is_some() || args.pipe_path().is_some();
    let (mut local, listeners, renderer_name) = if serving {
        let kind = RendererKind::from(args.renderer);
        let listeners = Listeners::open(&args, &project, capabilities(&engine, kind))?;
        let (renderer, name) = start_renderer(kind, &listeners.hub)?;
        let local = LocalOutput {
            publisher: Publisher::new(listeners.hub.clone()),
            renderer,
        };
        (Some(local), Some(listeners), name)
    } else {
        (None, None, "off".to_owned())
    };
    let target = if serving {
        MirroredEngine::republishing(engine)
    } else {
        MirroredEngine::new(engine)
    };
    let shared = SharedMirror::new(Mirror::new(target));

    let signals = ShutdownSignal::install()?;
    match &listeners {
        Some(l) => print_listeners(l, &renderer_name)?,
        None => {
            for line in [
                "viewer: off",
                "websocket: off",
                "socket: off",
                "renderer: off",
            ] {
                print_line(line)?;
            }
        }
    }
    print_line(&format!("mirror: {url}"))?;
    print_line("ready")?;

    let outcome = mirror::follow(&client, &shared, local.as_mut(), signals.wait()).await;
    tracing::info!("shutting down");
    client.close().await;
    if let Some(listeners) = listeners {
        listeners.shutdown().await;
    }
    outcome.map_err(|e| anyhow!("the remote session at {url} ended: {e}"))
}

/// One line of the user-facing output, flushed at once (tests and supervisors read it live).
fn print_line(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// The startup lines about the local listeners and the renderer (`ready` comes separately).
fn print_listeners(listeners: &Listeners, renderer: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match &listeners.ws {
        Some(ws) => {
            let viewer = match &listeners.token {
                Some(t) => format!("{}?token={t}", ws.http_url()),
                None => ws.http_url(),
            };
            writeln!(out, "viewer: {viewer}")?;
            writeln!(out, "websocket: {}", ws.ws_url())?;
        }
        None => {
            writeln!(out, "viewer: off")?;
            writeln!(out, "websocket: off")?;
        }
    }
    match &listeners.pipe {
        Some(p) => writeln!(out, "socket: {}", p.path().display())?,
        None => writeln!(out, "socket: off")?,
    }
    writeln!(out, "renderer: {renderer}")?;
    out.flush()?;
    Ok(())
}

/// Every client gets `bye` (and the fatal `shutdown`), then the servers stop.
async fn shutdown(hub: Hub, ws: Option<WsServer>, pipe: Option<PipeServer>) {
    hub.shutdown("the player is shutting down");
    let pipe = async {
        if let Some(p) = pipe {
            p.shutdown().await;
        }
    };
    let ws = async {
        if let Some(w) = ws {
            w.shutdown().await;
        }
    };
    tokio::join!(ws, pipe);
}

/// Ctrl-C, or SIGTERM on Unix. Installed *before* `ready` is printed, so a supervisor that
/// signals as soon as it reads `ready` cannot kill the process before the handlers exist.
struct ShutdownSignal {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed_and_has_its_defaults() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["stagelink-player"]).unwrap();
        assert_eq!(args.ws_addr().unwrap().to_string(), "127.0.0.1:61699");
        assert_eq!(args.project(), "demo");
        assert_eq!(args.renderer, RendererArg::Auto);
        assert_eq!(Mode::of(&args), Mode::Host);
        let args = Args::try_parse_from([
            "stagelink-player",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
            "--renderer",
            "off",
            "--no-pipe",
        ])
        .unwrap();
        assert_eq!(args.allow_origin.len(), 2);
        assert!(Args::try_parse_from(["stagelink-player", "--tls-cert", "c.pem"]).is_err());
        assert!(Args::try_parse_from(["stagelink-player", "--no-pipe", "--pipe", "/x"]).is_err());
        assert!(Args::try_parse_from(["stagelink-player", "--fps", "0"]).is_err());
    }

    #[test]
    fn relay_and_mirror_modes_follow_their_flags() {
        let relay = Args::try_parse_from([
            "stagelink-player",
            "--relay",
            "ws://relay.example/ws",
            "--project",
            "show",
            "--host-token",
            "h",
            "--takeover",
            "--no-ws",
        ])
        .unwrap();
        assert_eq!(
            Mode::of(&relay),
            Mode::Relay {
                url: "ws://relay.example/ws".into()
            }
        );
        assert_eq!(relay.ws_addr(), None);
        assert_eq!(
            relay.pipe_path(),
            Some(stagelink_host_pipe::default_socket_path("show"))
        );

        let mirror = Args::try_parse_from([
            "stagelink-player",
            "--mirror",
            "ws://host.example/ws",
            "--token",
            "remote",
        ])
        .unwrap();
        assert_eq!(
            Mode::of(&mirror),
            Mode::Mirror {
                url: "ws://host.example/ws".into()
            }
        );
        // A mirror listens only where it is told to; --token is the remote's.
        assert_eq!(mirror.ws_addr(), None);
        assert_eq!(mirror.pipe_path(), None);
        let (_, local) = auth(&mirror).unwrap();
        assert_ne!(local.as_deref(), Some("remote"));
        let serving = Args::try_parse_from([
            "stagelink-player",
            "--mirror",
            "ws://host.example/ws",
            "--ws",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert_eq!(serving.ws_addr().unwrap().to_string(), "127.0.0.1:0");

        for refused in [
            &[
                "stagelink-player",
                "--relay",
                "ws://a/ws",
                "--mirror",
                "ws://b/ws",
            ][..],
            &["stagelink-player", "--takeover"],
            &["stagelink-player", "--control"],
            &["stagelink-player", "--no-ws", "--ws", "127.0.0.1:1"],
        ] {
            assert!(Args::try_parse_from(refused).is_err(), "{refused:?}");
        }
        let both = Args::try_parse_from([
            "stagelink-player",
            "--no-auth",
            "--token",
            "t",
            "--ws",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert!(auth(&both).is_err());
    }

    #[test]
    fn no_auth_is_refused_off_loopback() {
        let args =
            Args::try_parse_from(["stagelink-player", "--no-auth", "--ws", "0.0.0.0:0"]).unwrap();
        assert!(auth(&args).is_err());
        let args =
            Args::try_parse_from(["stagelink-player", "--no-auth", "--ws", "127.0.0.1:0"]).unwrap();
        let (config, token) = auth(&args).unwrap();
        assert!(config.open);
        assert_eq!(token, None);
    }

    #[test]
    fn a_generated_token_is_128_bits_of_hex() {
        let args = Args::try_parse_from(["stagelink-player"]).unwrap();
        let (_, token) = auth(&args).unwrap();
        let token = token.unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(token, random_token());
    }
}
