//! Counters: per session (the `stats` request) and per hub (the hosts' `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;
use stagelink_contracts::{AckStatus, STREAM_COUNT, StreamName};

/// Per-stream counters of one session.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct StreamCounters {
    pub messages: u64,
    pub bytes: u64,
    pub drops: u64,
    pub gaps: u64,
}

/// One session's counters.
#[derive(Debug, Clone, Default)]
pub struct SessionStats {
    pub messages_in: u64,
    pub bytes_in: u64,
    pub messages_out: u64,
    pub bytes_out: u64,
    pub per_stream: [StreamCounters; STREAM_COUNT],
    pub commands: [u64; 3],
}

impl SessionStats {
    pub(crate) fn record_out(&mut self, stream: Option<StreamName>, bytes: usize) {
        self.messages_out += 1;
        self.bytes_out += bytes as u64;
        if let Some(s) = stream {
            let c = &mut self.per_stream[s.index()];
            c.messages += 1;
            c.bytes += bytes as u64;
        }
    }
    pub(crate) fn record_drop(&mut self, stream: StreamName) {
        self.per_stream[stream.index()].drops += 1;
    }
    pub(crate) fn record_gap(&mut self, stream: StreamName) {
        self.per_stream[stream.index()].gaps += 1;
    }

    /// The `stats` response body.
    pub fn to_json(&self) -> serde_json::Value {
        let per_stream: serde_json::Map<String, serde_json::Value> = StreamName::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    serde_json::to_value(self.per_stream[s.index()]).unwrap_or_default(),
                )
            })
            .collect();
        serde_json::json!({
            "messages_in": self.messages_in,
            "bytes_in": self.bytes_in,
            "messages_out": self.messages_out,
            "bytes_out": self.bytes_out,
            "drops": self.per_stream.iter().map(|c| c.drops).sum::<u64>(),
            "gaps": self.per_stream.iter().map(|c| c.gaps).sum::<u64>(),
            "per_stream": per_stream,
            "commands": {
                "applied": self.commands[0],
                "rejected": self.commands[1],
                "busy": self.commands[2],
            },
        })
    }
}

/// Upper bounds (µs) of the tick-duration histogram buckets.
pub const TICK_BUCKETS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
];

/// Hub-wide counters, updated lock-free.
#[derive(Debug, Default)]
pub struct HubStats {
    pub connections_total: AtomicU64,
    pub messages_out: [AtomicU64; STREAM_COUNT],
    pub bytes_out: [AtomicU64; STREAM_COUNT],
    pub drops: [AtomicU64; STREAM_COUNT],
    pub gaps: [AtomicU64; STREAM_COUNT],
    pub control_messages_out: AtomicU64,
    pub control_bytes_out: AtomicU64,
    pub messages_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub commands: [AtomicU64; 3],
    pub tick_buckets: [AtomicU64; TICK_BUCKETS_US.len() + 1],
    pub tick_sum_us: AtomicU64,
    pub tick_count: AtomicU64,
    pub flushes: AtomicU64,
    /// Messages the publishing thread wrote to a caught-up session's socket itself
    /// ([`crate::direct`]).
    pub direct_writes: AtomicU64,
}

impl HubStats {
    pub(crate) fn record_command(&self, status: AckStatus) {
        self.commands[status_index(status)].fetch_add(1, Relaxed);
    }

    pub(crate) fn record_tick(&self, micros: u64) {
        let bucket = TICK_BUCKETS_US
            .iter()
            .position(|b| micros <= *b)
            .unwrap_or(TICK_BUCKETS_US.len());
        self.tick_buckets[bucket].fetch_add(1, Relaxed);
        self.tick_sum_us.fetch_add(micros, Relaxed);
        self.tick_count.fetch_add(1, Relaxed);
    }

    /// Folds a session's delta into the hub totals.
    pub(crate) fn add_out(&self, stream: Option<StreamName>, bytes: usize) {
        match stream {
            Some(s) => {
                self.messages_out[s.index()].fetch_add(1, Relaxed);
                self.bytes_out[s.index()].fetch_add(bytes as u64, Relaxed);
            }
            None => {
                self.control_messages_out.fetch_add(1, Relaxed);
                self.control_bytes_out.fetch_add(bytes as u64, Relaxed);
            }
        }
    }

    /// Prometheus text exposition of these counters (`clients` is the live session count).
    pub fn prometheus(&self, prefix: &str, clients: usize) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {prefix}_connections Live sessions.\n# TYPE {prefix}_connections gauge\n{prefix}_connections {clients}"
        );
        let _ = writeln!(
            out,
            "# HELP {prefix}_connections_total Sessions accepted since start.\n# TYPE {prefix}_connections_total counter\n{prefix}_connections_total {}",
            self.connections_total.load(Relaxed)
        );
        for (name, help, arr) in [
            (
                "messages_out_total",
                "Event messages sent, per stream.",
                &self.messages_out,
            ),
            (
                "bytes_out_total",
                "Event bytes sent, per stream.",
                &self.bytes_out,
            ),
            (
                "drops_total",
                "Events dropped for slow clients, per stream.",
                &self.drops,
            ),
            ("gaps_total", "Gap notices sent, per stream.", &self.gaps),
        ] {
            let _ = writeln!(
                out,
                "# HELP {prefix}_{name} {help}\n# TYPE {prefix}_{name} counter"
            );
            for s in StreamName::ALL {
                let _ = writeln!(
                    out,
                    "{prefix}_{name}{{stream=\"{}\"}} {}",
                    s.as_str(),
                    arr[s.index()].load(Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP {prefix}_control_messages_out_total Control messages sent (acks, responses, snapshots, errors).\n# TYPE {prefix}_control_messages_out_total counter\n{prefix}_control_messages_out_total {}",
            self.control_messages_out.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP {prefix}_direct_writes_total Messages the publishing thread wrote to caught-up clients itself.\n# TYPE {prefix}_direct_writes_total counter\n{prefix}_direct_writes_total {}",
            self.direct_writes.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP {prefix}_messages_in_total Messages received.\n# TYPE {prefix}_messages_in_total counter\n{prefix}_messages_in_total {}",
            self.messages_in.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP {prefix}_commands_total Commands by ack status.\n# TYPE {prefix}_commands_total counter"
        );
        for status in [AckStatus::Applied, AckStatus::Rejected, AckStatus::Busy] {
            let _ = writeln!(
                out,
                "{prefix}_commands_total{{status=\"{}\"}} {}",
                status.as_str(),
                self.commands[status_index(status)].load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP {prefix}_tick_duration_seconds Engine tick duration including the flush.\n# TYPE {prefix}_tick_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, bound) in TICK_BUCKETS_US.iter().enumerate() {
            cumulative += self.tick_buckets[i].load(Relaxed);
            let _ = writeln!(
                out,
                "{prefix}_tick_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *bound as f64 / 1e6
            );
        }
        cumulative += self.tick_buckets[TICK_BUCKETS_US.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "{prefix}_tick_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "{prefix}_tick_duration_seconds_sum {}",
            self.tick_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "{prefix}_tick_duration_seconds_count {}",
            self.tick_count.load(Relaxed)
        );
        out
    }
}

pub(crate) fn status_index(status: AckStatus) -> usize {
    match status {
        AckStatus::Applied => 0,
        AckStatus::Rejected => 1,
        AckStatus::Busy => 2,
    }
}
