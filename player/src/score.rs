//! The score: sprite spans in numbered channels with keyframes, and the tempo, sound,
//! transition, palette, script and marker channels. Also the tweening that turns a span and
//! its keyframes into the sprite's state on a given frame.
//!
//! A span's own properties are its state on `begin_frame` (an implicit keyframe). Numeric
//! properties tween linearly between keyframes (integers and colour channels are rounded);
//! `member`, `ink` and `visible` step: each holds until the next keyframe. After the last
//! keyframe the value holds.

use serde::{Deserialize, Serialize};
use stagelink_contracts::{
    Color, MemberRef, Palette, PropValue, SpriteDelta, TempoChange, Transition,
};

use crate::error::CommandError;
use crate::props::{self, round2};
use crate::script::Script;

/// A sprite property (every `SpriteDelta` field but the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpriteProp {
    EndFrame,
    Member,
    LocH,
    LocV,
    LocZ,
    Width,
    Height,
    Rotation,
    Skew,
    Blend,
    Ink,
    Visible,
    Color,
}

/// How a property moves between keyframes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tween {
    Linear,
    Rounded,
    Channels,
    Step,
}

impl SpriteProp {
    /// Every property, in wire order.
    pub const ALL: [SpriteProp; 13] = [
        SpriteProp::EndFrame,
        SpriteProp::Member,
        SpriteProp::LocH,
        SpriteProp::LocV,
        SpriteProp::LocZ,
        SpriteProp::Width,
        SpriteProp::Height,
        SpriteProp::Rotation,
        SpriteProp::Skew,
        SpriteProp::Blend,
        SpriteProp::Ink,
        SpriteProp::Visible,
        SpriteProp::Color,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpriteProp::EndFrame => "end_frame",
            SpriteProp::Member => "member",
            SpriteProp::LocH => "loc_h",
            SpriteProp::LocV => "loc_v",
            SpriteProp::LocZ => "loc_z",
            SpriteProp::Width => "width",
            SpriteProp::Height => "height",
            SpriteProp::Rotation => "rotation",
            SpriteProp::Skew => "skew",
            SpriteProp::Blend => "blend",
            SpriteProp::Ink => "ink",
            SpriteProp::Visible => "visible",
            SpriteProp::Color => "color",
        }
    }

    /// Looks a property up by name.
    ///
    /// # Errors
    /// `unknown_property`, also for the key fields `sprite_num` and `begin_frame`.
    pub fn parse(name: &str) -> Result<SpriteProp, CommandError> {
        SpriteProp::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| CommandError::unknown_property("a sprite", name))
    }

    fn index(self) -> usize {
        self as usize
    }

    fn tween(self) -> Tween {
        match self {
            SpriteProp::LocH
            | SpriteProp::LocV
            | SpriteProp::Width
            | SpriteProp::Height
            | SpriteProp::Rotation
            | SpriteProp::Skew => Tween::Linear,
            SpriteProp::LocZ | SpriteProp::Blend => Tween::Rounded,
            SpriteProp::Color => Tween::Channels,
            SpriteProp::EndFrame | SpriteProp::Member | SpriteProp::Ink | SpriteProp::Visible => {
                Tween::Step
            }
        }
    }
}

/// A sprite's complete state on one frame (a "full sprite").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpriteState {
    pub sprite_num: u32,
    pub begin_frame: u32,
    pub end_frame: u32,
    pub member: MemberRef,
    pub loc_h: f64,
    pub loc_v: f64,
    pub loc_z: i32,
    pub width: f64,
    pub height: f64,
    pub rotation: f64,
    pub skew: f64,
    /// Opacity, 0–100.
    pub blend: u8,
    pub ink: u32,
    pub visible: bool,
    pub color: Color,
}

impl SpriteState {
    /// The span key `(sprite_num, begin_frame)`.
    pub fn key(&self) -> (u32, u32) {
        (self.sprite_num, self.begin_frame)
    }

