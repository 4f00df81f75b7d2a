//! Latency: engine publish → client receive, one client, one stamped `movie_props` event every
//! millisecond, over the local socket, WebSocket, one relay node, and two relay nodes sharing
//! the project through Redis. The floor beside them: a raw loopback TCP and Unix-socket
//! ping-pong of the same message size between two processes.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use stagelink_contracts::{MovieProp, PropValue, StreamName, encode_event};

use crate::child::{Child, free_port, on_path};
use crate::clients::Target;
use crate::clock::{STAMP_PROP, micros_since, now_ns, stamp_of};
use crate::conn::{Blocking, hello};
use crate::floor::floor_client;
use crate::report::{Report, Table, Verdict, fmt_us, histogram_of, quantile_us};
use crate::scenario::{Opts, load_note};

/// Microseconds between stamped events (and between floor pings).
const INTERVAL_US: u64 = 1000;

/// The size of the event measured: a `movie_props` event with one stamp, as the host encodes it.
fn event_size() -> usize {
    encode_event(
        StreamName::MovieProps,
        12_345,
        None,
        12_345,
        &[MovieProp {
            prop: STAMP_PROP.into(),
            value: PropValue::Int(now_ns() as i64),
        }],
    )
    .len()
}

/// One row's outcome.
enum Row {
    /// Latencies, and the host's context switches per event when the host was watched.
    Measured(Histogram<u64>, Option<f64>),
    Skipped(String),
}

