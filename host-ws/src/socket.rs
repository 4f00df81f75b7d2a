//! [`run_socket`]: one WebSocket connection driven by its [`Session`]. Framing only: text and
//! binary messages in, the session's messages out; every protocol decision is the session's.
//!
//! ```text
//!  socket ──reader task──channel──▶ session.handle_message  (read all the time, even mid-write)
//!  socket ◀─feed…flush── batch ◀── session.next_outgoing     (one batch in flight at a time)
//! ```
//!
//! The read half lives in a task of its own, woken only when the socket has data: polling it
//! from the writing loop after every batch made tungstenite zero-fill its read buffer before
//! each (empty) read attempt, a few percent of a busy host's CPU for nothing.
//!
//! While the session is caught up, the publishing thread may write its ticks to the socket
//! itself ([`crate::direct`], plain `ws://` on Unix); this loop then writes the rest of a frame
//! it left half-sent first, and tells the session when each batch is flushed.
//!
//! Only one batch is ever taken out of the session's outbox before it is written: whatever the
//! client cannot take yet stays in the outbox, where the stream policies (latest, coalesce,
//! fifo + gap) bound it. So a slow client costs its own bounded queue, never the engine's time
//! or another client's.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::future::{Fuse, FutureExt};
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use stagelink_publisher::{DirectFence, Flow, Outgoing, Session};

pub use crate::direct::ConnSocket;
use crate::direct::WsDirect;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

/// The WebSocket read buffer: small, because every idle connection holds one (axum's default
/// is 128 KiB); larger messages still arrive whole, the buffer just grows for them.
pub const READ_BUFFER: usize = 8 * 1024;

/// How much the WebSocket buffers before writing to the socket; batches are flushed anyway.
/// Larger than one tick of the demo movie (about 12 KB), so a tick goes out in one `send`: with
/// 8 KiB it took two, and the host spent about a third more CPU per message at 500 clients
/// (`docs/benchmarks.md`). The buffer only grows with what is written, so an idle connection
/// does not pay for it; a busy one keeps up to about this much.
pub const WRITE_BUFFER: usize = 32 * 1024;

/// Messages fed into one batch before it is flushed.
pub const MAX_BATCH: usize = 64;

/// Bytes fed into one batch before it is flushed (a single larger message still goes alone), so
/// the socket's write buffer stays small.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// How long one batch may take to reach a client before the connection is dropped: a client
/// that stopped reading must not pin its task forever (the session's idle timer cannot fire
/// while we wait on a write).
pub const WRITE_STALL_LIMIT: Duration = Duration::from_secs(30);

/// After our close frame, how long we wait for the client's before hanging up.
pub const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// The write half of a WebSocket.
type Sink = SplitSink<WebSocket, Message>;

/// How the connection loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client sent a close frame or hung up first.
    PeerClosed,
    /// Our close frame went out and the client answered (or the linger ran out).
    Closed,
    /// Our close frame went out, but the read side had already failed (an oversized message):
    /// unread bytes may still sit in the socket, and closing now would reset the connection
    /// before the client reads our error, so we hold it open for [`CLOSE_LINGER`].
    ClosedUnread,
    /// The connection broke, or a write stalled.
    Failed,
}

/// Sets up an upgrade for [`run_socket`]: the small [`READ_BUFFER`] and the [`WRITE_BUFFER`]
/// threshold (about 21 KiB of resident memory per idle connection in all, reader task included;
/// see `benches/idle_memory.rs` and the bench's `idle` scenario), and
/// `max_message` (use [`Session::max_message`] or the hub's `max_message`) as the largest
/// message and frame, so an oversized message is refused before it is buffered whole.
pub fn configure_upgrade(upgrade: WebSocketUpgrade, max_message: usize) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max_message)
        .max_frame_size(max_message)
}

/// Runs one WebSocket connection until the session closes or the client goes away; the session
/// is dropped (leaving its hub) when this returns.
///
/// Text and binary messages go to [`Session::handle_message`]; a message over
/// [`Session::max_message`] (configure the upgrade with [`configure_upgrade`] so the socket
/// enforces that limit) becomes [`Session::frame_too_large`]. What the session sends is
/// batched (every message ready now, up to [`MAX_BATCH`] / [`MAX_BATCH_BYTES`], fed then
/// flushed once); [`Outgoing::Close`] becomes a close frame with its code, after which the
/// client's closing frame is awaited for at most [`CLOSE_LINGER`]. Reading goes on while a
/// batch is being written, so commands and pongs are never stuck behind a slow write; a batch
/// that makes no progress for [`WRITE_STALL_LIMIT`] drops the connection.
pub async fn run_socket(session: Session, socket: WebSocket) {
    run_socket_with(session, socket, None).await;
}

