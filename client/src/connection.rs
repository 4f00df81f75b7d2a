//! [`Connection`]: one live session — messages in, calls out, heartbeats, seq checks, gap resync
//! and pixel acknowledgement. It ends when the connection is lost or the client closes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use stagelink_contracts::{
    Ack, ClientMessage, CommandMessage, ErrorBody, ErrorCode, Event, PixelsAck, Request, Response,
    ServerMessage, StageSnapshot, StreamName, Subscribe, Unsubscribe, Welcome, decode_server,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::driver::{Op, Shared, classify_close, forbids_reconnect, ping, to_text};
use crate::error::{ClientError, CloseReason};
use crate::event::{ClientEvent, ConnectionState};
use crate::pixels::PixelFrames;
use crate::seq::{SeqTracker, SeqVerdict};
use crate::subscriptions::Subscriptions;
use crate::transport::{Incoming, Reader, Writer};

/// Events buffered while a `stage` resync is in flight; past this the buffer is dropped and the
/// resync is repeated once the answer arrives.
const RESYNC_BUFFER_LIMIT: usize = 65_536;

/// How long to wait before asking again when a resync `stage` request failed.
const RESYNC_RETRY: Duration = Duration::from_secs(1);

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// Reconnect (transport failure, silence, server shutdown…).
    Lost(String),
    /// Stop for good.
    Closed(CloseReason),
}

/// A `stage` request in flight to repair the state, and the events held back meanwhile
/// (protocol §8: the response travels on the control lane and may overtake queued events).
struct Resync {
    id: u64,
    buffered: Vec<Arc<Event>>,
    overflowed: bool,
}

/// One live session.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    writer: Writer,
    reader: Reader,
    requests: HashMap<u64, oneshot::Sender<Result<Response, ClientError>>>,
    commands: HashMap<u64, oneshot::Sender<Result<Ack, ClientError>>>,
    seqs: SeqTracker,
    resync: Option<Resync>,
    /// A failed resync is retried at this time.
    resync_retry_at: Option<Instant>,
    /// The next `snapshot` message repairs the state (a reconnect, a relay host change) rather
    /// than answering the user.
    snapshot_is_resync: bool,
    /// The session asked for snapshots (a relay re-sends one when a host joins).
    snapshot_session: bool,
    /// Waiting for the snapshot asked for in `hello`; the connection counts as up after it.
    awaiting_snapshot: Option<Instant>,
    pixels: Option<PixelFrames>,
    heartbeat: Duration,
    idle_timeout: Duration,
    started: Instant,
    last_received: Instant,
    last_sent: Instant,
}

impl Connection {
    pub(crate) fn new(
        shared: Arc<Shared>,
        writer: Writer,
        reader: Reader,
        welcome: &Welcome,
        subs: &Subscriptions,
        asked_snapshot: bool,
        resync: bool,
    ) -> Self {
        let config = &shared.config;
        let heartbeat = config
            .heartbeat
            .unwrap_or(Duration::from_millis(welcome.heartbeat_ms))
            .max(Duration::from_millis(10));
        let idle_timeout = config
            .idle_timeout
            .unwrap_or(Duration::from_millis(welcome.idle_timeout_ms))
            .max(heartbeat);
        let now = Instant::now();
        let awaiting_snapshot = asked_snapshot.then(|| now + config.connect_timeout);
        if awaiting_snapshot.is_none() {
            shared.set_state(ConnectionState::Connected);
        }
        Self {
            writer,
            reader,
            requests: HashMap::new(),
            commands: HashMap::new(),
            seqs: SeqTracker::new(),
            resync: None,
            resync_retry_at: None,
            snapshot_is_resync: resync,
            snapshot_session: asked_snapshot,
            awaiting_snapshot,
            pixels: subs.contains(StreamName::Pixels).then(PixelFrames::new),
            heartbeat,
            idle_timeout,
            started: now,
            last_received: now,
            last_sent: now,
            shared,
        }
    }

