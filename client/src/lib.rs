//! # stagelink-client — the transport-agnostic Rust client
//!
//! One [`Client`] whatever the transport: a player host over WebSocket (`ws://`, `wss://`), a
//! local socket (`pipe:///path.sock`), or a relay (`ws://relay:61700/ws?project=demo`). It says
//! hello, keeps the session alive with heartbeats, exposes every stream as typed async streams,
//! correlates requests and commands with their answers, and when the connection drops it
//! reconnects with exponential backoff and resynchronises from a snapshot — a consumer sees a
//! [`ClientEvent::Resynced`], never a silent hole. A `gap` is repaired the same way.
//!
//! ```text
//!  Client (handles, Clone) ──ops──▶ driver task ──▶ transport (ws / wss / local socket)
//!        ▲                              │
//!        └── broadcast: ClientEvent, PixelFrame ◀── seq checks, resync, pixels_ack, pings
//! ```
//!
//! ## Layout
//! - [`client`] — [`Client`]: `connect`, `stream::<T>()`, `events()`, `request`, `command`,
//!   `subscribe`, `resync`, `state()`, `close`.
//! - [`config`] — [`ClientConfig`] (URL, token, project, role, subscriptions, timers, TLS).
//! - [`endpoint`] — URL parsing into an [`Endpoint`] plus the URL's `token`/`project`.
//! - [`backoff`] — [`ReconnectPolicy`] and [`Backoff`] (0.5 s doubling to 30 s).
//! - [`event`] — [`ClientEvent`], [`ConnectionState`], [`TypedEvent`].
//! - [`streams`] — [`EventStream`], [`TypedStream`], [`PixelFrameStream`].
//! - [`requests`] — typed requests ([`Query`]: `movie_state`, `stage`, `project`, `stats`).
//! - [`state`] — [`ClientState`]: the local model of the stage, applied from snapshot + events.
//! - [`seq`] — [`SeqTracker`]: what a snapshot includes, and holes.
//! - [`pixels`] — [`PixelFrames`]: tiles assembled into whole RGBA frames.
//! - [`mirror`] — [`MirrorTarget`] and [`Mirror`]: a local target that tracks the host.
//! - [`subscriptions`] — the wanted streams, kept across reconnects.
//! - [`error`] — [`ClientError`], [`CloseReason`], [`StreamError`].
//! - `driver`, `connection`, `transport` — the background task, one live session, and the
//!   WebSocket / local-socket framing (internal).
//!
//! ## Example
//! ```no_run
//! use futures_util::StreamExt;
//! use stagelink_client::{Client, ClientConfig, ClientError};
//! use stagelink_contracts::{Command, SpriteDelta, StageFrame};
//!
//! # async fn demo() -> Result<(), ClientError> {
//! let client = Client::connect(ClientConfig::new("ws://127.0.0.1:61699/ws").token("s3cr3t")).await?;
//! println!("stage has {} sprites", client.current_state().sprites.len());
//!
//! let ack = client.command(Command::GoToFrame { frame: 42 }).await?;
//! println!("{:?} on frame {:?}", ack.status, ack.frame);
//!
//! let mut frames = client.stream::<StageFrame>();
//! while let Some(Ok(event)) = frames.next().await {
//!     for frame in event.items {
//!         println!("frame {} of {}", frame.frame, frame.frame_count);
//!     }
//! }
//! # let _ = client.stream::<SpriteDelta>();
//! # Ok(())
//! # }
//! ```

pub mod backoff;
pub mod client;
pub mod config;
mod connection;
mod driver;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod mirror;
pub mod pixels;
pub mod requests;
pub mod seq;
pub mod state;
pub mod streams;
pub mod subscriptions;
mod transport;

pub use backoff::{Backoff, ReconnectPolicy};
pub use client::Client;
pub use config::{ClientConfig, TlsOptions};
pub use endpoint::{Endpoint, Target, default_socket_path};
pub use error::{ClientError, CloseReason, StreamError};
pub use event::{ClientEvent, ConnectionState, EventMeta, TypedEvent};
pub use mirror::{Mirror, MirrorStep, MirrorTarget};
pub use pixels::{PixelFrame, PixelFrames, TileOutcome};
pub use requests::{MovieStateQuery, ProjectQuery, Query, SessionStats, StageQuery, StatsQuery};
pub use seq::{SeqTracker, SeqVerdict};
pub use state::{Applied, ClientState};
pub use streams::{EventStream, PixelFrameStream, TypedStream};
pub use subscriptions::Subscriptions;

/// The contracts crate, re-exported so applications need one dependency.
pub use stagelink_contracts as contracts;