/// Runs the scenario.
///
/// # Errors
/// When a host or client fails in a way that is not a documented skip.
pub fn run(opts: &Opts) -> Result<Report> {
    let size = event_size();
    let dir = tempdir()?;
    let (warmup, duration) = (opts.warmup(), opts.duration());

    let unix_path = dir.join("floor.sock");
    let floor_unix = floor(Some(&unix_path), size, false, warmup, duration)?;
    let floor_tcp = floor(None, size, false, warmup, duration)?;
    let hop_unix = floor(Some(&unix_path), size, true, warmup, duration)?;
    let hop_tcp = floor(None, size, true, warmup, duration)?;

    // The local-socket and WebSocket rows: a latency host with `extra` flags, measured directly.
    let direct = |sock: &str, extra: &[&str]| -> Result<(Row, Row)> {
        let path = dir.join(sock).display().to_string();
        let host = latency_host(opts, &[&["--pipe", &path], extra].concat())?;
        let pipe = measure(Target::Pipe(host.line("pipe")?.into()), Some(&host), opts)?;
        let host = latency_host(opts, &[&["--ws"], extra].concat())?;
        let ws = measure(Target::Ws(host.line("ws")?.parse()?), Some(&host), opts)?;
        Ok((pipe, ws))
    };
    let (pipe, ws) = direct("host.sock", &[])?;
    // The same two rows with the sessions on the tokio workers instead of session threads
    // (how every host ran before `SessionThreads`): the reference for what they change.
    let on_workers = if opts.quick {
        None
    } else {
        Some(direct("host1.sock", &["--session-threads=0"])?)
    };
    // The local socket without direct writes (each event through its session thread): the
    // reference for what the engine thread's own non-blocking write changes.
    let no_direct = if opts.quick {
        None
    } else {
        let path = dir.join("host2.sock").display().to_string();
        let host = latency_host(opts, &["--pipe", &path, "--direct-writes=0"])?;
        Some(measure(
            Target::Pipe(host.line("pipe")?.into()),
            Some(&host),
            opts,
        )?)
    };
    let relay_one = {
        let relay = Child::start_self("relay node", &args(&["relay-node"]))?;
        let url = format!("ws://{}/ws", relay.line("ws")?);
        let _host = latency_host(opts, &["--uplink", &url])?;
        measure(Target::Ws(relay.line("ws")?.parse()?), None, opts)?
    };
    let relay_two = if opts.no_redis {
        Row::Skipped("--no-redis".into())
    } else if !on_path("redis-server") {
        Row::Skipped("redis-server not found on PATH".into())
    } else {
        let (_redis, url) = start_redis()?;
        let a = Child::start_self(
            "relay node a",
            &args(&["relay-node", "--redis", &url, "--node-id", "bench-a"]),
        )?;
        let b = Child::start_self(
            "relay node b",
            &args(&["relay-node", "--redis", &url, "--node-id", "bench-b"]),
        )?;
        let up = format!("ws://{}/ws", a.line("ws")?);
        let _host = latency_host(opts, &["--uplink", &up])?;
        measure(Target::Ws(b.line("ws")?.parse()?), None, opts)?
    };

    let mut table = Table::new(
        "Latency: publish → receive, one client, one event per ms",
        &[
            "path",
            "p50",
            "p99",
            "p99.9",
            "max",
            "samples",
            "p50 vs floor",
            "host context switches / event",
        ],
    );
    let p50 = |h: &Histogram<u64>| quantile_us(h, 0.5).unwrap_or(0);
    let ratio = |h: &Histogram<u64>, floor: &Histogram<u64>| {
        format!("{:.1}×", p50(h) as f64 / p50(floor).max(1) as f64)
    };
    let mut row = |name: &str, r: &Row, floor: &Histogram<u64>| match r {
        Row::Measured(h, switches) => table.row(vec![
            name.to_owned(),
            fmt_us(quantile_us(h, 0.5)),
            fmt_us(quantile_us(h, 0.99)),
            fmt_us(quantile_us(h, 0.999)),
            fmt_us((!h.is_empty()).then(|| h.max())),
            h.len().to_string(),
            ratio(h, floor),
            switches.map_or("–".to_owned(), |n| format!("{n:.2}")),
        ]),
        Row::Skipped(why) => table.skipped(name, why),
    };
    let (fu, ft) = (
        Row::Measured(floor_unix, None),
        Row::Measured(floor_tcp, None),
    );
    let (Row::Measured(unix_h, _), Row::Measured(tcp_h, _)) = (&fu, &ft) else {
        unreachable!()
    };
    row("floor: raw Unix-socket ping-pong", &fu, unix_h);
    row("floor: raw loopback TCP ping-pong", &ft, tcp_h);
    row(
        "floor + one thread hop, Unix (reference)",
        &Row::Measured(hop_unix, None),
        unix_h,
    );
    row(
        "floor + one thread hop, TCP (reference)",
        &Row::Measured(hop_tcp, None),
        tcp_h,
    );
    row("Stagelink local socket", &pipe, unix_h);
    row("Stagelink WebSocket", &ws, tcp_h);
    if let Some((pipe1, ws1)) = &on_workers {
        row(
            "Stagelink local socket, sessions on the tokio workers (reference)",
            pipe1,
            unix_h,
        );
        row(
            "Stagelink WebSocket, sessions on the tokio workers (reference)",
            ws1,
            tcp_h,
        );
    }
    if let Some(pipe2) = &no_direct {
        row(
            "Stagelink local socket, no direct writes (reference)",
            pipe2,
            unix_h,
        );
    }
    row("Stagelink via 1 relay node", &relay_one, tcp_h);
    row("Stagelink via 2 relay nodes + Redis", &relay_two, tcp_h);
    table.note(format!(
        "every message is {size} bytes of payload: the `movie_props` event carrying the stamp \
         (the floor sends the same size after a 4-byte length); {} s measured per row after {} ms \
         of warm-up",
        duration.as_secs_f64(),
        warmup.as_millis()
    ));
    table.note(
        "the host stamps the event with CLOCK_MONOTONIC right before `Publisher::end_tick`; \
         the client (a thread blocked in `read`, as in the floor) subtracts on receipt. Relay rows: host → relay node (uplink) → client; with \
         two nodes the host is on node A and the client on node B",
    );
    table.note("\"p50 vs floor\": the local socket against the Unix floor, the rest against TCP");
    table.note(
        "\"+ one thread hop\": the floor server stamping on one thread and writing on another \
         (a channel between them) — the engine-thread → transport hop every Stagelink host \
         makes by design (the engine never waits on the network), with no other work; it shows \
         how much of the gap to the floor is that second wake-up",
    );
    table.note(format!(
        "the host runs as `stagelink-player` does: tokio with {} worker thread(s) for accepting \
         and HTTP, and its sessions on one session thread per CPU (`SessionThreads`, a \
         single-threaded runtime each); the \"reference\" rows run the sessions on the tokio \
         workers instead, as every host did before. On the local socket the engine thread \
         writes each event itself, with one non-blocking `sendmsg`, while the client is caught \
         up (direct writes, `HubConfig::direct_write_sessions`); the \"no direct writes\" \
         reference row sends every event through the session thread",
        opts.workers_arg().trim_start_matches("--workers=")
    ));
    table.note(load_note());

    let mut verdicts = Vec::new();
    let judge = |r: &Row, floor: &Histogram<u64>, limit: f64, target: &str| match r {
        Row::Measured(h, _) => {
            let x = p50(h) as f64 / p50(floor).max(1) as f64;
            Verdict::new(
                target,
                format!(
                    "p50 {} vs floor {} = {x:.1}×",
                    fmt_us(quantile_us(h, 0.5)),
                    fmt_us(quantile_us(floor, 0.5))
                ),
                Some(x <= limit),
            )
        }
        Row::Skipped(why) => Verdict::new(target, format!("skipped: {why}"), None),
    };
    verdicts.push(judge(
        &pipe,
        unix_h,
        2.0,
        "local socket p50 ≤ 2× raw Unix-socket floor",
    ));
    verdicts.push(judge(&ws, tcp_h, 3.0, "WebSocket p50 ≤ 3× raw TCP floor"));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Report {
        tables: vec![table],
        verdicts,
    })
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// A host child in `latency` mode (one stamped event per interval) with `extra` flags.
fn latency_host(opts: &Opts, extra: &[&str]) -> Result<Child> {
    let mut a = args(&["serve", "--mode", "latency"]);
    a.push(format!("--interval-us={INTERVAL_US}"));
    a.push(opts.workers_arg());
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    Child::start_self("host", &a)
}

