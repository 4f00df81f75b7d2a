//! # stagelink-host-pipe — Stagelink over local sockets
//!
//! Serves a [`Hub`](stagelink_publisher::Hub) on a Unix domain socket (a file, so any local
//! program — the C++ client included — can connect) or a Windows named pipe
//! (`\\.\pipe\stagelink-<project>`), through `interprocess`. Each message is a `u32`
//! little-endian length and that many bytes ([`FrameCodec`](stagelink_contracts::FrameCodec)).
//! This crate only accepts connections and moves frames: every client gets its own
//! [`Session`](stagelink_publisher::Session), which does all the protocol work.
//!
//! Trust comes from the operating system instead of a token: the socket file is `0600` in a
//! `0700` directory, and a peer whose uid is not ours is refused, so local sessions are
//! `trusted`.
//!
//! ## Layout
//! - [`server`] — [`serve`] binds and spawns the accept loop; [`PipeServer`] reports the path
//!   and shuts down gracefully (`bye` to everyone, a bounded wait, the socket file removed).
//! - [`connection`] — [`run_connection`]: one client's loop, frames in to the session, batches
//!   of its messages out (fed, then flushed once).
//! - `direct` (Unix) — `UnixDirect`, the connection's non-blocking writer through which the
//!   publishing thread writes a caught-up client's ticks itself (one wake-up fewer per event).
//! - `unix_io` (Unix) — `LocalStream`: the connection's socket registered for read readiness
//!   only (a write that finds it full waits on a short-lived write registration), so a client's
//!   reads do not wake the host.
//! - `socket_file` (Unix) — the `0700` directory, the `0600` socket, reclaiming a dead host's
//!   stale socket, never stealing a live one, removing our own file at the end.
//! - [`peer`] — the peer uid check ([`check_peer_uid`]).
//! - [`path`] — [`default_socket_path`].
//! - [`error`] — [`PipeError`].
//!
//! ## Example
//! ```no_run
//! use stagelink_publisher::{Hub, HubConfig};
//!
//! # async fn run() -> Result<(), stagelink_host_pipe::PipeError> {
//! let hub = Hub::new(HubConfig::default());
//! let path = stagelink_host_pipe::default_socket_path(&hub.config().project);
//! let server = stagelink_host_pipe::serve(hub.clone(), path)?;
//! println!("socket: {}", server.path().display());
//! // ... drive a Publisher on the hub; clients connect to the socket ...
//! server.shutdown().await; // bye to every client, socket file removed
//! # Ok(())
//! # }
//! ```

pub mod connection;
#[cfg(unix)]
pub mod direct;
pub mod error;
pub mod path;
pub mod peer;
pub mod server;
#[cfg(unix)]
mod socket_file;
#[cfg(unix)]
pub mod unix_io;

pub use connection::run_connection;
pub use error::PipeError;
pub use path::default_socket_path;
pub use peer::check_peer_uid;
#[cfg(unix)]
pub use peer::current_uid;
pub use server::{PipeServer, SHUTDOWN_GRACE, serve};
