//! The score: one column per frame, one row per channel, a ruler with the playhead on top.
//!
//! ```text
//!      1        10        20
//!      ·   ·    ·    ▼    ·
//!    1 ●──────────────────────────
//!  ▸ 3 ◆───────────◆──────▪   ●───
//! ```
//! A span starts with `●`, ends with `▪`, and shows `◆` on frames with a keyframe; the
//! playhead's column is tinted, the selected channel is marked in the gutter and its span on the
//! current frame is drawn bold on a highlight.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::App;
use crate::layout::Panel;
use crate::score::ScoreGeometry;
use crate::ui::{ACCENT, panel_block, readable};

/// The playhead's column tint.
const PLAYHEAD_BG: Color = Color::Rgb(90, 20, 20);
/// The selected span's highlight.
const SELECTED_BG: Color = Color::Rgb(60, 60, 20);

/// The score panel.
#[derive(Debug, Clone, Copy)]
pub struct ScorePanel<'a> {
    /// What to show.
    pub app: &'a App,
}

/// The character of a score cell.
pub fn span_symbol(frame: u32, begin: u32, end: u32, keyframe: bool) -> &'static str {
    if keyframe {
        "◆"
    } else if frame == begin {
        "●"
    } else if frame == end {
        "▪"
    } else {
        "─"
    }
}

impl Widget for ScorePanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let title = match app.state.movie {
            Some(m) => format!("frame {}/{}", m.frame, m.frame_count),
            None => String::new(),
        };
        let block = panel_block(app, Panel::Score, title);
        let inner = block.inner(area);
        block.render(area, buf);
        let g = ScoreGeometry::new(inner);
        let channels = app.score.channels();
        if channels.is_empty() {
            let text = if app.project_loaded {
                "the score is empty"
            } else {
                "waiting for the score…"
            };
            Paragraph::new(text)
                .style(Style::new().fg(Color::DarkGray))
                .render(g.grid, buf);
            return;
        }
        let view = &app.score_view;
        let last = app.score.last_frame();
        let first = view.first_frame;
        let visible_end = first
            .saturating_add(u32::from(g.grid.width))
            .saturating_sub(1)
            .min(last);
        let playhead = app.frame();
        let x_of = |frame: u32| g.grid.x + (frame - first) as u16;

        // Ruler: numbers at 1 and every 10th frame, ticks every 5th, the playhead mark.
        if g.ruler.height >= 1 {
            let mut next_free = g.ruler.x;
            for f in first..=visible_end {
                let x = x_of(f);
                if (f == 1 || f % 10 == 0) && x >= next_free {
                    let label = f.to_string();
                    let room = (g.ruler.right() - x) as usize;
                    if label.len() <= room {
                        buf.set_string(x, g.ruler.y, &label, Style::new().fg(Color::Gray));
                        next_free = x + label.len() as u16 + 1;
                    }
                }
            }
        }
        if g.ruler.height >= 2 {
            let y = g.ruler.y + 1;
            for f in first..=visible_end {
                let symbol = if Some(f) == playhead {
                    "▼"
                } else if f % 5 == 0 {
                    "·"
                } else {
                    " "
                };
                let style = if Some(f) == playhead {
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                } else {
                    Style::new().fg(Color::DarkGray)
                };
                buf.set_string(x_of(f), y, symbol, style);
            }
        }

        let selected = app.selected_sprite();
        for (i, &channel) in channels
            .iter()
            .enumerate()
            .skip(view.first_row)
            .take(usize::from(g.grid.height))
        {
            let y = g.grid.y + (i - view.first_row) as u16;
            let is_selected = app.selected_channel == Some(channel);
            let label = format!("{}{channel:>3} ", if is_selected { "▸" } else { " " });
            let gutter_style = if is_selected {
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Gray)
            };
            buf.set_stringn(
                g.gutter.x,
                y,
                &label,
                usize::from(g.gutter.width),
                gutter_style,
            );
            for (key, span) in app.score.spans_in(channel) {
                let (begin, end) = (key.1, span.end_frame);
                if end < first || begin > visible_end {
                    continue;
                }
                let mut style = Style::new().fg(readable(span.color, Color::Cyan));
                if selected == Some(key) {
                    style = style.bg(SELECTED_BG).add_modifier(Modifier::BOLD);
                }
                for f in begin.max(first)..=end.min(visible_end) {
                    let symbol = span_symbol(f, begin, end, span.keyframes.contains(&f));
                    buf.set_string(x_of(f), y, symbol, style);
                }
            }
        }

        // The playhead's column, over every channel row.
        if let Some(p) = playhead
            && (first..=visible_end).contains(&p)
        {
            let column = Rect::new(x_of(p), g.grid.y, 1, g.grid.height);
            buf.set_style(column, Style::new().bg(PLAYHEAD_BG));
        }
    }
}
