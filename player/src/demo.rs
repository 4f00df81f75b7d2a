//! The built-in demo movie: something worth watching that exercises every stream.
//!
//! 240 frames on a 640×480 stage, two casts. 64 sprites in channels 4–67 orbit the centre,
//! spinning, pulsing and fading between keyframes; some channels hand over to a second span
//! half-way, and eight comets (channels 72–79) arrive late and leave early. A text member shows the frame number (a frame
//! script rewrites it on every frame), the tempo changes from 30 to 45 fps at the `act_two`
//! marker and back at the start, sounds start and stop, a spinner film loop plays its own
//! 12-frame score between frames 40 and 200, transitions and palettes change with each act,
//! the stage colour and a title style flip, and a frame script on the last frame loops back to
//! frame 1. Within any one loop every one of the 14 JSON streams fires.

use std::f64::consts::TAU;

use stagelink_contracts::{Color, MemberRef, Palette, PropValue, TempoChange, Transition};

use crate::custom::CustomHandlers;
use crate::engine::Engine;
use crate::member::{
    Alignment, Bitmap, FilmLoop, Member, MemberKind, Shape, ShapeType, Sound, Text,
};
use crate::movie::{Cast, Movie, Stage};
use crate::props::round2;
use crate::score::{
    FrameScriptDef, KeyframeDef, Marker, Score, SoundCueDef, SpriteProp, SpriteSpan, SpriteState,
};
use crate::script::Script;

/// Frames in the demo.
pub const FRAMES: u32 = 240;
/// Animated sprites (channels 4–67).
pub const ANIMATED: u32 = 64;
/// The first animated channel.
pub const FIRST_ANIMATED: u32 = 4;
/// The spinner film loop's channel.
pub const FILM_LOOP_CHANNEL: u32 = 70;
/// Comets: sprites that arrive at frame 30 and leave after frame 210 (channels 72–79).
pub const COMETS: u32 = 8;
/// The first comet channel.
pub const FIRST_COMET: u32 = 72;

const fn m(cast_lib: u32, member_num: u32) -> MemberRef {
    MemberRef {
        cast_lib,
        member_num,
    }
}

/// `(cast 1)` members.
pub const BACKGROUND: MemberRef = m(1, 1);
pub const TITLE: MemberRef = m(1, 2);
pub const FRAME_LABEL: MemberRef = m(1, 3);
pub const CHIME: MemberRef = m(1, 4);
pub const WHOOSH: MemberRef = m(1, 5);
pub const SPINNER: MemberRef = m(1, 6);
pub const STAR: MemberRef = m(1, 7);
pub const BALL: MemberRef = m(1, 8);

/// The demo engine: the demo movie with the built-in custom handlers.
pub fn demo_engine() -> Engine {
    Engine::with_handlers(demo_movie(), CustomHandlers::builtin())
}

/// The demo movie.
pub fn demo_movie() -> Movie {
    let movie = Movie {
        name: "demo".into(),
        stage: Stage {
            width: 640,
            height: 480,
            bg_color: Color::rgb(16, 16, 32),
            title: "Stagelink demo".into(),
        },
        tempo: 30,
        looped: true,
        update_lock: false,
        casts: vec![internal_cast(), shapes_cast()],
        score: main_score(),
    };
    debug_assert_eq!(movie.validate(), Ok(()));
    movie
}

fn shape(shape_type: ShapeType, fore: Color, size: u32) -> MemberKind {
    MemberKind::Shape(Shape {
        shape_type,
        fore_color: fore,
        back_color: Color::rgb(0, 0, 0),
        filled: shape_type != ShapeType::Line,
        line_size: if shape_type == ShapeType::Line { 3 } else { 1 },
        width: size,
        height: size,
    })
}

fn text(text: &str, size: u32, color: Color, alignment: Alignment, width: u32) -> MemberKind {
    MemberKind::Text(Text {
        text: text.into(),
        font: "sans-serif".into(),
        font_size: size,
        color,
        alignment,
        width,
        height: size + 8,
        styles: Vec::new(),
    })
}

fn internal_cast() -> Cast {
    let mut cast = Cast::new("internal");
    let members = [
        Member::new("background", MemberKind::Bitmap(background(640, 480))),
        Member::new(
            "title",
            text(
                "Stagelink demo",
                24,
                Color::rgb(255, 255, 255),
                Alignment::Center,
                320,
            ),
        ),
        Member::new(
            "frame_label",
            text(
                "Frame 1",
                16,
                Color::rgb(255, 220, 120),
                Alignment::Left,
                200,
            ),
        ),
        Member::new(
            "chime",
            MemberKind::Sound(Sound {
                duration_ms: 1200,
                looped: false,
            }),
        ),
        Member::new(
            "whoosh",
            MemberKind::Sound(Sound {
                duration_ms: 800,
                looped: false,
            }),
        ),
        Member::new(
            "spinner",
            MemberKind::FilmLoop(FilmLoop {
                looped: true,
                width: 64,
                height: 64,
                reg_point: [32.0, 32.0],
                score: spinner_score(),
            }),
        ),
        Member::new("star", MemberKind::Bitmap(star(32))),
        Member::new("ball", shape(ShapeType::Oval, Color::rgb(255, 64, 64), 40)),
    ];
    for (i, member) in members.into_iter().enumerate() {
        cast.members.insert(i as u32 + 1, member);
    }
    cast
}

