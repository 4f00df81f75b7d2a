//! # stagelink-terminal — the terminal inspector (`stagelink-term`)
//!
//! A ratatui application that attaches to a running Stagelink player (directly over `ws://`,
//! `wss://` or a local socket, or through a relay) with the transport-agnostic
//! [`stagelink_client`], follows every stream, and shows the movie as it plays: the score, the
//! stage drawn in cells, an inspector for the selected sprite and its member, the movie's
//! playhead and measured frame rate, and a log of events, acks and notices. Keys and the mouse
//! steer the playhead and edit properties; an edit stays *pending* in the inspector until the
//! host's own stream shows it, and a refused one shows its reason.
//!
//! The app follows ratatui's pattern: [`App`] holds the state; [`App::handle_event`] turns keys
//! and mouse events into state changes and [`Effect`]s (commands to send, …);
//! [`App::render`] draws it through one widget per panel; [`App::run`] is the event loop. The
//! state knows nothing of I/O, so every screen is tested with ratatui's `TestBackend` against
//! recorded states (`tests/render.rs`).
//!
//! ## Layout
//! - [`app`] — [`App`]: the model, the selection, pending edits, the log, the overlays.
//! - [`follow`] — taking in what the client reports: snapshots, resyncs, every stream event.
//! - [`commands`] — playhead commands and edits sent as [`Effect`]s, and their acks.
//! - [`inspector`] — the inspector's rows and the property `e` edits.
//! - [`keys`] — key and mouse handling, and [`keys::KEY_HELP`], the bindings the help shows.
//! - [`ui`] — the widgets: status line, score, stage, inspector, movie, log, help, prompt,
//!   picker.
//! - [`runtime`] — [`runtime::launch`] (picker, connecting, session), [`App::run`], and the
//!   [`runtime::TerminalGuard`] that always gives the terminal back.
//! - [`score`] — the score's structure (from the `project` document and the streams) and its
//!   viewport.
//! - [`stage`] — stage geometry in cells: scaling, sprite placement, hit testing.
//! - [`edits`] — deferred edits: pending, confirmed by the stream, rejected with a reason.
//! - [`values`] — reading, formatting and parsing property values.
//! - [`log`] — the bounded event log, folding busy streams into one line each.
//! - [`fps`] — the measured frame rate.
//! - [`layout`] — panels, layout presets and the screen's regions.
//! - [`picker`] — what to connect to when no URL is given: recent URLs and local sockets.
//! - [`settings`] — remembered URLs (never tokens), preferred transport and layout (JSON).
//! - [`cli`] — the command line.
//!
//! ## Example
//! ```
//! use std::time::Instant;
//! use ratatui::{Terminal, backend::TestBackend};
//! use stagelink_terminal::{App, AppConfig, Effect};
//! use stagelink_contracts::{Command, Role};
//! use crossterm::event::{Event, KeyCode, KeyEvent};
//!
//! let mut app = App::new(
//!     AppConfig {
//!         endpoint: "ws://127.0.0.1:61699/ws".into(),
//!         project: None,
//!         role: Role::Controller,
//!         layout: Default::default(),
//!     },
//!     Instant::now(),
//! );
//! // `g`, `4`, `2`, Enter: a go-to-frame command for the event loop to send.
//! let mut effects = Vec::new();
//! for code in [KeyCode::Char('g'), KeyCode::Char('4'), KeyCode::Char('2'), KeyCode::Enter] {
//!     effects.extend(app.handle_event(&Event::Key(KeyEvent::from(code))));
//! }
//! assert!(matches!(
//!     effects.as_slice(),
//!     [Effect::Command { command: Command::GoToFrame { frame: 42 }, .. }]
//! ));
//!
//! let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
//! terminal.draw(|frame| app.render(frame)).unwrap();
//! ```

pub mod app;
pub mod cli;
pub mod commands;
pub mod edits;
pub mod follow;
pub mod fps;
pub mod inspector;
pub mod keys;
pub mod layout;
pub mod log;
pub mod picker;
pub mod runtime;
pub mod score;
pub mod settings;
pub mod stage;
pub mod ui;
pub mod values;

pub use app::{App, AppConfig, Effect, Overlay, Prompt, PromptKind};
pub use edits::{EditKey, EditStatus, EditTarget, Edits};
pub use inspector::InspectorRow;
pub use layout::{LayoutPreset, Panel};
pub use settings::Settings;
