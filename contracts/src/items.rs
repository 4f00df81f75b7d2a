//! Stream item DTOs — one type per stream of the catalogue ([`crate::stream::StreamName`]).
//!
//! Every item type implements [`StreamItem`], which ties it to its stream and gives the
//! coalescing key and merge rule the stream's policy needs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::stream::StreamName;
use crate::value::{Color, PropValue};

/// An item that travels on one stream.
pub trait StreamItem: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The stream this item belongs to.
    const STREAM: StreamName;
    /// The coalescing key; two items with equal keys merge on a `coalesce` stream.
    /// `latest` and `fifo` streams ignore it.
    type Key: Eq + std::hash::Hash + Ord + Clone + Send + Sync + std::fmt::Debug;
    /// This item's key.
    fn key(&self) -> Self::Key;
    /// Merges a newer item with the same key into `self` (newer fields win).
    /// The default replaces the whole item.
    fn merge(&mut self, newer: Self) {
        *self = newer;
    }
}

/// `frames` — the playhead and stage geometry after a tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageFrame {
    pub frame: u32,
    pub frame_count: u32,
    /// Frames per second.
    pub tempo: u32,
    pub playing: bool,
    /// Milliseconds of movie time since the session started.
    pub time_ms: u64,
    pub width: u32,
    pub height: u32,
}

/// A reference to a cast member.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct MemberRef {
    pub cast_lib: u32,
    pub member_num: u32,
}

/// `sprites` — the changed fields of a sprite span. `sprite_num` and `begin_frame` identify it
/// and are always present; every other field is present only when it changed. A full sprite
/// state (in snapshots) has every field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpriteDelta {
    pub sprite_num: u32,
    pub begin_frame: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_frame: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc_v: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc_z: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
    /// Degrees, clockwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f64>,
    /// Degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew: Option<f64>,
    /// 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<u8>,
    /// Director ink number: 0 copy, 8 matte, 32 blend, 36 background transparent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ink: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
}

impl SpriteDelta {
    /// An empty delta for the sprite span `(sprite_num, begin_frame)`.
    pub fn new(sprite_num: u32, begin_frame: u32) -> Self {
        Self {
            sprite_num,
            begin_frame,
            ..Self::default()
        }
    }

    /// True when every optional field is present (a full sprite state).
    pub fn is_full(&self) -> bool {
        self.end_frame.is_some()
            && self.member.is_some()
            && self.loc_h.is_some()
            && self.loc_v.is_some()
            && self.loc_z.is_some()
            && self.width.is_some()
            && self.height.is_some()
            && self.rotation.is_some()
            && self.skew.is_some()
            && self.blend.is_some()
            && self.ink.is_some()
            && self.visible.is_some()
            && self.color.is_some()
    }

    /// Overwrites every field `newer` carries.
    pub fn apply(&mut self, newer: &SpriteDelta) {
        macro_rules! take {
            ($($f:ident),*) => {$( if newer.$f.is_some() { self.$f = newer.$f; } )*};
        }
        take!(
            end_frame, member, loc_h, loc_v, loc_z, width, height, rotation, skew, blend, ink,
            visible, color
        );
    }
}

impl StreamItem for SpriteDelta {
    const STREAM: StreamName = StreamName::Sprites;
    type Key = (u32, u32);
    fn key(&self) -> Self::Key {
        (self.sprite_num, self.begin_frame)
    }
    fn merge(&mut self, newer: Self) {
        self.apply(&newer);
    }
}

/// What happened to a sprite span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpriteEventKind {
    Added,
    Removed,
    Cleared,
}

/// `sprite_events` — structural changes to the score's sprite spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpriteEvent {
    /// Which sprite manager saw it (`score`, or a film loop's name).
    pub manager: String,
    pub event: SpriteEventKind,
    pub sprite_num: u32,
    pub begin_frame: u32,
    /// The full sprite state, on `added`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sprite: Option<SpriteDelta>,
}

/// `member_props` — a cast member's property changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberProp {
    pub cast_lib: u32,
    pub member_num: u32,
    pub prop: String,
    pub value: PropValue,
}

/// `movie_props` — a movie property changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MovieProp {
    pub prop: String,
    pub value: PropValue,
}

/// `stage_props` — a stage property changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageProp {
    pub prop: String,
    pub value: PropValue,
}

/// `keyframes` — a keyframe was set on a sprite span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Keyframe {
    pub frame: u32,
    pub sprite_num: u32,
    pub begin_frame: u32,
    pub prop: String,
    pub value: PropValue,
}

/// `film_loops` — a film loop member started, stopped or moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FilmLoop {
    pub cast_lib: u32,
    pub member_num: u32,
    pub start_frame: u32,
    pub end_frame: u32,
    pub playing: bool,
}

/// `sounds` — a sound channel started or stopped a sound member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoundCue {
    pub frame: u32,
    pub channel: u32,
    pub cast_lib: u32,
    pub member_num: u32,
    pub playing: bool,
}

/// `tempos` — the tempo channel changed the tempo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TempoChange {
    pub frame: u32,
    pub tempo: u32,
}

/// `palettes` — the active palette.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Palette {
    pub frame: u32,
    pub colors: Vec<Color>,
}

/// `frame_scripts` — a frame script ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FrameScript {
    pub frame: u32,
    pub script: String,
}

/// `transitions` — a transition started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transition {
    pub frame: u32,
    pub kind: String,
    pub duration_ms: u32,
}

/// `text_styles` — a style run of a text member changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TextStyle {
    pub cast_lib: u32,
    pub member_num: u32,
    /// Byte range start (inclusive) in the member's text.
    pub start: u32,
    /// Byte range end (exclusive).
    pub end: u32,
    pub style: String,
    pub value: PropValue,
}

macro_rules! keyless {
    ($($ty:ty => $stream:ident),* $(,)?) => {$(
        impl StreamItem for $ty {
            const STREAM: StreamName = StreamName::$stream;
            type Key = ();
            fn key(&self) -> Self::Key {}
        }
    )*};
}

keyless!(
    StageFrame => Frames,
    SpriteEvent => SpriteEvents,
    Keyframe => Keyframes,
    FilmLoop => FilmLoops,
    SoundCue => Sounds,
    TempoChange => Tempos,
    Palette => Palettes,
    FrameScript => FrameScripts,
    Transition => Transitions,
    TextStyle => TextStyles,
);

impl StreamItem for MemberProp {
    const STREAM: StreamName = StreamName::MemberProps;
    type Key = (u32, u32, String);
    fn key(&self) -> Self::Key {
        (self.cast_lib, self.member_num, self.prop.clone())
    }
}

impl StreamItem for MovieProp {
    const STREAM: StreamName = StreamName::MovieProps;
    type Key = String;
    fn key(&self) -> Self::Key {
        self.prop.clone()
    }
}

impl StreamItem for StageProp {
    const STREAM: StreamName = StreamName::StageProps;
    type Key = String;
    fn key(&self) -> Self::Key {
        self.prop.clone()
    }
}