fn shapes_cast() -> Cast {
    let mut cast = Cast::new("shapes");
    let members = [
        Member::new(
            "red_oval",
            shape(ShapeType::Oval, Color::rgb(255, 72, 72), 32),
        ),
        Member::new(
            "green_rect",
            shape(ShapeType::Rect, Color::rgb(72, 208, 120), 32),
        ),
        Member::new(
            "blue_round",
            shape(ShapeType::RoundRect, Color::rgb(72, 136, 255), 32),
        ),
        Member::new(
            "yellow_line",
            shape(ShapeType::Line, Color::rgb(255, 220, 72), 32),
        ),
        Member::new(
            "orange_oval",
            shape(ShapeType::Oval, Color::rgb(255, 160, 40), 32),
        ),
        Member::new("dot", shape(ShapeType::Oval, Color::rgb(240, 240, 255), 10)),
        Member::new("tile", MemberKind::Bitmap(checker(16))),
    ];
    for (i, member) in members.into_iter().enumerate() {
        cast.members.insert(i as u32 + 1, member);
    }
    cast
}

/// A vertical gradient with a faint grid.
fn background(w: u32, h: u32) -> Bitmap {
    let mut px = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        let t = f64::from(y) / f64::from(h - 1);
        let top = [28.0, 32.0, 72.0];
        let bottom = [8.0, 8.0, 20.0];
        for x in 0..w {
            let grid = x % 40 == 0 || y % 40 == 0;
            for c in 0..3 {
                let v = top[c] + (bottom[c] - top[c]) * t + if grid { 14.0 } else { 0.0 };
                px.push(v.round() as u8);
            }
            px.push(255);
        }
    }
    Bitmap::new(w, h, px)
}

/// A five-pointed star on a transparent square.
fn star(size: u32) -> Bitmap {
    let c = f64::from(size) / 2.0;
    let points: Vec<(f64, f64)> = (0..10)
        .map(|i| {
            let r = if i % 2 == 0 { c - 1.0 } else { c * 0.42 };
            let a = TAU * f64::from(i) / 10.0 - TAU / 4.0;
            (c + r * a.cos(), c + r * a.sin())
        })
        .collect();
    let inside = |x: f64, y: f64| {
        let mut odd = false;
        for i in 0..points.len() {
            let (x1, y1) = points[i];
            let (x2, y2) = points[(i + 1) % points.len()];
            if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
                odd = !odd;
            }
        }
        odd
    };
    let mut px = Vec::with_capacity(size as usize * size as usize * 4);
    for y in 0..size {
        for x in 0..size {
            if inside(f64::from(x) + 0.5, f64::from(y) + 0.5) {
                px.extend_from_slice(&[255, 214, 64, 255]);
            } else {
                px.extend_from_slice(&[0, 0, 0, 0]);
            }
        }
    }
    Bitmap::new(size, size, px)
}

/// A two-colour checkerboard of 4×4 squares.
fn checker(size: u32) -> Bitmap {
    let mut px = Vec::with_capacity(size as usize * size as usize * 4);
    for y in 0..size {
        for x in 0..size {
            if (x / 4 + y / 4) % 2 == 0 {
                px.extend_from_slice(&[200, 80, 255, 255]);
            } else {
                px.extend_from_slice(&[40, 20, 80, 255]);
            }
        }
    }
    Bitmap::new(size, size, px)
}

fn sprite(
    channel: u32,
    begin: u32,
    end: u32,
    member: MemberRef,
    at: (f64, f64),
    size: (f64, f64),
) -> SpriteState {
    SpriteState {
        sprite_num: channel,
        begin_frame: begin,
        end_frame: end,
        member,
        loc_h: at.0,
        loc_v: at.1,
        loc_z: channel as i32,
        width: size.0,
        height: size.1,
        rotation: 0.0,
        skew: 0.0,
        blend: 100,
        ink: 36,
        visible: true,
        color: Color::rgb(255, 255, 255),
    }
}