    /// One property's value.
    pub fn get(&self, prop: SpriteProp) -> PropValue {
        match prop {
            SpriteProp::EndFrame => self.end_frame.into(),
            SpriteProp::Member => PropValue::Member(self.member),
            SpriteProp::LocH => self.loc_h.into(),
            SpriteProp::LocV => self.loc_v.into(),
            SpriteProp::LocZ => self.loc_z.into(),
            SpriteProp::Width => self.width.into(),
            SpriteProp::Height => self.height.into(),
            SpriteProp::Rotation => self.rotation.into(),
            SpriteProp::Skew => self.skew.into(),
            SpriteProp::Blend => u32::from(self.blend).into(),
            SpriteProp::Ink => self.ink.into(),
            SpriteProp::Visible => self.visible.into(),
            SpriteProp::Color => self.color.into(),
        }
    }

    /// Validates `value` for `prop` and writes it. Whether a member exists and whether a new
    /// `end_frame` fits the channel are the caller's to check (they need the movie).
    ///
    /// # Errors
    /// `invalid_value` for the wrong kind, `out_of_range` for a bad value.
    pub fn set(&mut self, prop: SpriteProp, value: &PropValue) -> Result<(), CommandError> {
        let name = prop.as_str();
        match prop {
            SpriteProp::EndFrame => {
                self.end_frame = props::int(
                    name,
                    value,
                    i64::from(self.begin_frame)..=i64::from(u32::MAX),
                )? as u32;
            }
            SpriteProp::Member => self.member = props::member(name, value)?,
            SpriteProp::LocH => self.loc_h = props::number(name, value, None)?,
            SpriteProp::LocV => self.loc_v = props::number(name, value, None)?,
            SpriteProp::LocZ => {
                self.loc_z =
                    props::int(name, value, i64::from(i32::MIN)..=i64::from(i32::MAX))? as i32;
            }
            SpriteProp::Width => self.width = props::number(name, value, Some(0.0))?,
            SpriteProp::Height => self.height = props::number(name, value, Some(0.0))?,
            SpriteProp::Rotation => self.rotation = props::number(name, value, None)?,
            SpriteProp::Skew => self.skew = props::number(name, value, None)?,
            SpriteProp::Blend => self.blend = props::int(name, value, 0..=100)? as u8,
            SpriteProp::Ink => self.ink = props::int(name, value, 0..=63)? as u32,
            SpriteProp::Visible => self.visible = props::boolean(name, value)?,
            SpriteProp::Color => self.color = props::color(name, value)?,
        }
        Ok(())
    }

    /// Copies one property from `other`.
    pub fn copy_prop(&mut self, prop: SpriteProp, other: &SpriteState) {
        match prop {
            SpriteProp::EndFrame => self.end_frame = other.end_frame,
            SpriteProp::Member => self.member = other.member,
            SpriteProp::LocH => self.loc_h = other.loc_h,
            SpriteProp::LocV => self.loc_v = other.loc_v,
            SpriteProp::LocZ => self.loc_z = other.loc_z,
            SpriteProp::Width => self.width = other.width,
            SpriteProp::Height => self.height = other.height,
            SpriteProp::Rotation => self.rotation = other.rotation,
            SpriteProp::Skew => self.skew = other.skew,
            SpriteProp::Blend => self.blend = other.blend,
            SpriteProp::Ink => self.ink = other.ink,
            SpriteProp::Visible => self.visible = other.visible,
            SpriteProp::Color => self.color = other.color,
        }
    }

    /// The full sprite as the wire carries it (every field present).
    pub fn to_delta(&self) -> SpriteDelta {
        SpriteDelta {
            sprite_num: self.sprite_num,
            begin_frame: self.begin_frame,
            end_frame: Some(self.end_frame),
            member: Some(self.member),
            loc_h: Some(self.loc_h),
            loc_v: Some(self.loc_v),
            loc_z: Some(self.loc_z),
            width: Some(self.width),
            height: Some(self.height),
            rotation: Some(self.rotation),
            skew: Some(self.skew),
            blend: Some(self.blend),
            ink: Some(self.ink),
            visible: Some(self.visible),
            color: Some(self.color),
        }
    }

