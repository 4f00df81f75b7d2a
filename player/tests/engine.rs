//! The engine driven tick by tick (no threads, no sleeps): determinism, tweens, frame
//! scripts, every command kind, every rejection code, batch atomicity and puppet overrides.

mod common;

use common::{frames, one, small_movie};
use serde_json::json;
use stagelink_contracts::{
    Color, Command, ErrorCode, MemberRef, PropValue, SoundCue, SpriteDelta, StageFrame,
};
use stagelink_player::publish::Change;
use stagelink_player::{CustomHandlers, Engine, demo};
use stagelink_publisher::SnapshotProvider;

fn engine() -> Engine {
    Engine::with_handlers(small_movie("[]", "[]"), CustomHandlers::builtin())
}

fn sprite(engine: &Engine, channel: u32) -> stagelink_player::score::SpriteState {
    *engine
        .state()
        .sprites()
        .iter()
        .find(|s| s.sprite_num == channel)
        .unwrap_or_else(|| panic!("no sprite in channel {channel}"))
}

fn set_sprite(channel: u32, begin: u32, prop: &str, value: impl Into<PropValue>) -> Command {
    Command::SetSpriteProp {
        sprite_num: channel,
        begin_frame: begin,
        prop: prop.into(),
        value: value.into(),
    }
}

fn code(output: &stagelink_player::TickOutput) -> ErrorCode {
    output.results[0].as_ref().unwrap_err().code()
}

/// A schedule of commands that touches every kind, for the replay test.
fn schedule(tick: usize) -> Vec<Command> {
    match tick {
        10 => vec![Command::SetTempo { tempo: 60 }],
        25 => vec![set_sprite(4, 1, "loc_h", 10)],
        40 => vec![Command::Pause],
        45 => vec![
            set_sprite(5, 1, "color", Color::rgb(1, 2, 3)),
            Command::SetMemberProp {
                cast_lib: 2,
                member_num: 1,
                prop: "fore_color".into(),
                value: Color::rgb(9, 9, 9).into(),
            },
        ],
        50 => vec![Command::Step { delta: 3 }],
        55 => vec![Command::Resume],
        70 => vec![Command::GoToFrame { frame: 118 }],
        90 => vec![Command::Custom {
            name: "list_sprites_at".into(),
            payload: json!({"frame": 100}),
        }],
        120 => vec![Command::Batch {
            commands: vec![
                Command::Pause,
                Command::GoToFrame { frame: 200 },
                set_sprite(6, 1, "visible", false),
            ],
        }],
        130 => vec![Command::Rewind, Command::Resume],
        150 => vec![Command::SetStageProp {
            prop: "title".into(),
            value: "replayed".into(),
        }],
        160 => vec![Command::GoToFrame { frame: 999 }],
        _ => vec![],
    }
}

#[test]
fn same_movie_and_commands_give_the_same_ticks() {
    let mut a = demo::demo_engine();
    let mut b = demo::demo_engine();
    for tick in 0..600 {
        let out_a = a.tick(schedule(tick));
        let out_b = b.tick(schedule(tick));
        assert_eq!(out_a, out_b, "tick {tick} differs");
        assert_eq!(a.stage(), b.stage(), "stage after tick {tick} differs");
    }
    assert_eq!(a.state(), b.state());
    // And the run did something: commands were applied and rejected.
    assert_eq!(a.state().movie.stage.title, "replayed");
}

#[test]
fn keyframes_tween_sprite_properties_frame_by_frame() {
    let mut e = engine();
    for f in 1..=10u32 {
        let out = e.tick([]);
        assert_eq!(out.frame, f);
        assert_eq!(sprite(&e, 1).loc_h, f64::from(10 * (f - 1)), "frame {f}");
        if f > 1 {
            // Only the tweened field travels in the delta.
            let delta = out
                .changes
                .iter()
                .find_map(|c| match c {
                    Change::Sprite(d) if d.sprite_num == 1 => Some(d.clone()),
                    _ => None,
                })
                .unwrap();
            let mut expected = SpriteDelta::new(1, 1);
            expected.loc_h = Some(f64::from(10 * (f - 1)));
            assert_eq!(delta, expected);
        }
    }
}

