//! The follow loop of mirror mode: a client's events into a shared [`MirroredEngine`], resyncs
//! when it missed some, and the optional republishing to local listeners.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use stagelink_client::{
    Client, ClientError, ClientEvent, CloseReason, ConnectionState, Mirror, MirrorStep,
};
use stagelink_contracts::ErrorCode;
use stagelink_publisher::Publisher;
use tokio::sync::watch;

use super::MirroredEngine;
use crate::render::Renderer;

/// A [`MirroredEngine`]'s [`Mirror`], shared between the [`follow`] loop and whoever reads
/// the mirrored state (a test, a status line). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SharedMirror {
    inner: Arc<Mutex<Mirror<MirroredEngine>>>,
    /// Bumped after each batch of events is applied, so readers wait instead of polling.
    applied: Arc<watch::Sender<u64>>,
}

impl SharedMirror {
    /// Shares `mirror`.
    pub fn new(mirror: Mirror<MirroredEngine>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(mirror)),
            applied: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The mirror, locked. Hold it briefly: the follow loop waits for it.
    pub fn lock(&self) -> MutexGuard<'_, Mirror<MirroredEngine>> {
        // A panic while applying leaves a state the next snapshot replaces anyway.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Batches applied so far; changes after every batch.
    pub fn batches(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Waits until `done` holds for the mirror (checked now and after every batch), at most
    /// `timeout`. Returns whether it did.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Mirror<MirroredEngine>) -> bool,
    ) -> bool {
        let mut batches = self.batches();
        let wait = async {
            loop {
                if done(&self.lock()) {
                    return;
                }
                if batches.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    fn applied(&self) {
        self.applied.send_modify(|n| *n += 1);
    }
}

/// Where a mirror republishes: a local hub's publisher (its listeners serve the mirrored
/// stage) and, optionally, a renderer drawing it for the `pixels` stream.
pub struct LocalOutput {
    pub publisher: Publisher,
    pub renderer: Option<Box<dyn Renderer>>,
}

impl std::fmt::Debug for LocalOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalOutput")
            .field("renderer", &self.renderer.as_ref().map(|r| r.name()))
            .finish_non_exhaustive()
    }
}

/// How often local requests are answered while the remote host is quiet or away.
const LOCAL_IDLE_FLUSH: Duration = Duration::from_millis(50);

/// Follows `client` into `mirror` until the client closes or `stop` completes: the client's
/// current model first, then every event; a resync whenever the mirror missed events; each
/// resync and each disconnection logged. With `local`, each batch of events is republished
/// as one local tick (and drawn), and local clients' commands are forwarded to the remote
/// host, their acks passed back.
///
/// # Errors
/// [`ClientError::Closed`] when the client stopped for a reason other than [`Client::close`]
/// (the remote refused the session: `auth_failed`, `session_replaced`, …).
pub async fn follow(
    client: &Client,
    mirror: &SharedMirror,
    mut local: Option<&mut LocalOutput>,
    stop: impl Future<Output = ()>,
) -> Result<(), ClientError> {
    let (state, mut events) = client.subscribe_state();
    if state.has_snapshot() {
        mirror.lock().apply_snapshot(&state.to_snapshot());
        mirror.applied();
    }
    if let Some(out) = local.as_deref_mut() {
        republish(mirror, out);
    }
    let mut idle = tokio::time::interval(LOCAL_IDLE_FLUSH);
    idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                // Everything already waiting goes in the same batch: one lock, one local tick.
                let mut batch = vec![event];
                while let Some(Some(more)) = events.next().now_or_never() {
                    batch.push(more);
                }
                let needs_resync = apply_batch(mirror, &batch);
                mirror.applied();
                if needs_resync {
                    tracing::debug!("mirror: missed events; asking for a resync");
                    // Fails only when the client is closing; the loop then ends.
                    let _ = client.resync();
                }
                if let Some(out) = local.as_deref_mut() {
                    forward_commands(client, &mut out.publisher);
                    republish(mirror, out);
                }
            }
            _ = idle.tick(), if local.is_some() => {
                if let Some(out) = local.as_deref_mut() {
                    forward_commands(client, &mut out.publisher);
                    let _ = mirror.lock().target_mut().publish(&mut out.publisher);
                }
            }
            () = &mut stop => return Ok(()),
        }
    }
    match client.connection_state() {
        ConnectionState::Closed(CloseReason::Requested) => Ok(()),
        ConnectionState::Closed(reason) => Err(ClientError::Closed(reason)),
        _ => Ok(()),
    }
}

/// Applies a batch of client events; says whether the mirror needs a resync.
fn apply_batch(mirror: &SharedMirror, batch: &[ClientEvent]) -> bool {
    let mut guard = mirror.lock();
    let mut needs_resync = false;
    for event in batch {
        match event {
            ClientEvent::Resynced(s) => {
                tracing::info!(
                    frame = s.movie.map(|m| m.frame),
                    sprites = s.sprites.len(),
                    resyncs = guard.target().snapshots_applied(),
                    "mirror: resynced"
                );
            }
            ClientEvent::Gap(g) => {
                tracing::info!(stream = %g.stream, from = g.from_seq, to = g.to_seq, "mirror: the remote reported a gap; resyncing");
            }
            ClientEvent::Disconnected(why) => {
                tracing::warn!(%why, "mirror: lost the remote session; reconnecting");
            }
            ClientEvent::Welcome(w) => {
                tracing::info!(project = ?w.project, session = %w.session, "mirror: connected");
            }
            ClientEvent::Notice(n) => {
                tracing::info!(code = %n.code, message = %n.message, "mirror: notice");
            }
            ClientEvent::Lagged(n) => {
                tracing::info!(missed = n, "mirror: fell behind the client; resyncing");
            }
            _ => {}
        }
        if guard.apply(event) == MirrorStep::NeedsResync {
            needs_resync = true;
        }
    }
    needs_resync
}

/// One local tick: the changes applied since the last, the mirrored picture to the renderer.
fn republish(mirror: &SharedMirror, out: &mut LocalOutput) {
    let mut guard = mirror.lock();
    let target = guard.target_mut();
    target.publish(&mut out.publisher);
    if let Some(renderer) = out.renderer.as_deref_mut() {
        renderer.submit(target.engine().state());
    }
}

/// Local clients' commands go to the remote host; its ack comes back to them (a mirror
/// connected as an observer gets `forbidden`, as a controller the host's verdict).
fn forward_commands(client: &Client, publisher: &mut Publisher) {
    for pending in publisher.drain_commands() {
        let client = client.clone();
        tokio::spawn(async move {
            match client.command(pending.command.clone()).await {
                Ok(ack) => pending.answer(ack),
                Err(ClientError::Timeout { .. }) => pending.rejected(
                    ErrorCode::Timeout,
                    "the remote host did not acknowledge the command in time",
                ),
                Err(e) => pending.rejected(
                    ErrorCode::NoHost,
                    format!("the mirror could not forward the command: {e}"),
                ),
            }
        });
    }
}