/// A private temporary directory for socket files.
pub fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "stagelink-bench-{}-{}",
        std::process::id(),
        now_ns() % 1_000_000_007
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The local-socket host insists on a private directory (protocol §9).
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(dir)
}

/// Runs the floor ping-pong against a child server.
fn floor(
    unix: Option<&std::path::Path>,
    size: usize,
    hop: bool,
    warmup: Duration,
    duration: Duration,
) -> Result<Histogram<u64>> {
    let mut a = args(&[
        "floor-server",
        &format!("--size={size}"),
        &format!("--interval-us={INTERVAL_US}"),
    ]);
    if let Some(path) = unix {
        a.push(format!("--unix={}", path.display()));
    }
    if hop {
        a.push("--hop".into());
    }
    let server = Child::start_self("floor server", &a)?;
    let addr = server.line("addr")?.to_owned();
    floor_client(&addr, unix.is_some(), warmup, duration)
}

/// Waits until a client of `target` gets a stamped event (a relay may need a moment to learn
/// of the host), then measures that client: a thread blocked in `read`, like the floor's.
fn measure(target: Target, host: Option<&Child>, opts: &Opts) -> Result<Row> {
    let (addr, ws) = match &target {
        Target::Ws(a) => (a.to_string(), true),
        Target::Pipe(p) => (p.display().to_string(), false),
    };
    let hello = hello("observer", 1, &["movie_props"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut conn = loop {
        let probe = || -> Result<Blocking> {
            let mut conn = Blocking::connect(&addr, ws)?;
            conn.hello(&hello)?;
            loop {
                match conn.next()? {
                    Some(m) if stamp_of(m).is_some() => return Ok(conn),
                    Some(_) => {}
                    None => bail!("closed"),
                }
            }
        };
        match probe() {
            Ok(conn) => break conn,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "waiting for stamped events");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => bail!("no stamped event from {addr} within 20 s: {e:#}"),
        }
    };
    let mut samples = Vec::new();
    let start = Instant::now();
    let (warmup, end) = (
        start + opts.warmup(),
        start + opts.warmup() + opts.duration(),
    );
    let pid = host.map(Child::pid);
    let mut switches_at_warmup = None;
    loop {
        let Some(message) = conn.next()? else {
            bail!("{addr} closed mid-run");
        };
        if let Some(stamp) = stamp_of(message) {
            let latency = micros_since(stamp);
            let now = Instant::now();
            if now >= end {
                break;
            }
            if now >= warmup {
                if switches_at_warmup.is_none() {
                    switches_at_warmup = Some(pid.and_then(context_switches));
                }
                samples.push(latency.min(u64::from(u32::MAX)) as u32);
            }
        }
    }
    let per_event = match (switches_at_warmup.flatten(), pid.and_then(context_switches)) {
        (Some(a), Some(b)) if !samples.is_empty() => {
            Some(b.saturating_sub(a) as f64 / samples.len() as f64)
        }
        _ => None,
    };
    Ok(Row::Measured(histogram_of([samples.as_slice()]), per_event))
}

/// Context switches (voluntary and not) of every thread of process `pid` so far: each is a
/// thread going to sleep or being put aside, so per event it counts the wake-ups an event costs.
fn context_switches(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let status = std::fs::read_to_string(task.ok()?.path().join("status")).ok()?;
        for line in status.lines() {
            if let Some(n) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += n.trim().parse::<u64>().ok()?;
            }
        }
    }
    Some(total)
}

/// Starts redis-server on a free port; returns it and its URL once it answers.
///
/// # Errors
/// When it does not start or does not accept connections within 10 s.
pub fn start_redis() -> Result<(Child, String)> {
    let port = free_port()?;
    // redis-server prints no `ready` line: a small shell wrapper prints it once the port
    // accepts connections, so [`Child`] waits for it like for any other child; `exec` keeps
    // the pid redis-server's, so dropping the child stops redis.
    let script = format!(
        "( for i in $(seq 200); do \
             if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo ready; exit 0; fi; \
             sleep 0.05; done ) & \
         exec redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no \
             --loglevel warning"
    );
    let mut sh = std::process::Command::new("bash");
    sh.arg("-c").arg(script);
    let redis = Child::start("redis-server", sh, Duration::from_secs(15))?;
    Ok((redis, format!("redis://127.0.0.1:{port}/")))
}
