//! `stagelink-relay` — the standalone relay.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use stagelink_relay::{RelayConfig, RelayServer};

/// Shared remote Stagelink sessions: hosts publish projects, clients attach by project name.
#[derive(Debug, Parser)]
#[command(name = "stagelink-relay", version)]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, env = "STAGELINK_RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Development mode: no tokens for hosts or clients. Refused unless listening on loopback.
    #[arg(long)]
    dev: bool,
    /// JSON config file: {"listen": "...", "projects": {"NAME": {"host_token": "...", "client_token": "...", "observer_token": "..."}}}
    #[arg(long, env = "STAGELINK_RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// A project's host token, as PROJECT=TOKEN (repeatable).
    #[arg(long = "host-token", value_name = "PROJECT=TOKEN")]
    host_tokens: Vec<String>,
    /// A project's client (controller) token, as PROJECT=TOKEN (repeatable).
    #[arg(long = "client-token", value_name = "PROJECT=TOKEN")]
    client_tokens: Vec<String>,
    /// A project's observer token, as PROJECT=TOKEN (repeatable).
    #[arg(long = "observer-token", value_name = "PROJECT=TOKEN")]
    observer_tokens: Vec<String>,
    /// Share projects with other relay nodes through Redis (redis://host:port).
    #[arg(long, env = "STAGELINK_BACKPLANE")]
    backplane: Option<String>,
    /// This node's name in the registry.
    #[arg(long, env = "STAGELINK_NODE_ID")]
    node_id: Option<String>,
    /// Threads the client sessions run on (default: one per CPU; 0 = on the tokio workers).
    #[arg(long, value_name = "N", env = "STAGELINK_SESSION_THREADS")]
    session_threads: Option<usize>,
    /// Log filter (also RUST_LOG).
    #[arg(long, default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log)),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = match &args.config {
        Some(path) => RelayConfig::from_file(path)?,
        None => RelayConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.dev |= args.dev;
    for flag in &args.host_tokens {
        config.set_token(flag, |p| &mut p.host_token)?;
    }
    for flag in &args.client_tokens {
        config.set_token(flag, |p| &mut p.client_token)?;
    }
    for flag in &args.observer_tokens {
        config.set_token(flag, |p| &mut p.observer_token)?;
    }
    if args.backplane.is_some() {
        config.backplane = args.backplane.clone();
    }
    if args.node_id.is_some() {
        config.node_id = args.node_id.clone();
    }
    if args.session_threads.is_some() {
        config.session_threads = args.session_threads;
    }
    let server = RelayServer::start(config)
        .await
        .context("starting the relay")?;
    println!("listening: ws://{}/ws", server.local_addr());
    println!("projects: http://{}/projects", server.local_addr());
    println!("ready");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
