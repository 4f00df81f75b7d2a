//! One client connection: framed bytes in and out, everything else is the [`Session`]'s.
//!
//! ```text
//! socket ──FrameCodec──▶ session.handle_message ─┐
//! socket ◀──FrameCodec── batch of next_outgoing ◀┘   (feed each ready message, flush once)
//! ```
//!
//! On Unix the publishing thread may also write a caught-up session's ticks to the socket
//! itself ([`crate::direct`]); this loop then writes the rest of a message it left half-sent
//! ([`Outgoing::Raw`]) first, and tells the session when its own writes are flushed.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use stagelink_contracts::{FrameCodec, FrameError};
use stagelink_publisher::{Flow, Outgoing, Session};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{FramedRead, FramedWrite};

/// Messages fed before a flush is forced, so one busy session cannot grow the write buffer
/// without bound.
const MAX_BATCH: usize = 256;

/// How long one batch may take to reach a client that stopped reading before the connection is
/// dropped (the session's own idle timer cannot fire while we are stuck in a write).
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(30);

/// The largest payload the framing can carry; outgoing messages are bounded by the hub, not
/// by the inbound limit.
const WIRE_MAX: usize = u32::MAX as usize;

/// Runs one connection until the session closes or the peer goes away.
///
/// Inbound frames go to [`Session::handle_message`]; a frame announcing more than
/// [`Session::max_message`] bytes gets the fatal `frame_too_large` without its payload being
/// read. Outbound messages are batched: whatever is ready is fed, then flushed once.
/// [`Outgoing::Close`] flushes and ends; the caller then drops the socket.
///
/// `reader` and `writer` are usually both `&stream` of the same socket.
pub async fn run_connection<R, W>(mut session: Session, reader: R, writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let id = session.id();
    let mut inbound = FramedRead::new(reader, FrameCodec::new(session.max_message()));
    let mut outbound = FramedWrite::new(writer, FrameCodec::new(WIRE_MAX));
    // Once the session is closing we stop reading: only its last messages and the close remain.
    let mut closing = false;
    loop {
        tokio::select! {
            frame = inbound.next(), if !closing => match frame {
                Some(Ok(payload)) => {
                    if session.handle_message(&payload) == Flow::Closing {
                        closing = true;
                    }
                }
                Some(Err(FrameError::TooLarge { len, .. })) => {
                    session.frame_too_large(len);
                    closing = true;
                }
                Some(Err(FrameError::Io(e))) => {
                    // Includes a peer that hung up in the middle of a frame.
                    tracing::debug!(session = id, error = %e, "connection lost while reading");
                    return;
                }
                None => {
                    tracing::debug!(session = id, "peer closed the connection");
                    return;
                }
            },
            out = session.next_outgoing() => {
                match tokio::time::timeout(WRITE_STALL_LIMIT, send_batch(&mut session, &mut outbound, out)).await {
                    Ok(Ok(Sent::More)) => {}
                    Ok(Ok(Sent::Closed)) => return,
                    Ok(Err(e)) => {
                        tracing::debug!(session = id, error = %e, "connection lost while writing");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(session = id, limit_s = WRITE_STALL_LIMIT.as_secs(), "client stopped reading; dropping the connection");
                        return;
                    }
                }
            }
        }
    }
}

/// Whether the connection goes on after a batch.
enum Sent {
    More,
    Closed,
}

/// Feeds `first` and every message that is ready right now, then flushes once.
async fn send_batch<W>(
    session: &mut Session,
    outbound: &mut FramedWrite<W, FrameCodec>,
    first: Outgoing,
) -> Result<Sent, FrameError>
where
    W: AsyncWrite + Unpin,
{
    let mut next = Some(first);
    let mut fed = 0;
    while let Some(out) = next.take() {
        match out {
            Outgoing::Text(bytes) | Outgoing::Binary(bytes) => outbound.feed(bytes).await?,
            Outgoing::Raw(bytes) => {
                // The rest of a message the publishing thread began writing directly: already
                // framed, and due before anything else.
                SinkExt::<Bytes>::flush(outbound).await?;
                outbound.get_mut().write_all(&bytes).await?;
            }
            Outgoing::Close { code, reason } => {
                // A local socket has no close frame: the fatal error (if any) was the last
                // message, and closing the stream says the rest.
                tracing::debug!(session = session.id(), code, %reason, "closing connection");
                SinkExt::<Bytes>::close(outbound).await?;
                return Ok(Sent::Closed);
            }
        }
        fed += 1;
        if fed < MAX_BATCH {
            // Polled once: a message already queued comes back at once, otherwise we flush.
            next = session.next_outgoing().now_or_never();
        }
    }
    SinkExt::<Bytes>::flush(outbound).await?;
    session.wire_idle();
    Ok(Sent::More)
}
