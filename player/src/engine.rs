//! The engine: the playhead and everything that happens on a tick.
//!
//! One [`Engine::tick`]:
//! 1. applies the queued commands, in order (a command that moves the playhead shows the frame
//!    it asked for: this tick does not also advance);
//! 2. advances the playhead when playing — to the frame a frame script's `go` asked for, else
//!    the next frame (after the last: frame 1 when the movie loops, else it stops) — and
//!    *enters* the new frame: tempo, palette, transition and sound cues fire, keyframes on that
//!    frame are reported, the marker label updates, frame scripts run;
//! 3. moves film loops on ([`crate::film_loop`]); sounds whose time is up end at the start of
//!    the next tick;
//! 4. evaluates every sprite on the frame (tweens, then puppet overrides) and reports what
//!    changed, then the `frames` item.
//!
//! Paused, a tick still applies commands (edits stick) and reports changes, but the playhead
//! stays. Puppet overrides (`set_sprite_prop`) last until the frame changes; one set while
//! playing is shown on the frame that tick advances to and cleared on the next change.
//!
//! Nothing here reads a clock or iterates a hash map: the same movie and the same commands
//! give the same ticks, change for change. Movie time advances by `1000 / tempo` ms a tick.

use std::collections::BTreeMap;

use serde_json::Value;
use stagelink_contracts::{
    Command, FrameScript, Keyframe, MemberRef, MovieProp, MovieState, Palette, SoundCue,
    SpriteDelta, StageFrame, TempoChange, Transition,
};

use crate::custom::CustomHandlers;
use crate::error::CommandError;
use crate::film_loop::FilmLoopHead;
use crate::member::MemberKind;
use crate::movie::Movie;
use crate::publish::{Change, diff_sprites};
use crate::score::SpriteState;
use crate::script::{Statement, expand};

/// A puppet override of some sprite properties, until the frame changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    pub(crate) delta: SpriteDelta,
    /// The tick that set it: the advance of that same tick does not clear it.
    pub(crate) tick: u64,
}

/// A sound playing in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayingSound {
    pub member: MemberRef,
    /// Movie time (µs) at which it stops; `None` for a looping sound.
    pub ends_at_us: Option<u64>,
}

/// The transition started most recently (a renderer blends over `duration_ms` from `started_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTransition {
    pub kind: String,
    pub duration_ms: u32,
    pub started_ms: u64,
}

/// Everything a tick reads and writes: the movie and the runtime around it. Commands and
/// custom handlers work on this; a batch works on a clone and commits it only when every
/// command succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineState {
    pub movie: Movie,
    pub(crate) frame: u32,
    pub(crate) playing: bool,
    pub(crate) tempo: u32,
    pub(crate) time_us: u64,
    pub(crate) tick: u64,
    /// The first tick enters frame 1 (its cues fire) without advancing.
    pub(crate) needs_enter: bool,
    /// A command moved the playhead this tick, so the tick does not advance it.
    pub(crate) moved_this_tick: bool,
    /// Where a frame script's `go` sends the playhead when it next advances.
    pub(crate) pending_jump: Option<u32>,
    pub(crate) overrides: BTreeMap<(u32, u32), Override>,
    pub(crate) sounds: BTreeMap<u32, PlayingSound>,
    pub(crate) film_loops: BTreeMap<MemberRef, FilmLoopHead>,
    pub(crate) palette: Option<Palette>,
    pub(crate) transition: Option<ActiveTransition>,
    pub(crate) frame_label: String,
    /// The sprites on the current frame as last reported, by key.
    pub(crate) current: Vec<SpriteState>,
    /// Changes of the tick in progress.
    pub(crate) out: Vec<Change>,
}

/// What one tick did.
#[derive(Debug, Clone, PartialEq)]
pub struct TickOutput {
    /// The frame the tick showed (every applied command's ack carries it).
    pub frame: u32,
    /// One result per command, in order: `Ok(result)` applied, `Err` rejected.
    pub results: Vec<Result<Option<Value>, CommandError>>,
    /// Every change, in the order it happened, ending with the `frames` item.
    pub changes: Vec<Change>,
}

/// The engine: its state and the custom command handlers.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) state: EngineState,
    pub(crate) handlers: CustomHandlers,
}

