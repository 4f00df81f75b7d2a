//! Cast members: bitmaps (pixels in memory), shapes, text, sounds and film loops, with their
//! typed properties.
//!
//! Every property is read through [`Member::props`] (the `stage` snapshot and the `project`
//! document list them) and written through [`Member::set`], which validates first and only
//! then assigns — the same path serves commands, frame scripts and movie files, so a file can
//! never hold a value a command could not set.

use std::sync::Arc;

use stagelink_contracts::{Color, PropValue};

use crate::error::CommandError;
use crate::props;
use crate::score::Score;

/// The largest member width or height, in pixels.
pub const MAX_MEMBER_SIZE: i64 = 8192;

/// A cast member: its name and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Scripts address members by name (`put … into member "label"`).
    pub name: String,
    pub kind: MemberKind,
}

/// What a member is, with the data of that kind.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberKind {
    Bitmap(Bitmap),
    Shape(Shape),
    Text(Text),
    Sound(Sound),
    FilmLoop(FilmLoop),
}

/// An image held in memory as straight-alpha RGBA8, row-major, `width * height * 4` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Bitmap {
    pub width: u32,
    pub height: u32,
    /// The point of the image placed at the sprite's `loc`.
    pub reg_point: [f64; 2],
    /// Shared so cloning a movie (batch commands work on a clone) never copies images.
    pub pixels: Arc<Vec<u8>>,
}

impl Bitmap {
    /// A bitmap from RGBA8 pixels, with the registration point at the centre.
    ///
    /// # Panics
    /// If `pixels` is not `width * height * 4` bytes long (a bug in the caller).
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Self {
        assert_eq!(pixels.len(), width as usize * height as usize * 4);
        Self {
            width,
            height,
            reg_point: [f64::from(width) / 2.0, f64::from(height) / 2.0],
            pixels: Arc::new(pixels),
        }
    }

    /// A transparent bitmap.
    pub fn blank(width: u32, height: u32) -> Self {
        Self::new(width, height, vec![0; width as usize * height as usize * 4])
    }

    /// Resizes the image (nearest neighbour), as setting `width`/`height` does.
    fn resize(&mut self, width: u32, height: u32) {
        let mut out = vec![0u8; width as usize * height as usize * 4];
        if self.width > 0 && self.height > 0 {
            for y in 0..height as usize {
                let sy = y * self.height as usize / height.max(1) as usize;
                for x in 0..width as usize {
                    let sx = x * self.width as usize / width.max(1) as usize;
                    let src = (sy * self.width as usize + sx) * 4;
                    let dst = (y * width as usize + x) * 4;
                    out[dst..dst + 4].copy_from_slice(&self.pixels[src..src + 4]);
                }
            }
        }
        self.width = width;
        self.height = height;
        self.pixels = Arc::new(out);
    }
}

/// The outline a shape member draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeType {
    Rect,
    Oval,
    RoundRect,
    Line,
}

impl ShapeType {
    const NAMES: [&'static str; 4] = ["rect", "oval", "round_rect", "line"];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ShapeType::Rect => "rect",
            ShapeType::Oval => "oval",
            ShapeType::RoundRect => "round_rect",
            ShapeType::Line => "line",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "rect" => Some(ShapeType::Rect),
            "oval" => Some(ShapeType::Oval),
            "round_rect" => Some(ShapeType::RoundRect),
            "line" => Some(ShapeType::Line),
            _ => None,
        }
    }
}

/// A vector shape drawn from its properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub shape_type: ShapeType,
    pub fore_color: Color,
    pub back_color: Color,
    pub filled: bool,
    pub line_size: u32,
    pub width: u32,
    pub height: u32,
}

/// Horizontal alignment of a text member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    Left,
    Center,
    Right,
}

impl Alignment {
    const NAMES: [&'static str; 3] = ["left", "center", "right"];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alignment::Left => "left",
            Alignment::Center => "center",
            Alignment::Right => "right",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "left" => Some(Alignment::Left),
            "center" => Some(Alignment::Center),
            "right" => Some(Alignment::Right),
            _ => None,
        }
    }
}

/// A style applied to a byte range of a text member (`text_styles` stream).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleRun {
    /// Byte offset, inclusive, on a character boundary.
    pub start: u32,
    /// Byte offset, exclusive.
    pub end: u32,
    /// `bold`, `italic`, `underline`, `font`, `font_size` or `color`.
    pub style: String,
    pub value: PropValue,
}

