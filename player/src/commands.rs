//! Applying commands: every kind of protocol §10, each validated before it changes anything.
//!
//! The `set_*` methods of [`EngineState`] are public: frame scripts and custom handlers go
//! through them too, so every change is validated the same way and reported as it happens.
//!
//! Codes: a span that does not exist, or is not on the current frame, is `unknown_sprite`; a
//! missing cast or member is `unknown_member`; a property the target lacks, or that cannot be
//! set (`sprite_num`, `begin_frame`, a film loop's `frame_count`, the movie's `frame_label`),
//! is `unknown_property`; a value of the wrong kind is `invalid_value`; a frame, tempo or
//! value outside its range is `out_of_range`; a custom name nobody registered is
//! `unknown_command`; a `batch` or `custom` inside a batch is `invalid_field`.
//!
//! Cast properties (`set_cast_prop`) have no stream of their own in protocol v1: a renamed
//! cast shows in the next `project` document.

use serde_json::Value;
use stagelink_contracts::{
    Command, MemberProp, MemberRef, MovieProp, PropValue, StageProp, TempoChange, TextStyle,
};

use crate::engine::{Engine, EngineState, Override};
use crate::error::CommandError;
use crate::member::MemberKind;
use crate::movie::TEMPO_RANGE;
use crate::publish::Change;
use crate::score::{SpriteProp, delta_set};

/// What an applied command returns (`ack.result`).
pub type CommandResult = Result<Option<Value>, CommandError>;

impl Engine {
    /// Applies one command now. Ticks call this for each queued command; it is public so tools
    /// and tests can drive an engine directly.
    pub fn apply(&mut self, command: Command) -> CommandResult {
        match command {
            Command::Custom { name, payload } => {
                let Some(handler) = self.handlers.get(&name) else {
                    return Err(CommandError::UnknownCommand {
                        name,
                        registered: self.handlers.names(),
                    });
                };
                // On a clone, so a handler that fails half-way leaves nothing behind.
                let mut scratch = self.state.clone();
                let result = handler(&mut scratch, &payload)?;
                self.state = scratch;
                Ok(Some(result))
            }
            Command::Batch { commands } => {
                // All or none: work on a clone, keep it only when every command succeeded.
                let mut scratch = self.state.clone();
                let mut results = Vec::with_capacity(commands.len());
                for (index, command) in commands.into_iter().enumerate() {
                    let result = match command {
                        Command::Batch { .. } | Command::Custom { .. } => {
                            Err(CommandError::InvalidField(format!(
                                "a batch may not contain `{}` commands",
                                command.kind()
                            )))
                        }
                        other => scratch.apply_builtin(other),
                    };
                    match result {
                        Ok(r) => results.push(r.unwrap_or(Value::Null)),
                        Err(e) => {
                            return Err(CommandError::InBatch {
                                index,
                                source: Box::new(e),
                            });
                        }
                    }
                }
                self.state = scratch;
                Ok(Some(Value::Array(results)))
            }
            other => self.state.apply_builtin(other),
        }
    }
}

impl EngineState {
    /// Applies any command but `custom` and `batch` (which need the engine's handlers).
    ///
    /// # Errors
    /// The command's rejection; nothing changed.
    pub fn apply_builtin(&mut self, command: Command) -> CommandResult {
        match command {
            Command::GoToFrame { frame } => {
                self.check_frame("frame", i64::from(frame))?;
                self.jump(frame);
            }
            Command::Pause => self.playing = false,
            Command::Resume => self.playing = true,
            Command::Rewind => self.jump(1),
            Command::Step { delta } => {
                let target = i64::from(self.frame) + i64::from(delta);
                self.check_frame("step", target)?;
                self.playing = false;
                self.jump(target as u32);
            }
            Command::SetTempo { tempo } => self.set_tempo(tempo)?,
            Command::SetSpriteProp {
                sprite_num,
                begin_frame,
                prop,
                value,
            } => self.set_sprite_prop(sprite_num, begin_frame, &prop, &value)?,
            Command::SetMemberProp {
                cast_lib,
                member_num,
                prop,
                value,
            } => self.set_member_prop(
                MemberRef {
                    cast_lib,
                    member_num,
                },
                &prop,
                &value,
            )?,
            Command::SetCastProp {
                cast_lib,
                prop,
                value,
            } => {
                self.movie.set_cast_prop(cast_lib, &prop, &value)?;
            }
            Command::SetMovieProp { prop, value } => self.set_movie_prop(&prop, &value)?,
            Command::SetStageProp { prop, value } => self.set_stage_prop(&prop, &value)?,
            Command::Custom { name, .. } => {
                return Err(CommandError::UnknownCommand {
                    name,
                    registered: Vec::new(),
                });
            }
            Command::Batch { .. } => {
                return Err(CommandError::InvalidField(
                    "a batch needs the engine: use Engine::apply".into(),
                ));
            }
        }
        Ok(None)
    }

    fn check_frame(&self, what: &str, frame: i64) -> Result<(), CommandError> {
        let count = self.movie.score.frame_count;
        if (1..=i64::from(count)).contains(&frame) {
            Ok(())
        } else {
            Err(CommandError::out_of_range(
                what,
                format!("a frame within 1..={count}"),
                frame,
            ))
        }
    }

    /// Sets the running tempo (frames per second).
    ///
    /// # Errors
    /// `out_of_range` outside 1..=1000.
    pub fn set_tempo(&mut self, tempo: u32) -> Result<(), CommandError> {
        if !TEMPO_RANGE.contains(&i64::from(tempo)) {
            return Err(CommandError::out_of_range("tempo", "1..=1000", tempo));
        }
        if tempo != self.tempo {
            self.tempo = tempo;
            self.record(Change::Tempo(TempoChange {
                frame: self.frame,
                tempo,
            }));
        }
        Ok(())
    }

