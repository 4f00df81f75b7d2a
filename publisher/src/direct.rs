//! Direct writes: the publishing thread writes a caught-up session's messages straight to its
//! socket, without waking the session's own thread.
//!
//! Every event normally crosses two wake-ups before a client sees it: the engine thread queues
//! it and wakes the session's thread, which writes it; the client then wakes to read it. On a
//! quiet machine the first wake-up costs as much as the socket itself (see
//! `docs/benchmarks.md`, "+ one thread hop"). When a session is caught up — nothing queued,
//! its transport not in the middle of a write — the publishing thread can instead make one
//! **non-blocking** write of the tick's messages itself: it never waits on the network (a full
//! socket buffer means "queue it as usual"), it writes the same bytes in the same order the
//! session's task would have, and it stops at the first message that does not fit whole.
//!
//! The rules, all checked under the session's outbox lock:
//! - a transport offers a writer with [`Session::write_directly`](crate::Session::write_directly);
//!   the hub accepts at most [`HubConfig::direct_write_sessions`](crate::HubConfig) of them, so
//!   the publishing thread's cost stays small (one `sendmsg` per session per tick) while a
//!   large fan-out runs on the session threads as before;
//! - whenever the transport takes a message from the outbox the wire is its own until it says
//!   [`Session::wire_idle`](crate::Session::wire_idle) after flushing, and the publishing thread
//!   does not write in between;
//! - a message that went out only in part leaves its framed rest in the outbox, and the
//!   transport gets it first, as [`Outgoing::Raw`], to write as is;
//! - a writer that fails is dropped; the transport finds the broken socket on its own.
//!
//! TLS connections and named pipes offer no writer; their sessions work as before. [`unix`]
//! has the socket calls the local socket's and the WebSocket's writers share.

use bytes::Bytes;

use crate::outbox::Outgoing;

/// A transport's non-blocking writer for one connection.
pub trait DirectWrite: Send + Sync + std::fmt::Debug {
    /// Writes `message` ([`Outgoing::Text`] or [`Outgoing::Binary`]) framed as the transport
    /// frames it, without ever blocking. `Ok(None)`: it all went out. `Ok(Some(rest))`: only a
    /// part (maybe nothing) fit; `rest` is the framed remainder, for the transport to write
    /// before anything else. `Err`: the socket is unusable.
    fn try_write(&self, message: &Outgoing) -> std::io::Result<Option<Bytes>>;

    /// Whether a direct write may start now. Checked before each message is taken from the
    /// outbox; `false` leaves the rest of the tick to the session's task. The default: always.
    fn can_write(&self) -> bool {
        true
    }
}