    /// Serves the session until it ends.
    pub(crate) async fn serve(
        &mut self,
        ops: &mut mpsc::UnboundedReceiver<Op>,
        subs: &mut Subscriptions,
    ) -> End {
        loop {
            let mut wake =
                (self.last_sent + self.heartbeat).min(self.last_received + self.idle_timeout);
            if let Some(at) = self.awaiting_snapshot {
                wake = wake.min(at);
            }
            if let Some(at) = self.resync_retry_at {
                wake = wake.min(at);
            }
            let step = tokio::select! {
                incoming = self.reader.next() => self.on_incoming(incoming).await,
                op = ops.recv() => match op {
                    Some(op) => self.on_op(op, subs).await,
                    None => Err(self.close().await),
                },
                _ = tokio::time::sleep_until(wake) => self.on_timer().await,
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Every call still waiting gets `Disconnected`: none hangs.
    pub(crate) fn fail_pending(&mut self) {
        for (_, reply) in self.requests.drain() {
            let _ = reply.send(Err(ClientError::Disconnected));
        }
        for (_, reply) in self.commands.drain() {
            let _ = reply.send(Err(ClientError::Disconnected));
        }
    }

    async fn close(&mut self) -> End {
        let bye = ClientMessage::Bye(stagelink_contracts::Bye {
            reason: Some("client closing".into()),
        });
        let _ = tokio::time::timeout(self.heartbeat, self.writer.send_text(to_text(&bye))).await;
        let _ = tokio::time::timeout(self.heartbeat, self.writer.close()).await;
        End::Closed(CloseReason::Requested)
    }

    async fn send(&mut self, message: &ClientMessage) -> Result<(), End> {
        let text = to_text(message);
        match tokio::time::timeout(self.idle_timeout, self.writer.send_text(text)).await {
            Ok(Ok(())) => {
                self.last_sent = Instant::now();
                Ok(())
            }
            Ok(Err(e)) => Err(End::Lost(format!("send failed: {e}"))),
            Err(_) => Err(End::Lost(format!(
                "send blocked for {:?}",
                self.idle_timeout
            ))),
        }
    }

    async fn on_timer(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if now >= self.last_received + self.idle_timeout {
            return Err(End::Lost(format!(
                "nothing received for {:?}",
                self.idle_timeout
            )));
        }
        if self.awaiting_snapshot.is_some_and(|at| now >= at) {
            return Err(End::Lost("no snapshot after welcome".into()));
        }
        if self.resync_retry_at.is_some_and(|at| now >= at) {
            self.resync_retry_at = None;
            self.start_resync().await?;
        }
        if now >= self.last_sent + self.heartbeat {
            self.send(&ping(self.started)).await?;
        }
        Ok(())
    }

    async fn on_op(&mut self, op: Op, subs: &mut Subscriptions) -> Result<(), End> {
        match op {
            Op::Request { id, what, reply } => {
                self.requests.insert(id, reply);
                self.send(&ClientMessage::Request(Request { id, what }))
                    .await
            }
            Op::Command { id, command, reply } => {
                self.commands.insert(id, reply);
                self.send(&ClientMessage::Command(CommandMessage { id, command }))
                    .await
            }
            Op::Subscribe { streams, snapshot } => {
                for stream in Subscriptions::streams_in(&streams) {
                    if !subs.contains(stream) && !snapshot {
                        // Events resume wherever the stream is now: not a hole.
                        self.seqs.forget(stream);
                    }
                    if stream == StreamName::Pixels && self.pixels.is_none() {
                        self.pixels = Some(PixelFrames::new());
                    }
                }
                subs.add(&streams);
                self.snapshot_session |= snapshot;
                self.send(&ClientMessage::Subscribe(Subscribe { streams, snapshot }))
                    .await
            }
            Op::Unsubscribe { streams } => {
                for stream in Subscriptions::streams_in(&streams) {
                    self.seqs.forget(stream);
                    if stream == StreamName::Pixels {
                        self.pixels = None;
                    }
                }
                subs.remove(&streams);
                self.send(&ClientMessage::Unsubscribe(Unsubscribe { streams }))
                    .await
            }
            Op::Resync => self.start_resync().await,
            Op::Close => Err(self.close().await),
        }
    }

    async fn on_incoming(&mut self, incoming: Option<Result<Incoming, String>>) -> Result<(), End> {
        self.last_received = Instant::now();
        match incoming {
            None => Err(End::Lost("the connection closed".into())),
            Some(Err(e)) => Err(End::Lost(e)),
            Some(Ok(Incoming::Closed { code, reason })) => Err(classify_close(code, &reason)),
            Some(Ok(Incoming::Binary(tile))) => self.on_tile(&tile).await,
            Some(Ok(Incoming::Text(text))) => match decode_server(&text) {
                Ok(message) => self.on_message(message).await,
                Err(e) => {
                    // Unknown message types are ignored (protocol §17).
                    tracing::debug!(error = %e, "ignoring undecodable server message");
                    Ok(())
                }
            },
        }
    }

    async fn on_message(&mut self, message: ServerMessage) -> Result<(), End> {
        match message {
            ServerMessage::Event(event) => self.on_event(Arc::new(event)).await,
            ServerMessage::Snapshot(snapshot) => {
                self.on_snapshot(snapshot, false);
                Ok(())
            }
            ServerMessage::Response(response) => self.on_response(response).await,
            ServerMessage::Ack(ack) => {
                match self.commands.remove(&ack.id) {
                    Some(reply) => {
                        let _ = reply.send(Ok(ack));
                    }
                    None => tracing::debug!(id = ack.id, "ack for no command in flight"),
                }
                Ok(())
            }
            ServerMessage::Gap(gap) => {
                tracing::info!(stream = %gap.stream, from = gap.from_seq, to = gap.to_seq, "gap; resyncing");
                if let Some(stream) = StreamName::parse(&gap.stream) {
                    self.seqs.skip_to(stream, gap.to_seq);
                }
                self.shared.publish(ClientEvent::Gap(gap));
                self.start_resync().await
            }
            ServerMessage::Notice(notice) => {
                let joined = notice.code == ErrorCode::HostJoined;
                if notice.code == ErrorCode::HostLeft {
                    // A relay project without a host cannot send the snapshot asked for; the
                    // relay sends one when a host joins.
                    self.stop_awaiting_snapshot();
                }
                self.shared.publish(ClientEvent::Notice(notice));
                if joined {
                    // A new host run: seqs restart at 1. A snapshot session gets a fresh
                    // snapshot from the relay; others ask for one.
                    self.seqs.clear();
                    if self.snapshot_session {
                        self.snapshot_is_resync = true;
                    } else {
                        return self.start_resync().await;
                    }
                }
                Ok(())
            }
            ServerMessage::Error(error) => {
                if error.fatal {
                    let end = if forbids_reconnect(error.code) {
                        End::Closed(CloseReason::Fatal {
                            code: error.code,
                            message: error.message,
                        })
                    } else {
                        End::Lost(format!("{}: {}", error.code, error.message))
                    };
                    if matches!(end, End::Closed(_)) {
                        let _ = tokio::time::timeout(self.heartbeat, self.writer.close()).await;
                    }
                    return Err(end);
                }
                if matches!(
                    error.code,
                    ErrorCode::NoHost | ErrorCode::Timeout | ErrorCode::Internal
                ) {
                    // The snapshot asked for failed (the server says so with an error and
                    // turns the streams live anyway): go on without it.
                    self.stop_awaiting_snapshot();
                }
                if let Some(id) = error.id {
                    let body = ErrorBody::new(error.code, error.message.clone());
                    if let Some(reply) = self.requests.remove(&id) {
                        let _ = reply.send(Err(ClientError::Server(body)));
                    } else if let Some(reply) = self.commands.remove(&id) {
                        let _ = reply.send(Err(ClientError::Server(body)));
                    }
                }
                self.shared.publish(ClientEvent::Error(error));
                Ok(())
            }
            ServerMessage::Ping(p) => self.send(&ClientMessage::Pong(p)).await,
            ServerMessage::Pong(_) => Ok(()),
            ServerMessage::Bye(bye) => {
                // The server closes right after (a shutdown also sends its error).
                tracing::info!(reason = ?bye.reason, "server said bye");
                Ok(())
            }
            ServerMessage::Welcome(_) => Ok(()),
        }
    }

    async fn on_event(&mut self, event: Arc<Event>) -> Result<(), End> {
        if let Some(resync) = &mut self.resync {
            if resync.buffered.len() < RESYNC_BUFFER_LIMIT {
                resync.buffered.push(event);
            } else {
                resync.buffered.clear();
                resync.overflowed = true;
            }
            return Ok(());
        }
        let Some(stream) = StreamName::parse(&event.stream) else {
            // A stream from a newer server: pass it on, nothing to check.
            self.shared.publish(ClientEvent::Event(event));
            return Ok(());
        };
        match self.seqs.accept(stream, event.seq, event.first_seq) {
            SeqVerdict::Stale => Ok(()),
            SeqVerdict::Fresh => {
                self.shared.publish(ClientEvent::Event(event));
                Ok(())
            }
            SeqVerdict::Hole { expected, got } => {
                tracing::warn!(%stream, expected, got, "seq hole without a gap; resyncing");
                self.shared.publish(ClientEvent::Event(event));
                self.start_resync().await
            }
        }
    }

    /// The session is up even though the snapshot asked for will not come (yet): the next
    /// snapshot, whenever it arrives, repairs the state.
    fn stop_awaiting_snapshot(&mut self) {
        if self.awaiting_snapshot.take().is_some() {
            self.snapshot_is_resync = true;
            self.shared.set_state(ConnectionState::Connected);
        }
    }

    /// Applies a snapshot: from a `snapshot` message, or the answer to a resync request.
    fn on_snapshot(&mut self, snapshot: StageSnapshot, answers_resync: bool) {
        self.seqs.reset_to(&snapshot.seqs);
        let snapshot = Arc::new(snapshot);
        let resync = answers_resync || std::mem::take(&mut self.snapshot_is_resync);
        self.shared.publish(if resync {
            ClientEvent::Resynced(snapshot)
        } else {
            ClientEvent::Snapshot(snapshot)
        });
        if self.awaiting_snapshot.take().is_some() {
            self.shared.set_state(ConnectionState::Connected);
        }
    }

    async fn on_response(&mut self, response: Response) -> Result<(), End> {
        if self.resync.as_ref().is_some_and(|r| r.id == response.id) {
            let Some(resync) = self.resync.take() else {
                return Ok(());
            };
            let snapshot = match (response.ok, response.data) {
                (true, Some(data)) => serde_json::from_value::<StageSnapshot>(data)
                    .map_err(|e| format!("stage data did not decode: {e}")),
                _ => Err(response
                    .error
                    .map_or_else(|| "stage request failed".into(), |e| e.to_string())),
            };
            match snapshot {
                Ok(snapshot) => self.on_snapshot(snapshot, true),
                Err(why) => {
                    tracing::warn!(%why, "resync failed; retrying");
                    self.resync_retry_at = Some(Instant::now() + RESYNC_RETRY);
                }
            }
            // Events held back while the request was in flight, minus what the snapshot has.
            for event in resync.buffered {
                self.on_event(event).await?;
            }
            if resync.overflowed {
                self.start_resync().await?;
            }
            return Ok(());
        }
        match self.requests.remove(&response.id) {
            Some(reply) => {
                let _ = reply.send(Ok(response));
            }
            None => tracing::debug!(id = response.id, "response for no request in flight"),
        }
        Ok(())
    }

    /// Asks for a `stage` to repair the state (once at a time); events are held back until the
    /// answer arrives.
    async fn start_resync(&mut self) -> Result<(), End> {
        if self.resync.is_some() {
            return Ok(());
        }
        let id = self.shared.next_id();
        self.resync = Some(Resync {
            id,
            buffered: Vec::new(),
            overflowed: false,
        });
        self.send(&ClientMessage::Request(Request {
            id,
            what: "stage".into(),
        }))
        .await
    }

    async fn on_tile(&mut self, tile: &Bytes) -> Result<(), End> {
        let Some(pixels) = &mut self.pixels else {
            return Ok(());
        };
        let outcome = pixels.push(tile);
        if let Some(frame) = outcome.frame {
            self.shared.publish_pixels(frame);
        }
        if let Some(frame) = outcome.ack {
            self.send(&ClientMessage::PixelsAck(PixelsAck { frame }))
                .await?;
        }
        if outcome.request_keyframe {
            // Subscribing to pixels again makes the next pixel frame a keyframe (§11.2).
            let streams = vec![StreamName::Pixels.as_str().to_owned()];
            self.send(&ClientMessage::Unsubscribe(Unsubscribe {
                streams: streams.clone(),
            }))
            .await?;
            self.send(&ClientMessage::Subscribe(Subscribe {
                streams,
                snapshot: false,
            }))
            .await?;
        }
        Ok(())
    }
}
