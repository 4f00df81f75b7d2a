//! What the bench reads about processes from `/proc`: CPU time and resident memory, and the
//! open-file limit it raises for thousands of sockets.

use std::time::Instant;

use anyhow::{Context, Result};

/// User + system CPU time of `pid`, in clock ticks; with `thread`, only of its threads of
/// that name (`/proc/PID/task/TID/comm`).
fn cpu_ticks(pid: u32, thread: Option<&str>) -> Result<u64> {
    let Some(name) = thread else {
        return stat_ticks(&format!("/proc/{pid}/stat"));
    };
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = task?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            total += stat_ticks(&dir.join("stat").display().to_string()).unwrap_or(0);
        }
    }
    Ok(total)
}

fn stat_ticks(path: &str) -> Result<u64> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces and parentheses; the fields start after the last `)`.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime(11) stime(12).
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS")
}

/// Measures how much CPU a process uses over an interval, as a percentage of one core.
#[derive(Debug)]
pub struct CpuMeter {
    pid: u32,
    thread: Option<String>,
    ticks: u64,
    started: Instant,
}

impl CpuMeter {
    /// Starts measuring `pid` now.
    pub fn start(pid: u32) -> Result<Self> {
        Ok(Self {
            pid,
            thread: None,
            ticks: cpu_ticks(pid, None)?,
            started: Instant::now(),
        })
    }

    /// Starts measuring the threads of `pid` named `thread` now.
    pub fn start_thread(pid: u32, thread: &str) -> Result<Self> {
        Ok(Self {
            pid,
            thread: Some(thread.to_owned()),
            ticks: cpu_ticks(pid, Some(thread))?,
            started: Instant::now(),
        })
    }

    /// Percent of one core used since [`CpuMeter::start`] (200 = both cores of this machine).
    pub fn percent(&self) -> Result<f64> {
        let ticks = cpu_ticks(self.pid, self.thread.as_deref())?.saturating_sub(self.ticks) as f64;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        Ok(100.0 * ticks / clock_ticks_per_sec() / secs)
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it); returns the
/// new soft limit.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to fill in / read from.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// The machine, for the report: `nproc` and the CPU model.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), load average {load} at start")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        let meter = CpuMeter::start(me).unwrap();
        assert!(meter.percent().unwrap() >= 0.0);
    }
}
