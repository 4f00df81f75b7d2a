//! Drawing: one widget per panel, each reading the [`App`] it is given and nothing else.
//!
//! [`App::render`] lays the screen out (and remembers the rectangles for the mouse), fits the
//! score's viewport to the panel, then draws `&App` as a widget.

pub mod help;
pub mod inspector;
pub mod log;
pub mod movie;
pub mod picker;
pub mod prompt;
pub mod score;
pub mod stage;
pub mod status;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Widget};

use crate::app::{App, Overlay};
use crate::layout::{Panel, Regions, inner};
use crate::score::ScoreGeometry;

/// The accent of the focused panel and of selections.
pub const ACCENT: Color = Color::Yellow;

impl App {
    /// Draws the whole screen.
    pub fn render(&mut self, frame: &mut Frame<'_>) {
        self.layout_for(frame.area());
        frame.render_widget(&*self, frame.area());
        if let Overlay::Prompt(_) = self.overlay {
            // Put the terminal's cursor where the user types.
            if let Some(pos) = prompt::cursor_position(self, frame.area()) {
                frame.set_cursor_position(pos);
            }
        }
    }

    /// Lays out a screen of this size and fits the panels' viewports to it.
    pub fn layout_for(&mut self, screen: Rect) {
        self.regions = Regions::compute(screen, self.preset);
        let grid = ScoreGeometry::new(inner(self.regions.score)).grid;
        self.score_view.frames_visible = u32::from(grid.width);
        self.score_view.rows_visible = usize::from(grid.height);
        let last = self.score.last_frame();
        if self.score_view.follow
            && let Some(frame) = self.frame()
        {
            self.score_view.show_frame(frame, last);
        }
        let channels = self.score.channels();
        if self.reveal_selection
            && let Some(row) = self
                .selected_channel
                .and_then(|c| channels.iter().position(|x| *x == c))
        {
            self.score_view.show_row(row);
            self.reveal_selection = false;
        }
        self.score_view.scroll_rows(0, channels.len());
        self.inspector_scroll =
            inspector::scroll_for(self, usize::from(inner(self.regions.inspector).height));
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        // `render` lays out first; a caller that did not (a test drawing `&App` directly) still
        // gets a sensible screen.
        let regions = if self.regions.screen == area {
            self.regions
        } else {
            Regions::compute(area, self.preset)
        };
        status::StatusBar { app: self }.render(regions.status, buf);
        score::ScorePanel { app: self }.render(regions.score, buf);
        stage::StagePanel { app: self }.render(regions.stage, buf);
        inspector::InspectorPanel { app: self }.render(regions.inspector, buf);
        movie::MoviePanel { app: self }.render(regions.movie, buf);
        log::LogPanel { app: self }.render(regions.log, buf);
        status::HintLine { app: self }.render(regions.hints, buf);
        match &self.overlay {
            Overlay::None => {}
            Overlay::Help => help::HelpOverlay.render(area, buf),
            Overlay::Prompt(p) => prompt::PromptOverlay {
                prompt: p,
                frame_count: self.state.movie.map(|m| m.frame_count),
            }
            .render(area, buf),
        }
    }
}

/// A panel's frame: rounded border, title, highlighted when focused.
pub fn panel_block(app: &App, panel: Panel, extra: impl Into<String>) -> Block<'static> {
    let focused = app.focus == panel;
    let extra = extra.into();
    let title = match (focused, extra.is_empty()) {
        (true, true) => format!(" ▶ {} ", panel.title()),
        (true, false) => format!(" ▶ {} · {extra} ", panel.title()),
        (false, true) => format!(" {} ", panel.title()),
        (false, false) => format!(" {} · {extra} ", panel.title()),
    };
    let style = if focused {
        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(style)
        .title(Line::styled(title, style))
}

/// The ratatui colour of a protocol colour.
pub fn rgb(c: stagelink_contracts::Color) -> Color {
    Color::Rgb(c.r, c.g, c.b)
}

/// A protocol colour as a foreground on a dark terminal: too dark a colour becomes `fallback`.
pub fn readable(c: Option<stagelink_contracts::Color>, fallback: Color) -> Color {
    match c {
        Some(c) if luma(c) > 60.0 => rgb(c),
        _ => fallback,
    }
}

fn luma(c: stagelink_contracts::Color) -> f64 {
    0.299 * f64::from(c.r) + 0.587 * f64::from(c.g) + 0.114 * f64::from(c.b)
}

/// Black or white, whichever reads on `c`.
pub fn contrast(c: stagelink_contracts::Color) -> Color {
    if luma(c) > 140.0 {
        Color::Black
    } else {
        Color::White
    }
}

/// `text` cut to `width` characters, with `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}
