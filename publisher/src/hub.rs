//! The [`Hub`]: the live sessions of one project, the per-stream sequence numbers, fan-out of
//! encoded flushes, the pixel store, and the engine link.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use stagelink_contracts::{
    Ack, Bye, ErrorCode, ErrorMessage, MovieState, Notice, STREAM_COUNT, ServerMessage,
    StageSnapshot, StreamName,
};
use tokio::sync::{Notify, mpsc};

use crate::config::HubConfig;
use crate::engine_link::{EngineLink, PendingCommand, PendingRequest};
use crate::outbox::{SessionOutbox, SharedEvent};
use crate::pixels::{PixelStore, PublishStats};
use crate::stats::HubStats;
use crate::threads::{SessionTask, SessionThreads};

/// Bit for a stream in a subscription mask.
pub(crate) const fn bit(stream: StreamName) -> u32 {
    1 << stream.index()
}

/// Every stream's bit.
pub(crate) const ALL_STREAMS: u32 = (1 << STREAM_COUNT) - 1;

/// A session as the hub sees it: the outbox the hub pushes into and the wake-up for its
/// transport.
#[derive(Debug)]
pub struct SessionShared {
    pub(crate) id: u64,
    pub(crate) outbox: Mutex<SessionOutbox>,
    pub(crate) notify: Notify,
    /// Live subscriptions (events are queued only for these).
    pub(crate) subscribed: AtomicU32,
    pub(crate) requests_in_flight: AtomicUsize,
    /// The outbox's `backlogged`, as of the last tick pushed into it.
    pub(crate) backlogged: AtomicBool,
    pub(crate) client_id: Mutex<Option<String>>,
}

impl SessionShared {
    pub(crate) fn push_message(&self, msg: &ServerMessage) {
        self.outbox.lock().push_message(msg);
        self.notify.notify_one();
    }

    pub(crate) fn push_ack(&self, ack: Ack) {
        let status = ack.status;
        {
            let mut outbox = self.outbox.lock();
            outbox.stats.commands[crate::stats::status_index(status)] += 1;
            outbox.push_message(&ServerMessage::Ack(ack));
        }
        self.notify.notify_one();
    }

    pub(crate) fn push_error(&self, code: ErrorCode, message: impl Into<String>) {
        self.push_message(&ServerMessage::Error(ErrorMessage::new(code, message)));
    }

    /// Sends a fatal error and closes.
    pub(crate) fn fail(&self, code: ErrorCode, message: impl Into<String>) {
        {
            let mut outbox = self.outbox.lock();
            outbox.push_message(&ServerMessage::Error(ErrorMessage::new(code, message)));
            outbox.close(code.close_code(), code.as_str());
        }
        self.notify.notify_one();
    }

    /// Queues a snapshot and turns its streams live, atomically with respect to fan-out.
    pub(crate) fn deliver_snapshot(&self, snapshot: &StageSnapshot, streams: u32) {
        let mut body = serde_json::to_value(snapshot).unwrap_or_default();
        if let Some(map) = body.as_object_mut() {
            map.insert("type".into(), "snapshot".into());
        }
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        {
            let mut outbox = self.outbox.lock();
            outbox.discard_through(&snapshot.seqs);
            outbox.push_control(bytes);
            self.subscribed.fetch_or(streams, Relaxed);
        }
        self.notify.notify_one();
    }

    pub(crate) fn activate(&self, streams: u32) {
        self.subscribed.fetch_or(streams, Relaxed);
    }

    pub(crate) fn finish_request(&self) {
        self.requests_in_flight.fetch_sub(1, Relaxed);
    }
}

