//! # stagelink-host-ws — Stagelink over WebSocket
//!
//! Serves a [`Hub`](stagelink_publisher::Hub) over HTTP with axum: `/ws` speaks protocol v1
//! (text messages are JSON, binary messages are pixel tiles), `/` is the built-in browser
//! viewer, `/healthz` and `/metrics` are for operators. This crate only accepts connections and
//! moves frames: every WebSocket gets its own [`Session`](stagelink_publisher::Session), which
//! does all the protocol work, and whose bounded outbox is what keeps a slow client from
//! costing anyone else anything.
//!
//! Secure by default: it listens on `127.0.0.1:61699`; a browser page from a foreign origin
//! cannot open `/ws` (403); [`check_no_auth`] refuses token-less hosts off loopback; TLS
//! (`https://`, `wss://`) comes from PEM files through rustls with the *ring* provider.
//!
//! ## Layout
//! - [`server`] — [`serve`] binds and spawns (TCP_NODELAY on every connection, optional TLS);
//!   [`WsServer`] tells its address and shuts down gracefully (`bye` to every client, a bounded
//!   wait, then the server stops).
//! - [`routes`] — [`router`] and [`AppState`]: the upgrade with its origin check and small
//!   buffers, `/healthz`, `/metrics`, the viewer routes.
//! - [`socket`] — [`run_socket`]: one connection's loop; reads all the time (in a small task of
//!   its own), writes the session's messages in batches (fed, then flushed once), close frames
//!   with the session's code; [`configure_upgrade`] gives an upgrade its small buffers and size
//!   limit. The relay drives its connections with both too. Each connection's loop is started
//!   with [`Hub::spawn_session`](stagelink_publisher::Hub::spawn_session), so it runs on the
//!   hub's [`SessionThreads`](stagelink_publisher::SessionThreads) when it has them (the
//!   player does).
//! - [`direct`] — direct writes over plain `ws://` (Unix): the acceptor hands `/ws` a duplicate
//!   of the connection's socket, through which the publishing thread writes a caught-up
//!   client's ticks as WebSocket frames itself ([`run_socket_with`]); off after the client's
//!   first WebSocket ping or close, whose answers tungstenite writes on its own.
//! - [`security`] — [`check_no_auth`] and [`OriginPolicy`].
//! - [`tls`] — the rustls server configuration from PEM files.
//! - [`viewer`] — the viewer's files, compiled in.
//! - [`config`] — [`WsConfig`], [`TlsFiles`].
//! - [`error`] — [`HostError`].
//!
//! ## Example
//! ```no_run
//! use stagelink_host_ws::{WsConfig, serve};
//! use stagelink_publisher::{Hub, HubConfig};
//!
//! # async fn run() -> Result<(), stagelink_host_ws::HostError> {
//! let hub = Hub::new(HubConfig::default());
//! let server = serve(hub.clone(), WsConfig::default())?;
//! println!("websocket: {}", server.ws_url());
//! // ... drive a Publisher on the hub; clients connect to /ws ...
//! server.shutdown().await; // bye to every client, then the server stops
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod direct;
pub mod error;
pub mod routes;
pub mod security;
pub mod server;
pub mod socket;
pub mod tls;
pub mod uplink;
pub mod viewer;

pub use config::{DEFAULT_ADDR, DEFAULT_PORT, TlsFiles, WsConfig};
pub use error::HostError;
pub use routes::{AppState, HostMetrics, router};
pub use security::{OriginPolicy, check_no_auth, is_loopback};
pub use server::{SHUTDOWN_GRACE, WsServer, serve};
pub use socket::{configure_upgrade, run_socket, run_socket_with};