    /// The fields that differ from `old`, or `None` when nothing changed.
    pub fn diff(&self, old: &SpriteState) -> Option<SpriteDelta> {
        let mut d = SpriteDelta::new(self.sprite_num, self.begin_frame);
        let mut changed = false;
        macro_rules! field {
            ($($f:ident),*) => {$(
                if self.$f != old.$f {
                    d.$f = Some(self.$f);
                    changed = true;
                }
            )*};
        }
        field!(
            end_frame, member, loc_h, loc_v, loc_z, width, height, rotation, skew, blend, ink,
            visible, color
        );
        changed.then_some(d)
    }

    /// Overwrites every field `delta` carries (a puppet override).
    pub fn apply(&mut self, delta: &SpriteDelta) {
        macro_rules! take {
            ($($f:ident),*) => {$( if let Some(v) = delta.$f { self.$f = v; } )*};
        }
        take!(
            end_frame, member, loc_h, loc_v, loc_z, width, height, rotation, skew, blend, ink,
            visible, color
        );
    }
}

/// Sets one field of an override delta from a state that already holds the validated value.
pub fn delta_set(delta: &mut SpriteDelta, prop: SpriteProp, from: &SpriteState) {
    match prop {
        SpriteProp::EndFrame => delta.end_frame = Some(from.end_frame),
        SpriteProp::Member => delta.member = Some(from.member),
        SpriteProp::LocH => delta.loc_h = Some(from.loc_h),
        SpriteProp::LocV => delta.loc_v = Some(from.loc_v),
        SpriteProp::LocZ => delta.loc_z = Some(from.loc_z),
        SpriteProp::Width => delta.width = Some(from.width),
        SpriteProp::Height => delta.height = Some(from.height),
        SpriteProp::Rotation => delta.rotation = Some(from.rotation),
        SpriteProp::Skew => delta.skew = Some(from.skew),
        SpriteProp::Blend => delta.blend = Some(from.blend),
        SpriteProp::Ink => delta.ink = Some(from.ink),
        SpriteProp::Visible => delta.visible = Some(from.visible),
        SpriteProp::Color => delta.color = Some(from.color),
    }
}

/// A keyframe: on `frame`, `prop` of the span takes `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyframeDef {
    pub frame: u32,
    pub prop: SpriteProp,
    /// Kept as given (an integer stays an integer), so a saved movie reads back identical.
    pub value: PropValue,
}

/// A sprite span: channel `sprite_num`, frames `begin_frame..=end_frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpriteSpan {
    /// The state on `begin_frame`, before keyframes (key and `end_frame` included).
    pub base: SpriteState,
    /// Sorted by frame, then property.
    pub keyframes: Vec<KeyframeDef>,
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

fn lerp_channel(a: u8, b: u8, t: f64) -> u8 {
    lerp(f64::from(a), f64::from(b), t)
        .round()
        .clamp(0.0, 255.0) as u8
}

impl SpriteSpan {
    /// A span without keyframes.
    pub fn new(base: SpriteState) -> Self {
        Self {
            base,
            keyframes: Vec::new(),
        }
    }

    /// The span key `(sprite_num, begin_frame)`.
    pub fn key(&self) -> (u32, u32) {
        self.base.key()
    }

    /// Whether the span covers `frame`.
    pub fn covers(&self, frame: u32) -> bool {
        self.base.begin_frame <= frame && frame <= self.base.end_frame
    }

    /// Adds a keyframe after validating it, keeping the order. Replaces one on the same frame
    /// and property.
    ///
    /// # Errors
    /// `out_of_range` outside the span, `unknown_property` for `end_frame` (not tweenable),
    /// and the property's own value checks.
    pub fn add_keyframe(&mut self, kf: KeyframeDef) -> Result<(), CommandError> {
        if kf.prop == SpriteProp::EndFrame {
            return Err(CommandError::unknown_property("a keyframe", "end_frame"));
        }
        if !self.covers(kf.frame) {
            return Err(CommandError::out_of_range(
                "frame",
                format!("{}..={}", self.base.begin_frame, self.base.end_frame),
                kf.frame,
            ));
        }
        self.base.clone().set(kf.prop, &kf.value)?;
        self.keyframes
            .retain(|k| !(k.frame == kf.frame && k.prop == kf.prop));
        let at = self
            .keyframes
            .partition_point(|k| (k.frame, k.prop) < (kf.frame, kf.prop));
        self.keyframes.insert(at, kf);
        Ok(())
    }

