//! A Unix stream socket registered for **read** readiness only.
//!
//! tokio's `UnixStream` (under `interprocess`) registers every socket for read and write
//! readiness. A Unix stream socket reports write space each time the peer reads, so every
//! message a client read woke the host's I/O driver for nothing (one extra context switch per
//! event, measured in `docs/benchmarks.md`), and the wake-up happened inside the client's own
//! `read`. Here reads wait on an `AsyncFd` with [`Interest::READABLE`] only; writes are tried
//! directly and only a write that finds the socket full registers a duplicate descriptor for
//! write readiness, dropped again once the write went through.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use stagelink_publisher::direct::unix::{register, send};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// One connection: read and write halves over the same socket.
#[derive(Debug)]
pub struct LocalStream {
    read: AsyncFd<OwnedFd>,
    /// Registered for write readiness only while a write waits for space.
    write_wait: Option<AsyncFd<OwnedFd>>,
}

impl LocalStream {
    /// Takes over `fd` (a connected, non-blocking Unix stream socket). Must be called inside a
    /// Tokio runtime: the socket is registered with that runtime's I/O driver.
    pub fn new(fd: OwnedFd) -> io::Result<Self> {
        Ok(Self {
            read: register(fd, Interest::READABLE)?,
            write_wait: None,
        })
    }

    /// Splits into a reader and a writer that can be used at the same time.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        let Self { read, write_wait } = self;
        (
            ReadHalf { fd: read },
            WriteHalf {
                fd: read.get_ref().as_fd(),
                wait: write_wait,
            },
        )
    }
}

impl AsFd for LocalStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.get_ref().as_fd()
    }
}

/// The reading side of a [`LocalStream`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    fd: &'a AsyncFd<OwnedFd>,
}

/// The writing side of a [`LocalStream`].
#[derive(Debug)]
pub struct WriteHalf<'a> {
    fd: BorrowedFd<'a>,
    wait: &'a mut Option<AsyncFd<OwnedFd>>,
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| {
                // SAFETY: `unfilled` is a valid, initialized buffer of its length.
                let n = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            }) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Not readable after all: readiness was cleared; wait again.
                Err(_would_block) => {}
            }
        }
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if let Some(wait) = this.wait.as_ref() {
                let mut guard = ready!(wait.poll_write_ready(cx))?;
                match guard.try_io(|_| send(this.fd, buf)) {
                    Ok(result) => {
                        // Space again: stop watching for it until the next full socket.
                        *this.wait = None;
                        return Poll::Ready(result);
                    }
                    Err(_would_block) => continue,
                }
            }
            match send(this.fd, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let dup = this.fd.try_clone_to_owned()?;
                    *this.wait = Some(register(dup, Interest::WRITABLE)?);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: `fd` is an open socket.
        let r = unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) };
        Poll::Ready(if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn pair() -> (LocalStream, std::os::unix::net::UnixStream) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (LocalStream::new(OwnedFd::from(a)).unwrap(), b)
    }

    #[tokio::test]
    async fn reads_and_writes_both_ways() {
        let (mut ours, peer) = pair();
        let mut peer = tokio::net::UnixStream::from_std({
            peer.set_nonblocking(true).unwrap();
            peer
        })
        .unwrap();
        let (mut r, mut w) = ours.split();
        w.write_all(b"hello").await.unwrap();
        let mut got = [0; 5];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        peer.write_all(b"world").await.unwrap();
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"world");
        drop(peer);
        assert_eq!(r.read(&mut got).await.unwrap(), 0, "end of stream");
    }

    #[tokio::test]
    async fn a_full_socket_waits_for_the_reader_and_loses_nothing() {
        use futures_util::FutureExt;
        let (mut ours, peer) = pair();
        let data: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        let (_r, mut w) = ours.split();
        // Fill the socket: the first write takes what fits, the next finds no room and waits.
        let n = w.write(&data).await.unwrap();
        assert!(n < data.len());
        assert!(
            w.write(&data[n..]).now_or_never().is_none(),
            "no room: pending"
        );
        assert!(w.wait.is_some(), "watching for write space while full");
        let expected = data.clone();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut got = Vec::new();
            (&peer).read_to_end(&mut got).unwrap();
            got
        });
        w.write_all(&data[n..]).await.unwrap();
        assert!(w.wait.is_none(), "write interest dropped again");
        w.shutdown().await.unwrap();
        let got = tokio::task::spawn_blocking(|| reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(got, expected);
    }
}
