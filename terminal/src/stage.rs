//! Stage geometry in terminal cells: where the stage sits in its panel (scaled, aspect kept, a
//! cell being about twice as tall as it is wide) and which cells each sprite covers.
//!
//! Placement follows the player's drawing conventions (and the browser viewer's): `loc` places
//! the member's registration point — a bitmap's or film loop's `reg_point`, scaled with the
//! sprite's size, else the centre; invisible sprites, fully transparent ones and sounds are not
//! drawn; order is `loc_z`, then channel. Rotation and skew are not drawn in cells.

use ratatui::layout::Rect;
use stagelink_client::ClientState;
use stagelink_contracts::{Color, MemberInfo, PropValue, SpriteDelta};

/// How tall a terminal cell is compared to its width (typical fonts).
const CELL_ASPECT: f64 = 2.0;

/// The stage size in pixels the model says, or 640×480 when nothing said yet.
pub fn stage_size(state: &ClientState) -> (u32, u32) {
    if let Some(f) = &state.stage_frame
        && f.width > 0
        && f.height > 0
    {
        return (f.width, f.height);
    }
    let prop = |name: &str| {
        state
            .stage_props
            .get(name)
            .and_then(PropValue::as_i64)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
    };
    (prop("width").unwrap_or(640), prop("height").unwrap_or(480))
}

/// The stage's background colour.
pub fn stage_background(state: &ClientState) -> Option<Color> {
    state
        .stage_props
        .get("bg_color")
        .and_then(PropValue::as_color)
}

/// The stage scaled into a panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageProjection {
    /// The cells the stage occupies (centred in the panel).
    pub canvas: Rect,
    /// Stage width in pixels.
    pub stage_w: f64,
    /// Stage height in pixels.
    pub stage_h: f64,
}

/// A sprite's placement in cells.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedSprite {
    /// Its key.
    pub key: (u32, u32),
    /// The cells it covers (clipped to the canvas; may be empty when off stage).
    pub cells: Rect,
    /// The colour to fill them with.
    pub color: Color,
    /// The member's name, or its text for text members.
    pub label: String,
}

impl StageProjection {
    /// Fits a `stage_w`×`stage_h` stage into `area`, keeping its aspect.
    pub fn fit(area: Rect, stage_w: u32, stage_h: u32) -> Self {
        let (sw, sh) = (f64::from(stage_w.max(1)), f64::from(stage_h.max(1)));
        // Pixels per cell column: the larger of what the width and the height need.
        let px_per_col = (sw / f64::from(area.width.max(1)))
            .max(sh / (f64::from(area.height.max(1)) * CELL_ASPECT));
        let cols = ((sw / px_per_col).round() as u16).clamp(1, area.width.max(1));
        let rows = ((sh / (px_per_col * CELL_ASPECT)).round() as u16).clamp(1, area.height.max(1));
        let canvas = Rect::new(
            area.x + (area.width.saturating_sub(cols)) / 2,
            area.y + (area.height.saturating_sub(rows)) / 2,
            cols.min(area.width),
            rows.min(area.height),
        );
        Self {
            canvas,
            stage_w: sw,
            stage_h: sh,
        }
    }

    /// The cells covering the stage rectangle `(x, y, w, h)` in pixels, clipped to the canvas;
    /// anything at least partly on stage covers at least one cell.
    pub fn cells(&self, x: f64, y: f64, w: f64, h: f64) -> Rect {
        let c = self.canvas;
        let sx = f64::from(c.width) / self.stage_w;
        let sy = f64::from(c.height) / self.stage_h;
        let left = (x * sx).floor().max(0.0);
        let top = (y * sy).floor().max(0.0);
        let right = ((x + w) * sx).ceil().min(f64::from(c.width));
        let bottom = ((y + h) * sy).ceil().min(f64::from(c.height));
        if right <= left || bottom <= top {
            return Rect::new(c.x, c.y, 0, 0);
        }
        Rect::new(
            c.x + left as u16,
            c.y + top as u16,
            (right - left) as u16,
            (bottom - top) as u16,
        )
    }

    /// The pixel at the centre of a cell, for clicks.
    pub fn cell_to_stage(&self, col: u16, row: u16) -> Option<(f64, f64)> {
        let c = self.canvas;
        if !c.contains((col, row).into()) {
            return None;
        }
        let x = (f64::from(col - c.x) + 0.5) * self.stage_w / f64::from(c.width);
        let y = (f64::from(row - c.y) + 0.5) * self.stage_h / f64::from(c.height);
        Some((x, y))
    }

    /// Every drawable sprite on `frame`, bottom first.
    pub fn place_all(&self, state: &ClientState, frame: u32) -> Vec<PlacedSprite> {
        state
            .sprites_on(frame)
            .into_iter()
            .filter_map(|s| {
                let member = s
                    .member
                    .and_then(|m| state.member(m.cast_lib, m.member_num));
                self.place(s, member)
            })
            .collect()
    }

