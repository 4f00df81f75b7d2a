//! [`Session`]: the protocol state machine of one connection, shared by every transport.
//!
//! A transport hands it each framed message it receives ([`Session::handle_message`]) and sends
//! whatever [`Session::next_outgoing`] yields; nothing here knows about sockets.
//!
//! ```text
//! loop {
//!     select! {
//!         inbound = socket.next() => session.handle_message(&inbound),
//!         out = session.next_outgoing() => socket.send(out),   // Close ends the loop
//!     }
//! }
//! ```

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use stagelink_contracts::{
    Ack, ClientMessage, ErrorBody, ErrorCode, ErrorMessage, Hello, PROTOCOL_VERSION, PeerInfo,
    Response, Role, ServerMessage, StreamInfo, StreamName, Welcome, decode_client,
};
use tokio::time::Instant;

use crate::direct::DirectWrite;
use crate::engine_link::{PendingCommand, PendingRequest, RequestKind};
use crate::hub::{ALL_STREAMS, Hub, SessionShared, bit};
use crate::outbox::Outgoing;

/// What the transport should do after handing a message in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// The session is ending; drain [`Session::next_outgoing`] until it yields `Close`.
    Closing,
}

/// Facts about the connection the transport knows.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// For logs: `ws 127.0.0.1:5555`, `pipe uid 1000`.
    pub peer: String,
    /// The transport already proved who the peer is (a local socket with the same uid), so no
    /// token is needed.
    pub trusted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingHello,
    Ready(Role),
    Closed,
}

/// One connection's protocol state. Owned by the transport task; dropping it leaves the hub.
#[derive(Debug)]
pub struct Session {
    hub: Hub,
    shared: Arc<SessionShared>,
    state: State,
    info: ConnectionInfo,
    last_inbound: Instant,
    next_ping: Instant,
    rate_window_start: Instant,
    rate_count: u32,
    /// Whether this rate window already sent its one `rate_limited` error.
    rate_error_sent: bool,
    /// The transport's writer was accepted (it counts against the hub's limit until drop).
    direct: bool,
    /// `direct_sent` when the heartbeat last looked: direct writes count as sending.
    direct_seen: u64,
}

impl Session {
    /// Opens a session on `hub`.
    pub fn new(hub: &Hub, info: ConnectionInfo) -> Self {
        let shared = hub.register();
        let now = Instant::now();
        tracing::debug!(session = shared.id, peer = %info.peer, "session opened");
        Self {
            hub: hub.clone(),
            next_ping: now + hub.config().heartbeat,
            shared,
            state: State::AwaitingHello,
            info,
            last_inbound: now,
            rate_window_start: now,
            rate_count: 0,
            rate_error_sent: false,
            direct: false,
            direct_seen: 0,
        }
    }

