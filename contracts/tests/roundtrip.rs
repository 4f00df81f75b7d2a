//! Round trips: every message through JSON, every stream item through serde_json and the event
//! encoder, frames through [`FrameCodec`] under any chunking, pixel tiles through their codec.

mod common;

use std::collections::BTreeSet;

use bytes::BytesMut;
use common::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use stagelink_contracts::framing::{frame, is_json};
use stagelink_contracts::pixels::*;
use stagelink_contracts::*;
use tokio_util::codec::{Decoder, Encoder};

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `to_json` → `decode_client` gives the same message, tagged with the expected `type`.
fn client_rt(msg: &ClientMessage, ty: &str) -> Result<(), TestCaseError> {
    let bytes = msg.to_json();
    prop_assert!(is_json(&bytes), "not an object: {}", show(&bytes));
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    prop_assert_eq!(value["type"].as_str(), Some(ty), "json: {}", show(&bytes));
    let back = decode_client(&bytes)
        .map_err(|e| TestCaseError::fail(format!("{e:?} decoding {}", show(&bytes))))?;
    prop_assert_eq!(&back, msg, "json: {}", show(&bytes));
    Ok(())
}

/// `to_json` → `decode_server` gives the same message, tagged with the expected `type`.
fn server_rt(msg: &ServerMessage, ty: &str) -> Result<(), TestCaseError> {
    let bytes = msg.to_json();
    prop_assert!(is_json(&bytes), "not an object: {}", show(&bytes));
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    prop_assert_eq!(value["type"].as_str(), Some(ty), "json: {}", show(&bytes));
    let back = decode_server(&bytes)
        .map_err(|e| TestCaseError::fail(format!("{e:?} decoding {}", show(&bytes))))?;
    prop_assert_eq!(&back, msg, "json: {}", show(&bytes));
    Ok(())
}

