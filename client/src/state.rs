//! [`ClientState`]: a local model of the remote stage, kept exact by applying a snapshot and then
//! every event in order — what the terminal draws and the mirror copies.
//!
//! Keys follow the protocol: sprites by `(sprite_num, begin_frame)`, members by
//! `(cast_lib, member_num)`. A `sprites` delta for a span not seen yet creates the span (events of
//! different streams are not ordered relative to each other, protocol §6). Events a snapshot
//! already includes are skipped by seq, and a `gap` (or a hole no gap announced) marks the state
//! inexact until the next snapshot: [`ClientState::is_exact`].

use std::collections::BTreeMap;

use stagelink_contracts::{
    ErrorCode, Event, Gap, MemberInfo, MemberProp, MovieProp, MovieState, Palette, PropValue,
    SpriteDelta, SpriteEvent, SpriteEventKind, StageFrame, StageProp, StageSnapshot, StreamName,
    TempoChange,
};

use crate::event::ClientEvent;
use crate::seq::{SeqTracker, SeqVerdict};

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The state changed (or may have).
    Changed,
    /// The event was already included (by seq) and was skipped.
    Stale,
    /// Nothing in the model follows this event (another stream, a notice…).
    Ignored,
}

/// The local model of one remote stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientState {
    /// The playhead, from the snapshot and then every `frames` event.
    pub movie: Option<MovieState>,
    /// The newest `frames` item (adds movie time and stage size to `movie`).
    pub stage_frame: Option<StageFrame>,
    /// Every sprite span, full state, by `(sprite_num, begin_frame)`.
    pub sprites: BTreeMap<(u32, u32), SpriteDelta>,
    /// Every cast member by `(cast_lib, member_num)`.
    pub members: BTreeMap<(u32, u32), MemberInfo>,
    /// Movie properties.
    pub movie_props: BTreeMap<String, PropValue>,
    /// Stage properties.
    pub stage_props: BTreeMap<String, PropValue>,
    /// The active palette, when one was published.
    pub palette: Option<Palette>,
    /// Where each stream stands, to skip what a snapshot already includes.
    seqs: SeqTracker,
    /// A snapshot has been applied since the state was created.
    has_snapshot: bool,
    /// Something was lost since the last snapshot (a gap, a hole, a lagging consumer).
    stale: bool,
    /// Snapshots applied so far (initial, resyncs).
    snapshots: u64,
}

