//! The latency floor: a raw loopback TCP or Unix-socket ping-pong carrying messages of the same
//! size as the Stagelink event being measured, between the same two processes' worth of
//! wake-ups. The child (`stagelink-bench floor-server`) plays the publisher: it stamps a
//! message and writes it; the bench reads it, records now − stamp, and echoes it back; the child
//! waits for the echo and the interval, then sends the next. No framing library, no JSON, no
//! queue: what is left is the kernel and two wake-ups, the least any transport can cost.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use hdrhistogram::Histogram;

use crate::clock::{micros_since, now_ns};

/// `stagelink-bench floor-server`.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Listen on a Unix socket at this path instead of loopback TCP.
    #[arg(long)]
    pub unix: Option<PathBuf>,
    /// Payload bytes per message (after a 4-byte length, like the local-socket framing).
    #[arg(long)]
    pub size: usize,
    /// Microseconds between messages.
    #[arg(long, default_value_t = 1000)]
    pub interval_us: u64,
    /// Stamp on one thread and write on another, handing each message over a channel: the
    /// engine-thread → transport-thread hop every Stagelink host has, with nothing else.
    #[arg(long)]
    pub hop: bool,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Serves one ping-pong connection; prints `addr: …` and `ready`.
///
/// # Errors
/// When it cannot listen.
pub fn floor_server(args: FloorArgs) -> Result<()> {
    let accept: Box<dyn FnOnce() -> std::io::Result<Box<dyn Stream>>> = match &args.unix {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            let listener = std::os::unix::net::UnixListener::bind(path)?;
            println!("addr: {}", path.display());
            Box::new(move || Ok(Box::new(listener.accept()?.0) as Box<dyn Stream>))
        }
        None => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("addr: {}", listener.local_addr()?);
            Box::new(move || {
                let (s, _) = listener.accept()?;
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            })
        }
    };
    println!("ready");
    std::io::stdout().flush()?;
    // Exit when the bench goes away, even if it never connects.
    std::thread::spawn(|| {
        crate::child::wait_for_stdin_eof();
        std::process::exit(0);
    });
    let mut stream = accept()?;
    let size = args.size.max(8);
    let interval = Duration::from_micros(args.interval_us);
    let message = |stamp: u64| {
        let mut m = vec![b'x'; 4 + size];
        m[..4].copy_from_slice(&(size as u32).to_le_bytes());
        m[4..12].copy_from_slice(&stamp.to_le_bytes());
        m
    };
    let mut echo = vec![0u8; 4 + size];
    let mut next = Instant::now();
    if args.hop {
        // The writer blocks on the channel, as a transport task waits for its session.
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            for m in rx {
                if stream.write_all(&m).is_err() || stream.read_exact(&mut echo).is_err() {
                    std::process::exit(0);
                }
            }
        });
        loop {
            if tx.send(message(now_ns())).is_err() {
                std::process::exit(0);
            }
            next += interval;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    loop {
        let m = message(now_ns());
        if stream.write_all(&m).is_err() || stream.read_exact(&mut echo).is_err() {
            std::process::exit(0);
        }
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// The client side: connects to a floor server at `addr` (a TCP address, or a socket path when
/// `unix`), warms up, then records one-way latency (µs) for `duration`.
///
/// # Errors
/// When the connection fails.
pub fn floor_client(
    addr: &str,
    unix: bool,
    warmup: Duration,
    duration: Duration,
) -> Result<Histogram<u64>> {
    let mut stream: Box<dyn Stream> = if unix {
        Box::new(
            std::os::unix::net::UnixStream::connect(addr)
                .with_context(|| format!("connecting to {addr}"))?,
        )
    } else {
        let s =
            std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        s.set_nodelay(true)?;
        Box::new(s)
    };
    let mut histogram = crate::report::histogram();
    let mut frame = vec![0u8; 4];
    let start = Instant::now();
    let end = start + warmup + duration;
    while Instant::now() < end {
        stream.read_exact(&mut frame[..4])?;
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        frame.resize(4 + len.max(8), 0);
        stream.read_exact(&mut frame[4..4 + len])?;
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&frame[4..12]);
        let latency = micros_since(u64::from_le_bytes(stamp));
        if start.elapsed() >= warmup {
            histogram.saturating_record(latency.max(1));
        }
        // The echo: the same bytes back, in one write.
        stream.write_all(&frame[..4 + len])?;
    }
    Ok(histogram)
}
