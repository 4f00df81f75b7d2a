//! Slow clients: N observers of the demo movie at 60 ticks/s; after a measured phase with
//! everyone reading, every tenth client stops reading (its connection stays open) and the same
//! clients are measured again. The others' latency should not move, and the host's memory
//! should level off: a stalled client costs only its own bounded outbox.

use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

use crate::clients::{self, Fleet};
use crate::conn::{ConnOptions, hello};
use crate::procfs::{CpuMeter, rss_kib};
use crate::report::{Report, Table, Verdict, fmt_mib, fmt_ms, histogram_of, quantile_us};
use crate::scenario::fanout::FPS;
use crate::scenario::{Opts, client_runtime, load_note, start_host};

/// The receive buffer (KiB) of the clients that will stop reading; 0 = the kernel's default.
/// The default buffers hold about a second of the movie, so the stall reaches the host's
/// outboxes within the settle time. (A small buffer makes it reach the host at once, but 50
/// clients with 4 KiB windows slow the other clients down even while they still read — see
/// docs/benchmarks.md — which would spoil the baseline phase.)
const SLOW_RCVBUF_KIB: u32 = 0;

struct Phase {
    latency: Histogram<u64>,
    delivered_per_sec: f64,
    host_cpu: f64,
    /// The host's engine thread (ticks, encodes, pushes into every outbox).
    engine_cpu: f64,
    /// The bench's own (clients') CPU.
    client_cpu: f64,
    /// Host RSS samples (KiB) taken through the phase.
    rss: Vec<u64>,
}