/// The style names a run may set.
pub const STYLE_NAMES: [&str; 6] = ["bold", "italic", "underline", "font", "font_size", "color"];

/// Checks a style's value kind.
pub fn check_style(style: &str, value: &PropValue) -> Result<(), CommandError> {
    match style {
        "bold" | "italic" | "underline" => props::boolean(style, value).map(drop),
        "font" => props::name(style, value).map(drop),
        "font_size" => props::int(style, value, 1..=1000).map(drop),
        "color" => props::color(style, value).map(drop),
        other => Err(CommandError::out_of_range(
            "style",
            format!("one of {STYLE_NAMES:?}"),
            format!("{other:?}"),
        )),
    }
}

/// A text member: a string drawn with a font, plus style runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub text: String,
    pub font: String,
    pub font_size: u32,
    pub color: Color,
    pub alignment: Alignment,
    pub width: u32,
    pub height: u32,
    /// Style runs in the order they were first set; a later run wins where runs overlap.
    pub styles: Vec<StyleRun>,
}

impl Text {
    /// Sets (or replaces) the run `start..end` of `style`. Returns whether anything changed.
    ///
    /// # Errors
    /// `out_of_range` when the range is not inside the text or not on character boundaries;
    /// `invalid_value`/`out_of_range` for a bad style or value.
    pub fn set_style(
        &mut self,
        start: u32,
        end: u32,
        style: &str,
        value: PropValue,
    ) -> Result<bool, CommandError> {
        check_style(style, &value)?;
        let len = self.text.len();
        let (s, e) = (start as usize, end as usize);
        if s > e || e > len || !self.text.is_char_boundary(s) || !self.text.is_char_boundary(e) {
            return Err(CommandError::out_of_range(
                "start..end",
                format!("a range of character boundaries within 0..={len}"),
                format!("{start}..{end}"),
            ));
        }
        let run = StyleRun {
            start,
            end,
            style: style.to_owned(),
            value,
        };
        match self
            .styles
            .iter_mut()
            .find(|r| r.start == start && r.end == end && r.style == style)
        {
            Some(existing) if *existing == run => Ok(false),
            Some(existing) => {
                *existing = run;
                Ok(true)
            }
            None => {
                self.styles.push(run);
                Ok(true)
            }
        }
    }
}

/// A sound: this engine has no audio output, so a sound is its name and duration; the
/// `sounds` stream tells observers when it starts and stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Sound {
    pub duration_ms: u32,
    pub looped: bool,
}

/// A member that plays a sub-score of its own while a sprite shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FilmLoop {
    pub looped: bool,
    pub width: u32,
    pub height: u32,
    pub reg_point: [f64; 2],
    /// Its own frames; member references point into the movie's casts.
    pub score: Score,
}

impl MemberKind {
    /// The kind's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            MemberKind::Bitmap(_) => "bitmap",
            MemberKind::Shape(_) => "shape",
            MemberKind::Text(_) => "text",
            MemberKind::Sound(_) => "sound",
            MemberKind::FilmLoop(_) => "film_loop",
        }
    }

    /// Every kind name.
    pub const NAMES: [&'static str; 5] = ["bitmap", "shape", "text", "sound", "film_loop"];

    /// A member of `kind` with default properties (what a movie file's missing props take).
    pub fn default_of(kind: &str) -> Option<MemberKind> {
        let white = Color::rgb(255, 255, 255);
        Some(match kind {
            "bitmap" => MemberKind::Bitmap(Bitmap::blank(1, 1)),
            "shape" => MemberKind::Shape(Shape {
                shape_type: ShapeType::Rect,
                fore_color: white,
                back_color: Color::rgb(0, 0, 0),
                filled: true,
                line_size: 1,
                width: 32,
                height: 32,
            }),
            "text" => MemberKind::Text(Text {
                text: String::new(),
                font: "sans-serif".into(),
                font_size: 12,
                color: white,
                alignment: Alignment::Left,
                width: 100,
                height: 20,
                styles: Vec::new(),
            }),
            "sound" => MemberKind::Sound(Sound {
                duration_ms: 1000,
                looped: false,
            }),
            "film_loop" => MemberKind::FilmLoop(FilmLoop {
                looped: true,
                width: 64,
                height: 64,
                reg_point: [32.0, 32.0],
                score: Score::new(1),
            }),
            _ => return None,
        })
    }
}