    /// Sets a sprite property of the span `(sprite_num, begin_frame)`, which must be on the
    /// current frame. `end_frame` edits the score (keyframes past a new, earlier end are
    /// dropped); every other property is a puppet override that lasts until the frame changes.
    ///
    /// # Errors
    /// `unknown_sprite`, `unknown_property`, `invalid_value`, `out_of_range`, `unknown_member`.
    pub fn set_sprite_prop(
        &mut self,
        sprite_num: u32,
        begin_frame: u32,
        prop: &str,
        value: &PropValue,
    ) -> Result<(), CommandError> {
        let frame = self.frame;
        let span = self
            .movie
            .score
            .span(sprite_num, begin_frame)
            .ok_or_else(|| {
                CommandError::UnknownSprite(format!(
                    "no sprite span in channel {sprite_num} beginning at frame {begin_frame}"
                ))
            })?;
        if !span.covers(frame) {
            return Err(CommandError::UnknownSprite(format!(
                "no sprite in channel {sprite_num} at frame {frame} (the span from frame {begin_frame} ends at {})",
                span.base.end_frame
            )));
        }
        let prop = SpriteProp::parse(prop)?;
        if prop == SpriteProp::EndFrame {
            let max = self.movie.score.max_end_frame(sprite_num, begin_frame);
            let end =
                crate::props::int("end_frame", value, i64::from(begin_frame)..=i64::from(max))?
                    as u32;
            if let Some(span) = self.movie.score.span_mut(sprite_num, begin_frame) {
                span.base.end_frame = end;
                // As in Director, keyframes cut off by a shorter span go with it.
                span.keyframes.retain(|k| k.frame <= end);
            }
            return Ok(());
        }
        let mut state = span.eval(frame);
        let key = span.key();
        if let Some(o) = self.overrides.get(&key) {
            state.apply(&o.delta);
        }
        state.set(prop, value)?;
        if prop == SpriteProp::Member {
            let member = self.movie.member_checked(state.member)?;
            if !member.is_drawable() {
                return Err(CommandError::invalid_value(
                    "member",
                    "a member a sprite can show",
                    format!("the sound member `{}`", member.name),
                ));
            }
        }
        let tick = self.tick;
        let entry = self.overrides.entry(key).or_insert_with(|| Override {
            delta: stagelink_contracts::SpriteDelta::new(key.0, key.1),
            tick,
        });
        entry.tick = tick;
        delta_set(&mut entry.delta, prop, &state);
        Ok(())
    }

    /// Sets a member property (persistent) and reports it on `member_props`.
    ///
    /// # Errors
    /// `unknown_member`, `unknown_property`, `invalid_value`, `out_of_range`.
    pub fn set_member_prop(
        &mut self,
        r: MemberRef,
        prop: &str,
        value: &PropValue,
    ) -> Result<(), CommandError> {
        self.movie.member_checked(r)?;
        let Some(member) = self.movie.member_mut(r) else {
            return Ok(());
        };
        if member.set(prop, value)? {
            let value = member.get(prop).unwrap_or_else(|| value.clone());
            self.record(Change::MemberProp(MemberProp {
                cast_lib: r.cast_lib,
                member_num: r.member_num,
                prop: prop.to_owned(),
                value,
            }));
        }
        Ok(())
    }

    /// Sets a style run of a text member and reports it on `text_styles`.
    ///
    /// # Errors
    /// `unknown_member`, `invalid_value` (not a text member, or a bad value), `out_of_range`.
    pub fn set_text_style(
        &mut self,
        r: MemberRef,
        start: u32,
        end: u32,
        style: &str,
        value: PropValue,
    ) -> Result<(), CommandError> {
        let member = self.movie.member_checked(r)?;
        let name = member.name.clone();
        let Some(MemberKind::Text(text)) = self.movie.member_mut(r).map(|m| &mut m.kind) else {
            return Err(CommandError::invalid_value(
                "member",
                "a text member",
                format!("the member `{name}`"),
            ));
        };
        if text.set_style(start, end, style, value.clone())? {
            self.record(Change::TextStyle(TextStyle {
                cast_lib: r.cast_lib,
                member_num: r.member_num,
                start,
                end,
                style: style.to_owned(),
                value,
            }));
        }
        Ok(())
    }

    /// Sets a movie property and reports it on `movie_props`.
    ///
    /// # Errors
    /// `unknown_property` (`frame_label` is read-only), `invalid_value`.
    pub fn set_movie_prop(&mut self, prop: &str, value: &PropValue) -> Result<(), CommandError> {
        if self.movie.set_movie_prop(prop, value)? {
            let value = self
                .movie
                .movie_props()
                .into_iter()
                .find(|(p, _)| *p == prop)
                .map_or_else(|| value.clone(), |(_, v)| v);
            self.record(Change::MovieProp(MovieProp {
                prop: prop.to_owned(),
                value,
            }));
        }
        Ok(())
    }

    /// Sets a stage property and reports it on `stage_props`.
    ///
    /// # Errors
    /// `unknown_property`, `invalid_value`, `out_of_range`.
    pub fn set_stage_prop(&mut self, prop: &str, value: &PropValue) -> Result<(), CommandError> {
        if self.movie.set_stage_prop(prop, value)? {
            let value = self
                .movie
                .stage_props()
                .into_iter()
                .find(|(p, _)| *p == prop)
                .map_or_else(|| value.clone(), |(_, v)| v);
            self.record(Change::StageProp(StageProp {
                prop: prop.to_owned(),
                value,
            }));
        }
        Ok(())
    }
}
