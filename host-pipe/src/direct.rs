//! The local socket's [`DirectWrite`]: a duplicate of the connection's file descriptor, written
//! with one non-blocking `sendmsg` per message (the `u32` length and the payload as two
//! buffers), so the publishing thread can put a caught-up client's tick on the wire without
//! waking the connection's task (see `stagelink_publisher::direct`).

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use bytes::Bytes;
use stagelink_publisher::direct::unix;
use stagelink_publisher::{DirectWrite, Outgoing};

/// Writes frames to a Unix stream socket without blocking.
#[derive(Debug)]
pub struct UnixDirect {
    /// Our own duplicate: the socket stays open while the hub may still write to it, even
    /// after the connection's task dropped its stream (writes then fail with `EPIPE`).
    fd: OwnedFd,
}

impl UnixDirect {
    /// A writer for `socket` (the descriptor is duplicated).
    pub fn new(socket: &impl AsFd) -> io::Result<Self> {
        Ok(Self {
            fd: socket.as_fd().try_clone_to_owned()?,
        })
    }
}

impl DirectWrite for UnixDirect {
    fn try_write(&self, message: &Outgoing) -> io::Result<Option<Bytes>> {
        let payload = match message {
            Outgoing::Text(b) | Outgoing::Binary(b) => b,
            Outgoing::Raw(_) | Outgoing::Close { .. } => {
                return Err(io::Error::other("not a message to write directly"));
            }
        };
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::other("message larger than the framing allows"))?;
        unix::send_framed(self.fd.as_fd(), &len.to_le_bytes(), payload)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        stagelink_contracts::framing::frame(payload)
    }

    #[test]
    fn whole_messages_go_out_framed() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let direct = UnixDirect::new(&a).unwrap();
        let msg = Outgoing::Text(Bytes::from_static(br#"{"type":"ping","t":1}"#));
        assert_eq!(direct.try_write(&msg).unwrap(), None);
        let mut got = vec![0; 4 + 21];
        b.read_exact(&mut got).unwrap();
        assert_eq!(got, framed(br#"{"type":"ping","t":1}"#));
    }

    #[test]
    fn a_full_socket_leaves_the_framed_rest_and_nothing_is_lost() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let direct = UnixDirect::new(&a).unwrap();
        // Fill the socket until a message does not fit whole.
        let payload = Bytes::from(vec![7u8; 50_000]);
        let mut expected = Vec::new();
        let rest = loop {
            let msg = Outgoing::Binary(payload.clone());
            expected.extend_from_slice(&framed(&payload));
            match direct.try_write(&msg).unwrap() {
                None => continue,
                Some(rest) => break rest,
            }
        };
        assert!(!rest.is_empty() && rest.len() <= 4 + payload.len());
        // What went out plus the rest is exactly the frames written.
        let on_wire = expected.len() - rest.len();
        let mut got = vec![0; on_wire];
        b.read_exact(&mut got).unwrap();
        got.extend_from_slice(&rest);
        assert_eq!(got, expected);
    }

    #[test]
    fn a_closed_peer_is_an_error_not_a_signal() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let direct = UnixDirect::new(&a).unwrap();
        let msg = Outgoing::Text(Bytes::from_static(b"{}"));
        assert!(direct.try_write(&msg).is_err());
        assert!(
            direct
                .try_write(&Outgoing::Close {
                    code: 1000,
                    reason: String::new()
                })
                .is_err()
        );
    }
}