impl ClientState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state built from a snapshot.
    pub fn from_snapshot(snapshot: &StageSnapshot) -> Self {
        let mut s = Self::new();
        s.apply_snapshot(snapshot);
        s
    }

    /// Whether the state mirrors the server exactly: a snapshot was applied and nothing was lost
    /// since.
    pub fn is_exact(&self) -> bool {
        self.has_snapshot && !self.stale
    }

    /// Whether any snapshot has been applied.
    pub fn has_snapshot(&self) -> bool {
        self.has_snapshot
    }

    /// Snapshots applied so far.
    pub fn snapshots_applied(&self) -> u64 {
        self.snapshots
    }

    /// The last seq applied (or included by a snapshot) on `stream`.
    pub fn last_seq(&self, stream: StreamName) -> Option<u64> {
        self.seqs.last(stream)
    }

    /// The current score frame, if known.
    pub fn frame(&self) -> Option<u32> {
        self.movie.map(|m| m.frame)
    }

    /// A sprite span.
    pub fn sprite(&self, sprite_num: u32, begin_frame: u32) -> Option<&SpriteDelta> {
        self.sprites.get(&(sprite_num, begin_frame))
    }

    /// A cast member.
    pub fn member(&self, cast_lib: u32, member_num: u32) -> Option<&MemberInfo> {
        self.members.get(&(cast_lib, member_num))
    }

    /// The spans present on `frame`, in drawing order (`loc_z`, then channel).
    pub fn sprites_on(&self, frame: u32) -> Vec<&SpriteDelta> {
        let mut v: Vec<_> = self
            .sprites
            .values()
            .filter(|s| s.begin_frame <= frame && s.end_frame.is_none_or(|end| frame <= end))
            .collect();
        v.sort_by_key(|s| (s.loc_z.unwrap_or(0), s.sprite_num));
        v
    }

    /// Applies anything a client reports. Returns what it did.
    pub fn apply(&mut self, event: &ClientEvent) -> Applied {
        match event {
            ClientEvent::Snapshot(s) | ClientEvent::Resynced(s) => {
                self.apply_snapshot(s);
                Applied::Changed
            }
            ClientEvent::Event(e) => self.apply_event(e),
            ClientEvent::Gap(g) => {
                self.apply_gap(g);
                Applied::Ignored
            }
            ClientEvent::Lagged(_) => {
                self.stale = true;
                Applied::Ignored
            }
            ClientEvent::Notice(n) if n.code == ErrorCode::HostJoined => {
                // A new host run: its seqs start again at 1, and a snapshot follows.
                self.seqs.clear();
                self.stale = true;
                Applied::Ignored
            }
            ClientEvent::Welcome(_) if self.has_snapshot => {
                // A new session: seqs may have restarted (a restarted host); the resync
                // snapshot that follows re-anchors them.
                self.seqs.clear();
                self.stale = true;
                Applied::Ignored
            }
            _ => Applied::Ignored,
        }
    }

    /// Replaces the whole state with a snapshot.
    pub fn apply_snapshot(&mut self, snapshot: &StageSnapshot) {
        self.movie = snapshot.movie;
        if let (Some(frame), Some(m)) = (&mut self.stage_frame, snapshot.movie) {
            frame.frame = m.frame;
            frame.frame_count = m.frame_count;
            frame.tempo = m.tempo;
            frame.playing = m.playing;
        }
        self.sprites = snapshot
            .sprites
            .iter()
            .map(|s| ((s.sprite_num, s.begin_frame), s.clone()))
            .collect();
        self.members = snapshot
            .members
            .iter()
            .map(|m| ((m.cast_lib, m.member_num), m.clone()))
            .collect();
        self.movie_props = snapshot.movie_props.clone();
        self.stage_props = snapshot.stage_props.clone();
        self.seqs.reset_to(&snapshot.seqs);
        self.has_snapshot = true;
        self.stale = false;
        self.snapshots += 1;
    }

    /// Records a `gap`: the state is inexact until the next snapshot.
    pub fn apply_gap(&mut self, gap: &Gap) {
        if let Some(stream) = StreamName::parse(&gap.stream) {
            self.seqs.skip_to(stream, gap.to_seq);
        }
        self.stale = true;
    }

    /// Applies one stream event (skipping it when a snapshot or an earlier event included it).
    pub fn apply_event(&mut self, event: &Event) -> Applied {
        let Some(stream) = StreamName::parse(&event.stream) else {
            return Applied::Ignored;
        };
        match self.seqs.accept(stream, event.seq, event.first_seq) {
            SeqVerdict::Stale => return Applied::Stale,
            SeqVerdict::Hole { expected, got } => {
                tracing::warn!(%stream, expected, got, "seq hole without a gap; state inexact");
                self.stale = true;
            }
            SeqVerdict::Fresh => {}
        }
        macro_rules! items {
            ($ty:ty) => {
                match event.items_as::<$ty>() {
                    Ok(items) => items,
                    Err(e) => {
                        tracing::warn!(%stream, seq = event.seq, error = %e, "undecodable items");
                        self.stale = true;
                        return Applied::Ignored;
                    }
                }
            };
        }
        match stream {
            StreamName::Frames => {
                if let Some(frame) = items!(StageFrame).pop() {
                    self.apply_stage_frame(&frame);
                }
            }
            StreamName::Sprites => self.apply_sprite_deltas(&items!(SpriteDelta)),
            StreamName::SpriteEvents => self.apply_sprite_events(&items!(SpriteEvent)),
            StreamName::MemberProps => self.apply_member_props(&items!(MemberProp)),
            StreamName::MovieProps => self.apply_movie_props(&items!(MovieProp)),
            StreamName::StageProps => self.apply_stage_props(&items!(StageProp)),
            StreamName::Tempos => {
                if let (Some(t), Some(movie)) = (items!(TempoChange).pop(), &mut self.movie) {
                    movie.tempo = t.tempo;
                }
            }
            StreamName::Palettes => {
                if let Some(p) = items!(Palette).pop() {
                    self.palette = Some(p);
                }
            }
            // Notifications with no lasting state in this model (sounds, transitions, …).
            _ => return Applied::Ignored,
        }
        Applied::Changed
    }

    /// The playhead after a tick.
    pub fn apply_stage_frame(&mut self, frame: &StageFrame) {
        self.movie = Some(MovieState {
            frame: frame.frame,
            frame_count: frame.frame_count,
            tempo: frame.tempo,
            playing: frame.playing,
        });
        self.stage_frame = Some(frame.clone());
    }

    /// Sprite deltas: newer fields win; an unknown span is created from its delta.
    pub fn apply_sprite_deltas(&mut self, deltas: &[SpriteDelta]) {
        for d in deltas {
            self.sprites
                .entry((d.sprite_num, d.begin_frame))
                .and_modify(|s| s.apply(d))
                .or_insert_with(|| d.clone());
        }
    }

    /// Structural sprite changes of the score (film loops' own scores are not modelled).
    pub fn apply_sprite_events(&mut self, events: &[SpriteEvent]) {
        for e in events.iter().filter(|e| e.manager == "score") {
            let key = (e.sprite_num, e.begin_frame);
            match e.event {
                SpriteEventKind::Added => {
                    let full = e
                        .sprite
                        .clone()
                        .unwrap_or_else(|| SpriteDelta::new(e.sprite_num, e.begin_frame));
                    // A delta may have arrived first (streams are not ordered together).
                    match self.sprites.get_mut(&key) {
                        Some(existing) => {
                            let newer = std::mem::replace(existing, full);
                            existing.apply(&newer);
                        }
                        None => {
                            self.sprites.insert(key, full);
                        }
                    }
                }
                SpriteEventKind::Removed => {
                    self.sprites.remove(&key);
                }
                SpriteEventKind::Cleared => self.sprites.clear(),
            }
        }
    }

    /// Member property changes; an unknown member is created.
    pub fn apply_member_props(&mut self, props: &[MemberProp]) {
        for p in props {
            let member = self
                .members
                .entry((p.cast_lib, p.member_num))
                .or_insert_with(|| MemberInfo {
                    cast_lib: p.cast_lib,
                    member_num: p.member_num,
                    name: String::new(),
                    kind: String::new(),
                    props: BTreeMap::new(),
                });
            if p.prop == "name"
                && let Some(name) = p.value.as_str()
            {
                member.name = name.to_owned();
            }
            member.props.insert(p.prop.clone(), p.value.clone());
        }
    }

    /// Movie property changes.
    pub fn apply_movie_props(&mut self, props: &[MovieProp]) {
        for p in props {
            self.movie_props.insert(p.prop.clone(), p.value.clone());
        }
    }

    /// Stage property changes.
    pub fn apply_stage_props(&mut self, props: &[StageProp]) {
        for p in props {
            self.stage_props.insert(p.prop.clone(), p.value.clone());
        }
    }

    /// The state as a snapshot (the seqs it has applied up to).
    pub fn to_snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            seqs: self.seqs.to_map(),
            movie: self.movie,
            stage_props: self.stage_props.clone(),
            movie_props: self.movie_props.clone(),
            sprites: self.sprites.values().cloned().collect(),
            members: self.members.values().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::{Color, MemberRef, Notice, encode_event};
    use std::sync::Arc;

    fn full_sprite(num: u32, begin: u32, end: u32) -> SpriteDelta {
        SpriteDelta {
            sprite_num: num,
            begin_frame: begin,
            end_frame: Some(end),
            member: Some(MemberRef {
                cast_lib: 1,
                member_num: 2,
            }),
            loc_h: Some(10.0),
            loc_v: Some(20.0),
            loc_z: Some(num as i32),
            width: Some(48.0),
            height: Some(48.0),
            rotation: Some(0.0),
            skew: Some(0.0),
            blend: Some(100),
            ink: Some(36),
            visible: Some(true),
            color: Some(Color::rgb(255, 64, 64)),
        }
    }

    fn snapshot() -> StageSnapshot {
        StageSnapshot {
            seqs: [
                ("sprites", 10),
                ("frames", 100),
                ("sprite_events", 3),
                ("sounds", 7),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            movie: Some(MovieState {
                frame: 17,
                frame_count: 240,
                tempo: 30,
                playing: true,
            }),
            stage_props: [("title".to_string(), PropValue::from("Stagelink démo ✓"))].into(),
            movie_props: [("loop".to_string(), PropValue::Bool(true))].into(),
            sprites: vec![full_sprite(3, 1, 120), full_sprite(1, 1, 240)],
            members: vec![MemberInfo {
                cast_lib: 1,
                member_num: 5,
                name: "score_text".into(),
                kind: "text".into(),
                props: [("text".to_string(), PropValue::from("Score: 0"))].into(),
            }],
        }
    }

    fn event<T: serde::Serialize>(stream: StreamName, seq: u64, frame: u32, items: &[T]) -> Event {
        let bytes = encode_event(stream, seq, None, frame, items);
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn snapshot_then_events_then_round_trip() {
        let mut s = ClientState::new();
        assert!(!s.is_exact());
        s.apply(&ClientEvent::Snapshot(Arc::new(snapshot())));
        assert!(s.is_exact());
        assert_eq!(s.frame(), Some(17));
        assert_eq!(s.sprites.len(), 2);
        assert_eq!(
            s.stage_props["title"].as_str(),
            Some("Stagelink démo ✓"),
            "non-ASCII text survives"
        );

        // Already in the snapshot: skipped.
        let old = event(
            StreamName::Sprites,
            10,
            17,
            &[SpriteDelta {
                loc_h: Some(999.0),
                ..SpriteDelta::new(3, 1)
            }],
        );
        assert_eq!(s.apply_event(&old), Applied::Stale);
        assert_eq!(s.sprite(3, 1).unwrap().loc_h, Some(10.0));

        let live = event(
            StreamName::Sprites,
            11,
            18,
            &[
                SpriteDelta {
                    loc_h: Some(212.0),
                    ..SpriteDelta::new(3, 1)
                },
                // A span not seen yet is created from its delta.
                SpriteDelta {
                    blend: Some(50),
                    ..SpriteDelta::new(9, 18)
                },
            ],
        );
        assert_eq!(s.apply_event(&live), Applied::Changed);
        assert_eq!(s.sprite(3, 1).unwrap().loc_h, Some(212.0));
        assert_eq!(s.sprite(3, 1).unwrap().loc_v, Some(20.0));
        assert_eq!(s.sprite(9, 18).unwrap().blend, Some(50));

        let frames = event(
            StreamName::Frames,
            101,
            18,
            &[StageFrame {
                frame: 18,
                frame_count: 240,
                tempo: 30,
                playing: true,
                time_ms: 600,
                width: 640,
                height: 480,
            }],
        );
        s.apply_event(&frames);
        assert_eq!(s.frame(), Some(18));

        let props = event(
            StreamName::MemberProps,
            1,
            18,
            &[MemberProp {
                cast_lib: 1,
                member_num: 5,
                prop: "text".into(),
                value: "Größe: 120 — 日本".into(),
            }],
        );
        s.apply_event(&props);
        assert_eq!(
            s.member(1, 5).unwrap().props["text"].as_str(),
            Some("Größe: 120 — 日本")
        );

        let back = ClientState::from_snapshot(&s.to_snapshot());
        assert_eq!(back.sprites, s.sprites);
        assert_eq!(back.members, s.members);
        assert_eq!(back.last_seq(StreamName::Sprites), Some(11));
        assert_eq!(back.last_seq(StreamName::MemberProps), Some(1));
    }

    #[test]
    fn sprite_events_add_remove_clear() {
        let mut s = ClientState::from_snapshot(&snapshot());
        let ev = event(
            StreamName::SpriteEvents,
            4,
            30,
            &[
                SpriteEvent {
                    manager: "score".into(),
                    event: SpriteEventKind::Added,
                    sprite_num: 12,
                    begin_frame: 30,
                    sprite: Some(full_sprite(12, 30, 90)),
                },
                SpriteEvent {
                    manager: "score".into(),
                    event: SpriteEventKind::Removed,
                    sprite_num: 3,
                    begin_frame: 1,
                    sprite: None,
                },
                SpriteEvent {
                    manager: "spinner".into(),
                    event: SpriteEventKind::Cleared,
                    sprite_num: 0,
                    begin_frame: 0,
                    sprite: None,
                },
            ],
        );
        s.apply_event(&ev);
        let keys: Vec<_> = s.sprites.keys().copied().collect();
        assert_eq!(keys, [(1, 1), (12, 30)]);
        assert_eq!(
            s.sprites_on(30)
                .iter()
                .map(|s| s.sprite_num)
                .collect::<Vec<_>>(),
            [1, 12]
        );
        assert_eq!(s.sprites_on(200).len(), 1);
        let clear = event(
            StreamName::SpriteEvents,
            5,
            31,
            &[SpriteEvent {
                manager: "score".into(),
                event: SpriteEventKind::Cleared,
                sprite_num: 0,
                begin_frame: 0,
                sprite: None,
            }],
        );
        s.apply_event(&clear);
        assert!(s.sprites.is_empty());
    }

    #[test]
    fn a_gap_makes_the_state_inexact_until_the_next_snapshot() {
        let mut s = ClientState::from_snapshot(&snapshot());
        s.apply(&ClientEvent::Gap(Gap {
            stream: "sounds".into(),
            from_seq: 8,
            to_seq: 20,
        }));
        assert!(!s.is_exact());
        assert_eq!(s.last_seq(StreamName::Sounds), Some(20));
        s.apply(&ClientEvent::Resynced(Arc::new(snapshot())));
        assert!(s.is_exact());
        assert_eq!(s.snapshots_applied(), 2);
    }

    #[test]
    fn a_hole_without_a_gap_is_noticed() {
        let mut s = ClientState::from_snapshot(&snapshot());
        let ev = event(StreamName::Sprites, 15, 20, &[SpriteDelta::new(3, 1)]);
        assert_eq!(s.apply_event(&ev), Applied::Changed);
        assert!(!s.is_exact());
    }

    #[test]
    fn a_new_host_run_restarts_seqs() {
        let mut s = ClientState::from_snapshot(&snapshot());
        s.apply(&ClientEvent::Notice(Notice {
            code: ErrorCode::HostJoined,
            message: String::new(),
        }));
        let ev = event(
            StreamName::Sprites,
            1,
            1,
            &[SpriteDelta {
                loc_h: Some(1.0),
                ..SpriteDelta::new(3, 1)
            }],
        );
        assert_eq!(s.apply_event(&ev), Applied::Changed);
        assert_eq!(s.sprite(3, 1).unwrap().loc_h, Some(1.0));
    }
}
