//! Direct writes over WebSocket (Unix, plain `ws://` only): the publishing thread writes a
//! caught-up client's tick straight to the TCP socket as unmasked WebSocket frames, without
//! waking the session's thread (see `stagelink_publisher::direct`).
//!
//! axum owns the upgraded connection, so the socket is reached through its descriptor, which
//! [`DirectAcceptor`] hands the `/ws` handler as the [`ConnSocket`] request extension; a
//! session that gets a writer duplicates it (the others cost no extra descriptor). Tungstenite also writes on its own: the
//! pong to a client's WebSocket ping and the reply to its close frame, flushed from the reader
//! task at its next read. A frame the publishing thread wrote only in part must not have such a
//! frame land in its middle, so when the reader sees a ping or a close it turns direct writes
//! off for the connection and waits until any half-sent frame is finished (by the session's
//! task, [`WsDirect::write_rest`]) before reading on. TLS connections get no writer (their
//! bytes must go through rustls).

use std::sync::Arc;

use stagelink_publisher::{DirectFence, Session};
#[cfg(unix)]
pub use unix_impl::*;

/// Offers a [`WsDirect`] for the connection to `session`; `None` when there is no socket to
/// write to or the hub has its fill of direct writers. The fence is for the reader task's
/// [`WsDirect::quiesce`].
pub fn offer(
    session: &mut Session,
    socket: Option<ConnSocket>,
) -> Option<(Arc<WsDirect>, DirectFence)> {
    #[cfg(unix)]
    {
        let socket = socket?;
        let direct = session.write_directly(|| match socket.duplicate() {
            Ok(fd) => Some(Arc::new(WsDirect::new(fd))),
            Err(e) => {
                tracing::debug!(error = %e, "no direct writes for this connection");
                None
            }
        })?;
        Some((direct, session.direct_fence()))
    }
    #[cfg(not(unix))]
    {
        let _ = (session, socket);
        None
    }
}

/// Elsewhere there are no direct writes; these types only keep the signatures the same.
#[cfg(not(unix))]
#[derive(Debug, Clone)]
pub struct ConnSocket(());

#[cfg(not(unix))]
#[derive(Debug)]
pub enum WsDirect {}

#[cfg(not(unix))]
impl WsDirect {
    pub async fn quiesce(&self, _fence: &stagelink_publisher::DirectFence) {
        match *self {}
    }
    pub async fn write_rest(&self, _rest: &[u8]) -> std::io::Result<()> {
        match *self {}
    }
}

/// The header of an unmasked, final WebSocket frame (`opcode` 1: text, 2: binary) carrying
/// `len` bytes; returns the buffer and how much of it is used.
#[cfg_attr(not(unix), allow(dead_code))]
pub fn frame_header(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x80 | opcode;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if let Ok(len) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

#[cfg(unix)]
mod unix_impl {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    use axum::Extension;
    use axum_server::accept::Accept;
    use bytes::Bytes;
    use stagelink_publisher::direct::unix;
    use stagelink_publisher::{DirectFence, DirectWrite, Outgoing};
    use tokio::net::TcpStream;
    use tokio::sync::Notify;
    use tower_layer::Layer;

    use super::frame_header;

    /// The descriptor of the connection a request came on, for [`WsDirect`]. Only meaningful
    /// while that connection is open: pass it to [`run_socket_with`](crate::run_socket_with)
    /// with the WebSocket upgraded from the same request (which keeps the connection open).
    #[derive(Debug, Clone, Copy)]
    pub struct ConnSocket(RawFd);

    impl ConnSocket {
        /// Our own descriptor for the connection (made only for sessions that get a writer,
        /// so other connections cost no extra descriptor).
        pub(crate) fn duplicate(self) -> io::Result<OwnedFd> {
            // SAFETY: the connection is open (see the type's documentation: the caller holds
            // the WebSocket upgraded from the request this came with), so the descriptor is.
            unsafe { BorrowedFd::borrow_raw(self.0) }.try_clone_to_owned()
        }
    }

    /// Accepts like axum-server's `NoDelayAcceptor` (`TCP_NODELAY`) and hands every request on
    /// the connection a [`ConnSocket`].
    #[derive(Debug, Clone, Copy, Default)]
    pub struct DirectAcceptor;

    impl<S> Accept<TcpStream, S> for DirectAcceptor {
        type Stream = TcpStream;
        type Service = axum::middleware::AddExtension<S, ConnSocket>;
        type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

        fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
            let result = stream.set_nodelay(true).map(|()| {
                let service = Extension(ConnSocket(stream.as_raw_fd())).layer(service);
                (stream, service)
            });
            std::future::ready(result)
        }
    }

    /// The WebSocket [`DirectWrite`].
    #[derive(Debug)]
    pub struct WsDirect {
        socket: OwnedFd,
        /// Cleared for good by the first ping or close from the client (tungstenite answers
        /// those itself, from the reader task).
        enabled: AtomicBool,
        /// A frame went out only in part; its rest is not written yet.
        rest_pending: AtomicBool,
        rest_written: Notify,
    }

    impl WsDirect {
        pub fn new(socket: OwnedFd) -> Self {
            Self {
                socket,
                enabled: AtomicBool::new(true),
                rest_pending: AtomicBool::new(false),
                rest_written: Notify::new(),
            }
        }

        /// No more direct writes on this connection; returns once none is under way and no
        /// frame is half-sent, so tungstenite may write again (from the reader task).
        pub async fn quiesce(&self, fence: &DirectFence) {
            self.enabled.store(false, SeqCst);
            fence.wait();
            loop {
                let written = self.rest_written.notified();
                if !self.rest_pending.load(SeqCst) {
                    return;
                }
                written.await;
            }
        }

        /// Writes the rest of a half-sent frame (from the session's task).
        pub async fn write_rest(&self, rest: &[u8]) -> io::Result<()> {
            let result = unix::write_all(self.socket.as_fd(), rest).await;
            // Written, or the connection is broken and ends: either way nothing is half-sent.
            self.rest_pending.store(false, SeqCst);
            self.rest_written.notify_waiters();
            result
        }
    }

    impl DirectWrite for WsDirect {
        fn can_write(&self) -> bool {
            self.enabled.load(SeqCst)
        }

        fn try_write(&self, message: &Outgoing) -> io::Result<Option<Bytes>> {
            let (opcode, payload) = match message {
                Outgoing::Text(b) => (1, b),
                Outgoing::Binary(b) => (2, b),
                Outgoing::Raw(_) | Outgoing::Close { .. } => {
                    return Err(io::Error::other("not a message to write directly"));
                }
            };
            let (header, used) = frame_header(opcode, payload.len());
            let rest = unix::send_framed(self.socket.as_fd(), &header[..used], payload)?;
            if rest.is_some() {
                self.rest_pending.store(true, SeqCst);
            }
            Ok(rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_use_the_shortest_length() {
        assert_eq!(frame_header(1, 5).0[..2], [0x81, 5]);
        assert_eq!(frame_header(2, 125).0[..2], [0x82, 125]);
        assert_eq!(frame_header(1, 126).0[..4], [0x81, 126, 0, 126]);
        assert_eq!(frame_header(1, 65535).0[..4], [0x81, 126, 0xff, 0xff]);
        let (h, used) = frame_header(2, 65536);
        assert_eq!(used, 10);
        assert_eq!(h, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    }
}
