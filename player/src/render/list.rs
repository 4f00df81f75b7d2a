//! The render list: what a tick looks like, resolved into plain drawing instructions.
//!
//! The engine thread builds one per tick ([`RenderList::from_state`]) and hands it to the
//! render thread. It is cheap on purpose: sprites are already evaluated by the engine, bitmaps
//! travel as shared pointers (never copied), and text is only described here — the render
//! thread lays it out and rasterises it (and caches the result).
//!
//! The drawing conventions are the browser viewer's (`host-ws/assets/viewer/viewer.js`), so
//! that a viewer drawing sprites and a viewer showing these pixels agree: order by `loc_z`
//! then `sprite_num`; `loc` places the member's registration point (a bitmap's or film loop's
//! `reg_point`, the centre for shapes and text); transform = translate to `loc`, rotate
//! clockwise, skew horizontally, minus the registration point; the sprite's `color`
//! multiplies what the member draws; `blend` is opacity; ink 36 and 8 key out white bitmap
//! pixels; text sits on a white box unless the ink is 36.

use std::sync::Arc;

use stagelink_contracts::{Color, PropValue};

use crate::engine::EngineState;
use crate::member::{Alignment, MemberKind, ShapeType};
use crate::movie::Movie;
use crate::score::SpriteState;

/// Ink 8, "matte": white bitmap pixels are transparent.
pub const INK_MATTE: u32 = 8;
/// Ink 36, "background transparent": white bitmap pixels are transparent, text has no box.
pub const INK_BACKGROUND_TRANSPARENT: u32 = 36;

/// A 2-D affine transform in the canvas convention: `x' = a·x + c·y + e`, `y' = b·x + d·y + f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Affine {
    /// The identity.
    pub const IDENTITY: Affine = Affine {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 1.0,
        e: 0.0,
        f: 0.0,
    };

    /// A translation.
    pub fn translate(x: f64, y: f64) -> Affine {
        Affine {
            e: x,
            f: y,
            ..Affine::IDENTITY
        }
    }

    /// A scale about the origin.
    pub fn scale(sx: f64, sy: f64) -> Affine {
        Affine {
            a: sx,
            d: sy,
            ..Affine::IDENTITY
        }
    }

    /// A clockwise rotation (y points down) by `degrees`.
    pub fn rotate(degrees: f64) -> Affine {
        let (sin, cos) = degrees.to_radians().sin_cos();
        Affine {
            a: cos,
            b: sin,
            c: -sin,
            d: cos,
            ..Affine::IDENTITY
        }
    }

    /// A horizontal skew by `degrees` (`x' = x + tan(skew)·y`), as canvas `transform(1,0,k,1,0,0)`.
    pub fn skew_x(degrees: f64) -> Affine {
        Affine {
            c: degrees.to_radians().tan(),
            ..Affine::IDENTITY
        }
    }

    /// `self ∘ then`: applies `then` first, then `self` (canvas `transform` order).
    pub fn then(&self, then: &Affine) -> Affine {
        Affine {
            a: self.a * then.a + self.c * then.b,
            b: self.b * then.a + self.d * then.b,
            c: self.a * then.c + self.c * then.d,
            d: self.b * then.c + self.d * then.d,
            e: self.a * then.e + self.c * then.f + self.e,
            f: self.b * then.e + self.d * then.f + self.f,
        }
    }

    /// Maps a point.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.a * x + self.c * y + self.e,
            self.b * x + self.d * y + self.f,
        )
    }

    /// The determinant of the linear part (area scale).
    pub fn determinant(&self) -> f64 {
        self.a * self.d - self.b * self.c
    }

    /// The inverse, or `None` when the transform collapses the plane (a zero size).
    pub fn invert(&self) -> Option<Affine> {
        let det = self.determinant();
        if !det.is_finite() || det.abs() < 1e-12 {
            return None;
        }
        let a = self.d / det;
        let b = -self.b / det;
        let c = -self.c / det;
        let d = self.a / det;
        Some(Affine {
            a,
            b,
            c,
            d,
            e: -(a * self.e + c * self.f),
            f: -(b * self.e + d * self.f),
        })
    }
}

/// Straight-alpha colour with channels in `0.0..=1.0`.
pub type Rgba = [f32; 4];

