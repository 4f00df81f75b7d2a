//! The help overlay (`?`): every binding of [`crate::keys::KEY_HELP`] in a box over the panels.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::keys::KEY_HELP;
use crate::ui::ACCENT;

/// How edits show, under the bindings.
const NOTE: &str = " edits: ⧗ pending until the stream confirms · ✗ rejected, with the reason";

/// The help box.
#[derive(Debug, Clone, Copy)]
pub struct HelpOverlay;

impl Widget for HelpOverlay {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let key_cols = KEY_HELP
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        let text_cols = KEY_HELP
            .iter()
            .map(|(_, t)| t.chars().count())
            .max()
            .unwrap_or(0);
        let width = (key_cols + text_cols + 4).max(NOTE.chars().count() + 3) as u16;
        let height = KEY_HELP.len() as u16 + 4;
        let popup = area.centered(
            Constraint::Length(width.min(area.width)),
            Constraint::Length(height.min(area.height)),
        );
        Clear.render(popup, buf);
        let block = Block::bordered()
            .border_type(BorderType::Double)
            .border_style(Style::new().fg(ACCENT))
            .title(Line::styled(
                " Keys — any key closes ",
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ));
        let mut lines: Vec<Line<'static>> = KEY_HELP
            .iter()
            .map(|(keys, what)| {
                Line::from(vec![
                    Span::styled(
                        format!(" {keys:<key_cols$}"),
                        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(*what),
                ])
            })
            .collect();
        lines.push(Line::raw(""));
        lines.push(Line::styled(NOTE, Style::new().fg(Color::Gray)));
        Paragraph::new(lines).block(block).render(popup, buf);
    }
}