/// [`run_socket`] for a connection whose socket the publishing thread may write to directly
/// while the session is caught up (`conn` from the acceptor; see [`crate::direct`]).
pub async fn run_socket_with(mut session: Session, socket: WebSocket, conn: Option<ConnSocket>) {
    let id = session.id();
    let offered = crate::direct::offer(&mut session, conn);
    let direct = offered.as_ref().map(|(d, _)| d.clone());
    let (sink, inbound) = socket.split();
    let (mut inbound, _reader) = spawn_reader(inbound, offered);
    // `None` while a batch owns the sink.
    let mut sink: Option<Sink> = Some(sink);
    let mut writing = pin!(Fuse::terminated());
    // Whether the client may still send (its stream has not ended or failed).
    let mut reading = true;
    // Whether the session is ending: what the client sends now is not handed in.
    let mut closing = false;
    // When our close frame went out; from then on we only wait for the client's.
    let mut closed_at: Option<Instant> = None;

    let end = loop {
        tokio::select! {
            frame = inbound.recv(), if reading => match frame {
                Some(Ok(Message::Text(text))) => {
                    if !closing && session.handle_message(text.as_bytes()) == Flow::Closing {
                        closing = true;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    if !closing && session.handle_message(&bytes) == Flow::Closing {
                        closing = true;
                    }
                }
                // Tungstenite answers pings itself; protocol liveness is the session's ping.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => {
                    break if closed_at.is_some() { End::Closed } else { End::PeerClosed };
                }
                Some(Err(e)) => {
                    reading = false;
                    match too_large(&e) {
                        Some(len) if !closing => {
                            tracing::debug!(session = id, len, "inbound message over the limit");
                            session.frame_too_large(len);
                            closing = true;
                        }
                        _ => {
                            tracing::debug!(session = id, error = %e, "connection lost while reading");
                            break End::Failed;
                        }
                    }
                }
            },
            out = session.next_outgoing(), if sink.is_some() && closed_at.is_none() => {
                if let Some(s) = sink.take() {
                    let batch = Batch::collect(&mut session, out);
                    writing.set(write_batch(s, batch, direct.clone()).fuse());
                }
            }
            (s, result) = writing.as_mut(), if sink.is_none() => {
                sink = Some(s);
                match result {
                    Ok(false) => session.wire_idle(),
                    Ok(true) if reading => closed_at = Some(Instant::now()),
                    Ok(true) => break End::ClosedUnread,
                    Err(e) => {
                        match e {
                            WriteError::Stalled => tracing::warn!(
                                session = id,
                                limit_s = WRITE_STALL_LIMIT.as_secs(),
                                "client stopped reading; dropping the connection"
                            ),
                            WriteError::Socket(e) => {
                                tracing::debug!(session = id, error = %e, "connection lost while writing");
                            }
                        }
                        break End::Failed;
                    }
                }
            }
            () = sleep_until_some(closed_at.map(|t| t + CLOSE_LINGER)) => break End::Closed,
        }
    };

    drop(session);
    match (end, sink) {
        // Send tungstenite's answer to the client's close frame, if it can still go out.
        (End::PeerClosed, Some(mut sink)) => {
            let _ = tokio::time::timeout(CLOSE_LINGER, sink.close()).await;
        }
        (End::ClosedUnread, Some(sink)) => {
            tokio::time::sleep(CLOSE_LINGER).await;
            drop(sink);
        }
        _ => {}
    }
    tracing::debug!(session = id, ?end, "connection ended");
}

/// Messages the reader task has read, in order; after an error or the end of the stream it
/// stops.
const INBOUND_QUEUE: usize = 16;