#[test]
fn the_first_tick_enters_frame_one_and_spans_come_and_go() {
    let mut e = engine();
    let first = e.tick([]);
    assert_eq!(first.frame, 1);
    let added = first
        .changes
        .iter()
        .filter(|c| matches!(c, Change::SpriteEvent(ev) if ev.sprite.as_ref().is_some_and(SpriteDelta::is_full)))
        .count();
    assert_eq!(added, 2);
    assert!(matches!(
        first.changes.last(),
        Some(Change::Frame(StageFrame {
            frame: 1,
            playing: true,
            ..
        }))
    ));
    frames(&mut e, 4); // frames 2..5
    let six = e.tick([]);
    assert_eq!(six.frame, 6);
    assert!(six.changes.iter().any(|c| matches!(c,
        Change::SpriteEvent(ev) if ev.sprite_num == 2 && ev.event == stagelink_contracts::SpriteEventKind::Removed)));
}

#[test]
fn sounds_start_on_their_cue_and_stop_when_their_time_is_up() {
    let mut e = engine();
    let mut cues = Vec::new();
    for _ in 0..6 {
        for c in e.tick([]).changes {
            if let Change::Sound(s) = c {
                cues.push(s);
            }
        }
    }
    let beep = |frame, playing| SoundCue {
        frame,
        channel: 1,
        cast_lib: 1,
        member_num: 3,
        playing,
    };
    // 150 ms at 10 fps: started on frame 3, over by the tick after frame 4.
    assert_eq!(cues, [beep(3, true), beep(4, false)]);
}

#[test]
fn frame_script_go_to_frame_jumps_when_the_frame_is_left() {
    let mut e = Engine::new(small_movie(
        r#"[{"frame":5,"script":"back","code":"go to frame 2"}]"#,
        "[]",
    ));
    assert_eq!(frames(&mut e, 10), [1, 2, 3, 4, 5, 2, 3, 4, 5, 2]);
    let scripts: Vec<_> = e
        .tick([])
        .changes
        .into_iter()
        .filter(|c| matches!(c, Change::FrameScript(_)))
        .collect();
    assert!(scripts.is_empty(), "frame 3 has no script");
}

#[test]
fn frame_script_go_loop_returns_to_the_marker() {
    let mut e = Engine::new(small_movie(
        r#"[{"frame":6,"script":"again","code":"go loop"}]"#,
        r#"[{"frame":3,"name":"section"}]"#,
    ));
    assert_eq!(frames(&mut e, 11), [1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 3]);
    assert_eq!(e.state().frame_label(), "section");
}

#[test]
fn frame_script_go_next_and_go_to_marker() {
    let mut e = Engine::new(small_movie(
        r#"[{"frame":2,"script":"skip","code":"go next"},{"frame":9,"script":"home","code":"go to marker \"start\""}]"#,
        r#"[{"frame":1,"name":"start"},{"frame":7,"name":"end"}]"#,
    ));
    assert_eq!(frames(&mut e, 8), [1, 2, 7, 8, 9, 1, 2, 7]);
}

#[test]
fn frame_script_pause_stops_the_playhead_until_resumed() {
    let mut e = Engine::new(small_movie(
        r#"[{"frame":4,"script":"hold","code":"pause"}]"#,
        "[]",
    ));
    assert_eq!(frames(&mut e, 7), [1, 2, 3, 4, 4, 4, 4]);
    assert!(!e.state().playing());
    assert_eq!(one(&mut e, Command::Resume).frame, 5);
    assert_eq!(frames(&mut e, 2), [6, 7]);
}

#[test]
fn frame_script_put_and_set_statements_change_members_stage_and_movie() {
    let mut e = Engine::new(small_movie(
        r#"[{"frame":1,"end_frame":10,"script":"counter","code":"put \"F{frame}/{frame_count}@{tempo}\" into member \"label\""},
            {"frame":2,"script":"looks","code":"set stage bg_color to {\"r\":1,\"g\":2,\"b\":3,\"a\":255}\nset movie update_lock to true\nset member \"box\" fore_color to {\"r\":9,\"g\":8,\"b\":7,\"a\":255}\nset member \"label\" style italic 0..2 to true"}]"#,
        "[]",
    ));
    let first = e.tick([]);
    assert!(first.changes.iter().any(
        |c| matches!(c, Change::MemberProp(p) if p.prop == "text" && p.value == "F1/10@10".into())
    ));
    let second = e.tick([]);
    let kinds: Vec<_> = second.changes.iter().map(Change::stream).collect();
    use stagelink_contracts::StreamName::*;
    for s in [
        FrameScripts,
        MemberProps,
        StageProps,
        MovieProps,
        TextStyles,
    ] {
        assert!(kinds.contains(&s), "{s} missing from {kinds:?}");
    }
    let movie = e.movie();
    assert_eq!(movie.stage.bg_color, Color::rgb(1, 2, 3));
    assert!(movie.update_lock);
    let label = movie
        .member(MemberRef {
            cast_lib: 1,
            member_num: 2,
        })
        .unwrap();
    assert_eq!(label.get("text"), Some("F2/10@10".into()));
}

