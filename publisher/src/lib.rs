//! # stagelink-publisher — the heart of Stagelink
//!
//! Everything between a running engine and the bytes a transport sends, written once and
//! driven by every transport (WebSocket host, local-socket host, relay).
//!
//! ```text
//! engine ──record()──▶ Publisher ──end_tick()──▶ Bus: seq + encode ONCE ──▶ Hub::fan_out
//!    ▲                                                                         │ Bytes (shared)
//!    └── drain_commands() ◀── command lane (bounded; busy when full) ◀── Session ◀── transport
//! ```
//!
//! ## Layout
//! - [`publisher`] — [`Publisher`]: record changes (coalesced per tick by the stream's key),
//!   `end_tick` flushes; [`SnapshotProvider`] is what the engine implements for requests.
//! - [`hub`] — [`Hub`]: sessions, per-stream seqs, fan-out of shared bytes, notices, pixels,
//!   graceful shutdown.
//! - [`session`] — [`Session`]: the protocol state machine (hello/auth, subscriptions,
//!   snapshot-then-live, commands, requests, heartbeats, idle timeout, errors).
//! - [`outbox`] — [`SessionOutbox`]: control lane first, then per-stream bounded queues with
//!   the `latest` / `coalesce` / `fifo`+`gap` policies, then pixel tiles.
//! - [`engine_link`] — [`PendingCommand`] / [`PendingRequest`]: answered exactly once (dropping
//!   one answers it with `internal`), [`EngineLink`] for engines that live elsewhere (the relay).
//! - [`pixels`] — the tile store and each session's pixel cursor and window.
//! - [`stats`] — per-session and per-hub counters, Prometheus text.
//! - [`config`] — [`HubConfig`], [`AuthConfig`] (constant-time token checks).
//! - [`threads`] — [`SessionThreads`]: single-threaded runtimes a host can run its sessions on
//!   ([`Hub::run_sessions_on`], [`Hub::spawn_session`]), so the engine's wake-up is the only one
//!   between a flush and the socket write.
//! - [`direct`] — [`DirectWrite`]: a transport's non-blocking writer, through which the
//!   publishing thread writes a caught-up session's tick itself, so not even that wake-up is
//!   needed (the local socket offers one).
//!
//! ## Example
//! ```
//! use stagelink_contracts::{MovieProp, MovieState, StageSnapshot};
//! use stagelink_publisher::{Hub, HubConfig, Publisher, SnapshotProvider};
//!
//! struct Engine;
//! impl SnapshotProvider for Engine {
//!     fn movie_state(&self) -> MovieState {
//!         MovieState { frame: 1, frame_count: 10, tempo: 30, playing: true }
//!     }
//!     fn stage(&self) -> StageSnapshot { StageSnapshot::default() }
//!     fn project(&self) -> serde_json::Value { serde_json::json!({}) }
//! }
//!
//! let hub = Hub::new(HubConfig::default());
//! let mut publisher = Publisher::new(hub.clone());
//! for command in publisher.drain_commands() {
//!     command.applied(1, None);
//! }
//! publisher.record(MovieProp { prop: "title".into(), value: "Demo".into() });
//! let report = publisher.end_tick(1, &Engine);
//! assert_eq!(report.events, 1);
//! ```

pub mod config;
pub mod direct;
pub mod engine_link;
pub mod hub;
pub mod outbox;
pub mod pixels;
pub mod publisher;
pub mod session;
pub mod stats;
pub mod threads;

pub use config::{AuthConfig, HubConfig, tokens_match};
pub use direct::DirectWrite;
pub use engine_link::{EngineLink, PendingCommand, PendingRequest, RequestKind};
pub use hub::Hub;
pub use outbox::{Outgoing, SessionOutbox, SharedEvent};
pub use pixels::{PixelStore, PublishStats, TILE_SIZE};
pub use publisher::{Publisher, Recordable, SnapshotProvider, TickReport};
pub use session::{ConnectionInfo, DirectFence, Flow, Session};
pub use stats::{HubStats, SessionStats};
pub use threads::{SessionTask, SessionThreads};