/// Aborts the reader task when the connection loop is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads the socket in a task of its own. The channel is small and bounded: a client sending
/// faster than its session handles messages is slowed by TCP, as if read inline.
///
/// The first WebSocket ping or close from the client turns `direct` writes off: tungstenite
/// answers those itself, from this task, at its next read.
fn spawn_reader(
    mut inbound: SplitStream<WebSocket>,
    direct: Option<(Arc<WsDirect>, DirectFence)>,
) -> (mpsc::Receiver<Result<Message, axum::Error>>, AbortOnDrop) {
    let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
    let task = tokio::spawn(async move {
        while let Some(frame) = inbound.next().await {
            if let (Some((d, fence)), Ok(Message::Ping(_) | Message::Close(_))) = (&direct, &frame)
            {
                // Tungstenite flushes its answer at our next read: not into a half-sent frame.
                d.quiesce(fence).await;
            }
            let last = matches!(frame, Err(_) | Ok(Message::Close(_)));
            if tx.send(frame).await.is_err() || last {
                break;
            }
        }
    });
    (rx, AbortOnDrop(task))
}

/// Waits until `deadline`, or forever when there is none.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The size of an inbound message refused for being over the limit, if that is what `e` says.
fn too_large(e: &axum::Error) -> Option<usize> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(tungstenite::Error::Capacity(
            tungstenite::error::CapacityError::MessageTooLong { size, .. },
        )) = err.downcast_ref::<tungstenite::Error>()
        {
            return Some(*size);
        }
        source = err.source();
    }
    None
}

/// Messages taken out of the session to be written together.
#[derive(Debug)]
struct Batch {
    /// The rest of a frame the publishing thread began writing directly: written first, as is.
    raw: Option<Bytes>,
    messages: Vec<Message>,
    /// The last message is the close frame: nothing follows it.
    closes: bool,
}

impl Batch {
    /// `first` and whatever else the session has ready right now, within the batch limits,
    /// stopping after a close.
    fn collect(session: &mut Session, first: Outgoing) -> Batch {
        let mut batch = Batch {
            raw: None,
            messages: Vec::new(),
            closes: false,
        };
        let mut bytes = 0;
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Outgoing::Text(text) => match Utf8Bytes::try_from(text) {
                    Ok(text) => {
                        bytes += text.len();
                        batch.messages.push(Message::Text(text));
                    }
                    // The hub only produces JSON, which is UTF-8; never send a bad text frame.
                    Err(e) => {
                        tracing::error!(session = session.id(), error = %e, "dropping a non-UTF-8 text message")
                    }
                },
                Outgoing::Binary(data) => {
                    bytes += data.len();
                    batch.messages.push(Message::Binary(data));
                }
                // Only ever first: the outbox hands it out before anything else.
                Outgoing::Raw(rest) => batch.raw = Some(rest),
                Outgoing::Close { code, reason } => {
                    batch.messages.push(close_frame(code, &reason));
                    batch.closes = true;
                    return batch;
                }
            }
            if batch.messages.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                // Polled once: a message already queued comes back at once, else we flush.
                next = session.next_outgoing().now_or_never();
            }
        }
        batch
    }
}

/// A close frame; the reason is cut to the 123 bytes a close frame can carry.
fn close_frame(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    }))
}

#[derive(Debug)]
enum WriteError {
    Socket(axum::Error),
    Stalled,
}

/// Feeds every message of `batch`, flushes once, and gives the sink back with whether the
/// batch ended with the close frame.
async fn write_batch(
    mut sink: Sink,
    batch: Batch,
    direct: Option<Arc<WsDirect>>,
) -> (Sink, Result<bool, WriteError>) {
    let closes = batch.closes;
    let write = async {
        if let Some(rest) = &batch.raw {
            let Some(direct) = &direct else {
                return Err(axum::Error::new(std::io::Error::other(
                    "the rest of a direct write, but no direct writer",
                )));
            };
            direct.write_rest(rest).await.map_err(axum::Error::new)?;
        }
        for message in batch.messages {
            sink.feed(message).await?;
        }
        sink.flush().await
    };
    let result = match tokio::time::timeout(WRITE_STALL_LIMIT, write).await {
        Ok(Ok(())) => Ok(closes),
        Ok(Err(e)) => Err(WriteError::Socket(e)),
        Err(_) => Err(WriteError::Stalled),
    };
    (sink, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_frame() {
        let long = "é".repeat(100);
        let Message::Close(Some(frame)) = close_frame(4012, &long) else {
            panic!("not a close frame")
        };
        assert_eq!(frame.code, 4012);
        assert!(frame.reason.len() <= 123);
        assert!(long.starts_with(frame.reason.as_str()));
    }
}