#[test]
fn every_playhead_command_applies_and_acks_the_frame_it_took_effect_on() {
    let mut e = engine();
    e.tick([]);
    let out = one(&mut e, Command::GoToFrame { frame: 7 });
    assert_eq!((out.frame, out.results[0].clone()), (7, Ok(None)));
    assert_eq!(e.tick([]).frame, 8);

    assert_eq!(one(&mut e, Command::Pause).frame, 8);
    assert!(!e.state().playing());
    assert_eq!(frames(&mut e, 3), [8, 8, 8]);

    assert_eq!(one(&mut e, Command::Resume).frame, 9);
    assert_eq!(one(&mut e, Command::Rewind).frame, 1);
    assert!(e.state().playing());

    assert_eq!(one(&mut e, Command::Step { delta: 4 }).frame, 5);
    assert!(!e.state().playing(), "step pauses");
    assert_eq!(one(&mut e, Command::Step { delta: -1 }).frame, 4);

    let out = one(&mut e, Command::SetTempo { tempo: 24 });
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::Tempo(t) if t.tempo == 24 && t.frame == 4))
    );
    assert!(matches!(out.changes.last(), Some(Change::Frame(f)) if f.tempo == 24));
    assert_eq!(e.state().tempo(), 24);
}

#[test]
fn every_property_setter_applies_and_is_reported() {
    let mut e = engine();
    e.tick([]);
    e.tick([Command::Pause]);

    let out = one(&mut e, set_sprite(1, 1, "rotation", 45.5));
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::Sprite(d) if d.rotation == Some(45.5)))
    );
    let out = one(
        &mut e,
        set_sprite(
            1,
            1,
            "member",
            PropValue::Member(MemberRef {
                cast_lib: 1,
                member_num: 4,
            }),
        ),
    );
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::Sprite(d) if d.member.is_some()))
    );
    for (prop, value) in [
        ("loc_h", PropValue::Int(3)),
        ("loc_v", 4.into()),
        ("loc_z", 9.into()),
        ("width", 20.into()),
        ("height", 30.5.into()),
        ("skew", 10.into()),
        ("blend", 50.into()),
        ("ink", 36.into()),
        ("visible", false.into()),
        ("color", Color::rgb(1, 1, 1).into()),
    ] {
        let out = one(&mut e, set_sprite(1, 1, prop, value.clone()));
        assert_eq!(out.results[0], Ok(None), "{prop}");
        let state = sprite(&e, 1);
        assert_eq!(
            state
                .get(stagelink_player::score::SpriteProp::parse(prop).unwrap())
                .as_f64(),
            value.as_f64(),
            "{prop}"
        );
    }
    // end_frame edits the score itself.
    let out = one(&mut e, set_sprite(2, 1, "end_frame", 8));
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::Sprite(d) if d.end_frame == Some(8)))
    );
    assert_eq!(e.movie().score.span(2, 1).unwrap().base.end_frame, 8);

    let out = one(
        &mut e,
        Command::SetMemberProp {
            cast_lib: 1,
            member_num: 2,
            prop: "text".into(),
            value: "Hello, stage".into(),
        },
    );
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::MemberProp(p) if p.value == "Hello, stage".into()))
    );
    let out = one(
        &mut e,
        Command::SetCastProp {
            cast_lib: 1,
            prop: "name".into(),
            value: "renamed".into(),
        },
    );
    assert_eq!(out.results[0], Ok(None));
    assert_eq!(e.movie().casts[0].name, "renamed");
    let out = one(
        &mut e,
        Command::SetMovieProp {
            prop: "loop".into(),
            value: false.into(),
        },
    );
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::MovieProp(p) if p.prop == "loop"))
    );
    let out = one(
        &mut e,
        Command::SetStageProp {
            prop: "bg_color".into(),
            value: Color::rgb(0, 0, 0).into(),
        },
    );
    assert_eq!(out.results[0], Ok(None));
    let out = one(
        &mut e,
        Command::SetStageProp {
            prop: "width".into(),
            value: 320.into(),
        },
    );
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::StageProp(p) if p.prop == "width"))
    );
    assert!(matches!(out.changes.last(), Some(Change::Frame(f)) if f.width == 320));
}

