//! The screens before a session: the [`Picker`] list, and "connecting to …".

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use crate::picker::Picker;
use crate::ui::{ACCENT, truncate};

impl Widget for &Picker {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let height = (self.choices.len() as u16 + 9).min(area.height);
        let popup = area.centered(
            Constraint::Length(area.width.saturating_sub(4).clamp(1, 90)),
            Constraint::Length(height),
        );
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(ACCENT))
            .title(Line::styled(
                " stagelink-term · connect to ",
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ));
        let url_cols = usize::from(popup.width.saturating_sub(8)) * 3 / 5;
        let mut lines = Vec::new();
        for (i, choice) in self.choices.iter().enumerate() {
            let selected = i == self.selected && self.typing.is_none();
            let style = if selected {
                Style::new().fg(Color::Black).bg(ACCENT)
            } else {
                Style::new()
            };
            lines.push(Line::from(vec![
                Span::styled(
                    if selected { " › " } else { "   " },
                    Style::new().fg(ACCENT),
                ),
                Span::styled(format!("{} ", i + 1), Style::new().fg(Color::DarkGray)),
                Span::styled(
                    format!("{:<url_cols$}", truncate(&choice.url, url_cols)),
                    style,
                ),
                Span::styled(format!("  {}", choice.note()), Style::new().fg(Color::Gray)),
            ]));
        }
        let type_row = self.selected == self.choices.len() && self.typing.is_none();
        lines.push(match &self.typing {
            Some(input) => Line::from(vec![
                Span::styled(
                    " URL: ",
                    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
                ),
                Span::raw(input.clone()),
                Span::styled("█", Style::new().fg(ACCENT)),
            ]),
            None => Line::from(vec![
                Span::styled(
                    if type_row { " › " } else { "   " },
                    Style::new().fg(ACCENT),
                ),
                Span::styled(
                    "Type a URL… (ws://, wss://, pipe://, relay ws://…?project=)",
                    if type_row {
                        Style::new().fg(Color::Black).bg(ACCENT)
                    } else {
                        Style::new().fg(Color::Gray)
                    },
                ),
            ]),
        });
        lines.push(Line::raw(""));
        if let Some((text, is_error)) = &self.message {
            lines.push(Line::styled(
                format!(" {text}"),
                Style::new().fg(if *is_error { Color::Red } else { Color::Yellow }),
            ));
        }
        lines.push(Line::styled(
            if self.typing.is_some() {
                " Enter connects · Esc back to the list"
            } else {
                " ↑/↓ choose · Enter or 1–9 connects · u type a URL · q quit"
            },
            Style::new().fg(Color::DarkGray),
        ));
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .render(popup, buf);
    }
}

/// "Connecting to …", while the first connection is made.
#[derive(Debug, Clone, Copy)]
pub struct ConnectingScreen<'a> {
    /// Where.
    pub url: &'a str,
}

impl Widget for ConnectingScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let popup = area.centered(
            Constraint::Length(area.width.saturating_sub(4).clamp(1, 90)),
            Constraint::Length(4.min(area.height)),
        );
        Paragraph::new(vec![
            Line::styled(
                format!(" ◌ connecting to {}", self.url),
                Style::new().fg(Color::Yellow),
            ),
            Line::styled(" q cancels", Style::new().fg(Color::DarkGray)),
        ])
        .block(
            Block::bordered()
                .border_type(BorderType::Rounded)
                .title(" stagelink-term "),
        )
        .render(popup, buf);
    }
}
