//! The top status line (connection state, where, who) and the bottom line (key hints, or the
//! latest message).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use stagelink_client::ConnectionState;

use crate::app::App;

/// The top line.
#[derive(Debug, Clone, Copy)]
pub struct StatusBar<'a> {
    /// What to show.
    pub app: &'a App,
}

/// The connection state as a symbol, words and colour.
pub fn connection_label(state: &ConnectionState) -> (String, Color) {
    match state {
        ConnectionState::Connecting => ("◌ connecting".into(), Color::Yellow),
        ConnectionState::Connected => ("● connected".into(), Color::Green),
        ConnectionState::Reconnecting { attempt } => {
            (format!("◌ reconnecting (attempt {attempt})"), Color::Yellow)
        }
        ConnectionState::Closed(reason) => (format!("✗ closed: {reason}"), Color::Red),
    }
}

impl Widget for StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let (state, color) = connection_label(&app.connection);
        let sep = Span::styled(" │ ", Style::new().fg(Color::DarkGray));
        let mut spans = vec![
            Span::styled(
                " stagelink-term ",
                Style::new().add_modifier(Modifier::BOLD),
            ),
            sep.clone(),
            Span::styled(state, Style::new().fg(color).add_modifier(Modifier::BOLD)),
            sep.clone(),
            Span::raw(app.endpoint.clone()),
        ];
        let project = app
            .welcome
            .as_ref()
            .and_then(|w| w.project.clone())
            .or_else(|| app.project.clone());
        if let Some(p) = project {
            spans.extend([sep.clone(), Span::raw(format!("project {p}"))]);
        }
        spans.extend([sep.clone(), Span::raw(app.role().as_str())]);
        if let Some(server) = app.welcome.as_ref().and_then(|w| w.server.name.clone()) {
            spans.extend([sep.clone(), Span::raw(server)]);
        }
        if app.connection == ConnectionState::Connected && !app.state.is_exact() {
            spans.extend([
                sep,
                Span::styled("resyncing", Style::new().fg(Color::Yellow)),
            ]);
        }
        Line::from(spans)
            .style(Style::new().bg(Color::Rgb(30, 30, 40)))
            .render(area, buf);
    }
}

/// The bottom line.
#[derive(Debug, Clone, Copy)]
pub struct HintLine<'a> {
    /// What to show.
    pub app: &'a App,
}

/// The short hints shown when there is no message.
pub const HINTS: &str = "space pause/resume · ←/→ step · Home rewind · g go to · t tempo · e edit · Tab panel · ? help · q quit";

impl Widget for HintLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let line = match self.app.flash() {
            Some(f) => Line::styled(
                format!(" {}", f.text),
                Style::new().fg(if f.is_error { Color::Red } else { Color::Cyan }),
            ),
            None => Line::styled(format!(" {HINTS}"), Style::new().fg(Color::DarkGray)),
        };
        line.render(area, buf);
    }
}
