//! `stagelink-player`: plays a movie and hosts it as a live Stagelink session.
//!
//! ```text
//! stagelink-player [--movie FILE] [--ws 127.0.0.1:61699] [--project demo] [--token T] …
//! ```
//!
//! Startup prints, one per line on stdout (tests parse them; logs go to stderr):
//! `viewer: http://ADDR/?token=TOKEN`, `websocket: ws://ADDR/ws`, `socket: PATH` (or
//! `socket: off`), `renderer: …`, then `ready`. Ctrl-C or SIGTERM: every client gets `bye`,
//! the servers stop, the engine stops, exit 0.
//!
//! The engine runs on its own thread at the movie's tempo and only ever touches the
//! Publisher, so nothing on the network can slow it down.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use stagelink_host_pipe::PipeServer;
use stagelink_host_ws::{TlsFiles, WsConfig, WsServer};
use stagelink_player::render::{self, Renderer, RendererKind};
use stagelink_player::runner::{self, RunnerConfig};
use stagelink_player::{CustomHandlers, Engine, demo, file};
use stagelink_publisher::{AuthConfig, Hub, HubConfig, Publisher};

/// Plays a Director-like movie and hosts it as a live Stagelink session: a WebSocket host with
/// the browser viewer, and a local socket for tools on this machine.
#[derive(Debug, Parser)]
#[command(name = "stagelink-player", version, about, long_about = None)]
struct Args {
    /// Movie file to play (JSON, as saved by the player or returned by the `project`
    /// request). Without it, the built-in demo plays.
    #[arg(long, value_name = "FILE", env = "STAGELINK_MOVIE")]
    movie: Option<PathBuf>,

    /// Address of the WebSocket host and the browser viewer. Keep it on loopback unless you
    /// use tokens and TLS.
    #[arg(
        long,
        value_name = "ADDR",
        env = "STAGELINK_WS",
        default_value = "127.0.0.1:61699"
    )]
    ws: SocketAddr,

    /// Project name that clients see (and may name in `hello.project`).
    #[arg(
        long,
        value_name = "NAME",
        env = "STAGELINK_PROJECT",
        default_value = "demo"
    )]
    project: String,

    /// Controller token. A random one is generated (and printed in the viewer URL) when
    /// neither this nor STAGELINK_TOKEN is given.
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
    #[arg(long, conflicts_with_all = ["token", "observer_token"])]
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

/// What the process does. Only `Host` exists yet; `--relay URL` (publish to a relay instead of
/// listening) and `--mirror URL` (play a remote project as a client) become modes here, each
/// with its own `run_*` that reuses [`load_engine`] and [`auth`] as it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Play a movie and serve it over WebSocket and the local socket.
    Host,
}

impl Mode {
    fn of(_args: &Args) -> Mode {
        Mode::Host
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
/// `--no-auth`).
fn auth(args: &Args) -> anyhow::Result<(AuthConfig, Option<String>)> {
    if args.no_auth {
        stagelink_host_ws::check_no_auth(&[args.ws])?;
        return Ok((AuthConfig::open(), None));
    }
    let token = match &args.token {
        Some(t) if t.is_empty() => bail!("--token must not be empty"),
        Some(t) => t.clone(),
        None => random_token(),
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

async fn run_host(args: Args) -> anyhow::Result<()> {
    let engine = load_engine(args.movie.as_ref())?;
    let (auth, token) = auth(&args)?;
    let kind = RendererKind::from(args.renderer);
    let mut capabilities = vec!["commands".to_owned(), "snapshots".to_owned()];
    if kind != RendererKind::Off {
        capabilities.push("pixels".into());
    }
    if !engine.handlers().is_empty() {
        capabilities.push("custom".into());
    }
    let hub = Hub::new(HubConfig {
        project: args.project.clone(),
        server_name: "stagelink-player".into(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        auth,
        capabilities,
        ..HubConfig::default()
    });

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let ws = stagelink_host_ws::serve(
        hub.clone(),
        WsConfig {
            addr: args.ws,
            allow_origins: args.allow_origin.clone(),
            tls,
            viewer: true,
        },
    )
    .context("cannot start the WebSocket host")?;
    let pipe = if args.no_pipe {
        None
    } else {
        let path = args
            .pipe
            .clone()
            .unwrap_or_else(|| stagelink_host_pipe::default_socket_path(&args.project));
        Some(
            stagelink_host_pipe::serve(hub.clone(), path)
                .context("cannot open the local socket")?,
        )
    };

    let (renderer, renderer_name) = start_renderer(kind, &hub)?;
    let runner = runner::spawn_with(
        engine,
        Publisher::new(hub.clone()),
        RunnerConfig {
            fps: args.fps,
            renderer,
        },
    )
    .context("cannot start the engine thread")?;

    let signals = ShutdownSignal::install()?;
    print_ready(&ws, pipe.as_ref(), token.as_deref(), &renderer_name)?;
    signals.wait().await;
    tracing::info!("shutting down");
    shutdown(hub, ws, pipe).await;
    runner.stop();
    Ok(())
}

/// The startup lines tests and users read.
fn print_ready(
    ws: &WsServer,
    pipe: Option<&PipeServer>,
    token: Option<&str>,
    renderer: &str,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let viewer = match token {
        Some(t) => format!("{}?token={t}", ws.http_url()),
        None => ws.http_url(),
    };
    writeln!(out, "viewer: {viewer}")?;
    writeln!(out, "websocket: {}", ws.ws_url())?;
    match pipe {
        Some(p) => writeln!(out, "socket: {}", p.path().display())?,
        None => writeln!(out, "socket: off")?,
    }
    writeln!(out, "renderer: {renderer}")?;
    writeln!(out, "ready")?;
    out.flush()?;
    Ok(())
}

/// Every client gets `bye` (and the fatal `shutdown`), then both servers stop.
async fn shutdown(hub: Hub, ws: WsServer, pipe: Option<PipeServer>) {
    hub.shutdown("the player is shutting down");
    let pipe = async {
        if let Some(p) = pipe {
            p.shutdown().await;
        }
    };
    tokio::join!(ws.shutdown(), pipe);
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
        assert_eq!(args.ws.to_string(), "127.0.0.1:61699");
        assert_eq!(args.project, "demo");
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
