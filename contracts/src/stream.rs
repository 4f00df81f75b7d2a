//! The stream catalogue: every stream's name, delivery policy and coalescing key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Per-client delivery policy of a stream (protocol §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Only the newest unsent item matters; an older unsent one is replaced.
    Latest,
    /// Unsent items with the same key merge (newer fields win); the final state is always exact.
    Coalesce,
    /// Ordered; on overflow the oldest unsent items are dropped and reported with a `gap`.
    Fifo,
}

impl Policy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Latest => "latest",
            Policy::Coalesce => "coalesce",
            Policy::Fifo => "fifo",
        }
    }
}

macro_rules! streams {
    ($($variant:ident = $name:literal, $policy:ident, $key:literal;)*) => {
        /// A stream of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum StreamName { $($variant,)* }

        impl StreamName {
            /// Every stream, in catalogue order.
            pub const ALL: &'static [StreamName] = &[$(StreamName::$variant,)*];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $(StreamName::$variant => $name,)* }
            }

            /// The stream's delivery policy.
            pub const fn policy(self) -> Policy {
                match self { $(StreamName::$variant => Policy::$policy,)* }
            }

            /// The coalescing key, as documented (`-` when the policy has none).
            pub const fn key_description(self) -> &'static str {
                match self { $(StreamName::$variant => $key,)* }
            }

            /// Looks a stream up by its wire name.
            pub fn parse(name: &str) -> Option<StreamName> {
                match name { $($name => Some(StreamName::$variant),)* _ => None }
            }

            /// Position in [`StreamName::ALL`], for dense per-stream tables.
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

streams! {
    Frames = "frames", Latest, "-";
    Pixels = "pixels", Latest, "tile";
    Sprites = "sprites", Coalesce, "(sprite_num, begin_frame)";
    SpriteEvents = "sprite_events", Fifo, "-";
    MemberProps = "member_props", Coalesce, "(cast_lib, member_num, prop)";
    MovieProps = "movie_props", Coalesce, "prop";
    StageProps = "stage_props", Coalesce, "prop";
    Keyframes = "keyframes", Fifo, "-";
    FilmLoops = "film_loops", Fifo, "-";
    Sounds = "sounds", Fifo, "-";
    Tempos = "tempos", Fifo, "-";
    Palettes = "palettes", Latest, "-";
    FrameScripts = "frame_scripts", Fifo, "-";
    Transitions = "transitions", Fifo, "-";
    TextStyles = "text_styles", Fifo, "-";
}

/// Number of streams in the catalogue.
pub const STREAM_COUNT: usize = StreamName::ALL.len();

impl std::fmt::Display for StreamName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream as announced in `welcome.streams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StreamInfo {
    pub name: String,
    pub policy: Policy,
}

impl StreamInfo {
    /// The whole catalogue, as `welcome` announces it.
    pub fn catalogue() -> Vec<StreamInfo> {
        StreamName::ALL
            .iter()
            .map(|s| StreamInfo {
                name: s.as_str().to_owned(),
                policy: s.policy(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_streams_round_trip_by_name() {
        assert_eq!(STREAM_COUNT, 15);
        for (i, s) in StreamName::ALL.iter().enumerate() {
            assert_eq!(StreamName::parse(s.as_str()), Some(*s));
            assert_eq!(s.index(), i);
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(StreamName::parse("nope"), None);
    }
}