pub(crate) struct HubInner {
    pub(crate) config: HubConfig,
    pub(crate) sessions: RwLock<Vec<Arc<SessionShared>>>,
    seqs: Mutex<[u64; STREAM_COUNT]>,
    pub(crate) commands: mpsc::Sender<PendingCommand>,
    pub(crate) requests: mpsc::UnboundedSender<PendingRequest>,
    engine_link: Mutex<Option<EngineLink>>,
    pub(crate) pixels: RwLock<PixelStore>,
    pub(crate) stats: Arc<HubStats>,
    next_session: AtomicU64,
    movie_state: Mutex<Option<MovieState>>,
    started: Instant,
    pub(crate) shutting_down: std::sync::atomic::AtomicBool,
    /// Where transports run sessions; unset: on the runtime that calls `spawn_session`.
    session_threads: std::sync::OnceLock<SessionThreads>,
    /// Sessions whose transport writes directly (at most `config.direct_write_sessions`).
    pub(crate) direct_sessions: AtomicUsize,
    /// `fan_out_tick`'s list of sessions that are behind, kept to reuse its allocation.
    behind: Mutex<Vec<usize>>,
}

/// The sessions of one project and everything shared between them. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("project", &self.inner.config.project)
            .field("sessions", &self.session_count())
            .finish()
    }
}