    /// The keyframes set exactly on `frame`.
    pub fn keyframes_at(&self, frame: u32) -> impl Iterator<Item = &KeyframeDef> {
        self.keyframes.iter().filter(move |k| k.frame == frame)
    }

    /// The sprite's state on `frame`, keyframes tweened.
    pub fn eval(&self, frame: u32) -> SpriteState {
        let mut out = self.base;
        if self.keyframes.is_empty() {
            return out;
        }
        let mut prev: [Option<&KeyframeDef>; 13] = [None; 13];
        let mut next: [Option<&KeyframeDef>; 13] = [None; 13];
        for k in &self.keyframes {
            let i = k.prop.index();
            if k.frame <= frame {
                prev[i] = Some(k);
            } else if next[i].is_none() {
                next[i] = Some(k);
            }
        }
        for prop in SpriteProp::ALL {
            let i = prop.index();
            if prev[i].is_none() && next[i].is_none() {
                continue;
            }
            let (f0, v0) = match prev[i] {
                Some(k) => (k.frame, k.value.clone()),
                None => (self.base.begin_frame, self.base.get(prop)),
            };
            let Some(n) = next[i].filter(|_| prop.tween() != Tween::Step) else {
                // Hold (validated on load, so a failure here cannot happen; keep the base).
                let _ = out.set(prop, &v0);
                continue;
            };
            let t = f64::from(frame.saturating_sub(f0)) / f64::from((n.frame - f0).max(1));
            match prop.tween() {
                Tween::Linear | Tween::Rounded => {
                    let (Some(a), Some(b)) = (v0.as_f64(), n.value.as_f64()) else {
                        continue;
                    };
                    let v = lerp(a, b, t);
                    let v = if prop.tween() == Tween::Rounded {
                        PropValue::Int(v.round() as i64)
                    } else {
                        PropValue::Float(round2(v))
                    };
                    let _ = out.set(prop, &v);
                }
                Tween::Channels => {
                    let (Some(a), Some(b)) = (v0.as_color(), n.value.as_color()) else {
                        continue;
                    };
                    out.color = Color {
                        r: lerp_channel(a.r, b.r, t),
                        g: lerp_channel(a.g, b.g, t),
                        b: lerp_channel(a.b, b.b, t),
                        a: lerp_channel(a.a, b.a, t),
                    };
                }
                Tween::Step => {}
            }
        }
        out
    }
}

/// A sound cue: entering `frame` starts the member in `channel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoundCueDef {
    pub frame: u32,
    pub channel: u32,
    pub cast_lib: u32,
    pub member_num: u32,
}

impl SoundCueDef {
    /// The member it plays.
    pub fn member(&self) -> MemberRef {
        MemberRef {
            cast_lib: self.cast_lib,
            member_num: self.member_num,
        }
    }
}

/// A frame script: runs when the playhead enters any frame of `frame..=end_frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameScriptDef {
    pub frame: u32,
    pub end_frame: u32,
    /// The script's name, as the `frame_scripts` stream reports it.
    pub script: String,
    pub code: Script,
}

/// A named frame (`go loop` returns to the nearest marker at or before the playhead; the
/// `frame_label` movie property names the current one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    pub frame: u32,
    pub name: String,
}

/// The score of a movie or of a film loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub frame_count: u32,
    /// Sorted by `(sprite_num, begin_frame)`; spans of one channel never overlap.
    pub sprites: Vec<SpriteSpan>,
    pub tempos: Vec<TempoChange>,
    pub sounds: Vec<SoundCueDef>,
    pub transitions: Vec<Transition>,
    pub frame_scripts: Vec<FrameScriptDef>,
    pub palettes: Vec<Palette>,
    pub markers: Vec<Marker>,
}