/// Non-blocking socket calls for [`DirectWrite`] implementations on Unix.
#[cfg(unix)]
pub mod unix {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};

    use bytes::{BufMut, Bytes, BytesMut};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// One non-blocking `send` (no `SIGPIPE` when the peer is gone), retried on `EINTR`.
    pub fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `fd` is open; `buf` is valid for its length.
            let n = unsafe {
                libc::send(
                    fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Sends `header` and `payload` with one non-blocking `sendmsg`. `Ok(None)`: all of it
    /// went out; `Ok(Some(rest))`: the part that did not (maybe all of it), header included.
    pub fn send_framed(
        fd: BorrowedFd<'_>,
        header: &[u8],
        payload: &[u8],
    ) -> io::Result<Option<Bytes>> {
        let total = header.len() + payload.len();
        let sent = loop {
            let iov = [
                libc::iovec {
                    iov_base: header.as_ptr() as *mut libc::c_void,
                    iov_len: header.len(),
                },
                libc::iovec {
                    iov_base: payload.as_ptr() as *mut libc::c_void,
                    iov_len: payload.len(),
                },
            ];
            // SAFETY: a zeroed msghdr is valid; it points at `iov`, which outlives the call.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = iov.len() as _;
            // SAFETY: `fd` is an open socket; `msg` describes two live buffers.
            let n = unsafe {
                libc::sendmsg(
                    fd.as_raw_fd(),
                    &msg,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => break 0,
                _ => return Err(e),
            }
        };
        if sent >= total {
            return Ok(None);
        }
        let mut rest = BytesMut::with_capacity(total - sent);
        if sent < header.len() {
            rest.put_slice(&header[sent..]);
            rest.put_slice(payload);
        } else {
            rest.put_slice(&payload[sent - header.len()..]);
        }
        Ok(Some(rest.freeze()))
    }

    /// Writes all of `bytes` to a non-blocking socket from a task: tries at once, and only when
    /// the socket is full registers a duplicate descriptor for write readiness with the current
    /// runtime until everything went out. For the rest of a half-sent direct write
    /// ([`crate::Outgoing::Raw`]).
    pub async fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
        let mut wait: Option<AsyncFd<std::os::fd::OwnedFd>> = None;
        while !bytes.is_empty() {
            match send(fd, bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let registered = match wait.take() {
                        Some(w) => w,
                        None => register(fd.try_clone_to_owned()?, Interest::WRITABLE)?,
                    };
                    registered.writable().await?.clear_ready();
                    wait = Some(registered);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Registers `fd` with the current runtime's I/O driver for `interest` only.
    pub fn register(
        fd: std::os::fd::OwnedFd,
        interest: Interest,
    ) -> io::Result<AsyncFd<std::os::fd::OwnedFd>> {
        // SAFETY: an `OwnedFd` is open, and the `AsyncFd` owns it until it is dropped, so the
        // descriptor stays open and the same for the registration's whole life.
        unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;
    use stagelink_contracts::{StreamName, encode_event_raw};

    use super::*;
    use crate::outbox::SessionOutbox;
    use crate::pixels::PixelStore;

    /// A socket that takes `room` more bytes (framed as 2-byte length + payload), then fails
    /// when `broken`.
    #[derive(Debug, Default)]
    struct FakeSocket {
        room: Mutex<usize>,
        wire: Mutex<Vec<u8>>,
        broken: std::sync::atomic::AtomicBool,
    }

    impl FakeSocket {
        fn with_room(room: usize) -> Arc<Self> {
            Arc::new(Self {
                room: Mutex::new(room),
                ..Self::default()
            })
        }
    }

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut f = (payload.len() as u16).to_le_bytes().to_vec();
        f.extend_from_slice(payload);
        f
    }

    impl DirectWrite for FakeSocket {
        fn try_write(&self, message: &Outgoing) -> std::io::Result<Option<Bytes>> {
            if self.broken.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let Outgoing::Text(payload) = message else {
                return Err(std::io::Error::other("not text"));
            };
            let frame = framed(payload);
            let mut room = self.room.lock();
            let n = frame.len().min(*room);
            *room -= n;
            self.wire.lock().extend_from_slice(&frame[..n]);
            Ok((n < frame.len()).then(|| Bytes::copy_from_slice(&frame[n..])))
        }
    }

    fn event(seq: u64) -> Bytes {
        let item = format!(r#"{{"id":{seq}}}"#);
        encode_event_raw(StreamName::Sounds, seq, None, seq as u32, [item.as_bytes()])
    }

    fn outbox_with(socket: &Arc<FakeSocket>) -> SessionOutbox {
        let mut outbox = SessionOutbox::new(64, 2);
        outbox.set_direct(socket.clone());
        outbox
    }

    #[test]
    fn a_caught_up_session_gets_the_tick_written_in_order_without_a_wake() {
        let socket = FakeSocket::with_room(1 << 20);
        let mut outbox = outbox_with(&socket);
        let store = PixelStore::default();
        let mut expected = Vec::new();
        for seq in 1..=3 {
            outbox.push_event(StreamName::Sounds, seq, seq as u32, event(seq));
            expected.extend(framed(&event(seq)));
        }
        assert!(!outbox.write_direct(&store), "nothing left: no wake-up");
        assert_eq!(*socket.wire.lock(), expected);
        assert_eq!(outbox.direct_sent, 3);
        assert_eq!(outbox.pop(&store), None);
    }

    #[test]
    fn the_transport_owns_the_wire_from_its_pop_until_it_says_idle() {
        let socket = FakeSocket::with_room(1 << 20);
        let mut outbox = outbox_with(&socket);
        let store = PixelStore::default();
        outbox.push_event(StreamName::Sounds, 1, 1, event(1));
        assert_eq!(outbox.pop(&store), Some(Outgoing::Text(event(1))));
        // The transport has not written event 1 yet: event 2 must wait for it.
        outbox.push_event(StreamName::Sounds, 2, 2, event(2));
        assert!(outbox.write_direct(&store));
        assert!(socket.wire.lock().is_empty());
        outbox.wire_idle();
        outbox.push_event(StreamName::Sounds, 3, 3, event(3));
        assert!(!outbox.write_direct(&store));
        let mut expected = framed(&event(2));
        expected.extend(framed(&event(3)));
        assert_eq!(*socket.wire.lock(), expected);
    }

    #[test]
    fn a_half_written_message_is_finished_first_then_the_rest_follows() {
        let first = framed(&event(1)).len();
        // Event 1 fits, event 2 only in part.
        let socket = FakeSocket::with_room(first + 5);
        let mut outbox = outbox_with(&socket);
        let store = PixelStore::default();
        for seq in 1..=3 {
            outbox.push_event(StreamName::Sounds, seq, seq as u32, event(seq));
        }
        assert!(
            outbox.write_direct(&store),
            "the session's task finishes the job"
        );
        let Some(Outgoing::Raw(rest)) = outbox.pop(&store) else {
            panic!("the rest of event 2 comes first");
        };
        let mut wire = socket.wire.lock().clone();
        wire.extend_from_slice(&rest);
        let mut expected = framed(&event(1));
        expected.extend(framed(&event(2)));
        assert_eq!(wire, expected);
        // No direct writes until the transport is done; then event 3 as usual.
        outbox.push_event(StreamName::Sounds, 4, 4, event(4));
        assert!(outbox.write_direct(&store));
        assert_eq!(outbox.pop(&store), Some(Outgoing::Text(event(3))));
        assert_eq!(outbox.pop(&store), Some(Outgoing::Text(event(4))));
    }

    #[test]
    fn draining_by_direct_writes_ends_a_backlog() {
        let socket = FakeSocket::with_room(1 << 20);
        let mut outbox = SessionOutbox::new(2, 2);
        outbox.set_direct(socket.clone());
        let store = PixelStore::default();
        for seq in 1..=3 {
            outbox.push_event(StreamName::Sounds, seq, seq as u32, event(seq));
        }
        assert!(outbox.backlogged);
        assert!(!outbox.write_direct(&store));
        assert!(!outbox.backlogged, "written out: caught up");
    }

    #[test]
    fn pixel_tiles_are_left_to_the_sessions_task() {
        let socket = FakeSocket::with_room(1 << 20);
        let mut outbox = outbox_with(&socket);
        let mut store = PixelStore::default();
        outbox.pixels.subscribe();
        store.publish(1, 64, 64, &vec![200u8; 64 * 64 * 4]);
        outbox.push_event(StreamName::Sounds, 1, 1, event(1));
        assert!(outbox.write_direct(&store), "tiles wait: wake the task");
        assert_eq!(*socket.wire.lock(), framed(&event(1)));
        assert!(matches!(outbox.pop(&store), Some(Outgoing::Binary(_))));
    }

    #[test]
    fn a_broken_writer_is_dropped_and_a_closing_session_gets_no_direct_writes() {
        let socket = FakeSocket::with_room(1 << 20);
        let mut outbox = outbox_with(&socket);
        let store = PixelStore::default();
        socket
            .broken
            .store(true, std::sync::atomic::Ordering::Relaxed);
        outbox.push_event(StreamName::Sounds, 1, 1, event(1));
        assert!(outbox.write_direct(&store));
        assert!(!outbox.has_direct());

        let socket = FakeSocket::with_room(1 << 20);
        let mut outbox = outbox_with(&socket);
        outbox.push_event(StreamName::Sounds, 1, 1, event(1));
        outbox.close(4000, "bye");
        assert!(outbox.write_direct(&store));
        assert!(socket.wire.lock().is_empty());
    }
}
