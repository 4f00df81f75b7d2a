//! Commands: command → ack round trip under fan-out load. Controllers send a `custom` `echo`
//! command, wait for its ack, pause a random 0–20 ms (so commands land anywhere in the tick),
//! and repeat. Measured first with no other clients (the baseline), then with N observers
//! receiving the demo movie at 60 ticks/s. The engine applies commands at the start of its next
//! tick, so the floor is the wait for that tick: uniform over 0–16.7 ms at 60 ticks/s.

use std::time::Duration;

use anyhow::Result;
use hdrhistogram::Histogram;

use crate::clients::{self, Fleet, Target};
use crate::conn::{ConnOptions, hello};
use crate::procfs::CpuMeter;
use crate::report::{Report, Table, fmt_ms, histogram_of, quantile_us};
use crate::scenario::fanout::FPS;
use crate::scenario::{Opts, client_runtime, load_note, start_host};

/// Controllers sending commands at once.
const CONTROLLERS: usize = 4;

/// Runs the scenario.
///
/// # Errors
/// When the host or the clients fail.
pub fn run(opts: &Opts) -> Result<Report> {
    let n = opts.load_clients();
    crate::procfs::raise_nofile();
    let (host, target) = start_host(opts, "demo", &[&format!("--fps={FPS}")])?;
    let Target::Ws(addr) = target else {
        unreachable!("start_host serves WebSocket")
    };
    let pid = host.pid();
    let runtime = client_runtime()?;
    // One tick period: commands then arrive uniformly over the tick, whatever the previous ack.
    let spacing = Duration::from_secs(1) / FPS;
    let fleet = Fleet::new();
    let (phases, cpus): (Vec<Histogram<u64>>, Vec<f64>) = runtime.block_on(async {
        let mut handles: Vec<_> = (0..CONTROLLERS)
            .map(|i| {
                clients::controller(
                    &fleet,
                    addr,
                    hello("controller", 100_000 + i, &[]),
                    spacing,
                    i as u64,
                )
            })
            .collect();
        fleet
            .wait_welcomed(CONTROLLERS, Duration::from_secs(10))
            .await?;
        tokio::time::sleep(opts.warmup()).await;
        let mut cpus = Vec::new();
        let cpu = CpuMeter::start(pid)?;
        fleet.set_phase(1);
        tokio::time::sleep(opts.duration()).await;
        fleet.set_phase(0);
        cpus.push(cpu.percent()?);
        handles.extend((0..n).map(|i| {
            clients::observer(
                &fleet,
                target.clone(),
                ConnOptions::default(),
                hello("observer", i, &["*"]),
                false,
            )
        }));
        fleet
            .wait_welcomed(CONTROLLERS + n, Duration::from_secs(30 + n as u64 / 50))
            .await?;
        tokio::time::sleep(opts.warmup()).await;
        let cpu = CpuMeter::start(pid)?;
        fleet.set_phase(2);
        tokio::time::sleep(opts.duration()).await;
        fleet.set_phase(0);
        cpus.push(cpu.percent()?);
        fleet.stop();
        let tallies = clients::collect(handles).await?;
        // The controllers are the first tallies; the observers' are fan-out latencies.
        let controllers = &tallies[..CONTROLLERS];
        let phases = (1..=2)
            .map(|p| histogram_of(controllers.iter().map(|t| t.latencies[p].as_slice())))
            .collect();
        anyhow::Ok((phases, cpus))
    })?;
    drop(host);

    let mut table = Table::new(
        format!("Commands: command → ack round trip, demo movie at {FPS} ticks/s"),
        &["load", "p50", "p99", "p99.9", "max", "commands", "host CPU"],
    );
    let names = [
        "no other clients (baseline)".to_owned(),
        format!("{n} observers receiving every stream"),
    ];
    for ((name, h), cpu) in names.iter().zip(&phases).zip(&cpus) {
        table.row(vec![
            name.clone(),
            fmt_ms(quantile_us(h, 0.5)),
            fmt_ms(quantile_us(h, 0.99)),
            fmt_ms(quantile_us(h, 0.999)),
            fmt_ms((!h.is_empty()).then(|| h.max())),
            h.len().to_string(),
            format!("{cpu:.0}%"),
        ]);
    }
    table.note(format!(
        "{CONTROLLERS} controllers over WebSocket, each on a thread of its own: `custom` `echo` \
         command, wait for its ack, pause 0–{} ms at random; the engine applies commands at the start of its next tick, \
         so even an idle host answers in 0–{:.1} ms plus the tick itself",
        spacing.as_millis(),
        1000.0 / f64::from(FPS)
    ));
    table.note(load_note());
    Ok(Report {
        tables: vec![table],
        verdicts: Vec::new(),
    })
}
