//! Mirror mode (`stagelink-player --mirror URL`): the engine following a remote session
//! instead of playing on its own — the headless "sync bot".
//!
//! A [`MirroredEngine`] is an [`Engine`] that a [`Mirror`] drives through the
//! [`MirrorTarget`] trait: a snapshot replaces the playhead, the sprites on stage, the stage,
//! movie and member properties; then every `frames` event moves the playhead and every
//! `sprites`, `sprite_events`, `*_props`, `tempos`, `palettes`, `sounds`, `transitions` and
//! `text_styles` event is applied as it comes. The engine never ticks by itself here: the
//! host's frames are its clock. Its [`SnapshotProvider`](stagelink_publisher::SnapshotProvider)
//! and its [`EngineState`](crate::EngineState) therefore answer with the host's state, which is
//! what lets the mirror serve a local viewer or renderer of its own.
//!
//! [`follow()`] is the loop (in `follower`): it applies a client's events to a
//! [`SharedMirror`], asks for a resync whenever the mirror missed something, and — when given
//! a [`LocalOutput`] — republishes what it applied through a local [`Publisher`], forwarding
//! local clients' commands to the remote host.
//!
//! [`Mirror`]: stagelink_client::Mirror
//!
//! Film loops keep their own playheads: they move one frame per host tick the mirror sees,
//! as on the host, so a mirror that skips frames (the `frames` stream keeps only the latest)
//! may show a film loop a frame or two off. Everything the `stage` snapshot holds is exact.

use stagelink_client::MirrorTarget;
use stagelink_contracts::{
    Color, Event, FilmLoop, MemberInfo, MemberProp, MemberRef, MovieProp, Palette, PropValue,
    SoundCue, SpriteDelta, SpriteEvent, SpriteEventKind, StageFrame, StageProp, StageSnapshot,
    StreamName, TempoChange, TextStyle, Transition,
};
use stagelink_publisher::{Publisher, TickReport};

use crate::engine::{ActiveTransition, Engine, PlayingSound};
use crate::member::{Member, MemberKind};
use crate::movie::{Cast, Movie, Stage};
use crate::publish::{Change, diff_sprites};
use crate::score::{Score, SpriteState};

mod follower;

pub use follower::{LocalOutput, SharedMirror, follow};

/// An engine that follows a remote stage (see the module docs).
#[derive(Debug)]
pub struct MirroredEngine {
    engine: Engine,
    /// What was applied since the last [`MirroredEngine::take_changes`], in order, for a
    /// local publisher to republish. `None` when nobody republishes, so nothing piles up.
    changes: Option<Vec<Change>>,
    /// Snapshots applied: the first sync, then one per resync.
    snapshots: u64,
}

