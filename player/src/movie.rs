//! The movie model: the stage, the movie's own properties, its casts of members and its score.
//!
//! A [`Movie`] is the persistent document — what a movie file holds and what the `project`
//! request returns. The playhead, puppet overrides, playing sounds and film-loop heads are
//! runtime state and live in [`crate::engine::EngineState`].

use std::collections::BTreeMap;

use stagelink_contracts::{Color, MemberInfo, MemberRef, PropValue};

use crate::error::CommandError;
use crate::member::{Member, MemberKind, replace};
use crate::props;
use crate::score::Score;
use crate::script::Statement;

/// The largest stage width or height, in pixels.
pub const MAX_STAGE_SIZE: i64 = 8192;
/// The tempo range, frames per second.
pub const TEMPO_RANGE: std::ops::RangeInclusive<i64> = 1..=1000;

/// The stage: where sprites are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub width: u32,
    pub height: u32,
    pub bg_color: Color,
    pub title: String,
}

/// A cast: a numbered collection of members (numbers may have holes, as in Director).
#[derive(Debug, Clone, PartialEq)]
pub struct Cast {
    pub name: String,
    pub members: BTreeMap<u32, Member>,
}

impl Cast {
    /// An empty cast.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            members: BTreeMap::new(),
        }
    }
}

/// A whole movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// The `name` movie property.
    pub name: String,
    pub stage: Stage,
    /// The tempo the movie starts at (tempo cues and `set_tempo` change the running tempo).
    pub tempo: u32,
    /// The `loop` movie property: after the last frame, go back to frame 1 (else stop).
    pub looped: bool,
    /// The `update_lock` movie property: a renderer keeps showing the last drawn frame.
    pub update_lock: bool,
    /// Cast `n` is `casts[n - 1]`.
    pub casts: Vec<Cast>,
    pub score: Score,
}

/// Where a structural problem is (a path into the movie document) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIssue {
    /// For example `score.sprites[3].member`.
    pub path: String,
    pub message: String,
}

fn issue(path: impl Into<String>, message: impl Into<String>) -> ModelIssue {
    ModelIssue {
        path: path.into(),
        message: message.into(),
    }
}

impl Movie {
    /// The cast `cast_lib`.
    pub fn cast(&self, cast_lib: u32) -> Option<&Cast> {
        self.casts.get((cast_lib as usize).checked_sub(1)?)
    }

    /// The cast `cast_lib`, mutably.
    pub fn cast_mut(&mut self, cast_lib: u32) -> Option<&mut Cast> {
        self.casts.get_mut((cast_lib as usize).checked_sub(1)?)
    }

    /// A member.
    pub fn member(&self, r: MemberRef) -> Option<&Member> {
        self.cast(r.cast_lib)?.members.get(&r.member_num)
    }

    /// A member, mutably.
    pub fn member_mut(&mut self, r: MemberRef) -> Option<&mut Member> {
        self.cast_mut(r.cast_lib)?.members.get_mut(&r.member_num)
    }

    /// A member, or `unknown_member` naming what is missing.
    ///
    /// # Errors
    /// `unknown_member` when the cast or the member does not exist.
    pub fn member_checked(&self, r: MemberRef) -> Result<&Member, CommandError> {
        let cast = self
            .cast(r.cast_lib)
            .ok_or_else(|| CommandError::UnknownMember(format!("no cast {}", r.cast_lib)))?;
        cast.members.get(&r.member_num).ok_or_else(|| {
            CommandError::UnknownMember(format!(
                "no member {} in cast {} ({})",
                r.member_num, r.cast_lib, cast.name
            ))
        })
    }

    /// The first member named `name`, casts in order.
    pub fn member_by_name(&self, name: &str) -> Option<MemberRef> {
        self.casts.iter().enumerate().find_map(|(i, cast)| {
            cast.members
                .iter()
                .find(|(_, m)| m.name == name)
                .map(|(n, _)| MemberRef {
                    cast_lib: i as u32 + 1,
                    member_num: *n,
                })
        })
    }

    /// Every member as the `stage` snapshot lists it.
    pub fn members_info(&self) -> Vec<MemberInfo> {
        let mut out = Vec::new();
        for (i, cast) in self.casts.iter().enumerate() {
            for (n, m) in &cast.members {
                out.push(MemberInfo {
                    cast_lib: i as u32 + 1,
                    member_num: *n,
                    name: m.name.clone(),
                    kind: m.kind_name().to_owned(),
                    props: m
                        .props()
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                });
            }
        }
        out
    }