impl Engine {
    /// An engine at frame 1, playing, with no custom handlers. The movie must be valid
    /// ([`Movie::validate`]); movie files and the demo are.
    pub fn new(movie: Movie) -> Self {
        let tempo = movie.tempo.max(1);
        Self {
            state: EngineState {
                movie,
                frame: 1,
                playing: true,
                tempo,
                time_us: 0,
                tick: 0,
                needs_enter: true,
                moved_this_tick: false,
                pending_jump: None,
                overrides: BTreeMap::new(),
                sounds: BTreeMap::new(),
                film_loops: BTreeMap::new(),
                palette: None,
                transition: None,
                frame_label: String::new(),
                current: Vec::new(),
                out: Vec::new(),
            },
            handlers: CustomHandlers::default(),
        }
    }

    /// An engine with these custom handlers.
    pub fn with_handlers(movie: Movie, handlers: CustomHandlers) -> Self {
        let mut engine = Engine::new(movie);
        engine.handlers = handlers;
        engine
    }

    /// The state (read-only): the movie, the playhead, the sprites on stage.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// The movie as it is now (commands' persistent edits included).
    pub fn movie(&self) -> &Movie {
        &self.state.movie
    }

    /// The custom handlers.
    pub fn handlers(&self) -> &CustomHandlers {
        &self.handlers
    }

    /// The custom handlers, to register more.
    pub fn handlers_mut(&mut self) -> &mut CustomHandlers {
        &mut self.handlers
    }

    /// Runs one tick: commands first, then the playhead, then the report.
    pub fn tick(&mut self, commands: impl IntoIterator<Item = Command>) -> TickOutput {
        let s = &mut self.state;
        if s.tick > 0 {
            s.time_us += 1_000_000 / u64::from(s.tempo.max(1));
        }
        s.tick += 1;
        s.moved_this_tick = false;
        s.end_finished_sounds();

        let results = commands.into_iter().map(|c| self.apply(c)).collect();

        let s = &mut self.state;
        s.advance();
        let sprites = s.evaluate(s.frame);
        s.update_film_loops(&sprites);
        let mut changes = std::mem::take(&mut s.out);
        diff_sprites(&s.current, &sprites, &mut changes);
        s.current = sprites;
        changes.push(Change::Frame(s.stage_frame()));
        TickOutput {
            frame: s.frame,
            results,
            changes,
        }
    }
}

impl EngineState {
    /// The current frame.
    pub fn frame(&self) -> u32 {
        self.frame
    }

    /// Whether the playhead moves on each tick.
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// The running tempo, frames per second.
    pub fn tempo(&self) -> u32 {
        self.tempo
    }

