//! [`SessionThreads`]: where a host's session tasks run when it wants the lowest latency.
//!
//! A session's transport task sleeps until the engine thread pushes into its outbox and wakes
//! it. On tokio's multi-thread runtime that one wake-up costs two: the worker that picks the task
//! up first wakes another idle worker to look for more work (its work-stealing handoff), and only
//! then writes. A current-thread runtime has nobody to hand off to, so the engine's wake-up is the
//! only one before the `write`. `SessionThreads` is a few such runtimes, one thread each
//! (typically one per CPU), with sessions dealt out round-robin: the latency of a single-thread
//! runtime with the throughput of several cores.
//!
//! Sockets stay registered with the runtime that accepted them (its I/O driver reports
//! readiness and wakes the session thread); writes, the latency path, are plain non-blocking
//! system calls made on the session thread. Timers and tasks a session spawns live on its own
//! thread. The threads stop when the last clone of the `SessionThreads` is dropped, ending the
//! tasks still on them.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use stagelink_publisher::{Hub, HubConfig, SessionThreads};
//!
//! let hub = Hub::new(HubConfig::default());
//! hub.run_sessions_on(SessionThreads::new(2)?);
//! // Transports now start each session with `hub.spawn_session(…)`.
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

/// A pool of single-threaded runtimes for session tasks. Cheap to clone.
#[derive(Clone)]
pub struct SessionThreads {
    inner: Arc<Inner>,
}

struct Inner {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// Dropping these ends each thread's runtime.
    _stops: Vec<oneshot::Sender<()>>,
}

impl std::fmt::Debug for SessionThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionThreads")
            .field("threads", &self.inner.handles.len())
            .finish()
    }
}

impl SessionThreads {
    /// Starts `threads` session threads (at least one), named `stagelink-session-N`.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for i in 0..threads.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new()
                .name(format!("stagelink-session-{i}"))
                .spawn(move || {
                    // Runs the spawned sessions until the pool is dropped; dropping the
                    // runtime then ends the sessions still on it.
                    let _ = runtime.block_on(stopped);
                })?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                handles,
                next: AtomicUsize::new(0),
                _stops: stops,
            }),
        })
    }

    /// One session thread per CPU the process may use.
    pub fn per_cpu() -> std::io::Result<Self> {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// How many threads the pool has.
    pub fn len(&self) -> usize {
        self.inner.handles.len()
    }

    /// Never true: a pool has at least one thread.
    pub fn is_empty(&self) -> bool {
        self.inner.handles.is_empty()
    }

    /// Runs `task` on the next thread, round-robin.
    pub fn spawn<F>(&self, task: F) -> SessionTask<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.inner.next.fetch_add(1, Relaxed) % self.inner.handles.len();
        SessionTask(self.inner.handles[i].spawn(task))
    }
}

/// A session's task wherever it runs: await it for the task's end. Dropping it aborts the task,
/// so a transport that gives up on a connection (a shutdown's grace period ran out) ends the
/// session as if it ran inline.
#[derive(Debug)]
pub struct SessionTask<T>(pub(crate) JoinHandle<T>);

impl<T> Future for SessionTask<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for SessionTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("").to_owned()
    }

    #[tokio::test]
    async fn sessions_are_dealt_round_robin_to_named_threads() {
        let threads = SessionThreads::new(2).expect("threads start");
        assert_eq!(threads.len(), 2);
        let mut names = Vec::new();
        for _ in 0..4 {
            names.push(threads.spawn(async { thread_name() }).await.expect("runs"));
        }
        assert_eq!(
            names,
            [
                "stagelink-session-0",
                "stagelink-session-1",
                "stagelink-session-0",
                "stagelink-session-1"
            ]
        );
        // Timers work on a session thread (its runtime has the time driver).
        let slept = threads
            .spawn(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                true
            })
            .await;
        assert!(matches!(slept, Ok(true)));
    }

    #[tokio::test]
    async fn dropping_the_task_handle_aborts_the_session() {
        let threads = SessionThreads::new(1).expect("threads start");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = threads.spawn(async move {
            // Holds `tx` until aborted; the receiver then sees it dropped.
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(task);
        assert!(
            tokio::time::timeout(Duration::from_secs(5), rx)
                .await
                .expect("the task ended")
                .is_err(),
            "aborted, not completed"
        );
    }

    #[tokio::test]
    async fn a_hub_without_threads_runs_sessions_on_the_current_runtime() {
        let hub = crate::Hub::new(crate::HubConfig::default());
        let here = thread_name();
        let there = hub
            .spawn_session(async { thread_name() })
            .await
            .expect("runs");
        // A current-thread test runtime: the same thread.
        assert_eq!(here, there);
        assert!(hub.run_sessions_on(SessionThreads::new(1).expect("threads start")));
        assert!(
            !hub.run_sessions_on(SessionThreads::new(1).expect("threads start")),
            "set once"
        );
        let there = hub
            .spawn_session(async { thread_name() })
            .await
            .expect("runs");
        assert_eq!(there, "stagelink-session-0");
    }
}
