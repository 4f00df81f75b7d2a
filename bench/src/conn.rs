//! The bench's own clients: a minimal WebSocket client over a raw TCP socket and a local-socket
//! client, speaking just enough of each framing to say hello and read messages.
//!
//! They are deliberately smaller than `stagelink-client`: a thousand of them share two cores
//! with the host being measured, so a client costs one socket, one buffer and one task, and
//! reading a message is a header parse and a slice (no copy, no JSON unless asked).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UnixStream};

/// A connection to a host: WebSocket or local socket.
#[derive(Debug)]
pub enum Conn {
    Ws(Framed<TcpStream>),
    Pipe(Framed<UnixStream>),
}

/// Options for opening a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnOptions {
    /// The read buffer's starting size (it grows for larger messages).
    pub read_buffer: usize,
    /// `SO_RCVBUF` for the socket, to make a client that stops reading stall the host quickly.
    pub recv_buffer: Option<u32>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        Self {
            read_buffer: 16 * 1024,
            recv_buffer: None,
        }
    }
}

impl Conn {
    /// Opens a WebSocket to `ws://addr/ws` (the upgrade done by hand).
    ///
    /// # Errors
    /// When the connection or the upgrade fails.
    pub async fn websocket(addr: SocketAddr, options: ConnOptions) -> Result<Conn> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(size) = options.recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let mut stream = socket
            .connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut framed = Framed::new(stream, options.read_buffer);
        // Read the response head; whatever follows it is already WebSocket frames.
        while !framed.frames.upgrade_done()? {
            if framed.fill_for(0).await? == 0 {
                bail!("connection closed during the WebSocket upgrade");
            }
        }
        Ok(Conn::Ws(framed))
    }

    /// Opens a local socket at `path`.
    ///
    /// # Errors
    /// When the connection fails.
    pub async fn pipe(path: &Path, options: ConnOptions) -> Result<Conn> {
        let stream = UnixStream::connect(path)
            .await
            .with_context(|| format!("connecting to {}", path.display()))?;
        Ok(Conn::Pipe(Framed::new(stream, options.read_buffer)))
    }

    /// Sends one text (JSON) message.
    ///
    /// # Errors
    /// When the socket fails.
    pub async fn send(&mut self, payload: &[u8]) -> Result<()> {
        match self {
            Conn::Ws(f) => f.stream.write_all(&frame_out(payload, true)).await?,
            Conn::Pipe(f) => f.stream.write_all(&frame_out(payload, false)).await?,
        }
        Ok(())
    }

    /// The next message (text or binary payload); `None` when the server closed.
    ///
    /// # Errors
    /// When the socket fails or the framing is broken.
    pub async fn next(&mut self) -> Result<Option<&[u8]>> {
        match self {
            Conn::Ws(f) => f.next_message(true).await,
            Conn::Pipe(f) => f.next_message(false).await,
        }
    }

    /// Sends `hello` and reads until `welcome`.
    ///
    /// # Errors
    /// When the server answers with anything else that ends the session, or closes.
    pub async fn hello(&mut self, hello: &[u8]) -> Result<()> {
        self.send(hello).await?;
        loop {
            let Some(message) = self.next().await? else {
                bail!("the server closed before welcome");
            };
            if message.starts_with(br#"{"type":"welcome""#) {
                return Ok(());
            }
            if message.starts_with(br#"{"type":"error""#) {
                bail!("hello refused: {}", String::from_utf8_lossy(message));
            }
        }
    }
}

/// Received bytes and the parsing of messages out of them, shared by the async and the
/// blocking clients.
#[derive(Debug)]
pub struct FrameBuf {
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// A fragmented WebSocket message being put together (servers rarely fragment).
    fragments: Vec<u8>,
}

/// What [`FrameBuf::parse`] found.
enum Parsed {
    /// A whole message at `buf[start..end]`.
    Message(usize, usize),
    /// The last fragment of a message: the message is in `fragments`.
    Assembled,
    /// A frame to skip (ping, pong, a first fragment); parse again.
    Skip,
    /// The server closed.
    Closed,
    /// At least this many unconsumed bytes are needed.
    Need(usize),
}

