//! Fan-out: the demo movie at 60 ticks/s to N WebSocket clients subscribed to every stream;
//! delivered messages/s, publish → receive latency, host CPU and memory. Baseline: a Node.js
//! broadcast server on `ws` sending the identical pre-serialized bytes (captured from a real
//! Stagelink session on the same movie) to the same clients.

use anyhow::Result;

use crate::node;
use crate::report::{Report, Table, Verdict, fmt_mib, fmt_ms, quantile_us};
use crate::scenario::{FleetResult, Opts, client_runtime, load_note, measure_fleet, start_host};

/// Ticks per second.
pub const FPS: u32 = 60;

/// One row: which server, how many clients, what it measured (or why it was skipped).
struct Row {
    server: &'static str,
    clients: usize,
    result: Result<FleetResult, String>,
}

/// Runs the scenario.
///
/// # Errors
/// When the capture or a Stagelink host fails.
pub fn run(opts: &Opts) -> Result<Report> {
    let counts = opts.clients.clone().unwrap_or_else(|| {
        if opts.quick {
            vec![10, 25]
        } else {
            vec![100, 300, 500, 1000]
        }
    });
    crate::procfs::raise_nofile();
    let capture = node::capture(stagelink_player::demo::FRAMES as usize)?;
    let dir = crate::scenario::latency::tempdir()?;
    let capture_path = dir.join("capture.json");
    capture.write(&capture_path)?;
    let node_ready = if opts.no_node {
        Err("--no-node".to_owned())
    } else {
        node::ensure_installed().map_err(|e| e.to_string())
    };
    let runtime = client_runtime()?;
    let mut rows = Vec::new();
    for &n in &counts {
        let (host, target) = start_host(opts, "demo", &[&format!("--fps={FPS}")])?;
        let result = measure_fleet(&runtime, &target, n, host.pid(), opts)
            .map_err(|e| format!("failed: {e:#}"));
        drop(host);
        rows.push(Row {
            server: "Stagelink (host-ws)",
            clients: n,
            result,
        });
        let node_row = match &node_ready {
            Err(why) => Err(format!("skipped: {why}")),
            Ok(()) => {
                let child = node::start("fanout", Some(&capture_path), FPS)?;
                let target = crate::clients::Target::Ws(child.line("ws")?.parse()?);
                measure_fleet(&runtime, &target, n, child.pid(), opts)
                    .map_err(|e| format!("failed: {e:#}"))
            }
        };
        rows.push(Row {
            server: "Node.js ws (baseline)",
            clients: n,
            result: node_row,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);

    let mut table = Table::new(
        format!("Fan-out: demo movie at {FPS} ticks/s over WebSocket"),
        &[
            "server",
            "clients",
            "delivered msg/s",
            "of expected",
            "p50",
            "p99",
            "p99.9",
            "host CPU",
            "of which engine thread",
            "host CPU µs/msg",
            "host RSS",
            "bench (clients) CPU",
        ],
    );
    let per_client = capture.messages_per_tick() * f64::from(FPS);
    for row in &rows {
        match &row.result {
            Ok(r) => table.row(vec![
                row.server.to_owned(),
                row.clients.to_string(),
                format!("{:.0}", r.delivered_per_sec),
                format!(
                    "{:.0}%",
                    100.0 * r.delivered_per_sec / (per_client * row.clients as f64).max(1.0)
                ),
                fmt_ms(quantile_us(&r.latency, 0.5)),
                fmt_ms(quantile_us(&r.latency, 0.99)),
                fmt_ms(quantile_us(&r.latency, 0.999)),
                format!("{:.0}%", r.host_cpu),
                r.engine_cpu
                    .map_or_else(|| "–".to_owned(), |c| format!("{c:.0}%")),
                format!("{:.2}", cpu_us_per_message(r)),
                fmt_mib(r.host_rss_kib),
                format!("{:.0}%", r.client_cpu),
            ]),
            Err(why) => {
                let mut cells = vec![row.server.to_owned(), row.clients.to_string(), why.clone()];
                cells.resize(table.headers.len(), String::new());
                table.row(cells);
            }
        }
    }
    table.note(format!(
        "the demo movie sends {:.1} messages ({:.0} bytes) per tick on average over its {} frames, \
         so N clients should receive N × {:.0} messages/s",
        capture.messages_per_tick(),
        capture.bytes_per_tick(),
        capture.ticks.len(),
        capture.messages_per_tick() * f64::from(FPS),
    ));
    table.note(
        "latency: publish → receive of the stamped `movie_props` event of every tick, every \
         client; CPU: percent of one core over the measured window (this machine has 2; Node \
         runs JavaScript on one); \"host CPU µs/msg\": host CPU time per delivered message, \
         which stays comparable when a saturated server delivers fewer messages; \"engine \
         thread\": the host thread that ticks the movie, encodes each event once and pushes it \
         into every client's outbox (at 100% it is the bottleneck); the clients run in the \
         bench process on the same 2 cores",
    );
    table.note(
        "the Node server sends the exact bytes a Stagelink session received from the same movie \
         (captured through a real Publisher and Session), one Buffer per message shared by all \
         clients, and does nothing else: no engine, no JSON encoding, no per-client queues",
    );
    table.note(load_note());

    let verdicts = verdicts(&rows);
    Ok(Report {
        tables: vec![table],
        verdicts,
    })
}

/// Host CPU time per delivered message, in µs: the fair comparison when one server cannot
/// deliver everything (a saturated Node process delivers fewer messages, not slower ones).
fn cpu_us_per_message(r: &FleetResult) -> f64 {
    // percent of a core = 10⁴ µs of CPU per second.
    r.host_cpu * 10_000.0 / r.delivered_per_sec.max(1.0)
}

fn verdicts(rows: &[Row]) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    let stagelink = |n: usize| {
        rows.iter()
            .find(|r| r.server.starts_with("Stagelink") && r.clients == n)
            .and_then(|r| r.result.as_ref().ok())
    };
    let target = "500 clients at 60 ticks/s: p99 ≤ 20 ms";
    verdicts.push(match stagelink(500) {
        Some(r) => {
            let p99 = quantile_us(&r.latency, 0.99).unwrap_or(u64::MAX);
            Verdict::new(
                target,
                format!("p99 {}", fmt_ms(Some(p99))),
                Some(p99 <= 20_000),
            )
        }
        None => Verdict::new(target, "not run (no 500-client row)", None),
    });

    // ≥ 3× Node's clients at the same p99, or ≥ 3× less host CPU at the same clients.
    let target = "fan-out ≥ 3× Node's clients at the same p99, or ≥ 3× less host CPU (per delivered message) at the same clients";
    let mut cpu_ratios = Vec::new();
    let mut clients_ok = false;
    let mut any_node = false;
    for row in rows.iter().filter(|r| r.server.starts_with("Node")) {
        let Ok(n) = &row.result else { continue };
        any_node = true;
        if let Some(s) = stagelink(row.clients) {
            cpu_ratios.push((
                row.clients,
                cpu_us_per_message(n) / cpu_us_per_message(s).max(1e-6),
            ));
        }
        let node_p99 = quantile_us(&n.latency, 0.99).unwrap_or(0);
        for s_row in rows.iter().filter(|r| r.server.starts_with("Stagelink")) {
            if let Ok(s) = &s_row.result
                && s_row.clients >= 3 * row.clients
                && quantile_us(&s.latency, 0.99).unwrap_or(u64::MAX) <= node_p99
            {
                clients_ok = true;
            }
        }
    }
    if !any_node {
        verdicts.push(Verdict::new(target, "Node baseline skipped", None));
    } else {
        let cpu_ok = !cpu_ratios.is_empty() && cpu_ratios.iter().all(|(_, r)| *r >= 3.0);
        let measured = cpu_ratios
            .iter()
            .map(|(n, r)| format!("{n} clients: Node/Stagelink CPU per message {r:.2}×"))
            .collect::<Vec<_>>()
            .join("; ");
        let measured = format!(
            "{measured}; ≥3× clients at ≤ Node's p99: {}",
            if clients_ok { "yes" } else { "no" }
        );
        verdicts.push(Verdict::new(target, measured, Some(cpu_ok || clients_ok)));
    }
    verdicts
}
