//! Where the panels go: [`Panel`], the [`LayoutPreset`]s the user cycles with `L`, and
//! [`Regions`], the rectangles of one screen (kept after each render so mouse clicks can be
//! mapped back to panels).
//!
//! ```text
//! ┌ status: connection, URL, project, role ─────────────────────────────┐
//! │ Score (frames × channels)                                           │
//! ├ Stage ─────────────────────┬ Inspector ────────────┬ Movie ─────────┤
//! │                            │                       │                │
//! ├ Log ────────────────────────────────────────────────────────────────┤
//! └ key hints / last message ───────────────────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Layout, Position, Rect};
use serde::{Deserialize, Serialize};

/// A panel that can have the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel {
    /// Frames × channels.
    #[default]
    Score,
    /// The stage drawn in cells.
    Stage,
    /// The selected sprite and its member.
    Inspector,
    /// Frame, tempo, playing, fps.
    Movie,
    /// Events, acks, notices.
    Log,
}

impl Panel {
    /// Every panel, in Tab order.
    pub const ALL: [Panel; 5] = [
        Panel::Score,
        Panel::Stage,
        Panel::Inspector,
        Panel::Movie,
        Panel::Log,
    ];

    /// The next panel in Tab order.
    pub fn next(self) -> Panel {
        let i = Panel::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Panel::ALL[(i + 1) % Panel::ALL.len()]
    }

    /// The previous panel in Tab order.
    pub fn prev(self) -> Panel {
        let i = Panel::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Panel::ALL[(i + Panel::ALL.len() - 1) % Panel::ALL.len()]
    }

    /// The panel's title.
    pub fn title(self) -> &'static str {
        match self {
            Panel::Score => "Score",
            Panel::Stage => "Stage",
            Panel::Inspector => "Inspector",
            Panel::Movie => "Movie",
            Panel::Log => "Log",
        }
    }
}

/// A panel arrangement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayoutPreset {
    /// Balanced.
    #[default]
    Standard,
    /// A tall score.
    Score,
    /// A large stage.
    Stage,
}

impl LayoutPreset {
    /// The next preset (`L`).
    pub fn next(self) -> LayoutPreset {
        match self {
            LayoutPreset::Standard => LayoutPreset::Score,
            LayoutPreset::Score => LayoutPreset::Stage,
            LayoutPreset::Stage => LayoutPreset::Standard,
        }
    }

    /// Its name, for the status line.
    pub fn name(self) -> &'static str {
        match self {
            LayoutPreset::Standard => "standard",
            LayoutPreset::Score => "score",
            LayoutPreset::Stage => "stage",
        }
    }
}

/// The rectangles of one screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regions {
    /// The whole screen.
    pub screen: Rect,
    /// The top status line.
    pub status: Rect,
    /// The score panel (with its border).
    pub score: Rect,
    /// The stage panel.
    pub stage: Rect,
    /// The inspector panel.
    pub inspector: Rect,
    /// The movie panel.
    pub movie: Rect,
    /// The log panel.
    pub log: Rect,
    /// The bottom hint line.
    pub hints: Rect,
}

impl Regions {
    /// Lays out a screen.
    pub fn compute(screen: Rect, preset: LayoutPreset) -> Regions {
        let [status, body, hints] = screen.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ]));
        let (score_pct, log_rows, stage_pct) = match preset {
            LayoutPreset::Standard => (40, 8, 45),
            LayoutPreset::Score => (60, 6, 40),
            LayoutPreset::Stage => (25, 6, 60),
        };
        let [score, middle, log] = body.layout(&Layout::vertical([
            Constraint::Percentage(score_pct),
            Constraint::Fill(1),
            Constraint::Length(log_rows),
        ]));
        let [stage, inspector, movie] = middle.layout(&Layout::horizontal([
            Constraint::Percentage(stage_pct),
            Constraint::Fill(3),
            Constraint::Fill(2),
        ]));
        Regions {
            screen,
            status,
            score,
            stage,
            inspector,
            movie,
            log,
            hints,
        }
    }

    /// The panel's rectangle.
    pub fn of(&self, panel: Panel) -> Rect {
        match panel {
            Panel::Score => self.score,
            Panel::Stage => self.stage,
            Panel::Inspector => self.inspector,
            Panel::Movie => self.movie,
            Panel::Log => self.log,
        }
    }

    /// The panel under a cell.
    pub fn panel_at(&self, col: u16, row: u16) -> Option<Panel> {
        Panel::ALL
            .into_iter()
            .find(|p| self.of(*p).contains(Position::new(col, row)))
    }
}

/// The inside of a bordered panel.
pub fn inner(area: Rect) -> Rect {
    area.inner(ratatui::layout::Margin::new(1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_tile_the_screen() {
        for preset in [
            LayoutPreset::Standard,
            LayoutPreset::Score,
            LayoutPreset::Stage,
        ] {
            let r = Regions::compute(Rect::new(0, 0, 120, 40), preset);
            assert_eq!(r.status.height, 1);
            assert_eq!(r.hints.y, 39);
            assert_eq!(r.score.y, 1);
            assert_eq!(r.stage.y, r.score.bottom());
            assert_eq!(r.log.bottom(), 39);
            assert_eq!(r.movie.right(), 120);
            assert_eq!(
                r.panel_at(r.inspector.x, r.inspector.y),
                Some(Panel::Inspector)
            );
        }
        assert_eq!(Panel::Log.next(), Panel::Score);
        assert_eq!(Panel::Score.prev(), Panel::Log);
        assert_eq!(LayoutPreset::Stage.next(), LayoutPreset::Standard);
    }
}
