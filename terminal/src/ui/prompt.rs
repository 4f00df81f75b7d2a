//! The one-line prompt of `g`, `t` and `e`, in a box near the bottom of the screen.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::app::{App, Overlay, Prompt};
use crate::ui::ACCENT;

/// The prompt box.
#[derive(Debug, Clone, Copy)]
pub struct PromptOverlay<'a> {
    /// The prompt.
    pub prompt: &'a Prompt,
    /// The movie's length, for the go-to hint.
    pub frame_count: Option<u32>,
}

/// Where the box goes on a screen.
pub fn prompt_area(screen: Rect) -> Rect {
    let width = screen.width.saturating_sub(4).clamp(1, 72);
    let height = 4.min(screen.height);
    Rect::new(
        screen.x + (screen.width - width) / 2,
        screen.bottom().saturating_sub(height + 1).max(screen.y),
        width,
        height,
    )
}

/// Where the terminal cursor goes while typing.
pub fn cursor_position(app: &App, screen: Rect) -> Option<Position> {
    let Overlay::Prompt(p) = &app.overlay else {
        return None;
    };
    let area = prompt_area(screen);
    let x = area.x + 3 + p.input.chars().count() as u16;
    (x < area.right().saturating_sub(1)).then_some(Position::new(x, area.y + 1))
}

impl Widget for PromptOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let popup = prompt_area(area);
        Clear.render(popup, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(ACCENT))
            .title(Line::styled(
                format!(" {} ", self.prompt.title()),
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ));
        let input = Line::from(vec![
            Span::styled("› ", Style::new().fg(ACCENT)),
            Span::raw(self.prompt.input.clone()),
        ]);
        let second = match &self.prompt.error {
            Some(e) => Line::styled(e.clone(), Style::new().fg(Color::Red)),
            None => Line::styled(
                format!(
                    "{} · Enter sends · Esc cancels",
                    self.prompt.hint(self.frame_count)
                ),
                Style::new().fg(Color::DarkGray),
            ),
        };
        Paragraph::new(vec![input, second])
            .block(block)
            .render(popup, buf);
    }
}
