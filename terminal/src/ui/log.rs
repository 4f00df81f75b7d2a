//! The log panel: the newest lines at the bottom, scrolled up with ↑/PgUp when focused.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::App;
use crate::layout::Panel;
use crate::log::LogKind;
use crate::ui::panel_block;

/// The log panel.
#[derive(Debug, Clone, Copy)]
pub struct LogPanel<'a> {
    /// What to show.
    pub app: &'a App,
}

fn color(kind: LogKind) -> Color {
    match kind {
        LogKind::Event => Color::Gray,
        LogKind::Ack => Color::Green,
        LogKind::Notice => Color::Cyan,
        LogKind::Error => Color::Red,
        LogKind::Connection => Color::Blue,
        LogKind::Edit => Color::Yellow,
    }
}

impl Widget for LogPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let extra = if app.log_scroll > 0 {
            format!("{} lines up · End for newest", app.log_scroll)
        } else {
            String::new()
        };
        let block = panel_block(app, Panel::Log, extra);
        let inner = block.inner(area);
        block.render(area, buf);
        let height = usize::from(inner.height);
        let total = app.log.len();
        let end = total.saturating_sub(app.log_scroll.min(total));
        let start = end.saturating_sub(height);
        let lines: Vec<Line<'static>> = app
            .log
            .entries()
            .skip(start)
            .take(end - start)
            .map(|e| {
                let t = e.at.saturating_duration_since(app.started).as_secs_f64();
                Line::from(vec![
                    Span::styled(format!("{t:>7.1}s "), Style::new().fg(Color::DarkGray)),
                    Span::styled(
                        format!("{:<6} ", e.kind.tag()),
                        Style::new().fg(color(e.kind)),
                    ),
                    Span::raw(e.describe()),
                ])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