impl MirroredEngine {
    /// Mirrors into `engine`, which should hold the remote project's movie (the `project`
    /// request's document; see [`movie_from_project`]).
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            changes: None,
            snapshots: 0,
        }
    }

    /// As [`MirroredEngine::new`], and records every change for [`MirroredEngine::publish`].
    pub fn republishing(engine: Engine) -> Self {
        Self {
            changes: Some(Vec::new()),
            ..Self::new(engine)
        }
    }

    /// The engine, holding the mirrored state.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Gives the engine back.
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// Snapshots applied so far (1 after the first sync, +1 per resync).
    pub fn snapshots_applied(&self) -> u64 {
        self.snapshots
    }

    /// The changes applied since the last call (empty unless made with
    /// [`MirroredEngine::republishing`]).
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Republishes what was applied since the last call as one local tick, then answers the
    /// local requests and snapshots from the mirrored state.
    pub fn publish(&mut self, publisher: &mut Publisher) -> TickReport {
        for change in self.take_changes() {
            change.record(publisher);
        }
        publisher.end_tick(self.engine.state.frame, &self.engine)
    }

    fn record(&mut self, change: Change) {
        if let Some(changes) = &mut self.changes {
            changes.push(change);
        }
    }

    /// A full sprite from a delta: the fields it lacks come from the sprite as it stands, else
    /// from the score (the span evaluated on the current frame), else neutral values.
    fn sprite_from(&self, delta: &SpriteDelta) -> SpriteState {
        let s = &self.engine.state;
        let key = (delta.sprite_num, delta.begin_frame);
        let mut sprite = s
            .current
            .iter()
            .find(|c| c.key() == key)
            .copied()
            .or_else(|| {
                s.movie
                    .score
                    .span(key.0, key.1)
                    .map(|span| span.eval(s.frame))
            })
            .unwrap_or(SpriteState {
                sprite_num: key.0,
                begin_frame: key.1,
                end_frame: key.1,
                member: MemberRef {
                    cast_lib: 1,
                    member_num: 1,
                },
                loc_h: 0.0,
                loc_v: 0.0,
                loc_z: 0,
                width: 0.0,
                height: 0.0,
                rotation: 0.0,
                skew: 0.0,
                blend: 100,
                ink: 0,
                visible: true,
                color: Color::rgb(0, 0, 0),
            });
        sprite.apply(delta);
        sprite
    }

    /// Inserts or replaces a sprite, keeping `current` sorted by key (the sprite diff and the
    /// renderer rely on it).
    fn put_sprite(&mut self, sprite: SpriteState) {
        let current = &mut self.engine.state.current;
        match current.binary_search_by_key(&sprite.key(), SpriteState::key) {
            Ok(i) => current[i] = sprite,
            Err(i) => current.insert(i, sprite),
        }
    }

    /// Makes sure the member exists (a movie that could not be rebuilt from the project
    /// document learns its members from the snapshot), then sets its name and properties.
    fn apply_member_info(&mut self, info: &MemberInfo) {
        let r = info.member_ref();
        let movie = &mut self.engine.state.movie;
        if movie.member(r).is_none() {
            let Some(kind) = MemberKind::default_of(&info.kind) else {
                tracing::debug!(kind = %info.kind, "mirror: a member of an unknown kind");
                return;
            };
            if r.cast_lib == 0 {
                return;
            }
            while movie.casts.len() < r.cast_lib as usize {
                let n = movie.casts.len() + 1;
                movie.casts.push(Cast::new(format!("cast {n}")));
            }
            if let Some(cast) = movie.cast_mut(r.cast_lib) {
                cast.members
                    .insert(r.member_num, Member::new(info.name.clone(), kind));
            }
        }
        let props = std::iter::once(("name".to_owned(), PropValue::from(info.name.as_str())))
            .chain(info.props.iter().map(|(k, v)| (k.clone(), v.clone())));
        let items: Vec<MemberProp> = props
            .map(|(prop, value)| MemberProp {
                cast_lib: r.cast_lib,
                member_num: r.member_num,
                prop,
                value,
            })
            .collect();
        self.set_member_props(&items);
    }

    /// The playhead and the stage size from a `frames` item (or a snapshot's movie state).
    fn set_playhead(&mut self, frame: u32, frame_count: u32, tempo: u32, playing: bool) {
        let s = &mut self.engine.state;
        s.frame = frame;
        s.playing = playing;
        s.tempo = tempo.max(1);
        if frame_count > 0 {
            s.movie.score.frame_count = frame_count;
        }
    }
}

impl MirrorTarget for MirroredEngine {
    fn apply_snapshot(&mut self, snapshot: &StageSnapshot) {
        self.snapshots += 1;
        if let Some(m) = snapshot.movie {
            self.set_playhead(m.frame, m.frame_count, m.tempo, m.playing);
        }
        // Properties first: a member a sprite shows may be new.
        for info in &snapshot.members {
            self.apply_member_info(info);
        }
        let stage: Vec<StageProp> = snapshot
            .stage_props
            .iter()
            .map(|(prop, value)| StageProp {
                prop: prop.clone(),
                value: value.clone(),
            })
            .collect();
        self.set_stage_props(&stage);
        let movie: Vec<MovieProp> = snapshot
            .movie_props
            .iter()
            .map(|(prop, value)| MovieProp {
                prop: prop.clone(),
                value: value.clone(),
            })
            .collect();
        self.set_movie_props(&movie);

        let mut sprites: Vec<SpriteState> = snapshot
            .sprites
            .iter()
            .map(|d| self.sprite_from(d))
            .collect();
        sprites.sort_by_key(SpriteState::key);
        sprites.dedup_by_key(|s| s.key());
        let old = std::mem::replace(&mut self.engine.state.current, sprites);
        if self.changes.is_some() {
            let mut changes = Vec::new();
            diff_sprites(&old, &self.engine.state.current, &mut changes);
            for change in changes {
                self.record(change);
            }
        }
        // The host's puppet overrides are already in its sprites; nothing local may add to them.
        self.engine.state.overrides.clear();
        self.engine.state.pending_jump = None;
        self.engine.state.needs_enter = false;
        let frame = self.engine.state.stage_frame();
        self.record(Change::Frame(frame));
    }