impl Score {
    /// An empty score of `frame_count` frames.
    pub fn new(frame_count: u32) -> Self {
        Self {
            frame_count,
            sprites: Vec::new(),
            tempos: Vec::new(),
            sounds: Vec::new(),
            transitions: Vec::new(),
            frame_scripts: Vec::new(),
            palettes: Vec::new(),
            markers: Vec::new(),
        }
    }

    /// The span `(sprite_num, begin_frame)`.
    pub fn span(&self, sprite_num: u32, begin_frame: u32) -> Option<&SpriteSpan> {
        self.index_of(sprite_num, begin_frame)
            .map(|i| &self.sprites[i])
    }

    /// The span `(sprite_num, begin_frame)`, mutably.
    pub fn span_mut(&mut self, sprite_num: u32, begin_frame: u32) -> Option<&mut SpriteSpan> {
        self.index_of(sprite_num, begin_frame)
            .map(move |i| &mut self.sprites[i])
    }

    fn index_of(&self, sprite_num: u32, begin_frame: u32) -> Option<usize> {
        self.sprites
            .binary_search_by_key(&(sprite_num, begin_frame), SpriteSpan::key)
            .ok()
    }

    /// The spans present on `frame`, by channel.
    pub fn spans_at(&self, frame: u32) -> impl Iterator<Item = &SpriteSpan> {
        self.sprites.iter().filter(move |s| s.covers(frame))
    }

    /// The span of channel `sprite_num` on `frame`, if any.
    pub fn span_in_channel(&self, sprite_num: u32, frame: u32) -> Option<&SpriteSpan> {
        self.sprites
            .iter()
            .find(|s| s.base.sprite_num == sprite_num && s.covers(frame))
    }

    /// The largest `end_frame` the span `(sprite_num, begin_frame)` may take: up to the frame
    /// before the channel's next span, or the last frame.
    pub fn max_end_frame(&self, sprite_num: u32, begin_frame: u32) -> u32 {
        self.sprites
            .iter()
            .filter(|s| s.base.sprite_num == sprite_num && s.base.begin_frame > begin_frame)
            .map(|s| s.base.begin_frame - 1)
            .min()
            .unwrap_or(self.frame_count)
            .min(self.frame_count)
    }

    /// Inserts a span, keeping the order.
    ///
    /// # Errors
    /// `out_of_range` when it does not fit the score or overlaps a span of its channel.
    pub fn insert_span(&mut self, span: SpriteSpan) -> Result<(), CommandError> {
        let b = &span.base;
        if b.sprite_num == 0
            || b.begin_frame == 0
            || b.end_frame < b.begin_frame
            || b.end_frame > self.frame_count
        {
            return Err(CommandError::out_of_range(
                "span",
                format!("channel >= 1 and frames within 1..={}", self.frame_count),
                format!(
                    "channel {} frames {}..={}",
                    b.sprite_num, b.begin_frame, b.end_frame
                ),
            ));
        }
        if let Some(other) = self.sprites.iter().find(|s| {
            s.base.sprite_num == b.sprite_num
                && s.base.begin_frame <= b.end_frame
                && b.begin_frame <= s.base.end_frame
        }) {
            return Err(CommandError::out_of_range(
                "span",
                format!(
                    "clear of the span {}..={} in channel {}",
                    other.base.begin_frame, other.base.end_frame, b.sprite_num
                ),
                format!("{}..={}", b.begin_frame, b.end_frame),
            ));
        }
        let at = self.sprites.partition_point(|s| s.key() < span.key());
        self.sprites.insert(at, span);
        Ok(())
    }

    /// The marker at or before `frame`.
    pub fn marker_before(&self, frame: u32) -> Option<&Marker> {
        self.markers
            .iter()
            .filter(|m| m.frame <= frame)
            .max_by_key(|m| m.frame)
    }