#[test]
fn custom_handlers_return_their_results() {
    let mut e = engine();
    e.tick([]);
    let custom = |name: &str, payload| Command::Custom {
        name: name.into(),
        payload,
    };
    let out = one(&mut e, custom("echo", json!({"x": [1, 2]})));
    assert_eq!(out.results[0], Ok(Some(json!({"x": [1, 2]}))));
    let out = one(&mut e, custom("sprite_count", json!({"frame": 7})));
    assert_eq!(out.results[0], Ok(Some(json!(1))));
    let out = one(&mut e, custom("sprite_count", serde_json::Value::Null));
    assert_eq!(out.results[0], Ok(Some(json!(2))));
    let out = one(&mut e, custom("list_sprites_at", json!({"frame": 10})));
    let list = out.results[0].clone().unwrap().unwrap();
    assert_eq!(list[0]["sprite_num"], 1);
    assert_eq!(list[0]["loc_h"], 90.0);
    let out = one(
        &mut e,
        custom(
            "set_text_style",
            json!({"cast_lib":1,"member_num":2,"start":0,"end":5,"style":"bold","value":true}),
        ),
    );
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::TextStyle(t) if t.end == 5))
    );
    let out = one(&mut e, custom("list_sprites_at", json!({"frame": "x"})));
    assert_eq!(code(&out), ErrorCode::InvalidValue);
    assert!(
        out.results[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("payload.frame")
    );
}

/// Applies `bad` to a paused engine and checks it was rejected with `expected` and changed
/// nothing: the state and the report equal those of a tick without the command.
fn rejected_without_effect(bad: Command, expected: ErrorCode) {
    let mut e = engine();
    e.tick([]);
    e.tick([Command::GoToFrame { frame: 7 }]);
    e.tick([Command::Pause]);
    let mut control = e.clone();
    let out = e.tick([bad.clone()]);
    let control_out = control.tick([]);
    assert_eq!(code(&out), expected, "{bad:?}: {:?}", out.results[0]);
    assert_eq!(
        out.changes, control_out.changes,
        "{bad:?} changed something"
    );
    assert_eq!(e.state(), control.state(), "{bad:?} changed the state");
}

#[test]
fn each_rejection_code_is_precise_and_changes_nothing() {
    use ErrorCode::*;
    let member_prop = |cast_lib, member_num, prop: &str, value: PropValue| Command::SetMemberProp {
        cast_lib,
        member_num,
        prop: prop.into(),
        value,
    };
    let cases = [
        (set_sprite(9, 1, "loc_h", 1), UnknownSprite),
        (set_sprite(2, 1, "loc_h", 1), UnknownSprite), // exists, but not on frame 7
        (member_prop(1, 99, "name", "x".into()), UnknownMember),
        (member_prop(5, 1, "name", "x".into()), UnknownMember),
        (
            Command::SetCastProp {
                cast_lib: 3,
                prop: "name".into(),
                value: "x".into(),
            },
            UnknownMember,
        ),
        (
            set_sprite(
                1,
                1,
                "member",
                PropValue::Member(MemberRef {
                    cast_lib: 1,
                    member_num: 77,
                }),
            ),
            UnknownMember,
        ),
        (set_sprite(1, 1, "sprite_num", 2), UnknownProperty),
        (set_sprite(1, 1, "sparkle", 2), UnknownProperty),
        (
            member_prop(1, 2, "shape_type", "oval".into()),
            UnknownProperty,
        ),
        (
            Command::SetMovieProp {
                prop: "frame_label".into(),
                value: "x".into(),
            },
            UnknownProperty,
        ),
        (
            Command::SetStageProp {
                prop: "depth".into(),
                value: 1.into(),
            },
            UnknownProperty,
        ),
        (set_sprite(1, 1, "visible", "yes"), InvalidValue),
        (set_sprite(1, 1, "loc_h", "left"), InvalidValue),
        (
            set_sprite(
                1,
                1,
                "member",
                PropValue::Member(MemberRef {
                    cast_lib: 1,
                    member_num: 3,
                }),
            ),
            InvalidValue,
        ), // a sound
        (member_prop(1, 1, "fore_color", "red".into()), InvalidValue),
        (
            Command::SetStageProp {
                prop: "width".into(),
                value: 10.5.into(),
            },
            InvalidValue,
        ),
        (Command::GoToFrame { frame: 0 }, OutOfRange),
        (Command::GoToFrame { frame: 11 }, OutOfRange),
        (Command::Step { delta: -7 }, OutOfRange),
        (Command::Step { delta: 4 }, OutOfRange),
        (Command::SetTempo { tempo: 0 }, OutOfRange),
        (Command::SetTempo { tempo: 1001 }, OutOfRange),
        (set_sprite(1, 1, "blend", 101), OutOfRange),
        (set_sprite(1, 1, "width", -1), OutOfRange),
        (set_sprite(1, 1, "end_frame", 11), OutOfRange),
        (member_prop(1, 2, "font_size", 0.into()), OutOfRange),
        (
            Command::Custom {
                name: "explode".into(),
                payload: serde_json::Value::Null,
            },
            UnknownCommand,
        ),
        (
            Command::Batch {
                commands: vec![Command::Pause, Command::Batch { commands: vec![] }],
            },
            InvalidField,
        ),
        (
            Command::Batch {
                commands: vec![Command::Custom {
                    name: "echo".into(),
                    payload: serde_json::Value::Null,
                }],
            },
            InvalidField,
        ),
    ];
    for (bad, expected) in cases {
        rejected_without_effect(bad, expected);
    }
}

