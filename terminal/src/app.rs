//! [`App`]: everything the inspector knows and shows — the live model of the stage, the score,
//! the selection, the panels' scroll positions, pending edits, the log, the overlays. How it
//! changes is spread by concern: what the client reports in [`crate::follow`], commands and
//! their acks in [`crate::commands`], keys and the mouse in [`crate::keys`]; drawing is in
//! [`crate::ui`] and the event loop in [`crate::runtime`].
//!
//! Nothing here does I/O: what the app wants done (send a command, resync, fetch the project,
//! quit) comes back as [`Effect`]s for the event loop to carry out, and each answer comes back
//! in through [`App::command_done`] or [`App::set_project`]. That keeps every screen testable
//! with ratatui's `TestBackend` and recorded states.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stagelink_client::{ClientState, ConnectionState};
use stagelink_contracts::{Command, Role, Welcome};

use crate::edits::{EditKey, Edits, Ticket};
use crate::fps::FpsMeter;
use crate::layout::{LayoutPreset, Panel, Regions};
use crate::log::{EventLog, LogKind};
use crate::score::{ScoreModel, ScoreViewport};
use crate::settings::PanelLayout;
use crate::values::ValueKind;

/// How long a message stays in the bottom line.
pub const FLASH_FOR: Duration = Duration::from_secs(6);

/// Something the app wants the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a command; answer with [`App::command_done`] and the same ticket.
    Command {
        /// Matches the answer to its purpose.
        ticket: Ticket,
        /// The command.
        command: Command,
    },
    /// Ask the client for a fresh snapshot (`Client::resync`).
    Resync,
    /// Request the `project` document; answer with [`App::set_project`].
    FetchProject,
    /// Leave.
    Quit,
}

/// What the app is told at start.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The URL connected to, as shown in the status line (without its token).
    pub endpoint: String,
    /// The project asked for, if any.
    pub project: Option<String>,
    /// The role asked for.
    pub role: Role,
    /// The remembered panel layout.
    pub layout: PanelLayout,
}

/// What a one-line prompt asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    /// `g`: a frame number.
    GoToFrame,
    /// `t`: a tempo.
    Tempo,
    /// `e`: a new value for a property.
    Edit {
        /// Which property.
        key: EditKey,
        /// What kind of value it takes.
        kind: ValueKind,
    },
}

/// A one-line input at the bottom of the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// What it asks for.
    pub kind: PromptKind,
    /// What has been typed.
    pub input: String,
    /// Why the last Enter was refused.
    pub error: Option<String>,
}

impl Prompt {
    /// A prompt with `input` pre-filled.
    pub fn new(kind: PromptKind, input: impl Into<String>) -> Self {
        Self {
            kind,
            input: input.into(),
            error: None,
        }
    }

    /// The question it asks.
    pub fn title(&self) -> String {
        match &self.kind {
            PromptKind::GoToFrame => "Go to frame".into(),
            PromptKind::Tempo => "Tempo (frames per second)".into(),
            PromptKind::Edit { key, .. } => format!("Set {key}"),
        }
    }

    /// What to type.
    pub fn hint(&self, frame_count: Option<u32>) -> String {
        match &self.kind {
            PromptKind::GoToFrame => match frame_count {
                Some(n) => format!("1–{n}"),
                None => "a frame number".into(),
            },
            PromptKind::Tempo => "1–1000".into(),
            PromptKind::Edit { kind, .. } => kind.hint().into(),
        }
    }
}

/// What covers the panels.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Overlay {
    /// Nothing.
    #[default]
    None,
    /// The key help (`?`).
    Help,
    /// A one-line prompt (`g`, `t`, `e`).
    Prompt(Prompt),
}

/// A message in the bottom line.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    /// The text.
    pub text: String,
    /// An error (red) or information.
    pub is_error: bool,
    /// Until when it shows.
    pub until: Instant,
}

/// What a command in flight is for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Purpose {
    /// A playhead command (`pause`, `step`…), labelled for the log.
    Transport(String),
    /// An edit of a property.
    Edit(EditKey),
}

/// The inspector's whole state. See the module documentation.
#[derive(Debug)]
pub struct App {
    /// When the app started; log times are relative to it.
    pub(crate) started: Instant,
    /// The latest time the app was told (rendering the fps needs one).
    pub(crate) now: Instant,
    /// Where it is connected, for the status line.
    pub(crate) endpoint: String,
    /// The project asked for.
    pub(crate) project: Option<String>,
    /// The role asked for (the welcome's wins once it came).
    pub(crate) role: Role,
    /// The connection as the client reports it.
    pub(crate) connection: ConnectionState,
    /// The current session's welcome.
    pub(crate) welcome: Option<Arc<Welcome>>,
    /// The live model: snapshot plus every event since.
    pub(crate) state: ClientState,
    /// The score's structure (from `project`, kept current from the streams).
    pub(crate) score: ScoreModel,
    /// The `project` document has been read (until then the score shows live spans only).
    pub(crate) project_loaded: bool,
    /// Measured frame rate.
    pub(crate) fps: FpsMeter,
    /// What happened.
    pub(crate) log: EventLog,
    /// Edits not yet confirmed, or refused.
    pub(crate) edits: Edits,
    /// The panel keys go to.
    pub(crate) focus: Panel,
    /// The panel arrangement.
    pub(crate) preset: LayoutPreset,
    /// The selected channel (the sprite shown in the inspector is its span on the current frame).
    pub(crate) selected_channel: Option<u32>,
    /// Index of the inspector's selected property among its property rows.
    pub(crate) inspector_cursor: usize,
    /// First inspector line shown (set at render to keep the cursor visible).
    pub(crate) inspector_scroll: usize,
    /// Lines scrolled up from the newest log line.
    pub(crate) log_scroll: usize,
    /// The visible part of the score.
    pub(crate) score_view: ScoreViewport,
    /// The selection changed before the score's size was known: scroll it into view at the
    /// next render (once, so the user can scroll away afterwards).
    pub(crate) reveal_selection: bool,
    /// What covers the panels.
    pub(crate) overlay: Overlay,
    /// The bottom line's message.
    pub(crate) flash: Option<Flash>,
    /// The screen as last rendered, for the mouse.
    pub(crate) regions: Regions,
    /// The next command ticket.
    pub(crate) next_ticket: Ticket,
    /// Commands in flight.
    pub(crate) in_flight: HashMap<Ticket, Purpose>,
}

