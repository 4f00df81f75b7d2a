//! From engine state to publisher items: the [`Change`] a tick reports, the sprite diff that
//! produces `sprites` deltas and `sprite_events`, and the glue that drives a real
//! [`Publisher`] ([`publish_tick`]) and answers its requests ([`SnapshotProvider`]).

use stagelink_contracts::{
    FilmLoop, FrameScript, Keyframe, MemberProp, MovieProp, MovieState, Palette, SoundCue,
    SpriteDelta, SpriteEvent, SpriteEventKind, StageFrame, StageProp, StageSnapshot, StreamName,
    TempoChange, TextStyle, Transition,
};
use stagelink_publisher::{Publisher, SnapshotProvider, TickReport};

use crate::engine::Engine;
use crate::score::SpriteState;

/// One change a tick reports: an item of one of the 14 JSON streams.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Frame(StageFrame),
    Sprite(SpriteDelta),
    SpriteEvent(SpriteEvent),
    MemberProp(MemberProp),
    MovieProp(MovieProp),
    StageProp(StageProp),
    Keyframe(Keyframe),
    FilmLoop(FilmLoop),
    Sound(SoundCue),
    Tempo(TempoChange),
    Palette(Palette),
    FrameScript(FrameScript),
    Transition(Transition),
    TextStyle(TextStyle),
}

impl Change {
    /// The stream the change travels on.
    pub fn stream(&self) -> StreamName {
        match self {
            Change::Frame(_) => StreamName::Frames,
            Change::Sprite(_) => StreamName::Sprites,
            Change::SpriteEvent(_) => StreamName::SpriteEvents,
            Change::MemberProp(_) => StreamName::MemberProps,
            Change::MovieProp(_) => StreamName::MovieProps,
            Change::StageProp(_) => StreamName::StageProps,
            Change::Keyframe(_) => StreamName::Keyframes,
            Change::FilmLoop(_) => StreamName::FilmLoops,
            Change::Sound(_) => StreamName::Sounds,
            Change::Tempo(_) => StreamName::Tempos,
            Change::Palette(_) => StreamName::Palettes,
            Change::FrameScript(_) => StreamName::FrameScripts,
            Change::Transition(_) => StreamName::Transitions,
            Change::TextStyle(_) => StreamName::TextStyles,
        }
    }

    /// Records the change with a publisher.
    pub fn record(self, publisher: &mut Publisher) {
        match self {
            Change::Frame(i) => publisher.record(i),
            Change::Sprite(i) => publisher.record(i),
            Change::SpriteEvent(i) => publisher.record(i),
            Change::MemberProp(i) => publisher.record(i),
            Change::MovieProp(i) => publisher.record(i),
            Change::StageProp(i) => publisher.record(i),
            Change::Keyframe(i) => publisher.record(i),
            Change::FilmLoop(i) => publisher.record(i),
            Change::Sound(i) => publisher.record(i),
            Change::Tempo(i) => publisher.record(i),
            Change::Palette(i) => publisher.record(i),
            Change::FrameScript(i) => publisher.record(i),
            Change::Transition(i) => publisher.record(i),
            Change::TextStyle(i) => publisher.record(i),
        }
    }
}

/// Compares the sprites reported last tick with this tick's (both sorted by key) and reports
/// spans that left the frame (`removed`), spans that arrived (`added`, plus a full delta on
/// `sprites`), and the changed fields of the rest.
pub fn diff_sprites(old: &[SpriteState], new: &[SpriteState], out: &mut Vec<Change>) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let ok = old.get(i).map(SpriteState::key);
        let nk = new.get(j).map(SpriteState::key);
        match (ok, nk) {
            (Some(a), Some(b)) if a == b => {
                if let Some(d) = new[j].diff(&old[i]) {
                    out.push(Change::Sprite(d));
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a < b) => {
                out.push(Change::SpriteEvent(SpriteEvent {
                    manager: "score".into(),
                    event: SpriteEventKind::Removed,
                    sprite_num: a.0,
                    begin_frame: a.1,
                    sprite: None,
                }));
                i += 1;
            }
            _ => {
                let s = &new[j];
                let full = s.to_delta();
                out.push(Change::SpriteEvent(SpriteEvent {
                    manager: "score".into(),
                    event: SpriteEventKind::Added,
                    sprite_num: s.sprite_num,
                    begin_frame: s.begin_frame,
                    sprite: Some(full.clone()),
                }));
                out.push(Change::Sprite(full));
                j += 1;
            }
        }
    }
}

