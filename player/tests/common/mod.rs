//! Helpers shared by the integration tests: small movies written as movie-file JSON.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use stagelink_contracts::{Command, StreamName};
use stagelink_player::{Change, Engine, Movie, TickOutput, file};

/// A 10-frame movie at 10 fps: a red box (channel 1, 1–10, loc_h 0→90 by keyframe), a blue
/// box (channel 2, 1–5), a text member `label`, a sound `beep` (150 ms), plus the given
/// frame scripts and markers (JSON arrays).
pub fn small_movie(frame_scripts: &str, markers: &str) -> Movie {
    let json = format!(
        r#"{{"name":"small","stage":{{"width":100,"height":80,"bg_color":{{"r":0,"g":0,"b":0,"a":255}},"title":"small"}},
        "frame_count":10,"tempo":10,"movie_props":{{"name":"small","loop":true,"update_lock":false}},
        "casts":[{{"cast_lib":1,"name":"cast","members":[
          {{"cast_lib":1,"member_num":1,"name":"box","kind":"shape","props":{{"shape_type":"rect","width":10,"height":10}}}},
          {{"cast_lib":1,"member_num":2,"name":"label","kind":"text","props":{{"text":"hello"}}}},
          {{"cast_lib":1,"member_num":3,"name":"beep","kind":"sound","props":{{"duration_ms":150}}}},
          {{"cast_lib":1,"member_num":4,"name":"ring","kind":"shape","props":{{"shape_type":"oval"}}}}]}}],
        "score":{{"sprites":[
          {{"sprite_num":1,"begin_frame":1,"end_frame":10,"member":{{"cast_lib":1,"member_num":1}},"loc_h":0,"loc_v":0,"loc_z":1,"width":10,"height":10,"rotation":0,"skew":0,"blend":100,"ink":0,"visible":true,"color":{{"r":255,"g":0,"b":0,"a":255}},
           "keyframes":[{{"frame":10,"prop":"loc_h","value":90}}]}},
          {{"sprite_num":2,"begin_frame":1,"end_frame":5,"member":{{"cast_lib":1,"member_num":4}},"loc_h":50,"loc_v":50,"loc_z":2,"width":10,"height":10,"rotation":0,"skew":0,"blend":100,"ink":0,"visible":true,"color":{{"r":0,"g":0,"b":255,"a":255}}}}],
          "sounds":[{{"frame":3,"channel":1,"cast_lib":1,"member_num":3}}],
          "frame_scripts":{frame_scripts},"markers":{markers}}}}}"#
    );
    file::parse(json.as_bytes(), Path::new("small.json")).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `n` ticks without commands and returns the frames shown.
pub fn frames(engine: &mut Engine, n: usize) -> Vec<u32> {
    (0..n).map(|_| engine.tick([]).frame).collect()
}

/// One tick with one command.
pub fn one(engine: &mut Engine, command: Command) -> TickOutput {
    engine.tick([command])
}

/// The streams a run of changes touched.
pub fn streams<'a>(changes: impl IntoIterator<Item = &'a Change>) -> BTreeSet<StreamName> {
    changes.into_iter().map(Change::stream).collect()
}

/// Every JSON stream (all but `pixels`).
pub fn json_streams() -> BTreeSet<StreamName> {
    StreamName::ALL
        .iter()
        .copied()
        .filter(|s| *s != StreamName::Pixels)
        .collect()
}