    fn go_to_frame(&mut self, frame: &StageFrame) {
        let s = &self.engine.state;
        let new_tick = frame.time_ms != s.time_ms() || frame.frame != s.frame;
        self.set_playhead(frame.frame, frame.frame_count, frame.tempo, frame.playing);
        let s = &mut self.engine.state;
        s.time_us = frame.time_ms * 1000;
        s.needs_enter = false;
        if frame.width > 0 && frame.height > 0 {
            s.movie.stage.width = frame.width;
            s.movie.stage.height = frame.height;
        }
        // On the host the stage holds exactly the spans that cover the frame. A slow session's
        // merged `sprites` event sits at its newest tick's place but carries older ticks'
        // deltas, so it can bring back a span whose removal came before it; such a span
        // never covers the frame the host has moved to, and goes here.
        let at = frame.frame;
        let mut gone = Vec::new();
        s.current.retain(|c| {
            let on_stage = c.begin_frame <= at && at <= c.end_frame;
            if !on_stage {
                gone.push(c.key());
            }
            on_stage
        });
        if new_tick {
            s.tick += 1;
            // Film loops run their own scores, one frame per host tick; their events arrive
            // on `film_loops`/`sprite_events` and are republished from there.
            let shown = s.current.clone();
            s.update_film_loops(&shown);
            s.out.clear();
        }
        for (sprite_num, begin_frame) in gone {
            self.record(Change::SpriteEvent(SpriteEvent {
                manager: "score".into(),
                event: SpriteEventKind::Removed,
                sprite_num,
                begin_frame,
                sprite: None,
            }));
        }
        self.record(Change::Frame(frame.clone()));
    }

    fn apply_sprite_deltas(&mut self, _frame: u32, deltas: &[SpriteDelta]) {
        for delta in deltas {
            let sprite = self.sprite_from(delta);
            self.put_sprite(sprite);
            self.record(Change::Sprite(delta.clone()));
        }
    }

    fn apply_sprite_events(&mut self, events: &[SpriteEvent]) {
        for e in events {
            // Film loops' own spans are not sprites of the stage's score.
            if e.manager == "score" {
                let key = (e.sprite_num, e.begin_frame);
                match e.event {
                    SpriteEventKind::Added => {
                        // A delta may have arrived first: newer fields win over the event's.
                        let existing = self
                            .engine
                            .state
                            .current
                            .iter()
                            .find(|c| c.key() == key)
                            .map(SpriteState::to_delta);
                        let mut sprite = match &e.sprite {
                            Some(full) => self.sprite_from(full),
                            None => self.sprite_from(&SpriteDelta::new(key.0, key.1)),
                        };
                        if let Some(newer) = existing {
                            sprite.apply(&newer);
                        }
                        self.put_sprite(sprite);
                    }
                    SpriteEventKind::Removed => {
                        self.engine.state.current.retain(|c| c.key() != key);
                    }
                    SpriteEventKind::Cleared => self.engine.state.current.clear(),
                }
            }
            self.record(Change::SpriteEvent(e.clone()));
        }
    }

    fn set_member_props(&mut self, props: &[MemberProp]) {
        for p in props {
            let r = MemberRef {
                cast_lib: p.cast_lib,
                member_num: p.member_num,
            };
            let Some(member) = self.engine.state.movie.member_mut(r) else {
                tracing::debug!(?r, prop = %p.prop, "mirror: a property of an unknown member");
                continue;
            };
            match member.set(&p.prop, &p.value) {
                Ok(true) => self.record(Change::MemberProp(p.clone())),
                Ok(false) => {}
                // Read-only ones (a film loop's `frame_count`) follow from the project.
                Err(e) => {
                    tracing::debug!(?r, prop = %p.prop, error = %e, "mirror: member property not applied")
                }
            }
        }
    }

    fn set_movie_props(&mut self, props: &[MovieProp]) {
        for p in props {
            let s = &mut self.engine.state;
            let changed = if p.prop == "frame_label" {
                match p.value.as_str() {
                    Some(label) if label != s.frame_label => {
                        s.frame_label = label.to_owned();
                        true
                    }
                    _ => false,
                }
            } else {
                s.movie.set_movie_prop(&p.prop, &p.value).unwrap_or_else(|e| {
                    tracing::debug!(prop = %p.prop, error = %e, "mirror: movie property not applied");
                    false
                })
            };
            if changed {
                self.record(Change::MovieProp(p.clone()));
            }
        }
    }