fn size(prop: &str, v: &PropValue) -> Result<u32, CommandError> {
    props::int(prop, v, 0..=MAX_MEMBER_SIZE).map(|n| n as u32)
}

fn int_value(n: u32) -> PropValue {
    PropValue::Int(n.into())
}

impl Member {
    /// A member.
    pub fn new(name: impl Into<String>, kind: MemberKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }

    /// The kind's wire name.
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether a sprite can show it (sounds cannot).
    pub fn is_drawable(&self) -> bool {
        !matches!(self.kind, MemberKind::Sound(_))
    }

    /// Every property but `name`, in a fixed order.
    pub fn props(&self) -> Vec<(&'static str, PropValue)> {
        match &self.kind {
            MemberKind::Bitmap(b) => vec![
                ("width", int_value(b.width)),
                ("height", int_value(b.height)),
                ("reg_point", PropValue::Point(b.reg_point)),
            ],
            MemberKind::Shape(s) => vec![
                ("shape_type", s.shape_type.as_str().into()),
                ("fore_color", s.fore_color.into()),
                ("back_color", s.back_color.into()),
                ("filled", s.filled.into()),
                ("line_size", int_value(s.line_size)),
                ("width", int_value(s.width)),
                ("height", int_value(s.height)),
            ],
            MemberKind::Text(t) => vec![
                ("text", t.text.as_str().into()),
                ("font", t.font.as_str().into()),
                ("font_size", int_value(t.font_size)),
                ("color", t.color.into()),
                ("alignment", t.alignment.as_str().into()),
                ("width", int_value(t.width)),
                ("height", int_value(t.height)),
            ],
            MemberKind::Sound(s) => vec![
                ("duration_ms", int_value(s.duration_ms)),
                ("loop", s.looped.into()),
            ],
            MemberKind::FilmLoop(f) => vec![
                ("frame_count", int_value(f.score.frame_count)),
                ("loop", f.looped.into()),
                ("width", int_value(f.width)),
                ("height", int_value(f.height)),
                ("reg_point", PropValue::Point(f.reg_point)),
            ],
        }
    }

    /// One property (`name` included).
    pub fn get(&self, prop: &str) -> Option<PropValue> {
        if prop == "name" {
            return Some(self.name.as_str().into());
        }
        self.props()
            .into_iter()
            .find(|(p, _)| *p == prop)
            .map(|(_, v)| v)
    }

