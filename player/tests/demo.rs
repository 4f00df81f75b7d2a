//! The demo movie: big enough to be worth watching, and every JSON stream fires within one
//! loop — the first one and any later one.

mod common;

use common::{json_streams, streams};
use stagelink_contracts::{MemberProp, PropValue, TempoChange};
use stagelink_player::demo::{self, FRAME_LABEL};
use stagelink_player::member::MemberKind;
use stagelink_player::publish::Change;

#[test]
fn the_demo_is_a_real_movie() {
    let movie = demo::demo_movie();
    assert_eq!(movie.validate(), Ok(()));
    assert!(movie.score.frame_count >= 240);
    assert_eq!(movie.casts.len(), 2);
    for frame in 1..=movie.score.frame_count {
        let animated = movie
            .score
            .spans_at(frame)
            .filter(|s| !s.keyframes.is_empty())
            .count();
        assert!(
            animated >= 64,
            "only {animated} animated sprites on frame {frame}"
        );
    }
    let kinds: std::collections::BTreeSet<_> = movie
        .casts
        .iter()
        .flat_map(|c| c.members.values().map(|m| m.kind_name()))
        .collect();
    assert_eq!(
        kinds.len(),
        MemberKind::NAMES.len(),
        "every member kind: {kinds:?}"
    );
    let shown_in_both_casts = movie
        .score
        .spans_at(100)
        .map(|s| s.base.member.cast_lib)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(shown_in_both_casts.len(), 2);
}

#[test]
fn every_json_stream_fires_within_one_loop() {
    let mut engine = demo::demo_engine();
    let mut first = Vec::new();
    for _ in 0..240 {
        first.extend(engine.tick([]).changes);
    }
    assert_eq!(streams(&first), json_streams(), "first loop");
    let mut second = Vec::new();
    for _ in 0..240 {
        second.extend(engine.tick([]).changes);
    }
    assert_eq!(streams(&second), json_streams(), "second loop");
}

#[test]
fn the_demo_shows_the_frame_number_changes_tempo_and_loops() {
    let mut engine = demo::demo_engine();
    let mut tempos = Vec::new();
    for tick in 1..=241u32 {
        let out = engine.tick([]);
        let expected_frame = if tick == 241 { 1 } else { tick };
        assert_eq!(out.frame, expected_frame);
        let label = MemberProp {
            cast_lib: FRAME_LABEL.cast_lib,
            member_num: FRAME_LABEL.member_num,
            prop: "text".into(),
            value: PropValue::Text(format!("Frame {expected_frame} / 240")),
        };
        if tick > 1 {
            assert!(
                out.changes.contains(&Change::MemberProp(label)),
                "frame {tick}"
            );
        }
        tempos.extend(out.changes.into_iter().filter_map(|c| match c {
            Change::Tempo(t) => Some(t),
            _ => None,
        }));
    }
    assert_eq!(
        tempos,
        [
            TempoChange {
                frame: 121,
                tempo: 45
            },
            TempoChange {
                frame: 1,
                tempo: 30
            }
        ]
    );
}

#[test]
fn the_film_loop_plays_its_own_score() {
    let mut engine = demo::demo_engine();
    let mut film = Vec::new();
    let mut manager_events = 0;
    for _ in 0..240 {
        for c in engine.tick([]).changes {
            match c {
                Change::FilmLoop(f) => film.push((engine.state().frame(), f.playing)),
                Change::SpriteEvent(e) if e.manager == "spinner" => manager_events += 1,
                _ => {}
            }
        }
        if engine.state().frame() == 45 {
            let spinner = engine.state().film_loops().values().next().unwrap();
            assert_eq!(spinner.frame, 6);
            assert!(!engine.state().film_loop_sprites(demo::SPINNER).is_empty());
        }
    }
    assert_eq!(film.first(), Some(&(40, true)));
    assert_eq!(film.last(), Some(&(201, false)));
    assert!(film.len() > 10, "wraps every 12 frames: {film:?}");
    assert!(manager_events > 20);
}
