//! # stagelink-player — the reference engine
//!
//! A Director-like movie player that reports every change it makes to a Stagelink
//! [`Publisher`](stagelink_publisher::Publisher), and the `stagelink-player` binary that hosts
//! it as a live session over WebSocket and a local socket.
//!
//! A movie has a stage, casts of members (bitmaps, shapes, text, sounds, film loops) and a
//! score: sprite spans in numbered channels with keyframes that tween linearly, and tempo,
//! sound, transition, palette, marker and frame-script channels. The engine ticks at the
//! movie's tempo: queued commands first, then the playhead, then a report of every change on
//! the 14 JSON streams. It is deterministic — the same movie and the same commands give the
//! same ticks, change for change.
//!
//! ## Layout
//! - [`movie`] — [`Movie`]: stage, movie properties, casts; structural validation.
//! - [`member`] — cast members and their typed, validated properties.
//! - [`score`] — sprite spans, keyframes and tweening, the cue channels, markers.
//! - [`script`] — the frame-script language (`go to frame N`, `go loop`, `pause`, `put`, `set`).
//! - [`engine`] — [`Engine`] and [`EngineState`]: the tick, entering frames, scripts, sounds.
//! - [`film_loop`] — film loops playing their own scores.
//! - [`commands`] — applying every command kind, batch all-or-none, the property setters.
//! - [`custom`] — [`CustomHandlers`]: commands registered by name (`echo`, `sprite_count`, …).
//! - [`publish`] — [`Change`], the sprite diff, [`publish_tick`] driving a real publisher, and
//!   the `SnapshotProvider` that answers `movie_state`, `stage` and `project`.
//! - [`mirror`] — mirror mode: [`mirror::MirroredEngine`] follows a remote session through
//!   the client's `Mirror` (snapshot, then frame by frame) instead of ticking, and
//!   [`mirror::follow`] drives it, optionally republishing to local listeners.
//! - [`runner`] — the tick thread: [`runner::spawn`]`(engine, publisher, fps)`.
//! - [`file`] — movie files (the `project` document) with path-naming errors.
//! - [`media`] — base64 and PNG for bitmaps in files.
//! - [`demo`] — the built-in demo movie.
//! - [`render`] — the stage renderer (CPU, or wgpu) and the [`render::Renderer`] hook the
//!   runner hands each tick to.
//! - [`error`] — [`CommandError`] and its protocol codes; [`props`] — typed value checks.
//!
//! ## Example
//! ```
//! use stagelink_contracts::Command;
//! use stagelink_player::{demo, publish::Change};
//!
//! let mut engine = demo::demo_engine();
//! let first = engine.tick([]);
//! assert_eq!(first.frame, 1);
//! let jump = engine.tick([Command::GoToFrame { frame: 42 }]);
//! assert_eq!(jump.frame, 42);                 // the ack's frame
//! assert!(jump.results[0].is_ok());
//! assert!(matches!(jump.changes.last(), Some(Change::Frame(f)) if f.frame == 42));
//!
//! let bad = engine.tick([Command::GoToFrame { frame: 999 }]);
//! assert_eq!(bad.results[0].as_ref().unwrap_err().code().as_str(), "out_of_range");
//! ```

pub mod commands;
pub mod custom;
pub mod demo;
pub mod engine;
pub mod error;
pub mod file;
pub mod film_loop;
pub mod media;
pub mod member;
pub mod mirror;
pub mod movie;
pub mod props;
pub mod publish;
pub mod render;
pub mod runner;
pub mod score;
pub mod script;

pub use custom::CustomHandlers;
pub use engine::{Engine, EngineState, TickOutput};
pub use error::CommandError;
pub use file::MovieFileError;
pub use movie::Movie;
pub use publish::{Change, publish_tick, publish_tick_with};
pub use runner::{RunnerHandle, spawn};