    /// Sets one property after validating it. Returns whether the value changed.
    ///
    /// # Errors
    /// `unknown_property` for a property this kind does not have (or `frame_count` of a film
    /// loop, which its score decides), `invalid_value` / `out_of_range` for a bad value.
    pub fn set(&mut self, prop: &str, v: &PropValue) -> Result<bool, CommandError> {
        if prop == "name" {
            let name = props::name(prop, v)?;
            return Ok(replace(&mut self.name, name));
        }
        let kind = self.kind.name();
        let unknown = || CommandError::unknown_property(format!("a {kind} member"), prop);
        match &mut self.kind {
            MemberKind::Bitmap(b) => match prop {
                "width" | "height" => {
                    let n = size(prop, v)?;
                    let (w, h) = if prop == "width" {
                        (n, b.height)
                    } else {
                        (b.width, n)
                    };
                    if (w, h) == (b.width, b.height) {
                        return Ok(false);
                    }
                    b.resize(w, h);
                    Ok(true)
                }
                "reg_point" => Ok(replace(&mut b.reg_point, props::point(prop, v)?)),
                _ => Err(unknown()),
            },
            MemberKind::Shape(s) => match prop {
                "shape_type" => {
                    let t = props::choice(prop, v, &ShapeType::NAMES)?;
                    Ok(replace(
                        &mut s.shape_type,
                        ShapeType::parse(t).unwrap_or(ShapeType::Rect),
                    ))
                }
                "fore_color" => Ok(replace(&mut s.fore_color, props::color(prop, v)?)),
                "back_color" => Ok(replace(&mut s.back_color, props::color(prop, v)?)),
                "filled" => Ok(replace(&mut s.filled, props::boolean(prop, v)?)),
                "line_size" => Ok(replace(
                    &mut s.line_size,
                    props::int(prop, v, 0..=100)? as u32,
                )),
                "width" => Ok(replace(&mut s.width, size(prop, v)?)),
                "height" => Ok(replace(&mut s.height, size(prop, v)?)),
                _ => Err(unknown()),
            },
            MemberKind::Text(t) => match prop {
                "text" => Ok(replace(&mut t.text, props::text(prop, v)?)),
                "font" => Ok(replace(&mut t.font, props::name(prop, v)?)),
                "font_size" => Ok(replace(
                    &mut t.font_size,
                    props::int(prop, v, 1..=1000)? as u32,
                )),
                "color" => Ok(replace(&mut t.color, props::color(prop, v)?)),
                "alignment" => {
                    let a = props::choice(prop, v, &Alignment::NAMES)?;
                    Ok(replace(
                        &mut t.alignment,
                        Alignment::parse(a).unwrap_or(Alignment::Left),
                    ))
                }
                "width" => Ok(replace(&mut t.width, size(prop, v)?)),
                "height" => Ok(replace(&mut t.height, size(prop, v)?)),
                _ => Err(unknown()),
            },
            MemberKind::Sound(s) => match prop {
                "duration_ms" => Ok(replace(
                    &mut s.duration_ms,
                    props::int(prop, v, 0..=3_600_000)? as u32,
                )),
                "loop" => Ok(replace(&mut s.looped, props::boolean(prop, v)?)),
                _ => Err(unknown()),
            },
            MemberKind::FilmLoop(f) => match prop {
                "loop" => Ok(replace(&mut f.looped, props::boolean(prop, v)?)),
                "width" => Ok(replace(&mut f.width, size(prop, v)?)),
                "height" => Ok(replace(&mut f.height, size(prop, v)?)),
                "reg_point" => Ok(replace(&mut f.reg_point, props::point(prop, v)?)),
                _ => Err(unknown()),
            },
        }
    }
}

/// Assigns and reports whether the value changed.
pub(crate) fn replace<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        false
    } else {
        *slot = value;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::ErrorCode;

    fn text_member() -> Member {
        Member::new("label", MemberKind::default_of("text").unwrap())
    }

    #[test]
    fn setters_validate_before_assigning() {
        let mut m = text_member();
        assert_eq!(m.set("text", &"héllo".into()), Ok(true));
        assert_eq!(m.set("text", &"héllo".into()), Ok(false));
        let before = m.clone();
        assert_eq!(
            m.set("font_size", &PropValue::Int(0)).unwrap_err().code(),
            ErrorCode::OutOfRange
        );
        assert_eq!(
            m.set("color", &"red".into()).unwrap_err().code(),
            ErrorCode::InvalidValue
        );
        assert_eq!(
            m.set("shape_type", &"oval".into()).unwrap_err().code(),
            ErrorCode::UnknownProperty
        );
        assert_eq!(m, before);
        assert_eq!(m.get("name"), Some("label".into()));
    }

    #[test]
    fn style_runs_respect_character_boundaries() {
        let mut m = text_member();
        m.set("text", &"héllo".into()).unwrap();
        let MemberKind::Text(t) = &mut m.kind else {
            unreachable!()
        };
        assert_eq!(
            t.set_style(0, 2, "bold", true.into()).unwrap_err().code(),
            ErrorCode::OutOfRange
        );
        assert_eq!(t.set_style(0, 3, "bold", true.into()), Ok(true));
        assert_eq!(t.set_style(0, 3, "bold", true.into()), Ok(false));
        assert_eq!(t.set_style(0, 3, "bold", false.into()), Ok(true));
        assert_eq!(t.styles.len(), 1);
        assert_eq!(
            t.set_style(0, 3, "bold", 1.into()).unwrap_err().code(),
            ErrorCode::InvalidValue
        );
    }

    #[test]
    fn resizing_a_bitmap_resamples_its_pixels() {
        let mut m = Member::new("b", MemberKind::Bitmap(Bitmap::new(1, 1, vec![1, 2, 3, 4])));
        assert_eq!(m.set("width", &PropValue::Int(2)), Ok(true));
        let MemberKind::Bitmap(b) = &m.kind else {
            unreachable!()
        };
        assert_eq!(*b.pixels, vec![1, 2, 3, 4, 1, 2, 3, 4]);
    }
}