/// Runs the scenario.
///
/// # Errors
/// When the host or the clients fail.
pub fn run(opts: &Opts) -> Result<Report> {
    let n = opts.load_clients();
    let settle = if opts.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(3)
    };
    let rcvbuf_kib = opts.slow_rcvbuf_kib.unwrap_or(SLOW_RCVBUF_KIB);
    crate::procfs::raise_nofile();
    let (host, target) = start_host(opts, "demo", &[&format!("--fps={FPS}")])?;
    let pid = host.pid();
    let runtime = client_runtime()?;
    let fleet = Fleet::new();
    let (phases, stalled) = runtime.block_on(async {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let slow = i % 10 == 9;
                let options = ConnOptions {
                    recv_buffer: (slow && rcvbuf_kib > 0).then_some(rcvbuf_kib * 1024),
                    ..ConnOptions::default()
                };
                clients::observer(
                    &fleet,
                    target.clone(),
                    options,
                    hello("observer", i, &["*"]),
                    slow,
                )
            })
            .collect();
        let stalled = handles.len() / 10;
        fleet
            .wait_welcomed(n, Duration::from_secs(30 + n as u64 / 50))
            .await?;
        tokio::time::sleep(opts.warmup()).await;
        let mut phases = Vec::new();
        for phase in 1..=2 {
            if phase == 2 {
                fleet.halt_slow();
            }
            // Both phases start `settle` after their change: the baseline once 500 new
            // connections have grown their buffers (the host's RSS still climbs by ~15 MiB in
            // the first seconds), the stalled phase once the stalled clients' kernel buffers
            // are full.
            tokio::time::sleep(settle).await;
            let cpu = CpuMeter::start(pid)?;
            let engine = CpuMeter::start_thread(pid, crate::host::ENGINE_THREAD)?;
            let clients = CpuMeter::start(std::process::id())?;
            let started = Instant::now();
            fleet.set_phase(phase);
            let mut rss = Vec::new();
            // The stalled phase runs twice as long: the stalled outboxes take a few seconds to
            // fill after the kernel buffers do, and "bounded" is judged on its second half.
            let end = started + opts.duration() * phase as u32;
            while Instant::now() < end {
                rss.push(rss_kib(pid)?);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            rss.push(rss_kib(pid)?);
            fleet.set_phase(0);
            phases.push((
                started.elapsed().as_secs_f64(),
                cpu.percent()?,
                engine.percent()?,
                clients.percent()?,
                rss,
            ));
        }
        fleet.stop();
        let tallies = clients::collect(handles).await?;
        let others: Vec<_> = tallies.iter().filter(|t| !t.slow).collect();
        let phases: Vec<Phase> = phases
            .into_iter()
            .enumerate()
            .map(|(i, (secs, host_cpu, engine_cpu, client_cpu, rss))| Phase {
                latency: histogram_of(others.iter().map(|t| t.latencies[i + 1].as_slice())),
                delivered_per_sec: others.iter().map(|t| t.messages[i + 1]).sum::<u64>() as f64
                    / secs,
                host_cpu,
                engine_cpu,
                client_cpu,
                rss,
            })
            .collect();
        anyhow::Ok((phases, stalled))
    })?;
    drop(host);

    let mut table = Table::new(
        format!(
            "Slow clients: {n} clients of the demo movie at {FPS} ticks/s, then 10% stop reading"
        ),
        &[
            "phase",
            "others' p50",
            "others' p99",
            "others' p99.9",
            "others' msg/s",
            "host CPU",
            "of which engine thread",
            "host RSS start → end (max)",
            "bench (clients) CPU",
        ],
    );
    let names = [
        "all reading (baseline)".to_owned(),
        format!("{stalled} stopped reading"),
    ];
    for (name, p) in names.iter().zip(&phases) {
        let (first, last) = (
            p.rss.first().copied().unwrap_or(0),
            p.rss.last().copied().unwrap_or(0),
        );
        let max = p.rss.iter().copied().max().unwrap_or(0);
        table.row(vec![
            name.clone(),
            fmt_ms(quantile_us(&p.latency, 0.5)),
            fmt_ms(quantile_us(&p.latency, 0.99)),
            fmt_ms(quantile_us(&p.latency, 0.999)),
            format!("{:.0}", p.delivered_per_sec),
            format!("{:.0}%", p.host_cpu),
            format!("{:.0}%", p.engine_cpu),
            format!("{} → {} ({})", fmt_mib(first), fmt_mib(last), fmt_mib(max)),
            format!("{:.0}%", p.client_cpu),
        ]);
    }
    table.note(format!(
        "\"others\": the {} clients that kept reading, in both phases. The stalled clients' \
         receive buffer: {}; each phase starts {} ms after its change (the baseline after the \
         warm-up, once the new connections' buffers have grown; the second phase after the \
         stalled clients stop, when their kernel buffers are full and the host's outboxes for \
         them are filling)",
        n - stalled,
        if rcvbuf_kib == 0 {
            "the kernel's default".to_owned()
        } else {
            format!("{rcvbuf_kib} KiB")
        },
        settle.as_millis()
    ));
    table.note(format!(
        "the stalled phase is measured for {:.0} s (twice the baseline's), RSS sampled every 100 ms",
        2.0 * opts.duration().as_secs_f64()
    ));
    table.note(
        "the host keeps at most `stream_queue` (64) events per stream per client: `latest` \
         streams keep one, `coalesce` streams merge, `fifo` streams drop the oldest and send a \
         `gap` — so host memory should level off once the stalled outboxes are full",
    );
    table.note(load_note());

    let p99 = |p: &Phase| quantile_us(&p.latency, 0.99).unwrap_or(0) as f64;
    let (before, after) = (p99(&phases[0]), p99(&phases[1]));
    let change = (after - before) / before.max(1.0);
    let mut verdicts = vec![Verdict::new(
        "slow clients: the others' p99 grows by ≤ 10%",
        format!(
            "{} → {} ({:+.0}%)",
            fmt_ms(Some(before as u64)),
            fmt_ms(Some(after as u64)),
            change * 100.0
        ),
        Some(change <= 0.10),
    )];
    // Bounded: over the second half of the stalled phase RSS grows by at most 2 MiB.
    let rss = &phases[1].rss;
    let half = rss.len() / 2;
    let mid_max = rss[..half.max(1)].iter().copied().max().unwrap_or(0);
    let late_max = rss[half..].iter().copied().max().unwrap_or(0);
    let growth = late_max.saturating_sub(mid_max);
    verdicts.push(Verdict::new(
        "slow clients: host memory bounded (≤ 2 MiB growth over the second half of the stalled phase)",
        format!(
            "{} → {} max (+{} KiB)",
            fmt_mib(mid_max),
            fmt_mib(late_max),
            growth
        ),
        Some(growth <= 2048),
    ));
    Ok(Report {
        tables: vec![table],
        verdicts,
    })
}