impl Hub {
    /// A hub with this configuration.
    pub fn new(config: HubConfig) -> Self {
        let (commands, commands_rx) = mpsc::channel(config.command_lane.max(1));
        let (requests, requests_rx) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(HubInner {
                config,
                sessions: RwLock::new(Vec::new()),
                seqs: Mutex::new([0; STREAM_COUNT]),
                commands,
                requests,
                engine_link: Mutex::new(Some(EngineLink {
                    commands: commands_rx,
                    requests: requests_rx,
                })),
                pixels: RwLock::new(PixelStore::default()),
                stats: Arc::new(HubStats::default()),
                next_session: AtomicU64::new(1),
                movie_state: Mutex::new(None),
                started: Instant::now(),
                shutting_down: false.into(),
                session_threads: std::sync::OnceLock::new(),
                direct_sessions: AtomicUsize::new(0),
                behind: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs this hub's sessions on `threads` from now on (see [`SessionThreads`] for why).
    /// Set once, before the transports start; a second call is ignored and returns `false`.
    pub fn run_sessions_on(&self, threads: SessionThreads) -> bool {
        self.inner.session_threads.set(threads).is_ok()
    }

    /// Starts a session's transport task: on the hub's [`SessionThreads`] when it has them,
    /// else on the current tokio runtime. Must be called within a tokio runtime.
    pub fn spawn_session<F>(&self, task: F) -> SessionTask<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.inner.session_threads.get() {
            Some(threads) => threads.spawn(task),
            None => SessionTask(tokio::spawn(task)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Hub-wide counters.
    pub fn stats(&self) -> &HubStats {
        &self.inner.stats
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.read().len()
    }

    /// Seconds since the hub started.
    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// The engine's end: commands and requests. Can be taken once; a [`crate::Publisher`] takes
    /// it when created.
    pub fn take_engine_link(&self) -> Option<EngineLink> {
        self.inner.engine_link.lock().take()
    }

    /// The last movie state the engine reported (for `/healthz`).
    pub fn movie_state(&self) -> Option<MovieState> {
        *self.inner.movie_state.lock()
    }

    /// Records the movie state (the publisher does this at each tick).
    pub fn set_movie_state(&self, state: MovieState) {
        *self.inner.movie_state.lock() = Some(state);
    }

    /// The last seq of each stream, for snapshots.
    pub fn seqs(&self) -> [u64; STREAM_COUNT] {
        *self.inner.seqs.lock()
    }

    /// Reserves the next seq of `stream`.
    pub fn next_seq(&self, stream: StreamName) -> u64 {
        let mut seqs = self.inner.seqs.lock();
        seqs[stream.index()] += 1;
        seqs[stream.index()]
    }

    /// Fans an encoded event out to every session subscribed to `stream`. The bytes are shared
    /// (reference-counted), never copied or re-encoded. `seq` must come from [`Hub::next_seq`]
    /// or, on the relay, from the host (then the hub's counter follows it).
    pub fn fan_out(&self, stream: StreamName, seq: u64, frame: u32, bytes: &Bytes) {
        self.fan_out_tick(frame, &[(stream, seq, bytes.clone())]);
    }

    /// Fans out every event of one tick (`(stream, seq, bytes)`, in publishing order): each
    /// session's outbox is locked once and its transport woken once for the whole tick, so a
    /// client gets the tick in one write instead of one wake-up and one write per stream.
    pub fn fan_out_tick(&self, frame: u32, events: &[(StreamName, u64, Bytes)]) {
        if events.is_empty() {
            return;
        }
        let mut any = 0u32;
        {
            let mut seqs = self.inner.seqs.lock();
            for (stream, seq, _) in events {
                let s = &mut seqs[stream.index()];
                if *seq > *s {
                    *s = *seq;
                }
                any |= bit(*stream);
            }
        }
        let shared: Vec<(StreamName, u64, u32, Arc<SharedEvent>)> = events
            .iter()
            .map(|(stream, seq, bytes)| {
                let mask = bit(*stream);
                (
                    *stream,
                    *seq,
                    mask,
                    Arc::new(SharedEvent::new(bytes.clone())),
                )
            })
            .collect();
        // Caught-up sessions with a direct writer get the tick written here, without a wake-up
        // of their task (see `crate::direct`).
        let pixels =
            (self.inner.direct_sessions.load(Relaxed) > 0).then(|| self.inner.pixels.read());
        let sessions = self.inner.sessions.read();
        // Sessions that are not keeping up come last: their full queues cost the most (a
        // `coalesce` overflow folds the oldest event), and that must not delay the others.
        // (The list of them is kept between ticks: a stalled session costs no allocation.)
        let mut behind = self.inner.behind.lock();
        behind.clear();
        for (i, session) in sessions.iter().enumerate() {
            if session.backlogged.load(Relaxed) {
                behind.push(i);
                continue;
            }
            self.push_tick(session, frame, any, &shared, pixels.as_deref());
        }
        for &i in behind.iter() {
            self.push_tick(&sessions[i], frame, any, &shared, pixels.as_deref());
        }
        self.inner
            .stats
            .flushes
            .fetch_add(events.len() as u64, Relaxed);
    }

    /// Queues one tick's events for `session` (those it subscribes to), writes them directly
    /// when it can, and wakes the session's task when something is left for it.
    fn push_tick(
        &self,
        session: &SessionShared,
        frame: u32,
        any: u32,
        shared: &[(StreamName, u64, u32, Arc<SharedEvent>)],
        pixels: Option<&PixelStore>,
    ) {
        let subscribed = session.subscribed.load(Relaxed);
        if subscribed & any == 0 {
            return;
        }
        let wake = {
            let mut outbox = session.outbox.lock();
            for (stream, seq, mask, event) in shared {
                if subscribed & mask != 0 {
                    outbox.push_shared(*stream, *seq, frame, event);
                }
            }
            let wake = match pixels {
                Some(pixels) if outbox.has_direct() => outbox.write_direct(pixels),
                _ => true,
            };
            session.backlogged.store(outbox.backlogged, Relaxed);
            wake
        };
        if wake {
            session.notify.notify_one();
        }
    }

    /// Sends one control message to every identified session (notices, for example).
    pub fn broadcast(&self, msg: &ServerMessage) {
        let bytes = Bytes::from(msg.to_json());
        for session in self.inner.sessions.read().iter() {
            session.outbox.lock().push_control(bytes.clone());
            session.notify.notify_one();
        }
    }

    /// Sends a `notice` to every session.
    pub fn notice(&self, code: ErrorCode, message: impl Into<String>) {
        self.broadcast(&ServerMessage::Notice(Notice {
            code,
            message: message.into(),
        }));
    }

    /// Asks every session with live subscriptions for a fresh snapshot (the relay does this
    /// when a host joins again).
    pub fn resync_all(&self) {
        for session in self.inner.sessions.read().iter() {
            let streams = session.subscribed.swap(0, Relaxed);
            if streams == 0 {
                continue;
            }
            {
                let mut outbox = session.outbox.lock();
                for s in StreamName::ALL {
                    if streams & bit(*s) != 0 {
                        outbox.clear_stream(*s);
                    }
                }
            }
            session.requests_in_flight.fetch_add(1, Relaxed);
            let request = PendingRequest::new(
                0,
                crate::engine_link::RequestKind::Snapshot { streams },
                Arc::downgrade(session),
            );
            let _ = self.inner.requests.send(request);
        }
    }

    /// Publishes a rendered RGBA8 frame: changed tiles are compressed once and pixel
    /// subscribers are woken. Never blocks on the network.
    pub fn publish_pixels(&self, frame: u32, width: u32, height: u32, rgba: &[u8]) -> PublishStats {
        let stats = self
            .inner
            .pixels
            .write()
            .publish(frame, width, height, rgba);
        if stats.tiles_changed > 0 {
            for session in self.inner.sessions.read().iter() {
                if session.subscribed.load(Relaxed) & bit(StreamName::Pixels) != 0 {
                    session.notify.notify_one();
                }
            }
        }
        stats
    }

    /// Graceful shutdown: every session gets `bye` and is closed with `shutdown`.
    pub fn shutdown(&self, reason: &str) {
        self.inner.shutting_down.store(true, Relaxed);
        let bye = Bytes::from(
            ServerMessage::Bye(Bye {
                reason: Some(reason.to_owned()),
            })
            .to_json(),
        );
        for session in self.inner.sessions.read().iter() {
            let mut outbox = session.outbox.lock();
            outbox.push_control(bye.clone());
            outbox.push_message(&ServerMessage::Error(ErrorMessage::new(
                ErrorCode::Shutdown,
                format!("the server is shutting down: {reason}"),
            )));
            outbox.close(ErrorCode::Shutdown.close_code(), reason);
            drop(outbox);
            session.notify.notify_one();
        }
    }

    /// Whether [`Hub::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Relaxed)
    }

    pub(crate) fn register(&self) -> Arc<SessionShared> {
        let id = self.inner.next_session.fetch_add(1, Relaxed);
        let mut outbox = SessionOutbox::new(
            self.inner.config.stream_queue,
            self.inner.config.pixel_window,
        );
        outbox.hub_stats = Some(self.inner.stats.clone());
        let shared = Arc::new(SessionShared {
            id,
            outbox: Mutex::new(outbox),
            notify: Notify::new(),
            subscribed: AtomicU32::new(0),
            requests_in_flight: AtomicUsize::new(0),
            backlogged: AtomicBool::new(false),
            client_id: Mutex::new(None),
        });
        self.inner.sessions.write().push(shared.clone());
        self.inner.stats.connections_total.fetch_add(1, Relaxed);
        shared
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.inner.sessions.write().retain(|s| s.id != id);
    }

    /// Ends any other live session with the same client id (`session_replaced`).
    pub(crate) fn claim_client_id(&self, me: &Arc<SessionShared>, client_id: &str) {
        *me.client_id.lock() = Some(client_id.to_owned());
        for other in self.inner.sessions.read().iter() {
            if other.id != me.id && other.client_id.lock().as_deref() == Some(client_id) {
                *other.client_id.lock() = None;
                other.fail(
                    ErrorCode::SessionReplaced,
                    format!("client id `{client_id}` connected again"),
                );
            }
        }
    }

    pub(crate) fn weak(session: &Arc<SessionShared>) -> Weak<SessionShared> {
        Arc::downgrade(session)
    }

    /// Per-session counters for every live session (for tests and metrics).
    pub fn session_stats(&self) -> Vec<(u64, serde_json::Value)> {
        self.inner
            .sessions
            .read()
            .iter()
            .map(|s| (s.id, s.outbox.lock().stats.to_json()))
            .collect()
    }

    /// Queued events per live session (for tests: a stalled session stays bounded).
    pub fn queued_events(&self) -> Vec<usize> {
        self.inner
            .sessions
            .read()
            .iter()
            .map(|s| s.outbox.lock().queued_events())
            .collect()
    }
}