    /// One sprite's cells, or `None` when it is not drawn.
    pub fn place(&self, s: &SpriteDelta, member: Option<&MemberInfo>) -> Option<PlacedSprite> {
        if s.visible == Some(false) || s.blend == Some(0) {
            return None;
        }
        let kind = member.map(|m| m.kind.as_str()).unwrap_or("");
        if kind == "sound" {
            return None;
        }
        let num = |name: &str| {
            member
                .and_then(|m| m.props.get(name))
                .and_then(PropValue::as_f64)
        };
        let (mw, mh) = (num("width").unwrap_or(0.0), num("height").unwrap_or(0.0));
        let w = s.width.filter(|w| *w > 0.0).unwrap_or(mw);
        let h = s.height.filter(|h| *h > 0.0).unwrap_or(mh);
        if !(w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()) {
            return None;
        }
        let reg = match kind {
            "bitmap" | "film_loop" => member
                .and_then(|m| m.props.get("reg_point"))
                .and_then(PropValue::as_point),
            _ => None,
        };
        let (rx, ry) = match reg {
            Some([x, y]) => (
                if mw > 0.0 { x * w / mw } else { x },
                if mh > 0.0 { y * h / mh } else { y },
            ),
            None => (w / 2.0, h / 2.0),
        };
        let left = s.loc_h.unwrap_or(0.0) - rx;
        let top = s.loc_v.unwrap_or(0.0) - ry;
        Some(PlacedSprite {
            key: (s.sprite_num, s.begin_frame),
            cells: self.cells(left, top, w, h),
            color: sprite_fill(s, member),
            label: member
                .map(|m| match m.props.get("text").and_then(PropValue::as_str) {
                    Some(text) if m.kind == "text" => text.to_owned(),
                    _ => m.name.clone(),
                })
                .unwrap_or_default(),
        })
    }

    /// The topmost drawn sprite under a cell.
    pub fn hit(&self, state: &ClientState, frame: u32, col: u16, row: u16) -> Option<(u32, u32)> {
        self.place_all(state, frame)
            .into_iter()
            .rev()
            .find(|p| p.cells.contains((col, row).into()))
            .map(|p| p.key)
    }
}

/// What colour a sprite's cells get: what the member draws (a shape's fill, a text's colour, a
/// neutral grey for pictures) multiplied by the sprite's colour, as the player tints.
fn sprite_fill(s: &SpriteDelta, member: Option<&MemberInfo>) -> Color {
    let prop_color = |name: &str| {
        member
            .and_then(|m| m.props.get(name))
            .and_then(PropValue::as_color)
    };
    let base = match member.map(|m| m.kind.as_str()) {
        Some("shape") => prop_color("fore_color"),
        Some("text") => prop_color("color"),
        Some("film_loop") => Some(Color::rgb(160, 160, 255)),
        _ => None,
    }
    .unwrap_or(Color::rgb(200, 200, 200));
    match s.color {
        // The player multiplies; black would hide a picture entirely, which in cells shows
        // nothing useful, so a black tint keeps the member's own colour.
        Some(t) if (t.r, t.g, t.b) != (0, 0, 0) => Color::rgb(
            (u16::from(base.r) * u16::from(t.r) / 255) as u8,
            (u16::from(base.g) * u16::from(t.g) / 255) as u8,
            (u16::from(base.b) * u16::from(t.b) / 255) as u8,
        ),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_keeps_its_aspect() {
        // 640×480 into 80×20 cells: height-bound (20 rows ≈ 40 "columns" tall).
        let p = StageProjection::fit(Rect::new(0, 0, 80, 20), 640, 480);
        assert_eq!(p.canvas.height, 20);
        assert_eq!(p.canvas.width, 53);
        assert_eq!(p.canvas.x, 13);
        // Width-bound.
        let p = StageProjection::fit(Rect::new(10, 5, 40, 40), 640, 480);
        assert_eq!((p.canvas.width, p.canvas.height), (40, 15));
        assert_eq!(p.canvas.y, 5 + 12);
    }

    #[test]
    fn sprites_cover_cells_around_their_registration_point() {
        let p = StageProjection::fit(Rect::new(0, 0, 64, 24), 640, 480);
        assert_eq!((p.canvas.width, p.canvas.height), (64, 24));
        let mut s = SpriteDelta::new(3, 1);
        s.loc_h = Some(320.0);
        s.loc_v = Some(240.0);
        s.width = Some(100.0);
        s.height = Some(100.0);
        let placed = p.place(&s, None).unwrap();
        // Centred: 270..370 px → cols 27..37; 190..290 px → rows 9..15.
        assert_eq!(placed.cells, Rect::new(27, 9, 10, 6));
        s.visible = Some(false);
        assert!(p.place(&s, None).is_none());
        assert_eq!(p.cell_to_stage(0, 0), Some((5.0, 10.0)));
    }
}