    fn set_stage_props(&mut self, props: &[StageProp]) {
        for p in props {
            let changed = self
                .engine
                .state
                .movie
                .set_stage_prop(&p.prop, &p.value)
                .unwrap_or_else(|e| {
                    tracing::debug!(prop = %p.prop, error = %e, "mirror: stage property not applied");
                    false
                });
            if changed {
                self.record(Change::StageProp(p.clone()));
            }
        }
    }

    fn set_palette(&mut self, palette: &Palette) {
        self.engine.state.palette = Some(palette.clone());
        self.record(Change::Palette(palette.clone()));
    }

    fn other_event(&mut self, event: &Event) {
        let Some(stream) = StreamName::parse(&event.stream) else {
            return;
        };
        // Decoding failures are logged and skipped: these streams hold no state the
        // snapshot would not repair.
        fn items<T: serde::de::DeserializeOwned>(event: &Event) -> Vec<T> {
            event.items_as::<T>().unwrap_or_else(|e| {
                tracing::warn!(stream = %event.stream, seq = event.seq, error = %e, "mirror: undecodable items");
                Vec::new()
            })
        }
        match stream {
            StreamName::Tempos => {
                for t in items::<TempoChange>(event) {
                    self.engine.state.tempo = t.tempo.max(1);
                    self.record(Change::Tempo(t));
                }
            }
            StreamName::Sounds => {
                for cue in items::<SoundCue>(event) {
                    let s = &mut self.engine.state;
                    if cue.playing {
                        let member = MemberRef {
                            cast_lib: cue.cast_lib,
                            member_num: cue.member_num,
                        };
                        let ends_at_us = match s.movie.member(member).map(|m| &m.kind) {
                            Some(MemberKind::Sound(sound)) if !sound.looped => {
                                Some(s.time_us + u64::from(sound.duration_ms) * 1000)
                            }
                            _ => None,
                        };
                        s.sounds
                            .insert(cue.channel, PlayingSound { member, ends_at_us });
                    } else {
                        s.sounds.remove(&cue.channel);
                    }
                    self.record(Change::Sound(cue));
                }
            }
            StreamName::Transitions => {
                for t in items::<Transition>(event) {
                    let started_ms = self.engine.state.time_ms();
                    self.engine.state.transition = Some(ActiveTransition {
                        kind: t.kind.clone(),
                        duration_ms: t.duration_ms,
                        started_ms,
                    });
                    self.record(Change::Transition(t));
                }
            }
            StreamName::TextStyles => {
                for t in items::<TextStyle>(event) {
                    let r = MemberRef {
                        cast_lib: t.cast_lib,
                        member_num: t.member_num,
                    };
                    if let Some(MemberKind::Text(text)) =
                        self.engine.state.movie.member_mut(r).map(|m| &mut m.kind)
                        && let Err(e) = text.set_style(t.start, t.end, &t.style, t.value.clone())
                    {
                        tracing::debug!(?r, error = %e, "mirror: text style not applied");
                    }
                    self.record(Change::TextStyle(t));
                }
            }
            StreamName::FilmLoops => {
                for f in items::<FilmLoop>(event) {
                    self.record(Change::FilmLoop(f));
                }
            }
            StreamName::Keyframes => {
                for k in items(event) {
                    self.record(Change::Keyframe(k));
                }
            }
            StreamName::FrameScripts => {
                for f in items(event) {
                    self.record(Change::FrameScript(f));
                }
            }
            _ => {}
        }
    }
}

/// The remote project's movie, from its `project` document; when the document is not a movie
/// this player can read (another kind of host), an empty movie that the snapshots fill in.
pub fn movie_from_project(document: &serde_json::Value, name: &str) -> (Movie, Option<String>) {
    let parsed = serde_json::to_vec(document)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            crate::file::parse(&bytes, std::path::Path::new("the remote project"))
                .map_err(|e| e.to_string())
        });
    match parsed {
        Ok(movie) => (movie, None),
        Err(e) => (empty_movie(name), Some(e)),
    }
}