/// Every command kind in `c`, batches searched.
fn kinds(c: &Command, out: &mut BTreeSet<&'static str>) {
    out.insert(c.kind());
    if let Command::Batch { commands } = c {
        for inner in commands {
            kinds(inner, out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client messages

proptest! {
    #[test]
    fn hello_round_trips(h in hello()) {
        client_rt(&ClientMessage::Hello(h), "hello")?;
    }

    #[test]
    fn hello_with_every_optional_field_round_trips(
        h in hello(),
        project in text(),
        id in text(),
        name in text(),
        version in text(),
        token in text(),
        subscribe in vec(ident(), 0..5),
    ) {
        let h = Hello {
            project: Some(project),
            client: PeerInfo { id: Some(id), name: Some(name), version: Some(version) },
            token: Some(token),
            subscribe: Some(subscribe),
            snapshot: true,
            takeover: true,
            ..h
        };
        client_rt(&ClientMessage::Hello(h), "hello")?;
    }

    #[test]
    fn subscribe_round_trips(streams in vec(ident(), 0..6), snapshot in any::<bool>()) {
        client_rt(&ClientMessage::Subscribe(Subscribe { streams, snapshot }), "subscribe")?;
    }

    #[test]
    fn unsubscribe_round_trips(streams in vec(text(), 0..6)) {
        client_rt(&ClientMessage::Unsubscribe(Unsubscribe { streams }), "unsubscribe")?;
    }

    #[test]
    fn request_round_trips(id in any::<u64>(), what in text()) {
        client_rt(&ClientMessage::Request(Request { id, what }), "request")?;
    }

    #[test]
    fn command_round_trips(id in any::<u64>(), command in command()) {
        client_rt(&ClientMessage::Command(CommandMessage { id, command }), "command")?;
    }

    #[test]
    fn every_leaf_command_round_trips(id in any::<u64>(), command in leaf_command()) {
        client_rt(&ClientMessage::Command(CommandMessage { id, command }), "command")?;
    }

    #[test]
    fn nested_batch_round_trips(id in any::<u64>(), inner in vec(command(), 0..4), outer in vec(leaf_command(), 0..3)) {
        let mut commands = outer;
        commands.push(Command::Batch { commands: inner });
        let command = Command::Batch { commands: vec![Command::Batch { commands }] };
        client_rt(&ClientMessage::Command(CommandMessage { id, command }), "command")?;
    }

    #[test]
    fn custom_command_with_json_payload_round_trips(id in any::<u64>(), name in text(), payload in json_value()) {
        let command = Command::Custom { name, payload };
        client_rt(&ClientMessage::Command(CommandMessage { id, command }), "command")?;
    }

    #[test]
    fn ping_pong_bye_pixels_ack_round_trip(
        t in any::<u64>(),
        reason in option::of(text()),
        frame in any::<u32>(),
    ) {
        client_rt(&ClientMessage::Ping(Ping { t }), "ping")?;
        client_rt(&ClientMessage::Pong(Ping { t }), "pong")?;
        client_rt(&ClientMessage::Bye(Bye { reason }), "bye")?;
        client_rt(&ClientMessage::PixelsAck(PixelsAck { frame }), "pixels_ack")?;
    }

    #[test]
    fn any_client_message_round_trips(m in client_message()) {
        let bytes = m.to_json();
        prop_assert_eq!(decode_client(&bytes).ok(), Some(m), "json: {}", show(&bytes));
    }
}

#[test]
fn the_strategies_cover_every_command_kind_and_client_type() {
    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    let mut types = BTreeSet::new();
    for _ in 0..3000 {
        kinds(
            &command().new_tree(&mut runner).unwrap().current(),
            &mut seen,
        );
        let m = client_message().new_tree(&mut runner).unwrap().current();
        let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        types.insert(v["type"].as_str().unwrap().to_owned());
    }
    let all: BTreeSet<_> = Command::KINDS.iter().copied().collect();
    assert_eq!(seen, all);
    let all: BTreeSet<_> = ClientMessage::TYPES.iter().map(|s| s.to_string()).collect();
    assert_eq!(types, all);
}

#[test]
fn command_kind_names_match_the_wire() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..500 {
        let c = leaf_command().new_tree(&mut runner).unwrap().current();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["kind"].as_str(), Some(c.kind()));
    }
}

// ---------------------------------------------------------------------------------------------
// Server messages

proptest! {
    #[test]
    fn welcome_round_trips(w in welcome()) {
        server_rt(&ServerMessage::Welcome(w), "welcome")?;
    }

    #[test]
    fn welcome_with_the_catalogue_round_trips(w in welcome()) {
        let w = Welcome { streams: StreamInfo::catalogue(), ..w };
        server_rt(&ServerMessage::Welcome(w), "welcome")?;
    }

    #[test]
    fn event_round_trips_with_and_without_first_seq(e in event(), first in any::<u64>()) {
        let with = Event { first_seq: Some(first), ..e.clone() };
        server_rt(&ServerMessage::Event(with), "event")?;
        let without = Event { first_seq: None, ..e };
        let bytes = ServerMessage::Event(without.clone()).to_json();
        prop_assert!(!show(&bytes).contains("first_seq"), "absent first_seq is not written");
        server_rt(&ServerMessage::Event(without), "event")?;
    }

    #[test]
    fn snapshot_round_trips(s in stage_snapshot()) {
        server_rt(&ServerMessage::Snapshot(s), "snapshot")?;
    }

    #[test]
    fn full_snapshot_round_trips(
        s in stage_snapshot(),
        sprites in vec(full_sprite(), 1..6),
        members in vec(member_info(), 1..6),
        stage in prop_map(),
        movie_props in prop_map(),
        movie in movie_state(),
    ) {
        prop_assert!(sprites.iter().all(SpriteDelta::is_full));
        let s = StageSnapshot { sprites, members, stage_props: stage, movie_props, movie: Some(movie), ..s };
        server_rt(&ServerMessage::Snapshot(s.clone()), "snapshot")?;
        // The same body is the `stage` response's data.
        let data = serde_json::to_value(&s).unwrap();
        let back: StageSnapshot = serde_json::from_value(data).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn response_ok_and_err_round_trip(id in any::<u64>(), data in option::of(json_not_null()), error in error_body()) {
        server_rt(&ServerMessage::Response(Response { id, ok: true, data, error: None }), "response")?;
        server_rt(&ServerMessage::Response(Response { id, ok: false, data: None, error: Some(error) }), "response")?;
    }

    #[test]
    fn ack_round_trips_for_each_status(a in ack(), code in error_code(), message in text()) {
        for status in [AckStatus::Applied, AckStatus::Rejected, AckStatus::Busy] {
            server_rt(&ServerMessage::Ack(Ack { status, ..a.clone() }), "ack")?;
        }
        server_rt(&ServerMessage::Ack(Ack::applied(a.id, a.frame.unwrap_or(1), a.result.clone())), "ack")?;
        server_rt(&ServerMessage::Ack(Ack::rejected(a.id, code, message)), "ack")?;
        server_rt(&ServerMessage::Ack(Ack::busy(a.id)), "ack")?;
    }

    #[test]
    fn gap_round_trips(g in gap()) {
        server_rt(&ServerMessage::Gap(g), "gap")?;
    }

    #[test]
    fn notice_round_trips(n in notice()) {
        server_rt(&ServerMessage::Notice(n), "notice")?;
    }

    #[test]
    fn error_round_trips_with_and_without_id(e in error_message(), id in any::<u64>()) {
        server_rt(&ServerMessage::Error(ErrorMessage { id: Some(id), ..e.clone() }), "error")?;
        server_rt(&ServerMessage::Error(ErrorMessage { id: None, ..e.clone() }), "error")?;
        let made = ErrorMessage::new(e.code, e.message);
        prop_assert_eq!(made.fatal, made.code.is_fatal());
        server_rt(&ServerMessage::Error(made), "error")?;
    }

    #[test]
    fn server_ping_pong_bye_round_trip(t in any::<u64>(), reason in option::of(text())) {
        server_rt(&ServerMessage::Ping(Ping { t }), "ping")?;
        server_rt(&ServerMessage::Pong(Ping { t }), "pong")?;
        server_rt(&ServerMessage::Bye(Bye { reason }), "bye")?;
    }

    #[test]
    fn any_server_message_round_trips(m in server_message()) {
        let bytes = m.to_json();
        prop_assert_eq!(decode_server(&bytes).ok(), Some(m), "json: {}", show(&bytes));
    }
}

#[test]
fn the_strategy_covers_every_server_type() {
    let mut runner = TestRunner::deterministic();
    let mut types = BTreeSet::new();
    for _ in 0..2000 {
        let m = server_message().new_tree(&mut runner).unwrap().current();
        let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        types.insert(v["type"].as_str().unwrap().to_owned());
    }
    let all: BTreeSet<_> = ServerMessage::TYPES.iter().map(|s| s.to_string()).collect();
    assert_eq!(types, all);
}

// ---------------------------------------------------------------------------------------------
// Stream items: through serde_json alone, and inside an encoded `event`

/// Generates, for each item type, a serde_json round trip and an `encode_event` →
/// `decode_server` → `items_as` round trip.
macro_rules! item_round_trips {
    ($($name:ident: $ty:ty = $strategy:expr, $stream:literal;)*) => {$(
        mod $name {
            use super::*;

            proptest! {
                #[test]
                fn through_serde_json(item in $strategy) {
                    let json = serde_json::to_string(&item).unwrap();
                    let back: $ty = serde_json::from_str(&json).unwrap();
                    prop_assert_eq!(back, item, "json: {}", json);
                }

                #[test]
                fn inside_an_event(
                    items in vec($strategy, 0..5),
                    seq in any::<u64>(),
                    first_seq in option::of(any::<u64>()),
                    frame in any::<u32>(),
                ) {
                    let stream = <$ty as StreamItem>::STREAM;
                    prop_assert_eq!(stream.as_str(), $stream);
                    let bytes = encode_event(stream, seq, first_seq, frame, &items);
                    let Ok(ServerMessage::Event(e)) = decode_server(&bytes) else {
                        return Err(TestCaseError::fail(format!("not an event: {}", show(&bytes))));
                    };
                    prop_assert_eq!(&e.stream, $stream);
                    prop_assert_eq!((e.seq, e.first_seq, e.frame), (seq, first_seq, frame));
                    prop_assert_eq!(e.items_as::<$ty>().unwrap(), items.clone());
                    // The raw encoder, fed the same items one by one, writes the same bytes.
                    let raw: Vec<Vec<u8>> =
                        items.iter().map(|i| serde_json::to_vec(i).unwrap()).collect();
                    let again = encode_event_raw(stream, seq, first_seq, frame, raw.iter().map(Vec::as_slice));
                    prop_assert_eq!(show(&again), show(&bytes));
                }
            }
        }
    )*};
}

item_round_trips! {
    frames: StageFrame = stage_frame(), "frames";
    sprites: SpriteDelta = sprite_delta(), "sprites";
    sprite_events: SpriteEvent = sprite_event(), "sprite_events";
    member_props: MemberProp = member_prop(), "member_props";
    movie_props: MovieProp = movie_prop(), "movie_props";
    stage_props: StageProp = stage_prop(), "stage_props";
    keyframes: Keyframe = keyframe(), "keyframes";
    film_loops: FilmLoop = film_loop(), "film_loops";
    sounds: SoundCue = sound_cue(), "sounds";
    tempos: TempoChange = tempo_change(), "tempos";
    palettes: Palette = palette(), "palettes";
    frame_scripts: FrameScript = frame_script(), "frame_scripts";
    transitions: Transition = transition(), "transitions";
    text_styles: TextStyle = text_style(), "text_styles";
}

/// Each JSON shape decodes to the one value kind the spec gives it — in particular an integer
/// point `[0, 0]` is a point, not a member reference or a colour read from an array.
#[test]
fn prop_value_shapes_are_unambiguous() {
    let cases: &[(&str, Option<PropValue>)] = &[
        ("true", Some(PropValue::Bool(true))),
        ("7", Some(PropValue::Int(7))),
        ("-7", Some(PropValue::Int(-7))),
        ("1.5", Some(PropValue::Float(1.5))),
        ("1.0", Some(PropValue::Float(1.0))),
        (r#""7""#, Some(PropValue::Text("7".into()))),
        (
            r#"{"r":1,"g":2,"b":3}"#,
            Some(PropValue::Color(Color::rgb(1, 2, 3))),
        ),
        (
            r#"{"r":1,"g":2,"b":3,"a":4}"#,
            Some(PropValue::Color(Color {
                r: 1,
                g: 2,
                b: 3,
                a: 4,
            })),
        ),
        (
            r#"{"cast_lib":1,"member_num":2}"#,
            Some(PropValue::Member(MemberRef {
                cast_lib: 1,
                member_num: 2,
            })),
        ),
        ("[0,0]", Some(PropValue::Point([0.0, 0.0]))),
        ("[10,-20]", Some(PropValue::Point([10.0, -20.0]))),
        ("[1.5,2]", Some(PropValue::Point([1.5, 2.0]))),
        ("[1,2,3]", None),
        ("[1,2,3,4]", None),
        ("[1]", None),
        ("[]", None),
        ("{}", None),
        (r#"{"r":1,"g":2}"#, None),
        (r#"{"r":300,"g":2,"b":3}"#, None),
        ("null", None),
    ];
    for (json, want) in cases {
        let got = serde_json::from_str::<PropValue>(json).ok();
        assert_eq!(&got, want, "{json}");
        // The same inside a command, through the decoder.
        let msg = format!(
            r#"{{"type":"command","id":1,"command":{{"kind":"set_member_prop","cast_lib":1,"member_num":1,"prop":"p","value":{json}}}}}"#
        );
        let got = match decode_client(msg.as_bytes()) {
            Ok(ClientMessage::Command(CommandMessage {
                command: Command::SetMemberProp { value, .. },
                ..
            })) => Some(value),
            Ok(other) => panic!("{other:?}"),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidField, "{json}: {e}");
                None
            }
        };
        assert_eq!(&got, want, "{json} in a command");
    }
}

proptest! {
    #[test]
    fn prop_values_keep_their_kind(v in prop_value()) {
        let json = serde_json::to_string(&v).unwrap();
        let back: PropValue = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.kind(), v.kind(), "json: {}", json);
        prop_assert_eq!(back, v);
    }

    #[test]
    fn sprite_deltas_merge_field_by_field(a in sprite_delta(), b in sprite_delta()) {
        let mut merged = a.clone();
        merged.merge(b.clone());
        prop_assert_eq!(merged.key(), a.key());
        prop_assert_eq!(merged.loc_h, b.loc_h.or(a.loc_h));
        prop_assert_eq!(merged.member, b.member.or(a.member));
        prop_assert_eq!(merged.color, b.color.or(a.color));
        prop_assert_eq!(merged.visible, b.visible.or(a.visible));
    }
}

// ---------------------------------------------------------------------------------------------
// Framing

/// Feeds `wire` to a decoder in the chunks that `cuts` mark; returns the payloads and what is
/// left in the buffer.
fn decode_chunked(codec: &mut FrameCodec, wire: &[u8], cuts: &[Index]) -> (Vec<Vec<u8>>, usize) {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
    points.extend([0, wire.len()]);
    points.sort_unstable();
    points.dedup();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for w in points.windows(2) {
        buf.extend_from_slice(&wire[w[0]..w[1]]);
        while let Some(p) = codec.decode(&mut buf).expect("valid frames decode") {
            out.push(p.to_vec());
        }
    }
    (out, buf.len())
}

proptest! {
    #[test]
    fn frames_survive_any_chunking(
        payloads in vec(vec(any::<u8>(), 0..600), 0..12),
        cuts in vec(any::<Index>(), 0..32),
    ) {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        for p in &payloads {
            codec.encode(p.as_slice(), &mut wire).unwrap();
        }
        let helper: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
        prop_assert_eq!(&wire[..], &helper[..], "encoder and frame() agree");
        let (out, left) = decode_chunked(&mut codec, &wire, &cuts);
        prop_assert_eq!(out, payloads);
        prop_assert_eq!(left, 0);
    }

    #[test]
    fn messages_survive_framing_byte_by_byte(msgs in vec(client_message(), 1..5)) {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        for m in &msgs {
            codec.encode(m.to_json(), &mut wire).unwrap();
        }
        let mut buf = BytesMut::new();
        let mut back = Vec::new();
        for b in wire.iter() {
            buf.extend_from_slice(&[*b]);
            if let Some(p) = codec.decode(&mut buf).unwrap() {
                prop_assert!(is_json(&p));
                back.push(decode_client(&p).unwrap());
            }
        }
        prop_assert_eq!(back, msgs);
    }

    #[test]
    fn oversize_frames_are_refused_both_ways(max in 0usize..4096, over in 1usize..64) {
        let mut codec = FrameCodec::new(max);
        prop_assert_eq!(codec.max(), max);
        // Exactly the limit passes both ways.
        let mut wire = BytesMut::new();
        codec.encode(vec![7u8; max], &mut wire).unwrap();
        let (out, _) = decode_chunked(&mut codec, &wire, &[]);
        prop_assert_eq!(out, vec![vec![7u8; max]]);
        // One byte more is refused by the encoder, which writes nothing…
        let mut dst = BytesMut::new();
        match codec.encode(vec![0u8; max + over], &mut dst) {
            Err(FrameError::TooLarge { len, max: m }) => {
                prop_assert_eq!((len, m), (max + over, max));
            }
            other => return Err(TestCaseError::fail(format!("encode: {other:?}"))),
        }
        prop_assert!(dst.is_empty());
        // …and by the decoder as soon as the length prefix is in, before the body arrives.
        let mut src = BytesMut::from(&((max + over) as u32).to_le_bytes()[..]);
        match codec.decode(&mut src) {
            Err(FrameError::TooLarge { len, max: m }) => {
                prop_assert_eq!((len, m), (max + over, max));
            }
            other => return Err(TestCaseError::fail(format!("decode: {other:?}"))),
        }
    }
}

#[test]
fn the_default_limit_is_16_mib() {
    assert_eq!(DEFAULT_MAX_FRAME, 16 * 1024 * 1024);
    assert_eq!(FrameCodec::default().max(), DEFAULT_MAX_FRAME);
    let mut src = BytesMut::from(&(16u32 * 1024 * 1024 + 1).to_le_bytes()[..]);
    assert!(matches!(
        FrameCodec::default().decode(&mut src),
        Err(FrameError::TooLarge {
            len: 16_777_217,
            max: 16_777_216
        })
    ));
    // A partial length prefix is just "not yet".
    let mut src = BytesMut::from(&[1u8, 0, 0][..]);
    assert!(FrameCodec::default().decode(&mut src).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// Pixel tiles

/// A tile inside its stage: header (any flags and frame, raw or LZ4 asked) and RGBA pixels that
/// are noise, one solid colour, or stripes (so LZ4 sometimes wins and sometimes does not).
fn tile_case() -> impl Strategy<Value = (TileHeader, Vec<u8>)> {
    let stage = prop_oneof![3 => 1u16..=300, 1 => 300u16..=u16::MAX];
    (stage.clone(), stage)
        .prop_flat_map(|(sw, sh)| (Just(sw), Just(sh), 0..=sw, 0..=sh))
        .prop_flat_map(|(sw, sh, x, y)| {
            (
                Just((sw, sh, x, y)),
                0..=(sw - x).min(80),
                0..=(sh - y).min(80),
                prop_oneof![Just(TileEncoding::Raw), Just(TileEncoding::Lz4)],
                any::<u16>(),
                any::<u32>(),
            )
        })
        .prop_flat_map(|((sw, sh, x, y), w, h, encoding, flags, frame)| {
            let header = TileHeader {
                encoding,
                flags,
                frame,
                x,
                y,
                w,
                h,
                stage_w: sw,
                stage_h: sh,
            };
            let len = header.raw_len();
            (
                Just(header),
                0u8..3,
                any::<[u8; 4]>(),
                vec(any::<u8>(), len..=len),
            )
        })
        .prop_map(|(header, pattern, color, noise)| {
            let rgba = match pattern {
                0 => noise,
                1 => color.iter().copied().cycle().take(noise.len()).collect(),
                _ => noise
                    .chunks(4)
                    .enumerate()
                    .flat_map(|(i, px)| {
                        if (i / 5) % 2 == 0 {
                            color
                        } else {
                            [px[0], 0, 0, 255]
                        }
                    })
                    .collect(),
            };
            (header, rgba)
        })
}

proptest! {
    #[test]
    fn tiles_round_trip((header, rgba) in tile_case()) {
        let msg = encode_tile(header, &rgba);
        prop_assert!(!is_json(&msg), "a tile is binary");
        prop_assert_eq!(msg[0], OPCODE_TILE);
        let (h2, payload) = decode_tile_header(&msg).unwrap();
        prop_assert_eq!(msg.len(), TILE_HEADER_LEN + payload.len());
        let tile = decode_tile(&msg).unwrap();
        prop_assert_eq!(&tile.rgba, &rgba);
        prop_assert_eq!(tile.header, h2);
        // Everything but the encoding is the caller's; LZ4 falls back to raw when not smaller.
        prop_assert_eq!(TileHeader { encoding: header.encoding, ..tile.header }, header);
        match (header.encoding, tile.header.encoding) {
            (TileEncoding::Raw, TileEncoding::Raw) => prop_assert_eq!(payload, &rgba[..]),
            (TileEncoding::Lz4, TileEncoding::Lz4) => prop_assert!(payload.len() < rgba.len()),
            (TileEncoding::Lz4, TileEncoding::Raw) => {
                prop_assert_eq!(payload, &rgba[..]);
                prop_assert!(lz4_flex::block::compress(&rgba).len() >= rgba.len());
            }
            (asked, got) => return Err(TestCaseError::fail(format!("asked {asked:?}, got {got:?}"))),
        }
        prop_assert_eq!(tile.header.raw_len(), rgba.len());
        prop_assert_eq!(tile.header.is_keyframe(), header.flags & FLAG_KEYFRAME != 0);
        prop_assert_eq!(tile.header.is_last(), header.flags & FLAG_LAST != 0);
    }

    #[test]
    fn tiles_survive_framing((header, rgba) in tile_case(), cuts in vec(any::<Index>(), 0..8)) {
        let msg = encode_tile(header, &rgba);
        let mut codec = FrameCodec::default();
        let (out, _) = decode_chunked(&mut codec, &frame(&msg), &cuts);
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(decode_tile(&out[0]).unwrap().rgba, rgba);
    }
}

#[test]
fn a_solid_64x64_tile_goes_lz4_and_comes_back() {
    let header = TileHeader {
        encoding: TileEncoding::Lz4,
        flags: FLAG_KEYFRAME | FLAG_LAST,
        frame: 17,
        x: 576,
        y: 448,
        w: 64,
        h: 32,
        stage_w: 640,
        stage_h: 480,
    };
    let rgba: Vec<u8> = [10u8, 20, 30, 255].repeat(64 * 32);
    let msg = encode_tile(header, &rgba);
    assert!(
        msg.len() < 200,
        "a solid tile compresses ({} bytes)",
        msg.len()
    );
    assert_eq!(msg[1], TileEncoding::Lz4 as u8);
    let tile = decode_tile(&msg).unwrap();
    assert_eq!(tile.header, header);
    assert_eq!(tile.rgba, rgba);
    assert!(tile.header.is_keyframe() && tile.header.is_last());
}

#[test]
fn the_largest_tiles_that_lz4_can_describe_still_decode() {
    // All-zero data is the densest LZ4 gets; the decoder's expansion bound must accept it.
    for (w, h) in [(256u16, 256u16), (1024, 1024), (4096, 1024)] {
        let header = TileHeader {
            encoding: TileEncoding::Lz4,
            flags: 0,
            frame: 1,
            x: 0,
            y: 0,
            w,
            h,
            stage_w: w,
            stage_h: h,
        };
        let rgba = vec![0u8; header.raw_len()];
        let msg = encode_tile(header, &rgba);
        assert_eq!(msg[1], TileEncoding::Lz4 as u8);
        let tile = decode_tile(&msg).unwrap();
        assert!(tile.rgba == rgba, "{w}x{h}");
    }
}