fn key(span: &mut SpriteSpan, frame: u32, prop: SpriteProp, value: impl Into<PropValue>) {
    // The demo's keyframes are built in range and of the right kind.
    let _ = span.add_keyframe(KeyframeDef {
        frame,
        prop,
        value: value.into(),
    });
}

fn script(frame: u32, end_frame: u32, name: &str, code: &str) -> FrameScriptDef {
    FrameScriptDef {
        frame,
        end_frame,
        script: name.into(),
        // The demo's scripts are fixed text that the tests parse.
        code: Script::parse(code).unwrap_or_default(),
    }
}

/// One orbiting sprite's span: four quarter-turns between `begin` and `end`, spinning once,
/// pulsing in size and fading half-way.
fn orbiter(i: u32, begin: u32, end: u32) -> SpriteSpan {
    let members = [
        m(2, 1),
        m(2, 2),
        m(2, 3),
        m(2, 4),
        m(2, 5),
        STAR,
        m(2, 7),
        BALL,
    ];
    let member = members[(i % 8) as usize];
    let radius = 70.0 + f64::from(i % 8) * 22.0;
    let phase = TAU * f64::from(i) / f64::from(ANIMATED);
    let at = |k: u32| {
        let a = phase + TAU * f64::from(k) / 4.0;
        (
            round2(320.0 + radius * a.cos()),
            round2(250.0 + radius * 0.62 * a.sin()),
        )
    };
    let size = 18.0 + f64::from(i % 5) * 4.0;
    let hue = [
        Color::rgb(255, 96, 96),
        Color::rgb(96, 255, 160),
        Color::rgb(96, 160, 255),
        Color::rgb(255, 224, 96),
    ];
    let channel = FIRST_ANIMATED + i;
    let mut span = SpriteSpan::new(sprite(channel, begin, end, member, at(0), (size, size)));
    span.base.color = hue[(i % 4) as usize];
    let len = end - begin;
    for k in 1..=4 {
        let f = begin + len * k / 4;
        let (x, y) = at(k);
        key(&mut span, f, SpriteProp::LocH, x);
        key(&mut span, f, SpriteProp::LocV, y);
    }
    let mid = begin + len / 2;
    key(
        &mut span,
        end,
        SpriteProp::Rotation,
        if i.is_multiple_of(2) { 360 } else { -360 },
    );
    key(&mut span, mid, SpriteProp::Width, size * 1.75);
    key(&mut span, mid, SpriteProp::Height, size * 1.75);
    key(&mut span, end, SpriteProp::Width, size);
    key(&mut span, end, SpriteProp::Height, size);
    key(&mut span, mid, SpriteProp::Blend, 35);
    key(&mut span, end, SpriteProp::Blend, 100);
    key(
        &mut span,
        mid,
        SpriteProp::Color,
        hue[((i + 2) % 4) as usize],
    );
    key(&mut span, end, SpriteProp::Color, hue[(i % 4) as usize]);
    if i % 16 == 7 {
        // Hidden for a stretch: `visible` steps.
        key(&mut span, begin + len / 3, SpriteProp::Visible, false);
        key(&mut span, begin + 2 * len / 3, SpriteProp::Visible, true);
    }
    span
}

/// A comet: crosses the stage diagonally between frames 30 and 210, fading in and out.
fn comet(c: u32) -> SpriteSpan {
    let channel = FIRST_COMET + c;
    let y = 70.0 + f64::from(c) * 45.0;
    let mut span = SpriteSpan::new(sprite(channel, 30, 210, STAR, (-20.0, y), (20.0, 20.0)));
    span.base.blend = 0;
    key(&mut span, 60, SpriteProp::Blend, 100);
    key(&mut span, 180, SpriteProp::Blend, 100);
    key(&mut span, 210, SpriteProp::Blend, 0);
    key(&mut span, 210, SpriteProp::LocH, 660);
    key(
        &mut span,
        210,
        SpriteProp::LocV,
        round2(y + 60.0 - f64::from(c % 3) * 60.0),
    );
    key(&mut span, 210, SpriteProp::Rotation, 720);
    span
}