impl App {
    /// A new app, not yet connected.
    pub fn new(config: AppConfig, now: Instant) -> Self {
        let mut log = EventLog::new();
        log.push(
            LogKind::Connection,
            format!("connecting to {}", config.endpoint),
            now,
        );
        Self {
            started: now,
            now,
            endpoint: config.endpoint,
            project: config.project,
            role: config.role,
            connection: ConnectionState::Connecting,
            welcome: None,
            state: ClientState::new(),
            score: ScoreModel::new(),
            project_loaded: false,
            fps: FpsMeter::new(),
            log,
            edits: Edits::new(),
            focus: config.layout.focus,
            preset: config.layout.preset,
            selected_channel: None,
            inspector_cursor: 0,
            inspector_scroll: 0,
            log_scroll: 0,
            score_view: ScoreViewport::default(),
            reveal_selection: false,
            overlay: Overlay::None,
            flash: None,
            regions: Regions::default(),
            next_ticket: 1,
            in_flight: HashMap::new(),
        }
    }

    // ----- what tests and the event loop read -----

    /// The live model.
    pub fn state(&self) -> &ClientState {
        &self.state
    }

    /// The score's structure.
    pub fn score(&self) -> &ScoreModel {
        &self.score
    }

    /// The focused panel.
    pub fn focus(&self) -> Panel {
        self.focus
    }

    /// The panel layout, to remember.
    pub fn layout(&self) -> PanelLayout {
        PanelLayout {
            preset: self.preset,
            focus: self.focus,
        }
    }

    /// What covers the panels.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// Edits shown in the inspector.
    pub fn edits(&self) -> &Edits {
        &self.edits
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The connection state shown.
    pub fn connection(&self) -> &ConnectionState {
        &self.connection
    }

    /// The selected channel.
    pub fn selected_channel(&self) -> Option<u32> {
        self.selected_channel
    }

    /// The score viewport.
    pub fn score_view(&self) -> &ScoreViewport {
        &self.score_view
    }

    /// The screen's regions as last rendered (for mapping the mouse).
    pub fn regions(&self) -> Regions {
        self.regions
    }

    /// The inspector's cursor (an index into [`App::inspector_props`]).
    pub fn inspector_cursor(&self) -> usize {
        self.inspector_cursor
    }

    /// The bottom line's message, while it shows.
    pub fn flash(&self) -> Option<&Flash> {
        self.flash.as_ref().filter(|f| f.until > self.now)
    }

    /// The playhead, once known.
    pub fn frame(&self) -> Option<u32> {
        self.state.frame()
    }

    /// Whether the movie plays (false until known).
    pub fn playing(&self) -> bool {
        self.state.movie.is_some_and(|m| m.playing)
    }

    /// The measured frame rate now.
    pub fn measured_fps(&self) -> f64 {
        self.fps.fps(self.now)
    }

    /// The role of the session (the welcome's, else the one asked for).
    pub fn role(&self) -> Role {
        self.welcome.as_ref().map_or(self.role, |w| w.role)
    }

    /// The sprite span the inspector shows: the selected channel's span on the current frame
    /// (live), else the score's span of that channel there, else the channel's span nearest to
    /// the playhead (the last one that began before it, or the first one after).
    pub fn selected_sprite(&self) -> Option<(u32, u32)> {
        let channel = self.selected_channel?;
        let frame = self.frame().unwrap_or(1);
        self.state
            .sprites
            .range((channel, 0)..=(channel, frame))
            .rev()
            .find(|(_, s)| s.end_frame.is_none_or(|e| e >= frame))
            .map(|(k, _)| *k)
            .or_else(|| self.score.span_at(channel, frame).map(|(k, _)| k))
            .or_else(|| {
                let spans: Vec<(u32, u32)> = self.score.spans_in(channel).map(|(k, _)| k).collect();
                spans
                    .iter()
                    .rev()
                    .find(|k| k.1 <= frame)
                    .or_else(|| spans.first())
                    .copied()
            })
    }

    // ----- time -----

    /// Time passes: expires messages, confirms edits whose values the model holds.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        let outcomes = self.edits.tick(&self.state, now);
        self.log_edit_outcomes(outcomes);
        if self.flash.as_ref().is_some_and(|f| f.until <= now) {
            self.flash = None;
        }
    }

    /// Shows a message in the bottom line for a while.
    pub(crate) fn notify(&mut self, text: impl Into<String>, is_error: bool) {
        self.flash = Some(Flash {
            text: text.into(),
            is_error,
            until: self.now + FLASH_FOR,
        });
    }
}
