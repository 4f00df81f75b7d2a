//! Many clients at once: observers that read and time every stamped event, observers that stop
//! reading on cue, a controller timing command → ack round trips, and idle connections.
//!
//! A run moves through numbered phases ([`Fleet::set_phase`]): phase 0 is warm-up (nothing is
//! recorded), phases 1, 2, … are measured separately, so one set of connections can be measured
//! before and after something changes (the slow-client scenario).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::clock::{micros_since, now_ns, stamp_of};
use crate::conn::{Blocking, Conn, ConnOptions};

/// Measured phases a run may have (phase 0, warm-up, is not recorded).
pub const PHASES: usize = 3;

/// Where clients connect.
#[derive(Debug, Clone)]
pub enum Target {
    Ws(SocketAddr),
    Pipe(PathBuf),
}

impl Target {
    /// Opens one connection.
    ///
    /// # Errors
    /// When it fails.
    pub async fn connect(&self, options: ConnOptions) -> Result<Conn> {
        match self {
            Target::Ws(addr) => Conn::websocket(*addr, options).await,
            Target::Pipe(path) => Conn::pipe(path, options).await,
        }
    }
}

/// What one observer saw in each phase.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Messages received per phase.
    pub messages: [u64; PHASES + 1],
    /// Latency samples (µs) of stamped events per phase.
    pub latencies: [Vec<u32>; PHASES + 1],
    /// Whether this client was told to stop reading.
    pub slow: bool,
}

/// The shared controls of a set of clients.
#[derive(Debug)]
pub struct Fleet {
    phase: AtomicUsize,
    welcomed: AtomicUsize,
    failed: AtomicUsize,
    stop: watch::Sender<bool>,
    halt_slow: watch::Sender<bool>,
    /// Limits concurrent handshakes so a burst of connects does not overflow the accept queue.
    connecting: Semaphore,
}