fn main_score() -> Score {
    let mut score = Score::new(FRAMES);
    let mut spans = vec![
        SpriteSpan::new(SpriteState {
            ink: 0,
            ..sprite(1, 1, FRAMES, BACKGROUND, (320.0, 240.0), (640.0, 480.0))
        }),
        {
            let mut title =
                SpriteSpan::new(sprite(2, 1, FRAMES, TITLE, (320.0, 30.0), (320.0, 32.0)));
            key(&mut title, 120, SpriteProp::Blend, 55);
            key(&mut title, FRAMES, SpriteProp::Blend, 100);
            title
        },
        SpriteSpan::new(sprite(
            3,
            1,
            FRAMES,
            FRAME_LABEL,
            (110.0, 462.0),
            (200.0, 24.0),
        )),
    ];
    for i in 0..ANIMATED {
        match i % 8 {
            // Two spans, handing over at the act change.
            3 => {
                spans.push(orbiter(i, 1, 120));
                spans.push(orbiter(i, 121, FRAMES));
            }
            _ => spans.push(orbiter(i, 1, FRAMES)),
        }
    }
    for c in 0..COMETS {
        spans.push(comet(c));
    }
    let mut spinner = SpriteSpan::new(sprite(
        FILM_LOOP_CHANNEL,
        40,
        200,
        SPINNER,
        (560.0, 110.0),
        (64.0, 64.0),
    ));
    key(&mut spinner, 120, SpriteProp::Rotation, 180);
    key(&mut spinner, 200, SpriteProp::Rotation, 360);
    spans.push(spinner);
    for span in spans {
        // Built clear of each other, inside the score.
        let _ = score.insert_span(span);
    }

    score.tempos = vec![
        TempoChange {
            frame: 1,
            tempo: 30,
        },
        TempoChange {
            frame: 121,
            tempo: 45,
        },
    ];
    score.sounds = vec![
        SoundCueDef {
            frame: 1,
            channel: 1,
            cast_lib: CHIME.cast_lib,
            member_num: CHIME.member_num,
        },
        SoundCueDef {
            frame: 121,
            channel: 2,
            cast_lib: WHOOSH.cast_lib,
            member_num: WHOOSH.member_num,
        },
        SoundCueDef {
            frame: 200,
            channel: 1,
            cast_lib: CHIME.cast_lib,
            member_num: CHIME.member_num,
        },
    ];
    score.transitions = vec![
        Transition {
            frame: 1,
            kind: "fade".into(),
            duration_ms: 300,
        },
        Transition {
            frame: 121,
            kind: "dissolve".into(),
            duration_ms: 500,
        },
    ];
    score.palettes = vec![
        Palette {
            frame: 1,
            colors: ramp([255, 120, 40], [255, 240, 200]),
        },
        Palette {
            frame: 121,
            colors: ramp([30, 60, 160], [180, 230, 255]),
        },
    ];
    score.markers = vec![
        Marker {
            frame: 1,
            name: "intro".into(),
        },
        Marker {
            frame: 121,
            name: "act_two".into(),
        },
    ];
    score.frame_scripts = vec![
        script(
            1,
            FRAMES,
            "show_frame",
            "put \"Frame {frame} / {frame_count}\" into member \"frame_label\"",
        ),
        script(
            1,
            1,
            "intro",
            "set stage bg_color to {\"r\":16,\"g\":16,\"b\":32,\"a\":255}\n\
             set member \"title\" style bold 0..9 to true",
        ),
        script(
            121,
            121,
            "act_two",
            "set stage bg_color to {\"r\":36,\"g\":14,\"b\":44,\"a\":255}\n\
             set member \"title\" style bold 0..9 to false",
        ),
        script(FRAMES, FRAMES, "loop_to_start", "go to frame 1"),
    ];
    score
}

/// A 16-entry palette from one colour to another.
fn ramp(from: [u8; 3], to: [u8; 3]) -> Vec<Color> {
    (0..16)
        .map(|i| {
            let c = |k: usize| {
                (f64::from(from[k]) + (f64::from(to[k]) - f64::from(from[k])) * f64::from(i) / 15.0)
                    .round() as u8
            };
            Color::rgb(c(0), c(1), c(2))
        })
        .collect()
}

/// The spinner's own score: four dots going round, and a fifth and sixth taking turns.
fn spinner_score() -> Score {
    let mut score = Score::new(12);
    let dot = m(2, 6);
    let at = |k: f64| {
        (
            round2(32.0 + 22.0 * (TAU * k).cos()),
            round2(32.0 + 22.0 * (TAU * k).sin()),
        )
    };
    for d in 0..4u32 {
        let start = f64::from(d) / 4.0;
        let mut span = SpriteSpan::new(sprite(d + 1, 1, 12, dot, at(start), (10.0, 10.0)));
        for q in 1..=3u32 {
            let (x, y) = at(start + f64::from(q) / 4.0);
            key(&mut span, 1 + q * 11 / 3, SpriteProp::LocH, x);
            key(&mut span, 1 + q * 11 / 3, SpriteProp::LocV, y);
        }
        let _ = score.insert_span(span);
    }
    let _ = score.insert_span(SpriteSpan::new(sprite(
        5,
        1,
        6,
        dot,
        (32.0, 32.0),
        (14.0, 14.0),
    )));
    let _ = score.insert_span(SpriteSpan::new(sprite(
        6,
        7,
        12,
        dot,
        (32.0, 32.0),
        (6.0, 6.0),
    )));
    score
}