    /// Lets the publishing thread write this connection's ticks directly while the session is
    /// caught up (see [`crate::direct`]), through the writer `make` returns. `make` is only
    /// called when the hub has a slot left (it takes at most
    /// [`HubConfig::direct_write_sessions`](crate::HubConfig) writers), so a transport pays for
    /// a writer (a duplicated descriptor, say) only when it will be used. Returns the writer
    /// when it was taken. A transport that offers one must write [`Outgoing::Raw`] as is and call
    /// [`Session::wire_idle`] after each flush.
    pub fn write_directly<W: DirectWrite + 'static>(
        &mut self,
        make: impl FnOnce() -> Option<Arc<W>>,
    ) -> Option<Arc<W>> {
        if !self.direct {
            let limit = self.hub.config().direct_write_sessions;
            self.hub
                .inner
                .direct_sessions
                .fetch_update(Relaxed, Relaxed, |n| (n < limit).then_some(n + 1))
                .ok()?;
        }
        let Some(writer) = make() else {
            if !self.direct {
                self.hub.inner.direct_sessions.fetch_sub(1, Relaxed);
            }
            return None;
        };
        self.direct = true;
        self.shared.outbox.lock().set_direct(writer.clone());
        Some(writer)
    }

    /// A handle that waits for any direct write in progress on this session to finish (see
    /// [`DirectFence`]).
    pub fn direct_fence(&self) -> DirectFence {
        DirectFence(self.shared.clone())
    }

    /// Tells the outbox that everything the transport took from it so far is written and
    /// flushed, so the publishing thread may write directly again. Only needed after
    /// [`Session::write_directly`].
    pub fn wire_idle(&self) {
        if self.direct {
            self.shared.outbox.lock().wire_idle();
        }
    }

    /// The hub-unique session id.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Sends this session alone a `notice` (the relay tells a client that joins a project
    /// without a live host: `host_left`).
    pub fn notice(&self, code: ErrorCode, message: impl Into<String>) {
        self.shared
            .push_message(&ServerMessage::Notice(stagelink_contracts::Notice {
                code,
                message: message.into(),
            }));
    }

    /// The role, once identified.
    pub fn role(&self) -> Option<Role> {
        match self.state {
            State::Ready(r) => Some(r),
            _ => None,
        }
    }

    /// The largest inbound message the transport should accept.
    pub fn max_message(&self) -> usize {
        self.hub.config().max_message
    }

    /// The transport saw an inbound message over the limit: fatal `frame_too_large`.
    pub fn frame_too_large(&mut self, len: usize) -> Flow {
        let max = self.max_message();
        self.fail(
            ErrorCode::FrameTooLarge,
            format!("message of {len} bytes exceeds the limit of {max} bytes"),
        )
    }

    /// Handles one inbound message (JSON, or binary which clients may not send).
    pub fn handle_message(&mut self, payload: &[u8]) -> Flow {
        if self.state == State::Closed {
            return Flow::Closing;
        }
        let now = Instant::now();
        self.last_inbound = now;
        let closing = {
            let mut outbox = self.shared.outbox.lock();
            outbox.stats.messages_in += 1;
            outbox.stats.bytes_in += payload.len() as u64;
            outbox.is_closing()
        };
        self.hub.stats().messages_in.fetch_add(1, Relaxed);
        self.hub
            .stats()
            .bytes_in
            .fetch_add(payload.len() as u64, Relaxed);
        if closing {
            // Closed from outside (replaced, shutdown): the close is on its way.
            return Flow::Closing;
        }
        if payload.len() > self.max_message() {
            return self.frame_too_large(payload.len());
        }
        if now.duration_since(self.rate_window_start) >= Duration::from_secs(1) {
            self.rate_window_start = now;
            self.rate_count = 0;
            self.rate_error_sent = false;
        }
        self.rate_count = self.rate_count.saturating_add(1);
        let limited = self.rate_count > self.hub.config().rate_limit_per_sec;

        let decoded = if stagelink_contracts::framing::is_json(payload) {
            decode_client(payload)
        } else {
            // §2.2: an empty local-socket payload is `invalid_field`; §11, §14: a binary
            // message where none is expected is `unknown_type`.
            let (code, message) = if payload.is_empty() {
                (ErrorCode::InvalidField, "an empty message")
            } else {
                (
                    ErrorCode::UnknownType,
                    "clients may not send binary messages",
                )
            };
            Err(stagelink_contracts::DecodeError {
                code,
                message: message.into(),
                message_type: None,
                id: None,
            })
        };
        match (self.state, decoded) {
            (State::AwaitingHello, Ok(ClientMessage::Hello(hello))) => self.hello(hello),
            // §3: a malformed `hello` is non-fatal; the session stays unidentified.
            (State::AwaitingHello, Err(e)) if e.message_type.as_deref() == Some("hello") => {
                self.shared.push_error(e.code, e.message);
                Flow::Continue
            }
            (State::AwaitingHello, Ok(other)) => self.fail(
                ErrorCode::NotIdentified,
                format!(
                    "the first message must be `hello`, not `{}`",
                    message_type(&other)
                ),
            ),
            (State::AwaitingHello, Err(e)) => self.fail(
                ErrorCode::NotIdentified,
                format!("the first message must be a valid `hello` ({e})"),
            ),
            (State::Ready(_), Ok(msg)) if limited => {
                let (ty, id) = match &msg {
                    ClientMessage::Command(c) => (Some("command"), Some(c.id)),
                    ClientMessage::Request(r) => (Some("request"), Some(r.id)),
                    _ => (None, None),
                };
                self.rate_limited(ty, id);
                Flow::Continue
            }
            (State::Ready(_), Err(e)) if limited => {
                self.rate_limited(e.message_type.as_deref(), e.id);
                Flow::Continue
            }
            (State::Ready(role), Ok(msg)) => self.ready(role, msg),
            (State::Ready(_), Err(e)) => {
                self.malformed(e);
                Flow::Continue
            }
            (State::Closed, _) => Flow::Closing,
        }
    }

    /// The next message to send. Waits for one; sends heartbeats and enforces the idle timeout
    /// meanwhile. After it yields [`Outgoing::Close`], the transport closes the connection.
    pub async fn next_outgoing(&mut self) -> Outgoing {
        let heartbeat = self.hub.config().heartbeat;
        let idle = self.hub.config().idle_timeout;
        loop {
            let next = {
                let pixels = self.hub.inner.pixels.read();
                self.shared.outbox.lock().pop(&pixels)
            };
            if let Some(out) = next {
                if matches!(out, Outgoing::Close { .. }) {
                    self.state = State::Closed;
                }
                // §12: heartbeats are for sessions the server has sent nothing to.
                self.next_ping = Instant::now() + heartbeat;
                return out;
            }
            if self.state == State::Closed {
                // Everything was sent and the close went out already; stay quiet.
                std::future::pending::<()>().await;
            }
            let idle_at = self.last_inbound + idle;
            let wake_at = idle_at.min(self.next_ping);
            tokio::select! {
                _ = self.shared.notify.notified() => {}
                _ = tokio::time::sleep_until(wake_at) => {
                    let now = Instant::now();
                    if now >= idle_at {
                        self.fail(
                            ErrorCode::IdleTimeout,
                            format!("nothing received for {} ms", idle.as_millis()),
                        );
                    } else if now >= self.next_ping {
                        self.next_ping = now + heartbeat;
                        if self.direct {
                            // The publishing thread sent something meanwhile: no ping needed.
                            let sent = self.shared.outbox.lock().direct_sent;
                            if sent != self.direct_seen {
                                self.direct_seen = sent;
                                continue;
                            }
                        }
                        let t = self.hub.uptime().as_millis() as u64;
                        self.shared.push_message(&ServerMessage::Ping(stagelink_contracts::Ping { t }));
                    }
                }
            }
        }
    }

    fn fail(&mut self, code: ErrorCode, message: String) -> Flow {
        tracing::debug!(session = self.shared.id, %code, %message, "session failing");
        self.shared.fail(code, message);
        if code.is_fatal() {
            self.state = State::Closed;
            Flow::Closing
        } else {
            Flow::Continue
        }
    }

    fn hello(&mut self, hello: Hello) -> Flow {
        let config = self.hub.config();
        if hello.protocol != PROTOCOL_VERSION {
            return self.fail(
                ErrorCode::ProtocolVersion,
                format!(
                    "protocol {} is not supported; this server speaks {PROTOCOL_VERSION}",
                    hello.protocol
                ),
            );
        }
        if let Some(project) = &hello.project
            && *project != config.project
        {
            return self.fail(
                ErrorCode::UnknownProject,
                format!(
                    "no project `{project}` here; this host serves `{}`",
                    config.project
                ),
            );
        }
        if hello.role == Role::Host && !config.auth.accept_hosts {
            // §15: a player answers `role: host` with `invalid_field`; like any malformed
            // `hello` (§3) it is not fatal and the session stays unidentified.
            self.shared.push_error(
                ErrorCode::InvalidField,
                "this server does not accept `host` sessions (only a relay does)",
            );
            return Flow::Continue;
        }
        let role = if self.info.trusted && hello.role != Role::Host {
            Some(hello.role)
        } else {
            config.auth.authorize(hello.role, hello.token.as_deref())
        };
        let Some(role) = role else {
            let why = if hello.token.is_none() {
                "a token is required"
            } else {
                "the token is not valid for this role"
            };
            return self.fail(
                ErrorCode::AuthFailed,
                format!("{why} (role `{}`)", hello.role.as_str()),
            );
        };
        self.state = State::Ready(role);
        if let Some(id) = hello.client.id.as_deref() {
            self.hub.claim_client_id(&self.shared, id);
        }
        let welcome = ServerMessage::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            session: format!("s-{:x}-{}", rand::random::<u32>(), self.shared.id),
            server: PeerInfo {
                id: None,
                name: Some(config.server_name.clone()),
                version: Some(config.server_version.clone()),
            },
            project: Some(config.project.clone()),
            role,
            streams: StreamInfo::catalogue(),
            capabilities: config.capabilities.clone(),
            heartbeat_ms: config.heartbeat.as_millis() as u64,
            idle_timeout_ms: config.idle_timeout.as_millis() as u64,
        });
        self.shared.push_message(&welcome);
        if let Some(streams) = &hello.subscribe {
            self.subscribe(streams, hello.snapshot);
        } else if hello.snapshot {
            self.subscribe(&[], true);
        }
        Flow::Continue
    }

    fn ready(&mut self, role: Role, msg: ClientMessage) -> Flow {
        match msg {
            ClientMessage::Hello(_) => {
                self.shared.push_error(
                    ErrorCode::AlreadyIdentified,
                    "this session already said hello",
                );
            }
            ClientMessage::Subscribe(s) => self.subscribe(&s.streams, s.snapshot),
            ClientMessage::Unsubscribe(u) => {
                let (mask, unknown) = self.parse_streams(&u.streams);
                if !unknown.is_empty() {
                    self.shared.push_error(
                        ErrorCode::UnknownStream,
                        format!("no such stream: {}", unknown.join(", ")),
                    );
                }
                self.shared.subscribed.fetch_and(!mask, Relaxed);
                let mut outbox = self.shared.outbox.lock();
                for s in StreamName::ALL {
                    if mask & bit(*s) != 0 {
                        outbox.clear_stream(*s);
                    }
                }
                if mask & bit(StreamName::Pixels) != 0 {
                    outbox.pixels.unsubscribe();
                }
            }
            ClientMessage::Request(r) => self.request(r.id, &r.what),
            ClientMessage::Command(c) => self.command(role, c.id, c.command),
            ClientMessage::Ping(p) => self.shared.push_message(&ServerMessage::Pong(p)),
            ClientMessage::Pong(_) => {}
            ClientMessage::Bye(_) => {
                self.shared.outbox.lock().close(1000, "bye");
                self.shared.notify.notify_one();
                self.state = State::Closed;
                return Flow::Closing;
            }
            ClientMessage::PixelsAck(a) => {
                self.shared.outbox.lock().pixels.ack(a.frame);
                self.shared.notify.notify_one();
            }
        }
        Flow::Continue
    }

    /// Parses stream names into a mask; unknown names are returned.
    fn parse_streams(&self, names: &[String]) -> (u32, Vec<String>) {
        let mut mask = 0;
        let mut unknown = Vec::new();
        for name in names {
            if name == "*" {
                mask |= ALL_STREAMS;
            } else if let Some(s) = StreamName::parse(name) {
                mask |= bit(s);
            } else {
                unknown.push(name.clone());
            }
        }
        (mask, unknown)
    }

    fn subscribe(&mut self, names: &[String], snapshot: bool) {
        let (mask, unknown) = self.parse_streams(names);
        if !unknown.is_empty() {
            self.shared.push_error(
                ErrorCode::UnknownStream,
                format!("no such stream: {}", unknown.join(", ")),
            );
        }
        let already = self.shared.subscribed.load(Relaxed);
        let new = mask & !already;
        if mask & bit(StreamName::Pixels) != 0 {
            // Subscribing to pixels, again or for the first time, makes the next pixel frame a
            // keyframe (§5.3, §11.2); the rest of a frame in progress is dropped.
            let mut outbox = self.shared.outbox.lock();
            outbox.clear_stream(StreamName::Pixels);
            outbox.pixels.subscribe();
        }
        if snapshot {
            // The new streams go live only with the snapshot, at a tick boundary, so the
            // snapshot's seqs and the first live event's seq line up exactly.
            self.shared.requests_in_flight.fetch_add(1, Relaxed);
            let request = PendingRequest::new(
                0,
                RequestKind::Snapshot { streams: new },
                Hub::weak(&self.shared),
            );
            if let Err(e) = self.hub.inner.requests.send(request) {
                // The engine is gone: the request's drop answers it.
                drop(e);
            }
        } else {
            self.shared.subscribed.fetch_or(new, Relaxed);
        }
        self.shared.notify.notify_one();
    }

    fn request(&mut self, id: u64, what: &str) {
        if what == "stats" {
            let data = self.shared.outbox.lock().stats.to_json();
            self.shared.push_message(&ServerMessage::Response(Response {
                id,
                ok: true,
                data: Some(data),
                error: None,
            }));
            return;
        }
        let Some(kind) = RequestKind::parse(what) else {
            self.shared.push_message(&ServerMessage::Response(Response {
                id,
                ok: false,
                data: None,
                error: Some(ErrorBody::new(
                    ErrorCode::UnknownRequest,
                    format!("unknown request `{what}`; known: movie_state, stage, project, stats"),
                )),
            }));
            return;
        };
        let in_flight = self.shared.requests_in_flight.load(Relaxed);
        if in_flight >= self.hub.config().max_requests_in_flight {
            self.shared.push_message(&ServerMessage::Response(Response {
                id,
                ok: false,
                data: None,
                error: Some(ErrorBody::new(
                    ErrorCode::Busy,
                    format!("{in_flight} requests already in flight"),
                )),
            }));
            return;
        }
        self.shared.requests_in_flight.fetch_add(1, Relaxed);
        let request = PendingRequest::new(id, kind, Hub::weak(&self.shared));
        let _ = self.hub.inner.requests.send(request);
    }

    fn command(&mut self, role: Role, id: u64, command: stagelink_contracts::Command) {
        if role == Role::Observer {
            self.shared.push_ack(Ack::rejected(
                id,
                ErrorCode::Forbidden,
                "observers may not send commands",
            ));
            self.hub
                .stats()
                .record_command(stagelink_contracts::AckStatus::Rejected);
            return;
        }
        let pending = PendingCommand::new(
            id,
            command,
            Hub::weak(&self.shared),
            self.hub.inner.stats.clone(),
        );
        match self.hub.inner.commands.try_send(pending) {
            Ok(()) => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(pending)) => {
                pending.answer(Ack::busy(id));
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(pending)) => {
                pending.rejected(ErrorCode::Internal, "the engine is not running");
            }
        }
    }

    /// §7.6: an over-limit command is acked `rejected`, an over-limit request answered
    /// `ok:false` (both when their id is readable, even if malformed), and anything else is
    /// dropped with at most one `rate_limited` error per second.
    fn rate_limited(&mut self, message_type: Option<&str>, id: Option<u64>) {
        let limit = self.hub.config().rate_limit_per_sec;
        let text = format!("more than {limit} messages per second; message dropped");
        match (message_type, id) {
            (Some("command"), Some(id)) => {
                self.shared
                    .push_ack(Ack::rejected(id, ErrorCode::RateLimited, text));
                self.hub
                    .stats()
                    .record_command(stagelink_contracts::AckStatus::Rejected);
            }
            (Some("request"), Some(id)) => {
                self.shared.push_message(&ServerMessage::Response(Response {
                    id,
                    ok: false,
                    data: None,
                    error: Some(ErrorBody::new(ErrorCode::RateLimited, text)),
                }))
            }
            _ if !self.rate_error_sent => {
                self.rate_error_sent = true;
                self.shared.push_error(ErrorCode::RateLimited, text);
            }
            _ => {}
        }
    }

    fn malformed(&mut self, e: stagelink_contracts::DecodeError) {
        // Every command gets exactly one ack, even a malformed one whose id we could read, and
        // every such request one response — and nothing else: `error.id` is only for messages
        // not answered by an `ack` or `response` (§5.13, §18.4).
        match (e.message_type.as_deref(), e.id) {
            (Some("command"), Some(id)) => {
                self.shared.push_ack(Ack::rejected(id, e.code, e.message));
                self.hub
                    .stats()
                    .record_command(stagelink_contracts::AckStatus::Rejected);
            }
            (Some("request"), Some(id)) => {
                self.shared.push_message(&ServerMessage::Response(Response {
                    id,
                    ok: false,
                    data: None,
                    error: Some(ErrorBody::new(e.code, e.message)),
                }))
            }
            _ => {
                let mut error = ErrorMessage::new(e.code, e.message);
                error.id = e.id;
                self.shared.push_message(&ServerMessage::Error(error));
            }
        }
    }
}

