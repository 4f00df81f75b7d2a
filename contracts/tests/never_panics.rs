//! Whatever the bytes, the decoders answer: `Ok`, or a [`DecodeError`] with one of the four
//! decode codes (or a [`PixelError`] / [`FrameError`]) — never a panic, never a stack overflow.

mod common;

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value, json};
use stagelink_contracts::pixels::*;
use stagelink_contracts::*;
use tokio_util::codec::Decoder;

const DECODE_CODES: [ErrorCode; 5] = [
    ErrorCode::BadJson,
    ErrorCode::UnknownType,
    ErrorCode::MissingField,
    ErrorCode::InvalidField,
    // A `command` naming a kind that does not exist.
    ErrorCode::UnknownCommand,
];

/// Both decoders on `bytes`: each is `Ok` or a decode error with a decode code, and when the
/// bytes are an object whose `id` is a u64 the error carries that id.
fn check_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    let id = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_u64));
    let is_object = serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.is_object());
    let results = [decode_client(bytes).err(), decode_server(bytes).err()];
    for e in results.into_iter().flatten() {
        prop_assert!(
            DECODE_CODES.contains(&e.code),
            "{:?} for {}",
            e,
            String::from_utf8_lossy(bytes)
        );
        prop_assert!(!e.message.is_empty());
        if is_object {
            prop_assert_eq!(e.id, id, "{:?} for {}", e, String::from_utf8_lossy(bytes));
        }
        if e.code == ErrorCode::BadJson {
            prop_assert!(e.message.contains("line"), "{}", e.message);
        }
    }
    Ok(())
}

