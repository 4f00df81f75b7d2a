//! The stage in cells: the background, every drawn sprite as a block of its colour in z order
//! with its channel number, and a frame around the selected one.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::App;
use crate::layout::Panel;
use crate::stage::{StageProjection, stage_background, stage_size};
use crate::ui::{ACCENT, contrast, panel_block, rgb};

/// The stage panel.
#[derive(Debug, Clone, Copy)]
pub struct StagePanel<'a> {
    /// What to show.
    pub app: &'a App,
}

impl Widget for StagePanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let (w, h) = stage_size(&app.state);
        let block = panel_block(app, Panel::Stage, format!("{w}×{h}"));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        let Some(frame) = app.frame() else {
            Paragraph::new("waiting for the stage…")
                .style(Style::new().fg(Color::DarkGray))
                .render(inner, buf);
            return;
        };
        let projection = StageProjection::fit(inner, w, h);
        let bg = stage_background(&app.state).map_or(Color::Rgb(16, 16, 32), rgb);
        buf.set_style(projection.canvas, Style::new().bg(bg));
        for cell in projection.canvas.positions() {
            if let Some(c) = buf.cell_mut(cell) {
                c.set_symbol(" ");
            }
        }
        let selected = app.selected_sprite();
        for sprite in projection.place_all(&app.state, frame) {
            let cells = sprite.cells;
            if cells.is_empty() {
                continue;
            }
            let fill = rgb(sprite.color);
            for pos in cells.positions() {
                if let Some(c) = buf.cell_mut(pos) {
                    c.set_symbol(" ").set_style(Style::new().bg(fill));
                }
            }
            let is_selected = selected == Some(sprite.key);
            let framed = is_selected && cells.width >= 3 && cells.height >= 3;
            let text_style = if is_selected && !framed {
                // Too small for a frame: the whole sprite lights up instead.
                buf.set_style(cells, Style::new().bg(ACCENT));
                Style::new()
                    .fg(Color::Black)
                    .bg(ACCENT)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(contrast(sprite.color)).bg(fill)
            };
            // A backdrop's label would only show through in pieces between other sprites.
            let backdrop = u32::from(cells.width) * u32::from(cells.height) * 2
                > u32::from(projection.canvas.width) * u32::from(projection.canvas.height);
            if backdrop && !is_selected {
                continue;
            }
            let mut label = sprite.key.0.to_string();
            if usize::from(cells.width) > label.len() + 2 && !sprite.label.is_empty() {
                label = format!("{label} {}", sprite.label);
            }
            let (lx, ly) = if framed {
                (cells.x + 1, cells.y + 1)
            } else {
                (cells.x, cells.y)
            };
            let room = usize::from(cells.right().saturating_sub(lx));
            buf.set_stringn(lx, ly, &label, room, text_style);
            if framed {
                draw_frame(buf, cells, fill);
            }
        }
    }
}

/// A bright frame on the selected sprite's outer cells.
fn draw_frame(buf: &mut Buffer, r: Rect, fill: Color) {
    let style = Style::new()
        .fg(ACCENT)
        .bg(fill)
        .add_modifier(Modifier::BOLD);
    let (x0, y0, x1, y1) = (r.x, r.y, r.right() - 1, r.bottom() - 1);
    for x in x0..=x1 {
        let (top, bottom) = match x {
            _ if x == x0 => ("┏", "┗"),
            _ if x == x1 => ("┓", "┛"),
            _ => ("━", "━"),
        };
        buf.set_string(x, y0, top, style);
        buf.set_string(x, y1, bottom, style);
    }
    for y in y0 + 1..y1 {
        buf.set_string(x0, y, "┃", style);
        buf.set_string(x1, y, "┃", style);
    }
}
