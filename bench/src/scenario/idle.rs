//! Idle connections: memory per idle WebSocket connection. The host runs in a child process
//! with nothing to publish; K clients connect, say `hello` (no subscriptions), get `welcome`,
//! and go quiet. The host's RSS before and after, divided by K, is what an idle connection
//! costs it — heap, task, buffers and allocator overhead together (kernel socket buffers are
//! not in RSS). The Node `ws` server holding the same connections is the baseline.

use std::time::Duration;

use anyhow::Result;

use crate::child::Child;
use crate::clients::{self, Fleet, Target};
use crate::conn::hello;
use crate::node;
use crate::procfs::{raise_nofile, rss_kib};
use crate::report::{Report, Table, Verdict, fmt_mib};
use crate::scenario::{Opts, client_runtime, load_note, start_host};

/// KiB: the target per idle connection.
const TARGET_KIB: f64 = 32.0;

struct Row {
    before_kib: u64,
    after_kib: u64,
    connections: usize,
}

impl Row {
    fn per_connection_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.connections.max(1) as f64
    }
}

/// Runs the scenario.
///
/// # Errors
/// When the host or the clients fail.
pub fn run(opts: &Opts) -> Result<Report> {
    let wanted = opts
        .connections
        .unwrap_or(if opts.quick { 200 } else { 5000 });
    let limit = raise_nofile() as usize;
    // Each side needs a descriptor per connection, plus a margin for everything else.
    let k = wanted.min(limit.saturating_sub(200));
    let runtime = client_runtime()?;

    let (host, target) = start_host(opts, "idle", &[])?;
    let stagelink = measure(&runtime, &host, &target, k)?;
    drop(host);

    let node_row = if opts.no_node {
        Err("--no-node".to_owned())
    } else {
        match node::ensure_installed() {
            Err(e) => Err(e.to_string()),
            Ok(()) => {
                let child = node::start("idle", None, 0)?;
                let target = Target::Ws(child.line("ws")?.parse()?);
                measure(&runtime, &child, &target, k).map_err(|e| format!("failed: {e:#}"))
            }
        }
    };

    let mut table = Table::new(
        format!("Idle connections: host RSS per idle WebSocket connection at {k}"),
        &[
            "server",
            "connections",
            "RSS before",
            "RSS after",
            "per connection",
        ],
    );
    let mut add = |name: &str, row: &Row| {
        table.row(vec![
            name.to_owned(),
            row.connections.to_string(),
            fmt_mib(row.before_kib),
            fmt_mib(row.after_kib),
            format!("{:.1} KiB", row.per_connection_kib()),
        ]);
    };
    add("Stagelink (host-ws)", &stagelink);
    match &node_row {
        Ok(row) => add("Node.js ws (baseline)", row),
        Err(why) => table.skipped("Node.js ws (baseline)", why),
    }
    if k < wanted {
        table.note(format!(
            "asked for {wanted} connections; the open-file limit ({limit}) allows {k}"
        ));
    }
    table.note(
        "each client: TCP connect, WebSocket upgrade, `hello` without subscriptions, `welcome`, \
         then silence; RSS read from /proc/PID/status of the server process 1 s after the last \
         `welcome`",
    );
    table.note(load_note());
    let per = stagelink.per_connection_kib();
    let verdicts = vec![Verdict::new(
        format!("idle connection ≤ {TARGET_KIB:.0} KiB (at {k} connections)"),
        format!("{per:.1} KiB"),
        Some(per <= TARGET_KIB),
    )];
    Ok(Report {
        tables: vec![table],
        verdicts,
    })
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    server: &Child,
    target: &Target,
    k: usize,
) -> Result<Row> {
    let pid = server.pid();
    std::thread::sleep(Duration::from_millis(300));
    let before_kib = rss_kib(pid)?;
    let fleet = Fleet::new();
    let after_kib = runtime.block_on(async {
        let handles: Vec<_> = (0..k)
            .map(|i| clients::idle(&fleet, target.clone(), hello("observer", i, &[])))
            .collect();
        let result = fleet
            .wait_welcomed(k, Duration::from_secs(60 + k as u64 / 50))
            .await;
        if result.is_ok() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let after = rss_kib(pid);
        fleet.stop();
        let collected = clients::collect(handles).await;
        result?;
        collected?;
        after
    })?;
    Ok(Row {
        before_kib,
        after_kib,
        connections: k,
    })
}
