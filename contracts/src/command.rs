//! Commands a controller sends (`{"type":"command","id":…,"command":{"kind":…}}`, protocol §5).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::PropValue;

/// One command. Tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Jump to a frame (1-based).
    GoToFrame {
        frame: u32,
    },
    Pause,
    Resume,
    /// Go to frame 1.
    Rewind,
    /// Move the playhead by `delta` frames (negative steps back).
    Step {
        delta: i32,
    },
    /// Frames per second.
    SetTempo {
        tempo: u32,
    },
    SetSpriteProp {
        sprite_num: u32,
        begin_frame: u32,
        prop: String,
        value: PropValue,
    },
    SetMemberProp {
        cast_lib: u32,
        member_num: u32,
        prop: String,
        value: PropValue,
    },
    SetCastProp {
        cast_lib: u32,
        prop: String,
        value: PropValue,
    },
    SetMovieProp {
        prop: String,
        value: PropValue,
    },
    SetStageProp {
        prop: String,
        value: PropValue,
    },
    /// A handler the host registered by name; its return value comes back as `ack.result`.
    Custom {
        name: String,
        #[serde(default)]
        payload: serde_json::Value,
    },
    /// Applied together in one tick, all or none; `ack.result` lists each result.
    Batch {
        commands: Vec<Command>,
    },
}

impl Command {
    /// The wire name of the command's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::GoToFrame { .. } => "go_to_frame",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Rewind => "rewind",
            Command::Step { .. } => "step",
            Command::SetTempo { .. } => "set_tempo",
            Command::SetSpriteProp { .. } => "set_sprite_prop",
            Command::SetMemberProp { .. } => "set_member_prop",
            Command::SetCastProp { .. } => "set_cast_prop",
            Command::SetMovieProp { .. } => "set_movie_prop",
            Command::SetStageProp { .. } => "set_stage_prop",
            Command::Custom { .. } => "custom",
            Command::Batch { .. } => "batch",
        }
    }

    /// Every kind name, for docs and tests.
    pub const KINDS: &'static [&'static str] = &[
        "go_to_frame",
        "pause",
        "resume",
        "rewind",
        "step",
        "set_tempo",
        "set_sprite_prop",
        "set_member_prop",
        "set_cast_prop",
        "set_movie_prop",
        "set_stage_prop",
        "custom",
        "batch",
    ];
}

/// How the engine answered a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Applied at the start of a tick; `frame` says which.
    Applied,
    /// Not applied; `error` says why. Nothing changed.
    Rejected,
    /// The command lane was full; nothing was queued.
    Busy,
}

impl AckStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AckStatus::Applied => "applied",
            AckStatus::Rejected => "rejected",
            AckStatus::Busy => "busy",
        }
    }
}