    /// Movie time in milliseconds.
    pub fn time_ms(&self) -> u64 {
        self.time_us / 1000
    }

    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.tick
    }

    /// The sprites on the current frame as last reported (tweens and overrides applied), by
    /// channel — what a renderer draws.
    pub fn sprites(&self) -> &[SpriteState] {
        &self.current
    }

    /// The sounds playing, by channel.
    pub fn playing_sounds(&self) -> &BTreeMap<u32, PlayingSound> {
        &self.sounds
    }

    /// The film loops on stage, with their own playheads.
    pub fn film_loops(&self) -> &BTreeMap<MemberRef, FilmLoopHead> {
        &self.film_loops
    }

    /// The active palette, if a palette cue has fired.
    pub fn palette(&self) -> Option<&Palette> {
        self.palette.as_ref()
    }

    /// The transition started most recently.
    pub fn transition(&self) -> Option<&ActiveTransition> {
        self.transition.as_ref()
    }

    /// The name of the marker at or before the playhead (`""` when none).
    pub fn frame_label(&self) -> &str {
        &self.frame_label
    }

    /// `movie_state`.
    pub fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: self.movie.score.frame_count,
            tempo: self.tempo,
            playing: self.playing,
        }
    }

    /// The `frames` item for now.
    pub fn stage_frame(&self) -> StageFrame {
        StageFrame {
            frame: self.frame,
            frame_count: self.movie.score.frame_count,
            tempo: self.tempo,
            playing: self.playing,
            time_ms: self.time_ms(),
            width: self.movie.stage.width,
            height: self.movie.stage.height,
        }
    }

    /// Every movie property, `frame_label` included.
    pub fn movie_props(&self) -> Vec<(&'static str, stagelink_contracts::PropValue)> {
        let mut props = self.movie.movie_props();
        props.push(("frame_label", self.frame_label.as_str().into()));
        props
    }

    /// The sprites on `frame`: tweened, and with the puppet overrides when it is the current
    /// frame.
    pub fn evaluate(&self, frame: u32) -> Vec<SpriteState> {
        self.movie
            .score
            .spans_at(frame)
            .map(|span| {
                let mut s = span.eval(frame);
                if frame == self.frame
                    && let Some(o) = self.overrides.get(&span.key())
                {
                    s.apply(&o.delta);
                }
                s
            })
            .collect()
    }

    /// The sprites of a film loop's score on its current frame (for a renderer).
    pub fn film_loop_sprites(&self, member: MemberRef) -> Vec<SpriteState> {
        let (Some(head), Some(m)) = (self.film_loops.get(&member), self.movie.member(member))
        else {
            return Vec::new();
        };
        let MemberKind::FilmLoop(f) = &m.kind else {
            return Vec::new();
        };
        f.score
            .spans_at(head.frame)
            .map(|s| s.eval(head.frame))
            .collect()
    }

    pub(crate) fn record(&mut self, change: Change) {
        self.out.push(change);
    }

    /// Moves the playhead on a command's behalf: overrides and a pending script jump are
    /// dropped, and the frame is entered.
    pub(crate) fn jump(&mut self, frame: u32) {
        self.overrides.clear();
        self.pending_jump = None;
        self.needs_enter = false;
        self.moved_this_tick = true;
        self.frame = frame;
        self.enter(frame);
    }

    fn advance(&mut self) {
        if self.needs_enter {
            self.needs_enter = false;
            self.enter(self.frame);
            return;
        }
        if !self.playing || self.moved_this_tick {
            return;
        }
        let frame_count = self.movie.score.frame_count;
        let next = match self.pending_jump.take() {
            Some(f) => f,
            None if self.frame < frame_count => self.frame + 1,
            None if self.movie.looped => 1,
            None => {
                self.playing = false;
                return;
            }
        };
        let tick = self.tick;
        self.overrides.retain(|_, o| o.tick == tick);
        self.frame = next;
        self.enter(next);
    }

    /// Entering a frame: cues, keyframes, the marker label, then frame scripts.
    fn enter(&mut self, frame: u32) {
        let score = &self.movie.score;
        let tempo = score
            .tempos
            .iter()
            .rev()
            .find(|t| t.frame == frame)
            .map(|t| t.tempo);
        let palette = score
            .palettes
            .iter()
            .rev()
            .find(|p| p.frame == frame)
            .cloned();
        let transition = score
            .transitions
            .iter()
            .rev()
            .find(|t| t.frame == frame)
            .cloned();
        let sounds: Vec<_> = score
            .sounds
            .iter()
            .filter(|s| s.frame == frame)
            .cloned()
            .collect();
        let keyframes: Vec<Keyframe> = score
            .spans_at(frame)
            .flat_map(|span| {
                span.keyframes_at(frame).map(|k| Keyframe {
                    frame,
                    sprite_num: span.base.sprite_num,
                    begin_frame: span.base.begin_frame,
                    prop: k.prop.as_str().to_owned(),
                    value: k.value.clone(),
                })
            })
            .collect();
        let label = score
            .marker_before(frame)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let scripts: Vec<_> = score
            .frame_scripts
            .iter()
            .filter(|s| s.frame <= frame && frame <= s.end_frame)
            .map(|s| (s.script.clone(), s.code.statements().to_vec()))
            .collect();

        if let Some(tempo) = tempo
            && tempo != self.tempo
        {
            self.tempo = tempo;
            self.record(Change::Tempo(TempoChange { frame, tempo }));
        }
        if let Some(p) = palette {
            let item = Palette {
                frame,
                colors: p.colors,
            };
            self.palette = Some(item.clone());
            self.record(Change::Palette(item));
        }
        if let Some(t) = transition {
            self.transition = Some(ActiveTransition {
                kind: t.kind.clone(),
                duration_ms: t.duration_ms,
                started_ms: self.time_ms(),
            });
            self.record(Change::Transition(Transition {
                frame,
                kind: t.kind,
                duration_ms: t.duration_ms,
            }));
        }
        for cue in sounds {
            self.start_sound(frame, cue.channel, cue.member());
        }
        for k in keyframes {
            self.record(Change::Keyframe(k));
        }
        if label != self.frame_label {
            self.frame_label = label;
            self.record(Change::MovieProp(MovieProp {
                prop: "frame_label".into(),
                value: self.frame_label.as_str().into(),
            }));
        }
        for (name, statements) in scripts {
            self.record(Change::FrameScript(FrameScript {
                frame,
                script: name.clone(),
            }));
            for statement in &statements {
                if let Err(e) = self.run_statement(frame, statement) {
                    tracing::warn!(script = %name, frame, error = %e, "frame script statement failed");
                }
            }
        }
    }

    fn run_statement(&mut self, frame: u32, statement: &Statement) -> Result<(), CommandError> {
        let score = &self.movie.score;
        let frame_count = score.frame_count;
        match statement {
            Statement::GoToFrame(n) => {
                if *n > frame_count {
                    return Err(CommandError::out_of_range(
                        "go to frame",
                        format!("1..={frame_count}"),
                        n,
                    ));
                }
                self.pending_jump = Some(*n);
            }
            Statement::GoToMarker(name) => {
                let m = score.marker(name).ok_or_else(|| {
                    CommandError::out_of_range(
                        "go to marker",
                        "a marker of the score",
                        format!("{name:?}"),
                    )
                })?;
                self.pending_jump = Some(m.frame);
            }
            Statement::GoLoop => {
                self.pending_jump = Some(score.marker_before(frame).map_or(1, |m| m.frame));
            }
            Statement::GoNext => {
                if let Some(m) = score
                    .markers
                    .iter()
                    .filter(|m| m.frame > frame)
                    .min_by_key(|m| m.frame)
                {
                    self.pending_jump = Some(m.frame);
                }
            }
            Statement::Pause => self.playing = false,
            Statement::Put { template, member } => {
                let r = self.member_named(member)?;
                let text = expand(template, frame, frame_count, self.tempo);
                self.set_member_prop(r, "text", &text.into())?;
            }
            Statement::SetStage { prop, value } => self.set_stage_prop(prop, value)?,
            Statement::SetMovie { prop, value } => self.set_movie_prop(prop, value)?,
            Statement::SetMember {
                member,
                prop,
                value,
            } => {
                let r = self.member_named(member)?;
                self.set_member_prop(r, prop, value)?;
            }
            Statement::SetStyle {
                member,
                style,
                start,
                end,
                value,
            } => {
                let r = self.member_named(member)?;
                self.set_text_style(r, *start, *end, style, value.clone())?;
            }
        }
        Ok(())
    }

    fn member_named(&self, name: &str) -> Result<MemberRef, CommandError> {
        self.movie
            .member_by_name(name)
            .ok_or_else(|| CommandError::UnknownMember(format!("no member named {name:?}")))
    }

    fn start_sound(&mut self, frame: u32, channel: u32, member: MemberRef) {
        let Some(crate::member::Member {
            kind: MemberKind::Sound(sound),
            ..
        }) = self.movie.member(member)
        else {
            return;
        };
        let ends_at_us =
            (!sound.looped).then(|| self.time_us + u64::from(sound.duration_ms) * 1000);
        if let Some(old) = self.sounds.remove(&channel) {
            self.record(Change::Sound(SoundCue {
                frame,
                channel,
                cast_lib: old.member.cast_lib,
                member_num: old.member.member_num,
                playing: false,
            }));
        }
        self.sounds
            .insert(channel, PlayingSound { member, ends_at_us });
        self.record(Change::Sound(SoundCue {
            frame,
            channel,
            cast_lib: member.cast_lib,
            member_num: member.member_num,
            playing: true,
        }));
    }

    fn end_finished_sounds(&mut self) {
        let now = self.time_us;
        let done: Vec<u32> = self
            .sounds
            .iter()
            .filter(|(_, s)| s.ends_at_us.is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for channel in done {
            if let Some(s) = self.sounds.remove(&channel) {
                self.record(Change::Sound(SoundCue {
                    frame: self.frame,
                    channel,
                    cast_lib: s.member.cast_lib,
                    member_num: s.member.member_num,
                    playing: false,
                }));
            }
        }
    }
}
