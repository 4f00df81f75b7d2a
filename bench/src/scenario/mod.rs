//! The scenarios, and what they share: the run options, starting a host child, and measuring a
//! fleet of clients against a host process.

pub mod commands;
pub mod fanout;
pub mod idle;
pub mod latency;
pub mod pixels;
pub mod slow;

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use hdrhistogram::Histogram;

use crate::child::Child;
use crate::clients::{self, Fleet, Target};
use crate::conn::{ConnOptions, hello};
use crate::procfs::{CpuMeter, rss_kib};
use crate::report::histogram_of;

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// A smoke run: a second or so per row and small client counts; checks the harness works,
    /// judges nothing.
    #[arg(long)]
    pub quick: bool,
    /// Seconds measured per row (default 5; 1 with --quick).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Fan-out client counts (default 100,300,500,1000 — 300 is 3× the first, for the
    /// "3× the clients at the same p99" target; 10,25 with --quick).
    #[arg(long, value_delimiter = ',')]
    pub clients: Option<Vec<usize>>,
    /// Clients of the slow-client and command scenarios (default 500; 20 with --quick).
    #[arg(long)]
    pub load_clients: Option<usize>,
    /// `SO_RCVBUF` in KiB of the clients that will stop reading in the slow-client scenario
    /// (default 0 = the kernel's default).
    #[arg(long)]
    pub slow_rcvbuf_kib: Option<u32>,
    /// Idle connections (default 5000; 200 with --quick).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Rendered frames of the pixel scenario (default 240, one loop of the demo; 6 with --quick).
    #[arg(long)]
    pub frames: Option<usize>,
    /// Tokio worker threads of the host under test (default: one per CPU, as
    /// `stagelink-player` runs).
    #[arg(long)]
    pub host_workers: Option<usize>,
    /// Skip the Node.js baseline even when node is installed.
    #[arg(long)]
    pub no_node: bool,
    /// Skip the rows that need redis-server even when it is installed.
    #[arg(long)]
    pub no_redis: bool,
}

impl Opts {
    /// How long each row is measured.
    pub fn duration(&self) -> Duration {
        let default = if self.quick { 1.0 } else { 5.0 };
        Duration::from_secs_f64(self.seconds.unwrap_or(default).max(0.2))
    }

    /// How long clients run before measuring starts.
    pub fn warmup(&self) -> Duration {
        if self.quick {
            Duration::from_millis(300)
        } else {
            Duration::from_millis(1500)
        }
    }

    /// `--workers=N` for a host child.
    pub fn workers_arg(&self) -> String {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        format!("--workers={}", self.host_workers.unwrap_or(cpus).max(1))
    }

    /// The slow-client and command scenarios' client count.
    pub fn load_clients(&self) -> usize {
        self.load_clients
            .unwrap_or(if self.quick { 20 } else { 500 })
    }
}

/// A tokio runtime for the bench's clients: two workers, like the machine.
pub fn client_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Starts a host child (`serve --mode MODE …`) serving WebSocket; returns it and its address.
///
/// # Errors
/// When it does not start.
pub fn start_host(opts: &Opts, mode: &str, extra: &[&str]) -> Result<(Child, Target)> {
    let mut args: Vec<String> = ["serve", "--mode", mode, "--ws"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.push(opts.workers_arg());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let host = Child::start_self("host", &args)?;
    let addr = host.line("ws")?.parse().context("the host's ws address")?;
    Ok((host, Target::Ws(addr)))
}

/// What a fleet measurement found.
#[derive(Debug)]
pub struct FleetResult {
    /// Messages delivered per second, all clients together.
    pub delivered_per_sec: f64,
    /// Publish → receive latency of the stamped events, every client.
    pub latency: Histogram<u64>,
    /// Host CPU, percent of one core.
    pub host_cpu: f64,
    /// The host's engine thread (ticks, encodes, fans out), percent of one core; `None` for a
    /// host without one (Node).
    pub engine_cpu: Option<f64>,
    /// Host resident memory at the end, KiB.
    pub host_rss_kib: u64,
    /// The bench's own (clients') CPU, percent of one core.
    pub client_cpu: f64,
}

/// Connects `n` observers subscribed to every stream to `target`, warms up, measures for
/// `duration`, and reads the host process's CPU and memory over the same window.
///
/// # Errors
/// When clients fail to connect or fail mid-run.
pub fn measure_fleet(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    n: usize,
    host_pid: u32,
    opts: &Opts,
) -> Result<FleetResult> {
    let fleet = Fleet::new();
    runtime.block_on(async {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                clients::observer(
                    &fleet,
                    target.clone(),
                    ConnOptions::default(),
                    hello("observer", i, &["*"]),
                    false,
                )
            })
            .collect();
        let connect_timeout = Duration::from_secs(30 + n as u64 / 50);
        if let Err(e) = fleet.wait_welcomed(n, connect_timeout).await {
            fleet.stop();
            let _ = clients::collect(handles).await;
            return Err(e);
        }
        tokio::time::sleep(opts.warmup()).await;
        let host_cpu = CpuMeter::start(host_pid)?;
        let engine_cpu = CpuMeter::start_thread(host_pid, crate::host::ENGINE_THREAD)?;
        let client_cpu = CpuMeter::start(std::process::id())?;
        let started = std::time::Instant::now();
        fleet.set_phase(1);
        tokio::time::sleep(opts.duration()).await;
        fleet.set_phase(0);
        let elapsed = started.elapsed().as_secs_f64();
        let (host_cpu, client_cpu) = (host_cpu.percent()?, client_cpu.percent()?);
        // A host without an engine thread (Node) shows 0 ticks for it.
        let engine_cpu = Some(engine_cpu.percent()?).filter(|p| *p > 0.0);
        let host_rss_kib = rss_kib(host_pid)?;
        fleet.stop();
        let tallies = clients::collect(handles).await?;
        let delivered: u64 = tallies.iter().map(|t| t.messages[1]).sum();
        Ok(FleetResult {
            delivered_per_sec: delivered as f64 / elapsed,
            latency: histogram_of(tallies.iter().map(|t| t.latencies[1].as_slice())),
            host_cpu,
            engine_cpu,
            host_rss_kib,
            client_cpu,
        })
    })
}

/// The share of the machine's load average, for the notes: benchmarks on a busy machine say so.
pub fn load_note() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!("load average when the table was finished: {load}")
}