/// A colour as floats.
pub fn rgba(c: Color) -> Rgba {
    [
        f32::from(c.r) / 255.0,
        f32::from(c.g) / 255.0,
        f32::from(c.b) / 255.0,
        f32::from(c.a) / 255.0,
    ]
}

/// `c` multiplied channel by channel by `tint` (what a sprite's `color` does).
pub fn modulate(c: Rgba, tint: Rgba) -> Rgba {
    [
        c[0] * tint[0],
        c[1] * tint[1],
        c[2] * tint[2],
        c[3] * tint[3],
    ]
}

/// An image: straight-alpha RGBA8, row-major. Compared by identity, never by content, so
/// comparing two render lists costs nothing however big the bitmaps are.
#[derive(Debug, Clone)]
pub struct ImageData {
    pub width: u32,
    pub height: u32,
    pub pixels: Arc<Vec<u8>>,
}

impl ImageData {
    /// The identity the GPU's image cache keys on (valid while this `Arc` lives).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.pixels) as usize
    }
}

impl PartialEq for ImageData {
    fn eq(&self, other: &Self) -> bool {
        self.width == other.width
            && self.height == other.height
            && Arc::ptr_eq(&self.pixels, &other.pixels)
    }
}

/// A style run of a text block (byte range of the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextStyleRun {
    pub start: u32,
    pub end: u32,
    pub style: TextStyle,
}

/// The styles the bitmap font can show (`font` and `font_size` runs are not drawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextStyle {
    Bold(bool),
    Italic(bool),
    Underline(bool),
    /// Already multiplied by the sprite's colour.
    Color([u8; 4]),
}

/// Horizontal alignment of a text block (the member's `alignment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextAlign {
    Left,
    Center,
    Right,
}

impl From<Alignment> for TextAlign {
    fn from(a: Alignment) -> Self {
        match a {
            Alignment::Left => TextAlign::Left,
            Alignment::Center => TextAlign::Center,
            Alignment::Right => TextAlign::Right,
        }
    }
}

/// A text member as one sprite shows it: everything that decides its pixels, so it can key
/// the render thread's cache of rasterised text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextBlock {
    pub text: String,
    pub font_size: u32,
    /// The member's colour multiplied by the sprite's (rounded, as the viewer does).
    pub color: [u8; 4],
    pub alignment: TextAlign,
    /// The image size: the sprite's size, in stage pixels, rounded up.
    pub width: u32,
    pub height: u32,
    /// A white box behind the text (every ink but 36).
    pub boxed: bool,
    pub styles: Vec<TextStyleRun>,
}

/// What an item draws, in its own local space `0..width × 0..height`.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A vector shape. `color` is the member's `fore_color` multiplied by the sprite's colour.
    Shape {
        shape: ShapeType,
        color: Rgba,
        filled: bool,
        /// Stroke width in local units (strokes and lines).
        line_width: f32,
    },
    /// A bitmap stretched over the item; `keyed` makes pure white transparent.
    Image { image: ImageData, keyed: bool },
    /// Text, laid out and rasterised by the render thread.
    Text(TextBlock),
}

/// One thing to draw, in paint order.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawItem {
    /// Which sprite it comes from (`(sprite_num, begin_frame)`; a film loop's own sprites
    /// carry their film loop's key).
    pub key: (u32, u32),
    /// Local space (`0..width × 0..height`) to stage pixels.
    pub to_stage: Affine,
    pub width: f64,
    pub height: f64,
    /// Opacity, `0.0..=1.0` (`blend / 100`, times any film loop's).
    pub alpha: f32,
    /// Multiplies what `content` draws (images only: shapes and text have it folded in).
    pub tint: Rgba,
    pub content: Content,
}

/// The transition in progress, as the engine started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionState {
    pub kind: String,
    pub started_ms: u64,
    pub duration_ms: u32,
}

/// One tick's picture, ready for a renderer.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderList {
    /// The score frame this shows (pixel tiles carry it).
    pub frame: u32,
    pub width: u32,
    pub height: u32,
    pub background: Color,
    /// Paint order, back to front.
    pub items: Vec<DrawItem>,
    pub transition: Option<TransitionState>,
    /// Movie time, for the transition's progress.
    pub time_ms: u64,
    /// The `update_lock` movie property: keep showing the last frame drawn.
    pub update_lock: bool,
}