impl SnapshotProvider for Engine {
    fn movie_state(&self) -> MovieState {
        self.state.movie_state()
    }

    fn stage(&self) -> StageSnapshot {
        let s = &self.state;
        StageSnapshot {
            seqs: Default::default(),
            movie: Some(s.movie_state()),
            stage_props: s
                .movie
                .stage_props()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            movie_props: s
                .movie_props()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            sprites: s.sprites().iter().map(SpriteState::to_delta).collect(),
            members: s.movie.members_info(),
        }
    }

    fn project(&self) -> serde_json::Value {
        crate::file::to_document(&self.state.movie)
    }
}

/// One tick driven through a publisher: drain the commands, tick, ack each command with the
/// frame the tick showed, record every change, then flush (requests and snapshots are answered
/// there, consistent with the flush).
///
/// Acks go out before the tick's events are fanned out: they travel on the control lane anyway
/// (protocol §7.5, `ack.frame` names the frame), and answering first keeps a command's round
/// trip from waiting behind the fan-out to every session.
pub fn publish_tick(engine: &mut Engine, publisher: &mut Publisher) -> TickReport {
    publish_tick_with(engine, publisher, |_| {})
}

/// [`publish_tick`] with `before_flush` called right before the flush, to record extra items
/// into the same tick (the benchmark records its latency stamp there).
pub fn publish_tick_with(
    engine: &mut Engine,
    publisher: &mut Publisher,
    before_flush: impl FnOnce(&mut Publisher),
) -> TickReport {
    let pending = publisher.drain_commands();
    let commands: Vec<_> = pending.iter().map(|p| p.command.clone()).collect();
    let output = engine.tick(commands);
    for (command, result) in pending.into_iter().zip(output.results) {
        match result {
            Ok(value) => command.applied(output.frame, value),
            Err(e) => command.rejected(e.code(), e.to_string()),
        }
    }
    for change in output.changes {
        change.record(publisher);
    }
    before_flush(publisher);
    publisher.end_tick(output.frame, engine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::{Color, MemberRef};

    fn sprite(n: u32, x: f64) -> SpriteState {
        SpriteState {
            sprite_num: n,
            begin_frame: 1,
            end_frame: 10,
            member: MemberRef {
                cast_lib: 1,
                member_num: 1,
            },
            loc_h: x,
            loc_v: 0.0,
            loc_z: 0,
            width: 1.0,
            height: 1.0,
            rotation: 0.0,
            skew: 0.0,
            blend: 100,
            ink: 0,
            visible: true,
            color: Color::rgb(0, 0, 0),
        }
    }

    #[test]
    fn diff_reports_added_removed_and_changed_fields() {
        let old = [sprite(1, 0.0), sprite(2, 0.0), sprite(4, 0.0)];
        let new = [sprite(2, 5.0), sprite(3, 0.0), sprite(4, 0.0)];
        let mut out = Vec::new();
        diff_sprites(&old, &new, &mut out);
        let streams: Vec<_> = out.iter().map(Change::stream).collect();
        assert_eq!(
            streams,
            [
                StreamName::SpriteEvents,
                StreamName::Sprites,
                StreamName::SpriteEvents,
                StreamName::Sprites
            ]
        );
        let Change::Sprite(d) = &out[1] else {
            unreachable!()
        };
        assert_eq!(d.loc_h, Some(5.0));
        assert_eq!(d.loc_v, None);
        let Change::SpriteEvent(e) = &out[2] else {
            unreachable!()
        };
        assert_eq!((e.event, e.sprite_num), (SpriteEventKind::Added, 3));
    }
}
