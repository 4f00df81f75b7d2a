//! Heap held per idle WebSocket connection (target: at most 32 KiB), measured by a counting
//! allocator around the host running in this process. The clients are raw blocking sockets on
//! another thread that allocate (almost) nothing, so the growth is the host's: the hyper
//! upgrade, tungstenite's buffers, the connection task, the session and its outbox. Kernel
//! socket buffers are not heap and are not counted.
//!
//! The baseline, measured in the same run, is the same connection loop ([`run_socket`]) behind
//! an upgrade with axum's default buffer sizes (128 KiB each way).
//!
//! `cargo bench -p stagelink-host-ws --bench idle_memory` prints a table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::routing::get;
use stagelink_host_ws::{WsConfig, run_socket, serve};
use stagelink_publisher::{ConnectionInfo, Hub, HubConfig, Session};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Opens a WebSocket by hand, says hello, reads the welcome; returns the open socket.
fn connect(addr: SocketAddr, buf: &mut [u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let n = s.read(buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 101"), "upgrade refused");
    let hello = br#"{"type":"hello","protocol":1,"role":"observer","subscribe":["*"]}"#;
    // A masked text frame with an all-zero mask (the payload goes as is).
    let mut frame = vec![0x81, 0x80 | hello.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(hello);
    s.write_all(&frame).unwrap();
    // The welcome is one frame; its header length depends on its size, so look for the body.
    let n = s.read(buf).unwrap();
    let welcome = br#"{"type":"welcome""#;
    assert!(
        buf[..n].windows(welcome.len()).any(|w| w == welcome),
        "no welcome"
    );
    s
}

/// A host with axum's default WebSocket buffers, for the baseline.
fn serve_default_buffers(runtime: &tokio::runtime::Runtime, hub: Hub) -> SocketAddr {
    let app = Router::new().route(
        "/ws",
        get(move |upgrade: WebSocketUpgrade| async move {
            upgrade.on_upgrade(move |socket| {
                run_socket(Session::new(&hub, ConnectionInfo::default()), socket)
            })
        }),
    );
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    })
}

/// Heap growth per connection after `clients` idle connections.
fn measure(runtime: &tokio::runtime::Runtime, clients: usize, baseline: bool) -> f64 {
    let hub = Hub::new(HubConfig::default()); // open auth, no tokens needed
    let mut server = None;
    let addr = if baseline {
        serve_default_buffers(runtime, hub.clone())
    } else {
        let s = runtime.block_on(async {
            serve(
                hub.clone(),
                WsConfig {
                    addr: "127.0.0.1:0".parse().unwrap(),
                    ..WsConfig::default()
                },
            )
            .unwrap()
        });
        let addr = s.local_addr();
        server = Some(s);
        addr
    };
    let mut buf = vec![0u8; 4096];
    // Warm up lazily allocated state (tracing, timers, the runtime's own structures).
    let warm: Vec<TcpStream> = (0..8).map(|_| connect(addr, &mut buf)).collect();
    let mut sockets = Vec::with_capacity(clients);
    let before = LIVE.load(Relaxed);
    for _ in 0..clients {
        sockets.push(connect(addr, &mut buf));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while hub.session_count() < clients + warm.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let every connection settle into its idle wait.
    std::thread::sleep(Duration::from_millis(200));
    let after = LIVE.load(Relaxed);
    let per_connection = (after - before) as f64 / clients as f64;
    drop(sockets);
    drop(warm);
    if let Some(server) = server {
        runtime.block_on(server.shutdown());
    } else {
        hub.shutdown("done");
    }
    per_connection
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| host                        | idle connections | heap per connection | target 32 KiB |"
    );
    println!(
        "|:----------------------------|-----------------:|--------------------:|:--------------|"
    );
    for clients in [100, 1000] {
        for (name, baseline) in [
            ("axum default buffers (base)", true),
            ("stagelink-host-ws", false),
        ] {
            let per = measure(&runtime, clients, baseline);
            let verdict = if per <= 32.0 * 1024.0 {
                "within"
            } else {
                "over"
            };
            println!(
                "| {name:<27} | {clients:>16} | {:>15.1} KiB | {verdict:<13} |",
                per / 1024.0
            );
        }
    }
}
