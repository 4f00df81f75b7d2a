//! Film loops: members that play a sub-score of their own while a sprite on stage shows them.
//!
//! Each film loop shown gets its own playhead, which starts at 1 when a sprite first shows it,
//! moves one frame per tick while the movie plays, wraps (or, when the member does not loop,
//! stops on its last frame), and is dropped when no sprite shows it any more. The `film_loops`
//! stream reports each start, wrap and stop; the spans of its score coming and going are
//! `sprite_events` with the member's name as `manager` (`cleared` when it leaves the stage).

use stagelink_contracts::{FilmLoop as FilmLoopItem, MemberRef, SpriteEvent, SpriteEventKind};

use crate::engine::EngineState;
use crate::member::MemberKind;
use crate::publish::Change;
use crate::score::{Score, SpriteState};

/// A film loop being shown: its own playhead and the spans of its score on stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilmLoopHead {
    pub frame: u32,
    pub playing: bool,
    /// Keys of its spans on its current frame (for its `sprite_events`).
    pub spans: Vec<(u32, u32)>,
}

impl EngineState {
    /// Starts, moves on or stops each film loop, by whether a sprite on stage shows it.
    pub(crate) fn update_film_loops(&mut self, sprites: &[SpriteState]) {
        let mut shown: Vec<MemberRef> = sprites
            .iter()
            .map(|s| s.member)
            .filter(|r| {
                matches!(
                    self.movie.member(*r).map(|m| &m.kind),
                    Some(MemberKind::FilmLoop(_))
                )
            })
            .collect();
        shown.sort();
        shown.dedup();

        let stopped: Vec<MemberRef> = self
            .film_loops
            .keys()
            .filter(|r| !shown.contains(r))
            .copied()
            .collect();
        for r in stopped {
            if let Some(head) = self.film_loops.remove(&r) {
                let (name, frame_count) = self.film_loop_info(r);
                self.record(Change::FilmLoop(FilmLoopItem {
                    cast_lib: r.cast_lib,
                    member_num: r.member_num,
                    start_frame: 1,
                    end_frame: frame_count,
                    playing: false,
                }));
                if !head.spans.is_empty() {
                    self.record(Change::SpriteEvent(SpriteEvent {
                        manager: name,
                        event: SpriteEventKind::Cleared,
                        sprite_num: 0,
                        begin_frame: 0,
                        sprite: None,
                    }));
                }
            }
        }

        for r in shown {
            let Some(MemberKind::FilmLoop(film)) = self.movie.member(r).map(|m| &m.kind) else {
                continue;
            };
            let looped = film.looped;
            let (name, frame_count) = self.film_loop_info(r);
            let item = |playing| {
                Change::FilmLoop(FilmLoopItem {
                    cast_lib: r.cast_lib,
                    member_num: r.member_num,
                    start_frame: 1,
                    end_frame: frame_count,
                    playing,
                })
            };
            let (frame, old_spans) = match self.film_loops.get(&r).cloned() {
                None => {
                    self.record(item(true));
                    (1, Vec::new())
                }
                Some(head) if head.playing && self.playing => {
                    if head.frame < frame_count {
                        (head.frame + 1, head.spans)
                    } else if looped {
                        self.record(item(true));
                        (1, head.spans)
                    } else {
                        self.record(item(false));
                        let mut h = head;
                        h.playing = false;
                        self.film_loops.insert(r, h);
                        continue;
                    }
                }
                Some(_) => continue,
            };
            let score = self.film_loop_score(r);
            let spans: Vec<SpriteState> = score
                .map(|s| s.spans_at(frame).map(|span| span.eval(frame)).collect())
                .unwrap_or_default();
            let keys: Vec<(u32, u32)> = spans.iter().map(SpriteState::key).collect();
            for k in old_spans.iter().filter(|k| !keys.contains(k)) {
                self.record(Change::SpriteEvent(SpriteEvent {
                    manager: name.clone(),
                    event: SpriteEventKind::Removed,
                    sprite_num: k.0,
                    begin_frame: k.1,
                    sprite: None,
                }));
            }
            for s in spans.iter().filter(|s| !old_spans.contains(&s.key())) {
                self.record(Change::SpriteEvent(SpriteEvent {
                    manager: name.clone(),
                    event: SpriteEventKind::Added,
                    sprite_num: s.sprite_num,
                    begin_frame: s.begin_frame,
                    sprite: Some(s.to_delta()),
                }));
            }
            self.film_loops.insert(
                r,
                FilmLoopHead {
                    frame,
                    playing: true,
                    spans: keys,
                },
            );
        }
    }

    fn film_loop_score(&self, r: MemberRef) -> Option<&Score> {
        match self.movie.member(r).map(|m| &m.kind) {
            Some(MemberKind::FilmLoop(f)) => Some(&f.score),
            _ => None,
        }
    }

    fn film_loop_info(&self, r: MemberRef) -> (String, u32) {
        let name = self
            .movie
            .member(r)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let frames = self.film_loop_score(r).map_or(1, |s| s.frame_count);
        (name, frames)
    }
}
