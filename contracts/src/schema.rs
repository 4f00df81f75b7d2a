//! JSON Schema for every message, as checked into `docs/schema/`.

use schemars::{JsonSchema, schema_for};

use crate::items::*;
use crate::message::{ClientMessage, ServerMessage};

fn pretty<T: JsonSchema>() -> String {
    let schema = schema_for!(T);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// Every schema file: `(file name, contents)`. `client_message.json` and `server_message.json`
/// cover every message; `items/<stream>.json` covers each stream's item.
pub fn all() -> Vec<(String, String)> {
    let mut out = vec![
        ("client_message.json".to_owned(), pretty::<ClientMessage>()),
        ("server_message.json".to_owned(), pretty::<ServerMessage>()),
    ];
    let items = [
        ("frames", pretty::<StageFrame>()),
        ("sprites", pretty::<SpriteDelta>()),
        ("sprite_events", pretty::<SpriteEvent>()),
        ("member_props", pretty::<MemberProp>()),
        ("movie_props", pretty::<MovieProp>()),
        ("stage_props", pretty::<StageProp>()),
        ("keyframes", pretty::<Keyframe>()),
        ("film_loops", pretty::<FilmLoop>()),
        ("sounds", pretty::<SoundCue>()),
        ("tempos", pretty::<TempoChange>()),
        ("palettes", pretty::<Palette>()),
        ("frame_scripts", pretty::<FrameScript>()),
        ("transitions", pretty::<Transition>()),
        ("text_styles", pretty::<TextStyle>()),
    ];
    for (name, s) in items {
        out.push((format!("items/{name}.json"), s));
    }
    out
}