/// A movie with no casts and a one-frame score, for a mirror whose remote project document
/// cannot be read: the snapshots bring the members, the sprites and the properties.
pub fn empty_movie(name: &str) -> Movie {
    Movie {
        name: name.into(),
        stage: Stage {
            width: 640,
            height: 480,
            bg_color: Color::rgb(0, 0, 0),
            title: name.into(),
        },
        tempo: 30,
        looped: true,
        update_lock: false,
        casts: Vec::new(),
        score: Score::new(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_publisher::SnapshotProvider;

    use crate::demo;

    /// What a mirror would receive for one host tick, applied in the order it happened.
    fn feed(mirror: &mut MirroredEngine, out: &crate::TickOutput) {
        for change in &out.changes {
            match change {
                Change::Frame(f) => mirror.go_to_frame(f),
                Change::Sprite(d) => mirror.apply_sprite_deltas(out.frame, std::slice::from_ref(d)),
                Change::SpriteEvent(e) => mirror.apply_sprite_events(std::slice::from_ref(e)),
                Change::MemberProp(p) => mirror.set_member_props(std::slice::from_ref(p)),
                Change::MovieProp(p) => mirror.set_movie_props(std::slice::from_ref(p)),
                Change::StageProp(p) => mirror.set_stage_props(std::slice::from_ref(p)),
                _ => {}
            }
        }
    }

    /// A fresh engine on the demo movie, synced from another engine's snapshot, reports the
    /// same stage; a frame and a delta move it on.
    #[test]
    fn a_snapshot_then_events_reproduce_the_host_stage() {
        let mut host = demo::demo_engine();
        for _ in 0..50 {
            host.tick([]);
        }
        let mut mirror = MirroredEngine::republishing(Engine::new(demo::demo_movie()));
        mirror.apply_snapshot(&host.stage());
        assert_eq!(mirror.engine().stage(), host.stage());
        assert!(!mirror.take_changes().is_empty());

        let out = host.tick([stagelink_contracts::Command::Pause]);
        feed(&mut mirror, &out);
        assert_eq!(mirror.engine().stage(), host.stage());
        assert_eq!(mirror.engine().state().frame(), out.frame);
        assert!(!mirror.engine().state().playing());
    }

    /// A stale delta (a slow session's merged `sprites` event) brings back a span that has
    /// left the stage; the next frame drops it again.
    #[test]
    fn a_span_brought_back_by_a_stale_delta_goes_with_the_next_frame() {
        let mut host = demo::demo_engine();
        for _ in 0..215 {
            host.tick([]);
        }
        let comet = (demo::FIRST_COMET, 30);
        assert!(
            host.stage()
                .sprites
                .iter()
                .all(|s| (s.sprite_num, s.begin_frame) != comet)
        );
        let mut mirror = MirroredEngine::republishing(Engine::new(demo::demo_movie()));
        mirror.apply_snapshot(&host.stage());
        let stale = SpriteDelta {
            loc_h: Some(1.0),
            end_frame: Some(210),
            ..SpriteDelta::new(comet.0, comet.1)
        };
        mirror.apply_sprite_deltas(200, &[stale]);
        assert_ne!(
            mirror.engine().stage(),
            host.stage(),
            "the ghost is on stage"
        );
        let _ = mirror.take_changes();

        feed(&mut mirror, &host.tick([]));
        assert_eq!(mirror.engine().stage(), host.stage());
        assert!(mirror.take_changes().iter().any(|c| matches!(
            c,
            Change::SpriteEvent(SpriteEvent { event: SpriteEventKind::Removed, sprite_num, .. })
                if *sprite_num == comet.0
        )));
    }

    #[test]
    fn members_unknown_to_the_local_movie_are_created_from_the_snapshot() {
        let host = demo::demo_engine();
        let mut mirror = MirroredEngine::new(Engine::new(empty_movie("empty")));
        mirror.apply_snapshot(&host.stage());
        // A film loop's `frame_count` comes from its score, which only the project holds.
        let without_frame_count = |mut members: Vec<MemberInfo>| {
            for m in &mut members {
                m.props.remove("frame_count");
            }
            members
        };
        assert_eq!(
            without_frame_count(mirror.engine().movie().members_info()),
            without_frame_count(host.movie().members_info())
        );
        assert_eq!(mirror.engine().stage().sprites, host.stage().sprites);
        assert!(mirror.take_changes().is_empty(), "not republishing");
    }
}