impl RenderList {
    /// Resolves the engine's current frame into draw items.
    pub fn from_state(state: &EngineState) -> RenderList {
        let movie = &state.movie;
        let mut items = Vec::new();
        let mut sprites: Vec<&SpriteState> = state.sprites().iter().collect();
        sort_paint_order(&mut sprites);
        for sprite in sprites {
            let Some(placed) = place(movie, sprite) else {
                continue;
            };
            if let Some(MemberKind::FilmLoop(film)) = movie.member(sprite.member).map(|m| &m.kind) {
                // The film loop's own sprites, in its member space (`width × height`), scaled
                // to the sprite's size.
                let (fw, fh) = (f64::from(film.width), f64::from(film.height));
                if fw <= 0.0 || fh <= 0.0 {
                    continue;
                }
                let to_stage = placed
                    .to_stage
                    .then(&Affine::scale(placed.width / fw, placed.height / fh));
                let inner = state.film_loop_sprites(sprite.member);
                let mut inner_refs: Vec<&SpriteState> = inner.iter().collect();
                sort_paint_order(&mut inner_refs);
                for child in inner_refs {
                    let Some(mut item) = place(movie, child) else {
                        continue;
                    };
                    if matches!(
                        movie.member(child.member).map(|m| &m.kind),
                        Some(MemberKind::FilmLoop(_))
                    ) {
                        continue;
                    }
                    item.to_stage = to_stage.then(&item.to_stage);
                    item.alpha *= placed.alpha;
                    item.tint = modulate(item.tint, placed.tint);
                    item.key = sprite.key();
                    push_content(movie, child, item, &mut items);
                }
                continue;
            }
            push_content(movie, sprite, placed, &mut items);
        }
        RenderList {
            frame: state.frame(),
            width: movie.stage.width,
            height: movie.stage.height,
            background: movie.stage.bg_color,
            items,
            transition: state.transition().map(|t| TransitionState {
                kind: t.kind.clone(),
                started_ms: t.started_ms,
                duration_ms: t.duration_ms,
            }),
            time_ms: state.time_ms(),
            update_lock: movie.update_lock,
        }
    }
}

fn sort_paint_order(sprites: &mut [&SpriteState]) {
    sprites.sort_by_key(|s| (s.loc_z, s.sprite_num, s.begin_frame));
}

/// Size and placement of a sprite; `content` is a placeholder the caller replaces.
fn place(movie: &Movie, s: &SpriteState) -> Option<DrawItem> {
    if !s.visible || s.blend == 0 {
        return None;
    }
    let member = movie.member(s.member)?;
    let (mw, mh, reg) = match &member.kind {
        MemberKind::Bitmap(b) => (f64::from(b.width), f64::from(b.height), Some(b.reg_point)),
        MemberKind::FilmLoop(f) => (f64::from(f.width), f64::from(f.height), Some(f.reg_point)),
        MemberKind::Shape(sh) => (f64::from(sh.width), f64::from(sh.height), None),
        MemberKind::Text(t) => (f64::from(t.width), f64::from(t.height), None),
        MemberKind::Sound(_) => return None,
    };
    let w = if s.width > 0.0 { s.width } else { mw };
    let h = if s.height > 0.0 { s.height } else { mh };
    if !(w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()) {
        return None;
    }
    // reg_point is in member pixels; a sprite drawn at another size scales it along.
    let (rx, ry) = match reg {
        Some([x, y]) => (
            if mw > 0.0 { x * w / mw } else { x },
            if mh > 0.0 { y * h / mh } else { y },
        ),
        None => (w / 2.0, h / 2.0),
    };
    let to_stage = Affine::translate(s.loc_h, s.loc_v)
        .then(&Affine::rotate(s.rotation))
        .then(&Affine::skew_x(s.skew))
        .then(&Affine::translate(-rx, -ry));
    Some(DrawItem {
        key: s.key(),
        to_stage,
        width: w,
        height: h,
        alpha: f32::from(s.blend.min(100)) / 100.0,
        tint: rgba(s.color),
        content: Content::Shape {
            shape: ShapeType::Rect,
            color: [0.0; 4],
            filled: true,
            line_width: 1.0,
        },
    })
}

