//! The inspector: the selected sprite's properties and its member's, the cursor on the property
//! `e` edits, and each edit's state — pending (`⧗`), refused with its reason (`✗`), or without an
//! answer (`?`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::App;
use crate::edits::EditStatus;
use crate::inspector::InspectorRow;
use crate::layout::{Panel, inner};
use crate::ui::{ACCENT, panel_block};
use crate::values::format_value;

/// Width of the property-name column.
const NAME_COLS: usize = 11;

/// The inspector panel.
#[derive(Debug, Clone, Copy)]
pub struct InspectorPanel<'a> {
    /// What to show.
    pub app: &'a App,
}

/// The width the inspector's text has on the last rendered screen.
fn text_width(app: &App) -> usize {
    usize::from(inner(app.regions.inspector).width)
}

/// `text` in lines of at most `width` characters, each after `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let room = width.saturating_sub(indent.chars().count()).max(8);
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(room)
        .map(|chunk| format!("{indent}{}", chunk.iter().collect::<String>()))
        .collect()
}

/// The inspector's lines, each with the index of the property row it belongs to (for the
/// cursor and for clicks). A refusal's reason is wrapped to the panel's width.
pub fn lines(app: &App) -> Vec<(Line<'static>, Option<usize>)> {
    let width = text_width(app);
    let mut out = Vec::new();
    let mut prop_index = 0;
    let cursor = app
        .inspector_cursor
        .min(app.inspector_props().len().saturating_sub(1));
    let focused = app.focus == Panel::Inspector;
    for row in app.inspector_rows() {
        match row {
            InspectorRow::Heading(text) => out.push((
                Line::styled(
                    text,
                    Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan),
                ),
                None,
            )),
            InspectorRow::Note(text) => {
                out.push((Line::styled(text, Style::new().fg(Color::DarkGray)), None))
            }
            InspectorRow::Prop { key, value } => {
                let is_cursor = prop_index == cursor;
                let marker = if is_cursor { "›" } else { " " };
                let name_style = if is_cursor && focused {
                    Style::new().fg(Color::Black).bg(ACCENT)
                } else if is_cursor {
                    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
                } else {
                    Style::new().fg(Color::Gray)
                };
                let shown = value.as_ref().map_or("—".to_owned(), format_value);
                let mut spans = vec![
                    Span::styled(marker, Style::new().fg(ACCENT)),
                    Span::styled(format!("{:<NAME_COLS$}", key.prop), name_style),
                    Span::raw(" "),
                    Span::raw(shown),
                ];
                let mut reason = None;
                if let Some(edit) = app.edits.get(&key) {
                    let asked = format_value(&edit.value);
                    let (text, color) = match &edit.status {
                        EditStatus::Sent => (format!("  ⧗ {asked} pending"), Color::Yellow),
                        EditStatus::Applied { frame, .. } => (
                            format!(
                                "  ⧗ {asked} applied{}, awaiting stream",
                                frame.map_or(String::new(), |f| format!(" f{f}"))
                            ),
                            Color::Yellow,
                        ),
                        EditStatus::Rejected { code, message } => {
                            reason = Some((format!("✗ {code}: {message}"), Color::Red));
                            (format!("  ✗ {asked} rejected"), Color::Red)
                        }
                        EditStatus::Failed { message } => {
                            reason = Some((format!("? {message}"), Color::Magenta));
                            (format!("  ? {asked} no ack"), Color::Magenta)
                        }
                        EditStatus::Unconfirmed => (
                            format!("  ? {asked} applied, not seen in the stream"),
                            Color::Magenta,
                        ),
                    };
                    spans.push(Span::styled(
                        text,
                        Style::new().fg(color).add_modifier(Modifier::BOLD),
                    ));
                }
                out.push((Line::from(spans), Some(prop_index)));
                if let Some((text, color)) = reason {
                    for part in wrap(&text, "    ", width) {
                        out.push((Line::styled(part, Style::new().fg(color)), Some(prop_index)));
                    }
                }
                prop_index += 1;
            }
        }
    }
    out
}

/// Which property row each line belongs to.
pub fn line_props(app: &App) -> Vec<Option<usize>> {
    lines(app).into_iter().map(|(_, p)| p).collect()
}

/// The first line to show so the cursor's line is visible in `height` lines.
pub fn scroll_for(app: &App, height: usize) -> usize {
    let props = line_props(app);
    let cursor = app
        .inspector_cursor
        .min(app.inspector_props().len().saturating_sub(1));
    let Some(line) = props.iter().position(|p| *p == Some(cursor)) else {
        return 0;
    };
    // Keep the lines after the cursor's (a rejection's reason) visible too.
    let last = props
        .iter()
        .rposition(|p| *p == Some(cursor))
        .unwrap_or(line);
    let height = height.max(1);
    let current = app.inspector_scroll;
    if line < current {
        line
    } else if last >= current + height {
        last + 1 - height
    } else {
        current
    }
}

impl Widget for InspectorPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let pending = app.edits.iter().filter(|(_, e)| e.is_pending()).count();
        let extra = if pending > 0 {
            format!("{pending} pending")
        } else {
            String::new()
        };
        let block = panel_block(app, Panel::Inspector, extra);
        let inner = block.inner(area);
        block.render(area, buf);
        let text: Vec<Line<'static>> = lines(app)
            .into_iter()
            .skip(app.inspector_scroll)
            .map(|(l, _)| l)
            .collect();
        Paragraph::new(text).render(inner, buf);
    }
}
