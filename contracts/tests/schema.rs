//! `docs/schema/` is generated from the types: this test fails when the checked-in files drift,
//! and rewrites them when `STAGELINK_BLESS=1`. It also validates generated messages and items
//! against the schemas, so the schemas say what the codecs actually accept.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use stagelink_contracts::schema;

const BLESS: &str = "STAGELINK_BLESS=1 cargo test -p stagelink-contracts --test schema";

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema")
}

/// Every `*.json` under `dir`, as paths relative to it with `/` separators.
fn json_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".json") {
            out.push(format!("{prefix}{name}"));
        }
    }
}

#[test]
fn checked_in_schemas_match_the_types() {
    let dir = schema_dir();
    let files = schema::all();
    let mut on_disk = Vec::new();
    json_files(&dir, "", &mut on_disk);
    let stale: Vec<&String> = on_disk
        .iter()
        .filter(|f| !files.iter().any(|(name, _)| name == *f))
        .collect();

    if std::env::var("STAGELINK_BLESS").as_deref() == Ok("1") {
        for (name, contents) in &files {
            let path = dir.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, contents).unwrap();
        }
        for name in stale {
            fs::remove_file(dir.join(name)).unwrap();
        }
        eprintln!("wrote {} schema files to {}", files.len(), dir.display());
        return;
    }

    let mut problems = Vec::new();
    for (name, contents) in &files {
        match fs::read_to_string(dir.join(name)) {
            // Tolerate a checkout that turned line endings into CRLF.
            Ok(s) if s.replace("\r\n", "\n") == *contents => {}
            Ok(_) => problems.push(format!("docs/schema/{name} differs from the types")),
            Err(e) => problems.push(format!("docs/schema/{name}: {e}")),
        }
    }
    for name in stale {
        problems.push(format!("docs/schema/{name} is not generated any more"));
    }
    assert!(
        problems.is_empty(),
        "the checked-in JSON Schema is out of date:\n  {}\nRun `{BLESS}` and commit docs/schema/.",
        problems.join("\n  ")
    );
}

#[test]
fn every_stream_with_items_has_a_schema() {
    let files = schema::all();
    for stream in stagelink_contracts::StreamName::ALL {
        let name = format!("items/{}.json", stream.as_str());
        let has = files.iter().any(|(n, _)| *n == name);
        // `pixels` travels as binary tiles, not JSON items.
        assert_eq!(has, stream.as_str() != "pixels", "{name}");
    }
    for (name, contents) in &files {
        let v: Value = serde_json::from_str(contents).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(v.get("$schema").is_some(), "{name} names its dialect");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn validator(name: &str) -> jsonschema::Validator {
    let (_, contents) = schema::all()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no schema {name}"));
    let schema: Value = serde_json::from_str(&contents).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name} is not a schema: {e}"))
}

#[track_caller]
fn assert_valid(v: &jsonschema::Validator, name: &str, instance: &Value) {
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{instance} does not match {name}:\n  {}",
        errors.join("\n  ")
    );
}

/// Values drawn from a strategy, deterministically.
fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[test]
fn generated_messages_match_the_schemas() {
    let client = validator("client_message.json");
    for m in samples(common::client_message(), 300) {
        let json: Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_valid(&client, "client_message.json", &json);
    }
    let server = validator("server_message.json");
    for m in samples(common::server_message(), 300) {
        let json: Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_valid(&server, "server_message.json", &json);
    }
}

#[test]
fn hand_written_examples_match_the_schemas() {
    let client = validator("client_message.json");
    for m in [
        json!({"type":"hello","protocol":1,"project":"demo","client":{"id":"term-1","name":"stagelink-term","version":"0.1.0"},"role":"controller","token":"t","subscribe":["frames","sprites"],"snapshot":true}),
        json!({"type":"subscribe","streams":["sounds"],"snapshot":false}),
        json!({"type":"command","id":9,"command":{"kind":"go_to_frame","frame":42}}),
        json!({"type":"command","id":10,"command":{"kind":"batch","commands":[{"kind":"pause"},{"kind":"set_sprite_prop","sprite_num":3,"begin_frame":1,"prop":"color","value":{"r":255,"g":0,"b":0}}]}}),
        json!({"type":"command","id":11,"command":{"kind":"custom","name":"spin","payload":{"turns":2.5}}}),
        json!({"type":"pixels_ack","frame":12}),
        json!({"type":"ping","t":123}),
    ] {
        assert_valid(&client, "client_message.json", &m);
        stagelink_contracts::decode_client(m.to_string().as_bytes()).unwrap();
    }
    // What the decoder refuses, the schema refuses too.
    for m in [
        json!({"type":"hello"}),
        json!({"type":"hello","protocol":"1"}),
        json!({"type":"command","id":9,"command":{"kind":"go_to_frame"}}),
        json!({"type":"command","id":9,"command":{"kind":"dance"}}),
        json!({"type":"dance"}),
        json!({"protocol":1}),
    ] {
        assert!(
            !client.is_valid(&m),
            "{m} should not match client_message.json"
        );
        assert!(stagelink_contracts::decode_client(m.to_string().as_bytes()).is_err());
    }

    let server = validator("server_message.json");
    for m in [
        json!({"type":"event","stream":"sprites","seq":1042,"frame":17,"items":[{"sprite_num":1,"begin_frame":1,"loc_h":10.5}]}),
        json!({"type":"gap","stream":"sounds","from_seq":100,"to_seq":140}),
        json!({"type":"ack","id":10,"status":"rejected","error":{"code":"unknown_sprite","message":"no sprite in channel 99 at frame 42"}}),
        json!({"type":"error","code":"bad_json","message":"expected value at line 1 column 7","fatal":false}),
        json!({"type":"response","id":5,"ok":true,"data":{"frame":17,"frame_count":240,"tempo":30,"playing":true}}),
    ] {
        assert_valid(&server, "server_message.json", &m);
        stagelink_contracts::decode_server(m.to_string().as_bytes()).unwrap();
    }
    for m in [
        json!({"type":"ack","id":1,"status":"meh"}),
        json!({"type":"error","code":"nope","message":"m","fatal":true}),
        json!({"type":"gap","stream":"sounds","from_seq":-1,"to_seq":2}),
    ] {
        assert!(
            !server.is_valid(&m),
            "{m} should not match server_message.json"
        );
        assert!(stagelink_contracts::decode_server(m.to_string().as_bytes()).is_err());
    }
}

macro_rules! items_match {
    ($($stream:literal => $strategy:expr),* $(,)?) => {{
        $(
            let name = concat!("items/", $stream, ".json");
            let v = validator(name);
            for item in samples($strategy, 60) {
                assert_valid(&v, name, &serde_json::to_value(&item).unwrap());
            }
            assert!(!v.is_valid(&json!({})), "{name} accepts an empty object");
        )*
    }};
}

#[test]
fn generated_items_match_their_schemas() {
    use common::*;
    items_match!(
        "frames" => stage_frame(),
        "sprites" => sprite_delta(),
        "sprite_events" => sprite_event(),
        "member_props" => member_prop(),
        "movie_props" => movie_prop(),
        "stage_props" => stage_prop(),
        "keyframes" => keyframe(),
        "film_loops" => film_loop(),
        "sounds" => sound_cue(),
        "tempos" => tempo_change(),
        "palettes" => palette(),
        "frame_scripts" => frame_script(),
        "transitions" => transition(),
        "text_styles" => text_style(),
    );
}