/// Fills in what the sprite's member draws and appends the item (if it draws anything).
fn push_content(movie: &Movie, s: &SpriteState, mut item: DrawItem, out: &mut Vec<DrawItem>) {
    let Some(member) = movie.member(s.member) else {
        return;
    };
    item.content = match &member.kind {
        MemberKind::Shape(sh) => Content::Shape {
            shape: sh.shape_type,
            color: modulate(rgba(sh.fore_color), item.tint),
            filled: sh.filled || sh.shape_type == ShapeType::Line,
            line_width: sh.line_size.max(1) as f32,
        },
        MemberKind::Bitmap(b) => {
            if b.width == 0 || b.height == 0 {
                return;
            }
            Content::Image {
                image: ImageData {
                    width: b.width,
                    height: b.height,
                    pixels: b.pixels.clone(),
                },
                keyed: s.ink == INK_BACKGROUND_TRANSPARENT || s.ink == INK_MATTE,
            }
        }
        MemberKind::Text(t) => {
            let tint = item.tint;
            let color = tinted_u8(t.color, tint);
            let styles = t
                .styles
                .iter()
                .filter_map(|run| {
                    let style = match (run.style.as_str(), &run.value) {
                        ("bold", PropValue::Bool(v)) => TextStyle::Bold(*v),
                        ("italic", PropValue::Bool(v)) => TextStyle::Italic(*v),
                        ("underline", PropValue::Bool(v)) => TextStyle::Underline(*v),
                        ("color", PropValue::Color(c)) => TextStyle::Color(tinted_u8(*c, tint)),
                        _ => return None,
                    };
                    Some(TextStyleRun {
                        start: run.start,
                        end: run.end,
                        style,
                    })
                })
                .collect();
            item.tint = [1.0; 4];
            Content::Text(TextBlock {
                text: t.text.clone(),
                font_size: t.font_size.max(1),
                color,
                alignment: t.alignment.into(),
                width: item.width.ceil().min(8192.0) as u32,
                height: item.height.ceil().min(8192.0) as u32,
                boxed: s.ink != INK_BACKGROUND_TRANSPARENT,
                styles,
            })
        }
        MemberKind::Sound(_) | MemberKind::FilmLoop(_) => return,
    };
    out.push(item);
}

/// The viewer's `tinted()`: channels multiplied and rounded.
fn tinted_u8(c: Color, tint: Rgba) -> [u8; 4] {
    let ch = |v: u8, t: f32| (f32::from(v) * t).round().clamp(0.0, 255.0) as u8;
    [
        ch(c.r, tint[0]),
        ch(c.g, tint[1]),
        ch(c.b, tint[2]),
        ch(c.a, tint[3]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_composes_in_canvas_order_and_inverts() {
        let m = Affine::translate(10.0, 20.0)
            .then(&Affine::rotate(90.0))
            .then(&Affine::translate(-5.0, 0.0));
        // (5,0) → (0,0) → rotated (0,0) → (10,20)
        let (x, y) = m.apply(5.0, 0.0);
        assert!((x - 10.0).abs() < 1e-9 && (y - 20.0).abs() < 1e-9);
        // (6,0) → (1,0) → clockwise 90° (0,1) → (10,21)
        let (x, y) = m.apply(6.0, 0.0);
        assert!((x - 10.0).abs() < 1e-9 && (y - 21.0).abs() < 1e-9);
        let inv = m.invert().unwrap();
        let (x, y) = inv.apply(10.0, 21.0);
        assert!((x - 6.0).abs() < 1e-9 && y.abs() < 1e-9);
        assert!(Affine::scale(0.0, 1.0).invert().is_none());
    }

    #[test]
    fn the_demo_paints_by_loc_z_and_registers_shapes_at_their_centre() {
        let mut engine = crate::demo::demo_engine();
        engine.tick([]);
        let list = RenderList::from_state(engine.state());
        assert_eq!((list.width, list.height), (640, 480));
        assert_eq!(list.items[0].key, (1, 1), "the background first");
        let title = list.items.iter().find(|i| i.key == (2, 1)).unwrap();
        // 320×32 centred on (320, 30)
        let (x, y) = title.to_stage.apply(0.0, 0.0);
        assert!((x - 160.0).abs() < 1e-9 && (y - 14.0).abs() < 1e-9);
        assert!(matches!(&title.content, Content::Text(t) if !t.boxed));
    }
}
