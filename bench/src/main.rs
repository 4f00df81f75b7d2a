//! # stagelink-bench — Stagelink's benchmark harness
//!
//! Each scenario starts real processes on loopback (the host under test runs in a child
//! process, so its CPU and memory are its own), runs for a fixed time, and prints a Markdown
//! table of HDR-histogram percentiles with a baseline measured in the same run:
//!
//! | scenario | measures | baseline |
//! |---|---|---|
//! | `latency` | publish → receive over the local socket, WebSocket, 1 relay node, 2 relay nodes + Redis | raw loopback TCP / Unix-socket ping-pong, same size |
//! | `fanout` | demo movie at 60 ticks/s to 100/500/1000 WebSocket clients | Node.js `ws` sending the same bytes |
//! | `slow` | the others' latency and host memory when 10% of clients stop reading | the same clients before |
//! | `idle` | host RSS per idle WebSocket connection at 5,000 | Node.js `ws` |
//! | `commands` | command → ack round trip under fan-out load | the same with no load |
//! | `pixels` | bytes and encode time per frame of `Hub::publish_pixels` | raw RGBA, whole-frame LZ4 |
//!
//! `all` runs every scenario and ends with the targets, PASS/FAIL. `--quick` is the smoke run
//! `scripts/test` uses: a second per row, small counts, nothing judged; without `redis-server`
//! or `node` the rows needing them say `skipped: …`. `docs/benchmarks.md` has the latest table.
//!
//! ## Layout
//! - [`scenario`] — one module per scenario, and the options and fleet measurement they share.
//! - [`host`] — the hidden `serve` subcommand: the host under test (hub, WebSocket and local
//!   socket hosts, relay uplink, an engine thread ticking the demo movie).
//! - [`relay_node`] — the hidden `relay-node` subcommand: one relay node.
//! - [`floor`] — the hidden `floor-server` subcommand and its client: the raw ping-pong floor.
//! - [`node`] — the Node.js baseline: install, capture of the demo movie's bytes, start.
//! - [`clients`] — fleets of observers, slow observers, controllers and idle connections.
//! - [`conn`] — the minimal WebSocket and local-socket clients they use.
//! - [`child`] — child processes that announce `ready` and never outlive the bench.
//! - [`procfs`] — CPU time and RSS from `/proc`, the open-file limit.
//! - [`clock`] — `CLOCK_MONOTONIC` stamps shared by every process.
//! - [`report`] — histograms, Markdown tables, verdicts.
//!
//! ## Example
//! ```text
//! cargo run --release -p stagelink-bench -- all
//! cargo run --release -p stagelink-bench -- fanout --clients 100,500 --seconds 10
//! cargo run -q -p stagelink-bench -- all --quick
//! ```

mod child;
mod clients;
mod clock;
mod conn;
mod floor;
mod host;
mod node;
mod procfs;
mod relay_node;
mod report;
mod scenario;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::report::{Report, verdict_table};
use crate::scenario::Opts;

/// Benchmarks Stagelink against baselines measured in the same run, and prints Markdown tables.
#[derive(Debug, Parser)]
#[command(name = "stagelink-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Publish → receive latency over each transport, beside the raw socket floor.
    Latency(Opts),
    /// The demo movie at 60 ticks/s to N WebSocket clients, beside Node.js `ws`.
    Fanout(Opts),
    /// 10% of clients stop reading: the others' latency and the host's memory.
    Slow(Opts),
    /// Host memory per idle WebSocket connection, beside Node.js `ws`.
    Idle(Opts),
    /// Command → ack round trip with and without fan-out load.
    Commands(Opts),
    /// Bytes and encode time per pixel frame against raw RGBA.
    Pixels(Opts),
    /// Every scenario, then the targets with PASS/FAIL.
    All(Opts),
    /// (internal) The host under test.
    #[command(hide = true)]
    Serve(host::ServeArgs),
    /// (internal) One relay node.
    #[command(hide = true)]
    RelayNode(relay_node::RelayNodeArgs),
    /// (internal) The raw ping-pong floor server.
    #[command(hide = true)]
    FloorServer(floor::FloorArgs),
}

type Scenario = fn(&Opts) -> anyhow::Result<Report>;

const SCENARIOS: [(&str, Scenario); 6] = [
    ("latency", scenario::latency::run),
    ("fanout", scenario::fanout::run),
    ("slow", scenario::slow::run),
    ("idle", scenario::idle::run),
    ("commands", scenario::commands::run),
    ("pixels", scenario::pixels::run),
];

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (names, opts): (Vec<&str>, Opts) = match cli.command {
        Cmd::Serve(args) => return exit(host::serve(args)),
        Cmd::RelayNode(args) => return exit(relay_node::relay_node(args)),
        Cmd::FloorServer(args) => return exit(floor::floor_server(args)),
        Cmd::Latency(o) => (vec!["latency"], o),
        Cmd::Fanout(o) => (vec!["fanout"], o),
        Cmd::Slow(o) => (vec!["slow"], o),
        Cmd::Idle(o) => (vec!["idle"], o),
        Cmd::Commands(o) => (vec!["commands"], o),
        Cmd::Pixels(o) => (vec!["pixels"], o),
        Cmd::All(o) => (SCENARIOS.iter().map(|(n, _)| *n).collect(), o),
    };
    println!(
        "## stagelink-bench{}\n\nmachine: {}\n",
        if opts.quick { " --quick" } else { "" },
        procfs::machine()
    );
    let mut verdicts = Vec::new();
    let mut failed = Vec::new();
    for (i, name) in names.iter().copied().enumerate() {
        let Some((_, run)) = SCENARIOS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if i > 0 && !opts.quick {
            // The last scenario's processes and thousands of sockets are still being torn
            // down for a moment; each scenario should start on a quiet machine.
            std::thread::sleep(SCENARIO_PAUSE);
        }
        let started = std::time::Instant::now();
        eprintln!("bench: running {name}…");
        match run(&opts) {
            Ok(report) => {
                for table in &report.tables {
                    println!("{}", table.render());
                }
                verdicts.extend(report.verdicts);
            }
            Err(e) => {
                println!("### {name}\n\nFAILED to run: {e:#}\n");
                failed.push(name);
            }
        }
        eprintln!(
            "bench: {name} took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if !verdicts.is_empty() {
        println!("{}", verdict_table(&verdicts, opts.quick).render());
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("bench: scenarios that could not run: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

/// The pause between the scenarios of `all` (not with `--quick`).
const SCENARIO_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