impl Fleet {
    /// A new fleet in phase 0.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            phase: AtomicUsize::new(0),
            welcomed: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            stop: watch::channel(false).0,
            halt_slow: watch::channel(false).0,
            connecting: Semaphore::new(64),
        })
    }

    /// Starts measuring phase `phase` (0 = not recording).
    pub fn set_phase(&self, phase: usize) {
        self.phase.store(phase.min(PHASES), Ordering::Release);
    }

    fn phase(&self) -> usize {
        self.phase.load(Ordering::Acquire)
    }

    /// Tells the slow observers to stop reading (they keep their connections open).
    pub fn halt_slow(&self) {
        self.halt_slow.send_replace(true);
    }

    /// Ends every client.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until `n` clients got their `welcome`.
    ///
    /// # Errors
    /// When clients failed to connect, or not all were welcomed within `timeout`.
    pub async fn wait_welcomed(&self, n: usize, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (ok, failed) = (
                self.welcomed.load(Ordering::Acquire),
                self.failed.load(Ordering::Acquire),
            );
            if failed > 0 {
                bail!("{failed} of {n} clients failed to connect ({ok} connected)");
            }
            if ok >= n {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("only {ok} of {n} clients connected within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn open(&self, target: &Target, options: ConnOptions, hello: &[u8]) -> Result<Conn> {
        let _permit = self.connecting.acquire().await?;
        let attempt = async {
            let mut conn = target.connect(options).await?;
            conn.hello(hello).await?;
            anyhow::Ok(conn)
        };
        let result = tokio::time::timeout(Duration::from_secs(20), attempt)
            .await
            .context("handshake timed out")
            .and_then(|r| r);
        match &result {
            Ok(_) => self.welcomed.fetch_add(1, Ordering::AcqRel),
            Err(_) => self.failed.fetch_add(1, Ordering::AcqRel),
        };
        result
    }
}

/// Spawns an observer: connects, says `hello` with `hello`, then counts every message and times
/// every stamped one until the fleet stops. A `slow` observer stops reading at
/// [`Fleet::halt_slow`] but keeps its connection.
pub fn observer(
    fleet: &Arc<Fleet>,
    target: Target,
    options: ConnOptions,
    hello: Vec<u8>,
    slow: bool,
) -> JoinHandle<Result<Tally>> {
    let fleet = fleet.clone();
    tokio::spawn(async move {
        let mut stop = fleet.stop.subscribe();
        let mut halt = fleet.halt_slow.subscribe();
        let mut conn = fleet.open(&target, options, &hello).await?;
        let mut tally = Tally {
            slow,
            ..Tally::default()
        };
        loop {
            tokio::select! {
                biased;
                _ = raised(&mut stop) => break,
                _ = raised(&mut halt), if slow => {
                    // Stop reading; the connection stays open until the end.
                    raised(&mut stop).await;
                    break;
                }
                message = conn.next() => {
                    let Some(message) = message? else { break };
                    let phase = fleet.phase();
                    if phase > 0 {
                        tally.messages[phase] += 1;
                        if let Some(stamp) = stamp_of(message) {
                            tally.latencies[phase].push(micros_since(stamp).min(u64::from(u32::MAX)) as u32);
                        }
                    }
                }
            }
        }
        Ok(tally)
    })
}

/// Spawns an idle connection: `hello` (no subscriptions), `welcome`, then nothing until stop.
pub fn idle(fleet: &Arc<Fleet>, target: Target, hello: Vec<u8>) -> JoinHandle<Result<Tally>> {
    let fleet = fleet.clone();
    tokio::spawn(async move {
        let mut stop = fleet.stop.subscribe();
        let options = ConnOptions {
            read_buffer: 1024,
            recv_buffer: None,
        };
        let conn = fleet.open(&target, options, &hello).await?;
        raised(&mut stop).await;
        drop(conn);
        Ok(Tally::default())
    })
}

/// Starts a controller on a thread of its own (a blocking client, so its round trips are not
/// queued behind the fleet's tasks in the bench's runtime): sends a `custom` `echo` command,
/// waits for its ack, records the round trip, waits a pseudo-random 0–`spacing` (so commands
/// land anywhere in the tick period), and again, until the fleet stops.
pub fn controller(
    fleet: &Arc<Fleet>,
    addr: SocketAddr,
    hello: Vec<u8>,
    spacing: Duration,
    seed: u64,
) -> JoinHandle<Result<Tally>> {
    let fleet = fleet.clone();
    tokio::task::spawn_blocking(move || {
        let stop = fleet.stop.subscribe();
        let mut conn = Blocking::connect(&addr.to_string(), true).and_then(|mut c| {
            c.hello(&hello)?;
            Ok(c)
        });
        match &conn {
            Ok(_) => fleet.welcomed.fetch_add(1, Ordering::AcqRel),
            Err(_) => fleet.failed.fetch_add(1, Ordering::AcqRel),
        };
        let conn = conn.as_mut().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let mut tally = Tally::default();
        // Each controller its own pauses, so they do not all send at once.
        let mut rng: u64 = (0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03)) | 1;
        let mut id: u64 = 0;
        while !*stop.borrow() {
            id += 1;
            let command = format!(
                r#"{{"type":"command","id":{id},"command":{{"kind":"custom","name":"echo","payload":{{"n":{id}}}}}}}"#
            );
            let sent = now_ns();
            conn.send(command.as_bytes())?;
            let prefix = format!(r#"{{"type":"ack","id":{id},"#);
            loop {
                let Some(m) = conn.next()? else {
                    bail!("the host closed before the ack of command {id}");
                };
                if m.starts_with(prefix.as_bytes()) {
                    if crate::conn::find(m, br#""status":"applied""#).is_none() {
                        bail!("command {id} not applied: {}", String::from_utf8_lossy(m));
                    }
                    break;
                }
            }
            let phase = fleet.phase();
            if phase > 0 {
                tally.messages[phase] += 1;
                tally.latencies[phase].push(micros_since(sent).min(u64::from(u32::MAX)) as u32);
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            std::thread::sleep(spacing.mul_f64((rng % 1000) as f64 / 1000.0));
        }
        Ok(tally)
    })
}

/// Waits until a flag turns true (or its sender is gone). The watch's read guard is dropped
/// here, never held across a later await.
async fn raised(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// Waits for every client task and returns their tallies.
///
/// # Errors
/// When a client failed mid-run.
pub async fn collect(handles: Vec<JoinHandle<Result<Tally>>>) -> Result<Vec<Tally>> {
    let mut tallies = Vec::with_capacity(handles.len());
    let mut errors = Vec::new();
    for h in handles {
        match h.await {
            Ok(Ok(t)) => tallies.push(t),
            Ok(Err(e)) => errors.push(e.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(first) = errors.first() {
        bail!("{} client(s) failed; first: {first}", errors.len());
    }
    Ok(tallies)
}
