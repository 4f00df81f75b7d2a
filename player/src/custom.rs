//! Custom commands: handlers registered by name, called by `{"kind":"custom","name":…}` with
//! the command's `payload`; what a handler returns comes back as `ack.result`.
//!
//! A handler gets the engine state mutably and runs at the start of a tick like any command.
//! It must be deterministic (no clocks, no randomness) so a replay gives the same movie. A
//! failing handler rejects the command with the code it chose; `custom` is not allowed inside
//! a `batch`, since a handler's effects cannot be rolled back.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use stagelink_contracts::{MemberRef, PropValue};

use crate::engine::EngineState;
use crate::error::CommandError;
use crate::score::SpriteState;

/// A custom command handler.
pub type CustomHandler =
    Arc<dyn Fn(&mut EngineState, &Value) -> Result<Value, CommandError> + Send + Sync>;

/// The registered handlers, by name.
#[derive(Clone, Default)]
pub struct CustomHandlers {
    handlers: BTreeMap<String, CustomHandler>,
}

impl std::fmt::Debug for CustomHandlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl CustomHandlers {
    /// Registers (or replaces) a handler.
    pub fn register<F>(&mut self, name: impl Into<String>, handler: F)
    where
        F: Fn(&mut EngineState, &Value) -> Result<Value, CommandError> + Send + Sync + 'static,
    {
        self.handlers.insert(name.into(), Arc::new(handler));
    }

    /// The handler registered under `name`.
    pub fn get(&self, name: &str) -> Option<CustomHandler> {
        self.handlers.get(name).cloned()
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    /// The handlers the demo (and by default every movie the player hosts) registers:
    ///
    /// | name | payload | result |
    /// |---|---|---|
    /// | `echo` | anything | the payload |
    /// | `sprite_count` | `{frame?}` | number of sprites on `frame` (default: the current one) |
    /// | `list_sprites_at` | `{frame}` | the full sprites on that frame |
    /// | `set_text_style` | `{cast_lib, member_num, start, end, style, value}` | `null`; reported on `text_styles` |
    pub fn builtin() -> Self {
        let mut h = CustomHandlers::default();
        h.register("echo", |_, payload| Ok(payload.clone()));
        h.register("sprite_count", |state, payload| {
            #[derive(Deserialize)]
            struct Args {
                frame: Option<u32>,
            }
            let args: Option<Args> = parse_payload(payload)?;
            let frame = frame_arg(state, args.and_then(|a| a.frame))?;
            Ok(json!(state.evaluate(frame).len()))
        });
        h.register("list_sprites_at", |state, payload| {
            #[derive(Deserialize)]
            struct Args {
                frame: u32,
            }
            let args: Args = parse_payload(payload)?;
            let frame = frame_arg(state, Some(args.frame))?;
            let sprites: Vec<_> = state
                .evaluate(frame)
                .iter()
                .map(SpriteState::to_delta)
                .collect();
            serde_json::to_value(sprites).map_err(|e| CommandError::Handler {
                code: stagelink_contracts::ErrorCode::Internal,
                message: e.to_string(),
            })
        });
        h.register("set_text_style", |state, payload| {
            #[derive(Deserialize)]
            struct Args {
                cast_lib: u32,
                member_num: u32,
                start: u32,
                end: u32,
                style: String,
                value: PropValue,
            }
            let a: Args = parse_payload(payload)?;
            let r = MemberRef {
                cast_lib: a.cast_lib,
                member_num: a.member_num,
            };
            state.set_text_style(r, a.start, a.end, &a.style, a.value)?;
            Ok(Value::Null)
        });
        h
    }
}

/// Decodes a payload, naming the field that is wrong.
///
/// # Errors
/// `invalid_value` with serde's description and the path of the bad field.
pub fn parse_payload<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, CommandError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        CommandError::invalid_value(
            format!(
                "payload{}",
                if path == "." {
                    String::new()
                } else {
                    format!(".{path}")
                }
            ),
            "the handler's payload shape",
            e.inner().to_string(),
        )
    })
}

fn frame_arg(state: &EngineState, frame: Option<u32>) -> Result<u32, CommandError> {
    let count = state.movie.score.frame_count;
    match frame {
        None => Ok(state.frame()),
        Some(f) if (1..=count).contains(&f) => Ok(f),
        Some(f) => Err(CommandError::out_of_range(
            "frame",
            format!("1..={count}"),
            f,
        )),
    }
}
