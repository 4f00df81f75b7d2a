//! Every example in `docs/protocol.md` decodes with these types.
//!
//! Each ```` ```json ```` fenced block holds one complete JSON message per line. The message's
//! `type` decides the direction: client types go through `decode_client`, server types through
//! `decode_server` (`ping`, `pong` and `bye` travel both ways; either decoder may accept them).
//! An `event`'s items must also decode as its stream's item type, and a `response` whose data is a
//! `stage` snapshot (it has `seqs`) must decode as one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;
use stagelink_contracts::*;

/// The doc must show at least this many messages.
const MIN_EXAMPLES: usize = 30;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md")
}

/// One example line: where it is and what it says.
struct Example {
    line: usize,
    text: String,
}

/// Every non-empty line of every ```json block.
fn examples() -> Vec<Example> {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut in_json = false;
    let mut in_other = false;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            if in_json || in_other {
                in_json = false;
                in_other = false;
            } else if info.trim() == "json" {
                in_json = true;
            } else {
                in_other = true;
            }
            continue;
        }
        if in_json && !trimmed.is_empty() {
            out.push(Example {
                line: i + 1,
                text: trimmed.to_owned(),
            });
        }
    }
    out
}

fn items_as<T: DeserializeOwned>(e: &Event) -> Result<(), String> {
    e.items_as::<T>().map(drop).map_err(|err| err.to_string())
}

/// The items of an event, as its stream's item type.
fn check_items(e: &Event) -> Result<(), String> {
    let Some(stream) = StreamName::parse(&e.stream) else {
        return Err(format!("unknown stream `{}`", e.stream));
    };
    match stream {
        StreamName::Frames => items_as::<StageFrame>(e),
        // Pixels travel as binary tiles; an `event` of this stream carries no JSON items.
        StreamName::Pixels => Ok(()),
        StreamName::Sprites => items_as::<SpriteDelta>(e),
        StreamName::SpriteEvents => items_as::<SpriteEvent>(e),
        StreamName::MemberProps => items_as::<MemberProp>(e),
        StreamName::MovieProps => items_as::<MovieProp>(e),
        StreamName::StageProps => items_as::<StageProp>(e),
        StreamName::Keyframes => items_as::<Keyframe>(e),
        StreamName::FilmLoops => items_as::<FilmLoop>(e),
        StreamName::Sounds => items_as::<SoundCue>(e),
        StreamName::Tempos => items_as::<TempoChange>(e),
        StreamName::Palettes => items_as::<Palette>(e),
        StreamName::FrameScripts => items_as::<FrameScript>(e),
        StreamName::Transitions => items_as::<Transition>(e),
        StreamName::TextStyles => items_as::<TextStyle>(e),
    }
    .map_err(|err| format!("an item of `{}` does not decode: {err}", e.stream))
}

/// Checks one example; `Err` says why it fails.
fn check(text: &str) -> Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(ty) = value.get("type").and_then(Value::as_str) else {
        return Err("no string `type`".to_owned());
    };
    let client = ClientMessage::TYPES.contains(&ty);
    let server = ServerMessage::TYPES.contains(&ty);
    if !client && !server {
        return Err(format!(
            "`{ty}` is neither a client nor a server message type"
        ));
    }
    let as_client = client.then(|| decode_client(text.as_bytes()));
    let as_server = server.then(|| decode_server(text.as_bytes()));
    let decoded_server = match (as_client, as_server) {
        (Some(Ok(_)), _) => None,
        (_, Some(Ok(m))) => Some(m),
        (Some(Err(e)), None) | (None, Some(Err(e))) | (Some(_), Some(Err(e))) => {
            return Err(format!("does not decode: {e}"));
        }
        (None, None) => unreachable!(),
    };
    match decoded_server {
        Some(ServerMessage::Event(e)) => check_items(&e)?,
        Some(ServerMessage::Response(r)) => {
            if let Some(data) = r.data.as_ref().filter(|d| d.get("seqs").is_some()) {
                serde_json::from_value::<StageSnapshot>(data.clone())
                    .map_err(|e| format!("`stage` data does not decode: {e}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[test]
fn every_json_example_in_the_protocol_doc_decodes() {
    let examples = examples();
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|ex| {
            check(&ex.text)
                .err()
                .map(|why| format!("docs/protocol.md:{}: {why}\n    {}", ex.line, ex.text))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples in docs/protocol.md fail:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
    assert!(
        examples.len() >= MIN_EXAMPLES,
        "docs/protocol.md shows only {} JSON examples; at least {MIN_EXAMPLES} expected",
        examples.len()
    );
}

#[test]
fn the_protocol_doc_shows_every_message_type_command_and_stream() {
    let mut types = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut streams = BTreeSet::new();
    for ex in examples() {
        let Ok(v) = serde_json::from_str::<Value>(&ex.text) else {
            continue;
        };
        if let Some(t) = v["type"].as_str() {
            types.insert(t.to_owned());
        }
        let mut commands = vec![&v["command"]];
        while let Some(c) = commands.pop() {
            if let Some(k) = c["kind"].as_str() {
                kinds.insert(k.to_owned());
            }
            if let Some(inner) = c["commands"].as_array() {
                commands.extend(inner);
            }
        }
        if v["type"] == "event"
            && let Some(s) = v["stream"].as_str()
        {
            streams.insert(s.to_owned());
        }
    }
    let missing: Vec<String> = ClientMessage::TYPES
        .iter()
        .chain(ServerMessage::TYPES)
        .filter(|t| !types.contains(**t))
        .map(|t| format!("message type `{t}`"))
        .chain(
            Command::KINDS
                .iter()
                .filter(|k| !kinds.contains(**k))
                .map(|k| format!("command kind `{k}`")),
        )
        .chain(
            StreamName::ALL
                .iter()
                .filter(|s| **s != StreamName::Pixels && !streams.contains(s.as_str()))
                .map(|s| format!("an `event` of stream `{s}`")),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md has no example of:\n  {}",
        missing.join("\n  ")
    );
}