    /// Every stage property.
    pub fn stage_props(&self) -> Vec<(&'static str, PropValue)> {
        vec![
            ("width", self.stage.width.into()),
            ("height", self.stage.height.into()),
            ("bg_color", self.stage.bg_color.into()),
            ("title", self.stage.title.as_str().into()),
        ]
    }

    /// Sets a stage property. Returns whether it changed.
    ///
    /// # Errors
    /// `unknown_property`, `invalid_value`, `out_of_range`.
    pub fn set_stage_prop(&mut self, prop: &str, v: &PropValue) -> Result<bool, CommandError> {
        let stage = &mut self.stage;
        match prop {
            "width" => Ok(replace(
                &mut stage.width,
                props::int(prop, v, 1..=MAX_STAGE_SIZE)? as u32,
            )),
            "height" => Ok(replace(
                &mut stage.height,
                props::int(prop, v, 1..=MAX_STAGE_SIZE)? as u32,
            )),
            "bg_color" => Ok(replace(&mut stage.bg_color, props::color(prop, v)?)),
            "title" => Ok(replace(&mut stage.title, props::text(prop, v)?)),
            _ => Err(CommandError::unknown_property("the stage", prop)),
        }
    }

    /// The movie properties the document holds (the engine adds the read-only `frame_label`).
    pub fn movie_props(&self) -> Vec<(&'static str, PropValue)> {
        vec![
            ("name", self.name.as_str().into()),
            ("loop", self.looped.into()),
            ("update_lock", self.update_lock.into()),
        ]
    }

    /// Sets a movie property. Returns whether it changed.
    ///
    /// # Errors
    /// `unknown_property` (also for the read-only `frame_label`), `invalid_value`.
    pub fn set_movie_prop(&mut self, prop: &str, v: &PropValue) -> Result<bool, CommandError> {
        match prop {
            "name" => Ok(replace(&mut self.name, props::name(prop, v)?)),
            "loop" => Ok(replace(&mut self.looped, props::boolean(prop, v)?)),
            "update_lock" => Ok(replace(&mut self.update_lock, props::boolean(prop, v)?)),
            _ => Err(CommandError::unknown_property("the movie", prop)),
        }
    }

    /// Sets a cast property (`name`). Returns whether it changed.
    ///
    /// # Errors
    /// `unknown_member` for a missing cast, `unknown_property`, `invalid_value`.
    pub fn set_cast_prop(
        &mut self,
        cast_lib: u32,
        prop: &str,
        v: &PropValue,
    ) -> Result<bool, CommandError> {
        let cast = self
            .cast_mut(cast_lib)
            .ok_or_else(|| CommandError::UnknownMember(format!("no cast {cast_lib}")))?;
        match prop {
            "name" => Ok(replace(&mut cast.name, props::name(prop, v)?)),
            _ => Err(CommandError::unknown_property(
                format!("cast {cast_lib}"),
                prop,
            )),
        }
    }

    /// Checks what the types alone cannot: every reference resolves, every cue and span fits
    /// its score, film loops do not nest.
    ///
    /// # Errors
    /// The first problem, with its path in the movie document.
    pub fn validate(&self) -> Result<(), ModelIssue> {
        if !TEMPO_RANGE.contains(&i64::from(self.tempo)) {
            return Err(issue(
                "tempo",
                format!("must be 1..=1000, got {}", self.tempo),
            ));
        }
        for (ci, cast) in self.casts.iter().enumerate() {
            for (n, m) in &cast.members {
                if let MemberKind::FilmLoop(f) = &m.kind {
                    let path = format!("casts[{ci}].members[member_num {n}].score");
                    self.validate_score(&f.score, &path, true)?;
                }
            }
        }
        self.validate_score(&self.score, "score", false)
    }