    /// A marker by name.
    pub fn marker(&self, name: &str) -> Option<&Marker> {
        self.markers.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn state(sprite_num: u32, begin: u32, end: u32) -> SpriteState {
        SpriteState {
            sprite_num,
            begin_frame: begin,
            end_frame: end,
            member: MemberRef {
                cast_lib: 1,
                member_num: 1,
            },
            loc_h: 0.0,
            loc_v: 0.0,
            loc_z: 1,
            width: 10.0,
            height: 10.0,
            rotation: 0.0,
            skew: 0.0,
            blend: 100,
            ink: 0,
            visible: true,
            color: Color::rgb(0, 0, 0),
        }
    }

    fn kf(frame: u32, prop: SpriteProp, value: PropValue) -> KeyframeDef {
        KeyframeDef { frame, prop, value }
    }

    #[test]
    fn keyframes_tween_linearly_and_hold_after_the_last() {
        let mut span = SpriteSpan::new(state(1, 1, 100));
        span.add_keyframe(kf(11, SpriteProp::LocH, 100.into()))
            .unwrap();
        span.add_keyframe(kf(21, SpriteProp::LocH, 0.into()))
            .unwrap();
        span.add_keyframe(kf(11, SpriteProp::Blend, 0.into()))
            .unwrap();
        span.add_keyframe(kf(11, SpriteProp::Color, Color::rgb(200, 100, 0).into()))
            .unwrap();
        span.add_keyframe(kf(6, SpriteProp::Visible, false.into()))
            .unwrap();
        // Before the first keyframe: from the base (implicit keyframe at begin_frame).
        assert_eq!(span.eval(1).loc_h, 0.0);
        assert_eq!(span.eval(6).loc_h, 50.0);
        assert_eq!(span.eval(6).blend, 50);
        assert_eq!(span.eval(6).color, Color::rgb(100, 50, 0));
        assert!(span.eval(5).visible);
        assert!(!span.eval(6).visible);
        assert_eq!(span.eval(11).loc_h, 100.0);
        assert_eq!(span.eval(16).loc_h, 50.0);
        assert_eq!(span.eval(21).loc_h, 0.0);
        assert_eq!(span.eval(90).loc_h, 0.0);
        assert_eq!(span.eval(90).blend, 0);
        // A third of the way: rounded to hundredths.
        let mut span = SpriteSpan::new(state(1, 1, 100));
        span.add_keyframe(kf(4, SpriteProp::LocV, 10.into()))
            .unwrap();
        assert_eq!(span.eval(2).loc_v, 3.33);
    }

    #[test]
    fn keyframes_are_validated() {
        let mut span = SpriteSpan::new(state(1, 10, 20));
        assert!(
            span.add_keyframe(kf(9, SpriteProp::LocH, 1.into()))
                .is_err()
        );
        assert!(
            span.add_keyframe(kf(12, SpriteProp::Visible, 1.into()))
                .is_err()
        );
        assert!(
            span.add_keyframe(kf(12, SpriteProp::EndFrame, 15.into()))
                .is_err()
        );
        assert!(span.keyframes.is_empty());
    }

    #[test]
    fn spans_of_a_channel_never_overlap() {
        let mut score = Score::new(100);
        score.insert_span(SpriteSpan::new(state(2, 1, 50))).unwrap();
        score
            .insert_span(SpriteSpan::new(state(1, 1, 100)))
            .unwrap();
        assert!(
            score
                .insert_span(SpriteSpan::new(state(2, 50, 60)))
                .is_err()
        );
        score
            .insert_span(SpriteSpan::new(state(2, 51, 60)))
            .unwrap();
        assert_eq!(score.max_end_frame(2, 1), 50);
        assert_eq!(score.max_end_frame(2, 51), 100);
        let keys: Vec<_> = score.sprites.iter().map(SpriteSpan::key).collect();
        assert_eq!(keys, [(1, 1), (2, 1), (2, 51)]);
        assert_eq!(score.spans_at(55).count(), 2);
        assert!(
            score
                .insert_span(SpriteSpan::new(state(3, 1, 101)))
                .is_err()
        );
    }
}