/// `decode_tile` on `msg`: an error, or a tile whose pixels are exactly its declared size.
fn check_tile(msg: &[u8]) -> Result<(), TestCaseError> {
    match decode_tile(msg) {
        Ok(t) => {
            prop_assert_eq!(t.rgba.len(), t.header.raw_len());
            prop_assert!(
                u32::from(t.header.x) + u32::from(t.header.w) <= u32::from(t.header.stage_w)
            );
            prop_assert!(
                u32::from(t.header.y) + u32::from(t.header.h) <= u32::from(t.header.stage_h)
            );
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

/// Pieces of protocol-shaped JSON, glued at random: mostly near-misses.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    r#"{"type":"command""#,
    r#"{"type":"hello""#,
    r#"{"type":"event""#,
    r#"{"type":"snapshot""#,
    r#"{"type":"ack""#,
    r#""type""#,
    r#""command""#,
    r#""id""#,
    r#""id":7"#,
    r#""id":-1"#,
    r#""kind""#,
    r#""kind":"batch","commands":["#,
    r#""kind":"go_to_frame""#,
    r#""kind":"custom","name":"x","payload":"#,
    r#""kind":"set_sprite_prop""#,
    r#""frame""#,
    r#""protocol":1"#,
    r#""protocol""#,
    r#""streams":["*"]"#,
    r#""items":["#,
    r#""sprites":[{"#,
    r#""value""#,
    r#""value":{"r":1,"g":2,"b":3}"#,
    r#""value":[1.5,2]"#,
    r#""status":"applied""#,
    r#""code":"busy""#,
    r#""seq""#,
    r#""t""#,
    "0",
    "1",
    "-1",
    "1.5",
    "1e999",
    "-0",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "null",
    "true",
    "false",
    r#""x""#,
    r#""\u0000""#,
    r#""\ud800""#,
    r#""\uDBFF\uDFFF""#,
    r#""é""#,
    "\"",
    "\\",
];

/// Field names the messages use, so random objects hit real fields with wrong values.
const KEYS: &[&str] = &[
    "type",
    "id",
    "protocol",
    "project",
    "client",
    "role",
    "token",
    "subscribe",
    "snapshot",
    "takeover",
    "streams",
    "what",
    "command",
    "kind",
    "frame",
    "delta",
    "tempo",
    "sprite_num",
    "begin_frame",
    "cast_lib",
    "member_num",
    "prop",
    "value",
    "name",
    "payload",
    "commands",
    "t",
    "reason",
    "session",
    "server",
    "capabilities",
    "heartbeat_ms",
    "idle_timeout_ms",
    "stream",
    "seq",
    "first_seq",
    "items",
    "seqs",
    "movie",
    "stage_props",
    "movie_props",
    "sprites",
    "members",
    "ok",
    "data",
    "error",
    "status",
    "result",
    "from_seq",
    "to_seq",
    "code",
    "message",
    "fatal",
    "policy",
];

const TYPES: &[&str] = &[
    "hello",
    "subscribe",
    "unsubscribe",
    "request",
    "command",
    "ping",
    "pong",
    "bye",
    "pixels_ack",
    "welcome",
    "event",
    "snapshot",
    "response",
    "ack",
    "gap",
    "notice",
    "error",
    "dance",
    "",
];

/// A small JSON value of any shape, including protocol-looking ones.
fn wild_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        select(TYPES).prop_map(Value::from),
        select(Command::KINDS).prop_map(Value::from),
        select(KEYS).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// An object with a (mostly known) `type` and random known fields.
fn wild_message() -> impl Strategy<Value = Value> {
    (
        select(TYPES),
        vec((select(KEYS), wild_value()), 0..8),
        any::<bool>(),
    )
        .prop_map(|(ty, fields, type_first)| {
            let mut m = Map::new();
            if type_first {
                m.insert("type".to_owned(), json!(ty));
            }
            for (k, v) in fields {
                m.insert(k.to_owned(), v);
            }
            if !type_first {
                m.entry("type").or_insert(json!(ty));
            }
            Value::Object(m)
        })
}

/// A `command` message whose command is random but kind-shaped.
fn wild_command() -> impl Strategy<Value = Value> {
    let inner = (
        select(Command::KINDS),
        vec((select(KEYS), wild_value()), 0..5),
    )
        .prop_map(|(kind, fields)| {
            let mut m: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            m.insert("kind".to_owned(), json!(kind));
            Value::Object(m)
        });
    let command = inner.prop_recursive(3, 16, 4, |inner| {
        vec(inner, 0..4).prop_map(|commands| json!({"kind": "batch", "commands": commands}))
    });
    (any::<u64>(), command)
        .prop_map(|(id, command)| json!({"type":"command","id":id,"command":command}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        check_json(&bytes)?;
        check_tile(&bytes)?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,64}") {
        check_json(text.as_bytes())?;
    }

    #[test]
    fn glued_fragments_never_panic(parts in vec(select(FRAGMENTS), 0..40)) {
        check_json(parts.concat().as_bytes())?;
    }

    #[test]
    fn an_object_with_a_brace_glued_on_never_panics(parts in vec(select(FRAGMENTS), 0..20), close in 0usize..4) {
        let s = parts.concat() + &"}".repeat(close);
        check_json(s.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn protocol_shaped_objects_never_panic(m in wild_message()) {
        check_json(&serde_json::to_vec(&m).unwrap())?;
    }

    #[test]
    fn kind_shaped_commands_never_panic_and_keep_their_id(m in wild_command()) {
        let bytes = serde_json::to_vec(&m).unwrap();
        check_json(&bytes)?;
        if let Err(e) = decode_client(&bytes) {
            prop_assert_eq!(e.id, m["id"].as_u64());
            prop_assert_eq!(e.message_type.as_deref(), Some("command"));
            prop_assert!(
                matches!(e.code, ErrorCode::MissingField | ErrorCode::InvalidField | ErrorCode::UnknownCommand),
                "{:?}",
                e
            );
        }
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        m in common::client_message(),
        s in common::server_message(),
        edits in vec((any::<Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        for mut bytes in [m.to_json(), s.to_json()] {
            for (at, byte, op) in &edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = *byte,
                    1 => { bytes.remove(i); }
                    _ => bytes.insert(i, *byte),
                }
            }
            check_json(&bytes)?;
        }
    }

    #[test]
    fn truncated_valid_messages_never_panic(m in common::client_message(), cut in any::<Index>()) {
        let bytes = m.to_json();
        let bytes = &bytes[..cut.index(bytes.len())];
        check_json(bytes)?;
        let e = decode_client(bytes).unwrap_err();
        prop_assert_eq!(e.code, ErrorCode::BadJson, "{}", String::from_utf8_lossy(bytes));
    }
}

// ---------------------------------------------------------------------------------------------
// Pixel tiles and framing

/// A tile message built field by field: a plausible header (often consistent, sometimes not)
/// and a payload that is random, a real LZ4 block, or a damaged one.
fn wild_tile() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![8 => Just(OPCODE_TILE), 1 => any::<u8>()],
        prop_oneof![4 => 0u8..2, 1 => any::<u8>()],
        any::<u16>(),
        any::<u32>(),
        (any::<u16>(), any::<u16>(), 0u16..100, 0u16..100),
        prop_oneof![3 => Just(None), 1 => any::<(u16, u16)>().prop_map(Some)],
        prop_oneof![3 => Just(None), 1 => any::<u32>().prop_map(Some)],
        prop_oneof![3 => Just(None), 1 => any::<u32>().prop_map(Some)],
        (
            0u8..3,
            vec(any::<u8>(), 0..2000),
            any::<Index>(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |(
                op,
                enc,
                flags,
                frame,
                (x, y, w, h),
                stage,
                raw_len,
                payload_len,
                (kind, noise, at, byte),
            )| {
                let (sw, sh) = stage.unwrap_or((x.saturating_add(w), y.saturating_add(h)));
                let want = usize::from(w) * usize::from(h) * 4;
                let mut payload = match kind {
                    0 => noise,
                    _ => {
                        let mut rgba = noise;
                        rgba.resize(want, 7);
                        lz4_flex::block::compress(&rgba)
                    }
                };
                if kind == 2 && !payload.is_empty() {
                    let i = at.index(payload.len());
                    payload[i] = byte;
                }
                let mut m = vec![op, enc];
                m.extend_from_slice(&flags.to_le_bytes());
                m.extend_from_slice(&frame.to_le_bytes());
                for v in [x, y, w, h, sw, sh] {
                    m.extend_from_slice(&v.to_le_bytes());
                }
                m.extend_from_slice(&raw_len.unwrap_or(want as u32).to_le_bytes());
                m.extend_from_slice(&payload_len.unwrap_or(payload.len() as u32).to_le_bytes());
                m.extend_from_slice(&payload);
                m
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn wild_tiles_never_panic(msg in wild_tile()) {
        check_tile(&msg)?;
        let _ = decode_tile_header(&msg);
    }

    #[test]
    fn any_byte_stream_through_the_frame_decoder_never_panics(
        bytes in vec(any::<u8>(), 0..512),
        max in prop_oneof![0usize..64, Just(DEFAULT_MAX_FRAME)],
        cuts in vec(any::<Index>(), 0..8),
    ) {
        let mut codec = FrameCodec::new(max);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.extend([0, bytes.len()]);
        points.sort_unstable();
        points.dedup();
        let mut buf = BytesMut::new();
        'feed: for w in points.windows(2) {
            buf.extend_from_slice(&bytes[w[0]..w[1]]);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        prop_assert!(frame.len() <= max);
                        check_json(&frame)?;
                        check_tile(&frame)?;
                    }
                    Ok(None) => break,
                    Err(FrameError::TooLarge { len, max: m }) => {
                        prop_assert!(len > m);
                        break 'feed;
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Depth: the parser's recursion limit must stop a deep message before the stack does.

#[test]
fn deep_arrays_are_bad_json() {
    for depth in [127usize, 128, 129, 1_000, 100_000] {
        let s = "[".repeat(depth) + &"]".repeat(depth);
        let e = decode_client(s.as_bytes()).unwrap_err();
        assert!(
            e.code == ErrorCode::BadJson || e.code == ErrorCode::InvalidField,
            "{depth}: {e:?}"
        );
        let s = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
        let e = decode_server(s.as_bytes()).unwrap_err();
        assert!(DECODE_CODES.contains(&e.code), "{depth}: {e:?}");
    }
}

#[test]
fn deeply_nested_batches_decode_or_fail_cleanly() {
    let leaf = r#"{"kind":"pause"}"#;
    let bad_leaf = r#"{"kind":"step"}"#;
    for depth in 0..=80usize {
        for inner in [leaf, bad_leaf] {
            let open = r#"{"kind":"batch","commands":["#.repeat(depth);
            let close = "]}".repeat(depth);
            let s = format!(r#"{{"type":"command","id":77,"command":{open}{inner}{close}}}"#);
            match decode_client(s.as_bytes()) {
                Ok(ClientMessage::Command(c)) => {
                    assert_eq!(inner, leaf);
                    let mut d = 0;
                    let mut cmd = &c.command;
                    while let Command::Batch { commands } = cmd {
                        d += 1;
                        cmd = &commands[0];
                    }
                    assert_eq!(d, depth);
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => {
                    assert!(DECODE_CODES.contains(&e.code), "{depth}: {e:?}");
                    if e.code != ErrorCode::BadJson {
                        assert_eq!(e.id, Some(77));
                    }
                }
            }
        }
    }
}

#[test]
fn deep_payloads_and_values_fail_cleanly() {
    for depth in [60usize, 120, 126, 127, 200] {
        let nest = "[".repeat(depth) + &"]".repeat(depth);
        for s in [
            format!(
                r#"{{"type":"command","id":1,"command":{{"kind":"custom","name":"n","payload":{nest}}}}}"#
            ),
            format!(
                r#"{{"type":"command","id":1,"command":{{"kind":"set_movie_prop","prop":"p","value":{nest}}}}}"#
            ),
        ] {
            if let Err(e) = decode_client(s.as_bytes()) {
                assert!(DECODE_CODES.contains(&e.code), "{depth}: {e:?}");
            }
        }
        let s = format!(r#"{{"type":"event","stream":"x","seq":1,"frame":1,"items":[{nest}]}}"#);
        if let Err(e) = decode_server(s.as_bytes()) {
            assert!(DECODE_CODES.contains(&e.code), "{depth}: {e:?}");
        }
    }
}

#[test]
fn big_and_odd_numbers_fail_cleanly() {
    for n in [
        "1e400",
        "-1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "0.5",
        "1e2",
        "-0",
        "123456789012345678901234567890",
    ] {
        let s = format!(
            r#"{{"type":"command","id":{n},"command":{{"kind":"go_to_frame","frame":{n}}}}}"#
        );
        let r = decode_client(s.as_bytes());
        if let Err(e) = r {
            assert!(DECODE_CODES.contains(&e.code), "{n}: {e:?}");
        }
    }
}