    fn validate_score(
        &self,
        score: &Score,
        path: &str,
        in_film_loop: bool,
    ) -> Result<(), ModelIssue> {
        let frames = 1..=score.frame_count;
        if score.frame_count == 0 {
            return Err(issue(
                format!("{path}.frame_count"),
                "a score has at least one frame",
            ));
        }
        let frame_ok = |f: u32, p: String| {
            if frames.contains(&f) {
                Ok(())
            } else {
                Err(issue(
                    p,
                    format!("frame {f} is outside 1..={}", score.frame_count),
                ))
            }
        };
        let mut previous: Option<(u32, u32)> = None;
        for (i, span) in score.sprites.iter().enumerate() {
            let b = &span.base;
            let p = format!("{path}.sprites[{i}]");
            if b.sprite_num == 0 {
                return Err(issue(format!("{p}.sprite_num"), "channels start at 1"));
            }
            frame_ok(b.begin_frame, format!("{p}.begin_frame"))?;
            frame_ok(b.end_frame, format!("{p}.end_frame"))?;
            if b.end_frame < b.begin_frame {
                return Err(issue(format!("{p}.end_frame"), "ends before it begins"));
            }
            if let Some((ch, end)) = previous
                && ch == b.sprite_num
                && end >= b.begin_frame
            {
                return Err(issue(
                    format!("{p}.begin_frame"),
                    format!("overlaps the previous span of channel {ch}, which ends at {end}"),
                ));
            }
            previous = Some((b.sprite_num, b.end_frame));
            let member = self
                .member_checked(b.member)
                .map_err(|e| issue(format!("{p}.member"), e.to_string()))?;
            if !member.is_drawable() {
                return Err(issue(
                    format!("{p}.member"),
                    "a sound member cannot be on a sprite",
                ));
            }
            if in_film_loop && matches!(member.kind, MemberKind::FilmLoop(_)) {
                return Err(issue(format!("{p}.member"), "film loops cannot nest"));
            }
            for (k, kf) in span.keyframes.iter().enumerate() {
                if let Some(r) = kf.value.as_member() {
                    self.member_checked(r)
                        .map_err(|e| issue(format!("{p}.keyframes[{k}].value"), e.to_string()))?;
                }
            }
        }
        for (i, t) in score.tempos.iter().enumerate() {
            frame_ok(t.frame, format!("{path}.tempos[{i}].frame"))?;
            if !TEMPO_RANGE.contains(&i64::from(t.tempo)) {
                return Err(issue(
                    format!("{path}.tempos[{i}].tempo"),
                    format!("must be 1..=1000, got {}", t.tempo),
                ));
            }
        }
        for (i, s) in score.sounds.iter().enumerate() {
            frame_ok(s.frame, format!("{path}.sounds[{i}].frame"))?;
            if s.channel == 0 || s.channel > 8 {
                return Err(issue(
                    format!("{path}.sounds[{i}].channel"),
                    "sound channels are 1..=8",
                ));
            }
            let m = self
                .member_checked(s.member())
                .map_err(|e| issue(format!("{path}.sounds[{i}]"), e.to_string()))?;
            if !matches!(m.kind, MemberKind::Sound(_)) {
                return Err(issue(
                    format!("{path}.sounds[{i}].member_num"),
                    format!("member `{}` is not a sound", m.name),
                ));
            }
        }
        for (i, t) in score.transitions.iter().enumerate() {
            frame_ok(t.frame, format!("{path}.transitions[{i}].frame"))?;
        }
        for (i, p) in score.palettes.iter().enumerate() {
            frame_ok(p.frame, format!("{path}.palettes[{i}].frame"))?;
        }
        for (i, m) in score.markers.iter().enumerate() {
            frame_ok(m.frame, format!("{path}.markers[{i}].frame"))?;
        }
        for (i, s) in score.frame_scripts.iter().enumerate() {
            frame_ok(s.frame, format!("{path}.frame_scripts[{i}].frame"))?;
            frame_ok(s.end_frame, format!("{path}.frame_scripts[{i}].end_frame"))?;
            if s.end_frame < s.frame {
                return Err(issue(
                    format!("{path}.frame_scripts[{i}].end_frame"),
                    "ends before it begins",
                ));
            }
            for statement in s.code.statements() {
                let code = format!("{path}.frame_scripts[{i}].code");
                match statement {
                    Statement::GoToFrame(n) => frame_ok(*n, code)?,
                    Statement::GoToMarker(name) if score.marker(name).is_none() => {
                        return Err(issue(code, format!("no marker named {name:?}")));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