impl FrameBuf {
    fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity.max(256)],
            start: 0,
            end: 0,
            fragments: Vec::new(),
        }
    }

    /// Room to read into, with space for at least `need` unconsumed bytes.
    fn space(&mut self, need: usize) -> &mut [u8] {
        if self.start > 0 && (self.start == self.end || self.buf.len() - self.end < 1024) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.start < need || self.end == self.buf.len() {
            let grow = (need + self.start).max(self.buf.len() * 2);
            self.buf.resize(grow, 0);
        }
        &mut self.buf[self.end..]
    }

    fn filled(&mut self, n: usize) {
        self.end += n;
    }

    fn parse(&mut self, ws: bool) -> Result<Parsed> {
        let have = &self.buf[self.start..self.end];
        if !ws {
            if have.len() < 4 {
                return Ok(Parsed::Need(4));
            }
            let len = u32::from_le_bytes([have[0], have[1], have[2], have[3]]) as usize;
            if have.len() < 4 + len {
                return Ok(Parsed::Need(4 + len));
            }
            let at = self.start + 4;
            self.start = at + len;
            return Ok(Parsed::Message(at, at + len));
        }
        let Some((header, len)) = ws_header(have)? else {
            return Ok(Parsed::Need(14));
        };
        if have.len() < header + len {
            return Ok(Parsed::Need(header + len));
        }
        let (fin, opcode) = (have[0] & 0x80 != 0, have[0] & 0x0F);
        let at = self.start + header;
        self.start = at + len;
        Ok(match opcode {
            0x8 => Parsed::Closed,
            // Ping and pong: the bench's servers do not ping at the WebSocket level.
            0x9 | 0xA => Parsed::Skip,
            // Continuation.
            0x0 => {
                self.fragments.extend_from_slice(&self.buf[at..at + len]);
                if fin { Parsed::Assembled } else { Parsed::Skip }
            }
            _ if fin => Parsed::Message(at, at + len),
            _ => {
                self.fragments.clear();
                self.fragments.extend_from_slice(&self.buf[at..at + len]);
                Parsed::Skip
            }
        })
    }

    /// Finds the response head of the WebSocket upgrade; `Ok(false)` when more bytes are needed.
    fn upgrade_done(&mut self) -> Result<bool> {
        let Some(end) = find(&self.buf[..self.end], b"\r\n\r\n") else {
            return Ok(false);
        };
        if !self.buf.starts_with(b"HTTP/1.1 101") {
            let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            bail!("WebSocket upgrade refused: {head}");
        }
        self.start = end + 4;
        Ok(true)
    }
}

/// A byte stream with its [`FrameBuf`].
#[derive(Debug)]
pub struct Framed<S> {
    stream: S,
    frames: FrameBuf,
}

impl<S: AsyncReadExt + Unpin> Framed<S> {
    fn new(stream: S, capacity: usize) -> Self {
        Self {
            stream,
            frames: FrameBuf::new(capacity),
        }
    }

    /// Reads once, with room for `need` unconsumed bytes; 0 = end of stream.
    async fn fill_for(&mut self, need: usize) -> Result<usize> {
        let n = self.stream.read(self.frames.space(need)).await?;
        self.frames.filled(n);
        Ok(n)
    }