#[test]
fn a_batch_is_all_or_none() {
    let mut e = engine();
    e.tick([]);
    e.tick([]);
    let mut control = e.clone();
    let bad = Command::Batch {
        commands: vec![
            Command::Pause,
            Command::GoToFrame { frame: 9 },
            Command::SetStageProp {
                prop: "title".into(),
                value: "changed".into(),
            },
            set_sprite(1, 1, "visible", "no"),
        ],
    };
    let out = e.tick([bad]);
    let err = out.results[0].as_ref().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidValue);
    assert_eq!(
        err.to_string(),
        "command 3 of batch: `visible` takes a bool, got a string"
    );
    let control_out = control.tick([]);
    assert_eq!(out.changes, control_out.changes);
    assert_eq!(e.state(), control.state());
    assert_eq!(out.frame, 3, "the failed batch neither paused nor jumped");

    let good = Command::Batch {
        commands: vec![
            Command::Pause,
            Command::GoToFrame { frame: 9 },
            Command::SetStageProp {
                prop: "title".into(),
                value: "changed".into(),
            },
            set_sprite(1, 1, "visible", false),
        ],
    };
    let out = e.tick([good]);
    assert_eq!(out.results[0], Ok(Some(json!([null, null, null, null]))));
    assert_eq!(out.frame, 9);
    assert!(!e.state().playing());
    assert!(!sprite(&e, 1).visible);
    assert_eq!(e.movie().stage.title, "changed");
    let empty = e.tick([Command::Batch { commands: vec![] }]);
    assert_eq!(empty.results[0], Ok(Some(json!([]))));
}

#[test]
fn a_property_set_while_paused_stays_until_the_playhead_moves() {
    let mut e = engine();
    e.tick([]);
    e.tick([]);
    e.tick([Command::Pause]); // stays on frame 2, loc_h tween = 10
    e.tick([set_sprite(1, 1, "loc_h", 77)]);
    for _ in 0..5 {
        e.tick([]);
        assert_eq!(
            sprite(&e, 1).loc_h,
            77.0,
            "the override sticks while paused"
        );
    }
    let out = e.tick([Command::Step { delta: 1 }]);
    assert_eq!(out.frame, 3);
    assert_eq!(sprite(&e, 1).loc_h, 20.0, "cleared when the frame changed");
    assert!(
        out.changes
            .iter()
            .any(|c| matches!(c, Change::Sprite(d) if d.loc_h == Some(20.0)))
    );
}

#[test]
fn a_property_set_while_playing_shows_on_the_next_frame_only() {
    let mut e = engine();
    frames(&mut e, 3);
    let out = e.tick([set_sprite(1, 1, "loc_h", 5)]);
    assert_eq!(out.frame, 4);
    assert_eq!(sprite(&e, 1).loc_h, 5.0);
    e.tick([]);
    assert_eq!(sprite(&e, 1).loc_h, 40.0);
}

#[test]
fn a_movie_that_does_not_loop_stops_at_its_last_frame() {
    let mut e = engine();
    e.tick([Command::SetMovieProp {
        prop: "loop".into(),
        value: false.into(),
    }]);
    let shown = frames(&mut e, 12);
    assert_eq!(&shown[8..], [10, 10, 10, 10]);
    assert!(!e.state().playing());
}
