//! The movie panel: the playhead, tempo, whether it plays, the frame rate actually measured, the
//! movie time and the movie's properties.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::App;
use crate::layout::Panel;
use crate::ui::panel_block;
use crate::values::format_value;

/// The movie panel.
#[derive(Debug, Clone, Copy)]
pub struct MoviePanel<'a> {
    /// What to show.
    pub app: &'a App,
}

fn row(name: &str, width: usize, value: impl Into<Span<'static>>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<width$}"), Style::new().fg(Color::Gray)),
        value.into(),
    ])
}

impl Widget for MoviePanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let block = panel_block(app, Panel::Movie, "");
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(movie) = app.state.movie else {
            Paragraph::new("waiting for the movie…")
                .style(Style::new().fg(Color::DarkGray))
                .render(inner, buf);
            return;
        };
        let state = if movie.playing {
            Span::styled(
                "▶ playing",
                Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            )
        } else {
            Span::styled(
                "⏸ paused",
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )
        };
        // Names line up, the longest movie property included.
        let width = app
            .state
            .movie_props
            .keys()
            .map(|k| k.chars().count() + 1)
            .max()
            .unwrap_or(0)
            .max(7);
        let mut lines = vec![
            row(
                "frame",
                width,
                format!("{} / {}", movie.frame, movie.frame_count),
            ),
            row("tempo", width, format!("{} fps", movie.tempo)),
            row("state", width, state),
            row("fps", width, format!("{:.1} measured", app.measured_fps())),
        ];
        if let Some(f) = &app.state.stage_frame {
            lines.push(row(
                "time",
                width,
                format!("{:.1} s", f.time_ms as f64 / 1000.0),
            ));
        }
        for (prop, value) in &app.state.movie_props {
            lines.push(row(prop, width, format_value(value)));
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