    async fn next_message(&mut self, ws: bool) -> Result<Option<&[u8]>> {
        loop {
            match self.frames.parse(ws)? {
                Parsed::Message(a, b) => return Ok(Some(&self.frames.buf[a..b])),
                Parsed::Assembled => return Ok(Some(&self.frames.fragments)),
                Parsed::Skip => {}
                Parsed::Closed => return Ok(None),
                Parsed::Need(n) => {
                    if self.fill_for(n).await? == 0 {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

/// A blocking client on a std socket, for the single-client latency rows: a thread blocked in
/// `read`, exactly like the floor's client, so the two rows differ only in what the server does.
pub struct Blocking {
    stream: Box<dyn ReadWrite + Send>,
    frames: FrameBuf,
    ws: bool,
}

/// How long a blocking read may wait before the client gives up.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A std socket.
pub trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking").field("ws", &self.ws).finish()
    }
}

impl Blocking {
    /// Opens a WebSocket (`ws = true`, `addr` = `host:port`) or a local socket (`addr` = path).
    ///
    /// # Errors
    /// When the connection or the upgrade fails.
    pub fn connect(addr: &str, ws: bool) -> Result<Blocking> {
        let stream: Box<dyn ReadWrite + Send> = if ws {
            let s = std::net::TcpStream::connect(addr)
                .with_context(|| format!("connecting to {addr}"))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(READ_TIMEOUT))?;
            Box::new(s)
        } else {
            let s = std::os::unix::net::UnixStream::connect(addr)
                .with_context(|| format!("connecting to {addr}"))?;
            s.set_read_timeout(Some(READ_TIMEOUT))?;
            Box::new(s)
        };
        let mut conn = Blocking {
            stream,
            frames: FrameBuf::new(16 * 1024),
            ws,
        };
        if ws {
            let request = format!(
                "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            );
            conn.stream.write_all(request.as_bytes())?;
            while !conn.frames.upgrade_done()? {
                if conn.fill(0)? == 0 {
                    bail!("connection closed during the WebSocket upgrade");
                }
            }
        }
        Ok(conn)
    }

    fn fill(&mut self, need: usize) -> Result<usize> {
        let n = self.stream.read(self.frames.space(need))?;
        self.frames.filled(n);
        Ok(n)
    }

    /// Sends one text message.
    ///
    /// # Errors
    /// When the socket fails.
    pub fn send(&mut self, payload: &[u8]) -> Result<()> {
        self.stream.write_all(&frame_out(payload, self.ws))?;
        Ok(())
    }

    /// The next message; `None` when the server closed.
    ///
    /// # Errors
    /// When the socket fails or the framing is broken.
    pub fn next(&mut self) -> Result<Option<&[u8]>> {
        loop {
            match self.frames.parse(self.ws)? {
                Parsed::Message(a, b) => return Ok(Some(&self.frames.buf[a..b])),
                Parsed::Assembled => return Ok(Some(&self.frames.fragments)),
                Parsed::Skip => {}
                Parsed::Closed => return Ok(None),
                Parsed::Need(n) => {
                    if self.fill(n)? == 0 {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Sends `hello` and reads until `welcome`.
    ///
    /// # Errors
    /// When the server refuses or closes.
    pub fn hello(&mut self, hello: &[u8]) -> Result<()> {
        self.send(hello)?;
        loop {
            let Some(message) = self.next()? else {
                bail!("the server closed before welcome");
            };
            if message.starts_with(br#"{"type":"welcome""#) {
                return Ok(());
            }
            if message.starts_with(br#"{"type":"error""#) {
                bail!("hello refused: {}", String::from_utf8_lossy(message));
            }
        }
    }
}

/// One outgoing message framed for the wire: a masked WebSocket text frame (the all-zero mask
/// leaves the payload as it is), or a little-endian length and the payload.
fn frame_out(payload: &[u8], ws: bool) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    if ws {
        frame.push(0x81);
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
    } else {
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    }
    frame.extend_from_slice(payload);
    frame
}

/// The header length and payload length of the server frame at the start of `b`, if its
/// header is complete. Server frames are never masked.
fn ws_header(b: &[u8]) -> Result<Option<(usize, usize)>> {
    if b.len() < 2 {
        return Ok(None);
    }
    if b[1] & 0x80 != 0 {
        bail!("the server sent a masked frame");
    }
    Ok(match b[1] & 0x7F {
        126 if b.len() >= 4 => Some((4, u16::from_be_bytes([b[2], b[3]]) as usize)),
        127 if b.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[2..10]);
            Some((10, u64::from_be_bytes(n) as usize))
        }
        126 | 127 => None,
        n => Some((2, n as usize)),
    })
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A `hello` for the bench's clients. Every client gets its own id (a reused id would replace
/// the other session).
pub fn hello(role: &str, id: usize, subscribe: &[&str]) -> Vec<u8> {
    let streams = if subscribe.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = subscribe.iter().map(|s| format!("\"{s}\"")).collect();
        format!(r#","subscribe":[{}]"#, names.join(","))
    };
    format!(
        r#"{{"type":"hello","protocol":1,"project":"demo","client":{{"id":"bench-{id}","name":"stagelink-bench","version":"{}"}},"role":"{role}"{streams}}}"#,
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        assert_eq!(ws_header(&[0x81]).unwrap(), None);
        assert_eq!(ws_header(&[0x81, 5]).unwrap(), Some((2, 5)));
        assert_eq!(ws_header(&[0x81, 126, 1]).unwrap(), None);
        assert_eq!(ws_header(&[0x81, 126, 1, 0]).unwrap(), Some((4, 256)));
        assert!(ws_header(&[0x81, 0x85]).is_err());
        let h = hello("observer", 3, &["*"]);
        let v: serde_json::Value = serde_json::from_slice(&h).unwrap();
        assert_eq!(v["subscribe"][0], "*");
        assert_eq!(v["client"]["id"], "bench-3");
    }
}