fn message_type(msg: &ClientMessage) -> &'static str {
    match msg {
        ClientMessage::Hello(_) => "hello",
        ClientMessage::Subscribe(_) => "subscribe",
        ClientMessage::Unsubscribe(_) => "unsubscribe",
        ClientMessage::Request(_) => "request",
        ClientMessage::Command(_) => "command",
        ClientMessage::Ping(_) => "ping",
        ClientMessage::Pong(_) => "pong",
        ClientMessage::Bye(_) => "bye",
        ClientMessage::PixelsAck(_) => "pixels_ack",
    }
}

/// Waits for the publishing thread to finish a direct write in progress on one session.
///
/// Direct writes happen under the session's outbox lock, and a writer's
/// [`DirectWrite::can_write`] is checked there before each message. So after a writer turns
/// itself off, [`DirectFence::wait`] returning means no direct write is under way and none will
/// start; what a half-sent message left is then visible to the writer.
#[derive(Debug, Clone)]
pub struct DirectFence(Arc<SessionShared>);

impl DirectFence {
    /// Blocks (briefly: one direct write at most) until no direct write is in progress.
    pub fn wait(&self) {
        drop(self.0.outbox.lock());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        tracing::debug!(session = self.shared.id, "session closed");
        if self.direct {
            self.hub.inner.direct_sessions.fetch_sub(1, Relaxed);
        }
        self.hub.unregister(self.shared.id);
    }
}
