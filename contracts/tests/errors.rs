//! Every decoder error path, with the message text checked; pixel-tile and framing errors; the
//! error-code table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use stagelink_contracts::pixels::*;
use stagelink_contracts::*;
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------------------------
// A global allocator that remembers, per thread, the largest single allocation.

struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// JSON decoders

fn client_err(json: &str) -> DecodeError {
    match decode_client(json.as_bytes()) {
        Ok(m) => panic!("{json} decoded as {m:?}"),
        Err(e) => e,
    }
}

fn server_err(json: &str) -> DecodeError {
    match decode_server(json.as_bytes()) {
        Ok(m) => panic!("{json} decoded as {m:?}"),
        Err(e) => e,
    }
}

type Decode = fn(&[u8]) -> Result<(), DecodeError>;

/// Both decoders, with the message dropped.
const DECODERS: [Decode; 2] = [
    |b| decode_client(b).map(drop),
    |b| decode_server(b).map(drop),
];

#[track_caller]
fn assert_mentions(e: &DecodeError, words: &[&str]) {
    for w in words {
        assert!(
            e.message.contains(w),
            "{:?} does not mention {w:?}",
            e.message
        );
    }
}

#[test]
fn bad_json_names_line_and_column() {
    for decode in DECODERS {
        let e = decode(br#"{"type":"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        assert_mentions(&e, &["line 1 column"]);
        assert_eq!((e.message_type, e.id), (None, None));

        let e = decode(b"{\"type\":\"ping\",\n \"t\": 1,,}").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        assert_mentions(&e, &["line 2 column"]);

        for bytes in [
            &b""[..],
            b"   ",
            b"\xff\xfe",
            b"{\"type\":\"ping\"}x",
            b"nul",
        ] {
            let e = decode(bytes).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadJson, "{bytes:?}");
            assert_mentions(&e, &["line", "column"]);
        }
        // Invalid UTF-8 inside a string is bad JSON, not a panic.
        let e = decode(b"{\"type\":\"p\xffng\"}").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
    }
}

#[test]
fn a_message_must_be_an_object() {
    for json in [
        "[1]",
        "\"hello\"",
        "42",
        "null",
        "true",
        "[]",
        "[{\"type\":\"ping\"}]",
    ] {
        for e in [client_err(json), server_err(json)] {
            assert_eq!(e.code, ErrorCode::InvalidField, "{json}");
            assert_mentions(&e, &["object"]);
            assert_eq!((e.message_type.as_deref(), e.id), (None, None));
        }
    }
}

#[test]
fn a_missing_type_is_a_missing_field_and_keeps_the_id() {
    for e in [client_err(r#"{"id":3}"#), server_err(r#"{"id":3}"#)] {
        assert_eq!(e.code, ErrorCode::MissingField);
        assert_mentions(&e, &["`type`"]);
        assert_eq!((e.message_type.as_deref(), e.id), (None, Some(3)));
    }
    let e = client_err("{}");
    assert_eq!((e.code, e.id), (ErrorCode::MissingField, None));
}

#[test]
fn a_type_that_is_not_a_string_is_invalid() {
    for json in [
        r#"{"type":5,"id":2}"#,
        r#"{"type":null,"id":2}"#,
        r#"{"type":["hello"],"id":2}"#,
    ] {
        for e in [client_err(json), server_err(json)] {
            assert_eq!(e.code, ErrorCode::InvalidField, "{json}");
            assert_mentions(&e, &["`type`", "string"]);
            assert_eq!((e.message_type.as_deref(), e.id), (None, Some(2)));
        }
    }
}

#[test]
fn an_unknown_type_is_named() {
    let e = client_err(r#"{"type":"dance","id":4}"#);
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_mentions(&e, &["dance"]);
    assert_eq!((e.message_type.as_deref(), e.id), (Some("dance"), Some(4)));
    assert_eq!(e.to_string(), format!("unknown_type: {}", e.message));

    // Each side knows only its own types.
    let e = server_err(r#"{"type":"hello","protocol":1}"#);
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_mentions(&e, &["hello"]);
    let e = client_err(r#"{"type":"welcome"}"#);
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_eq!(e.message_type.as_deref(), Some("welcome"));
    // Case matters.
    assert_eq!(
        client_err(r#"{"type":"Hello","protocol":1}"#).code,
        ErrorCode::UnknownType
    );
}

#[test]
fn a_missing_field_is_named() {
    let e = client_err(r#"{"type":"hello"}"#);
    assert_eq!(e.code, ErrorCode::MissingField);
    assert_mentions(&e, &["protocol"]);
    assert_eq!((e.message_type.as_deref(), e.id), (Some("hello"), None));

    let e = client_err(r#"{"type":"command","id":10,"command":{"kind":"go_to_frame"}}"#);
    assert_eq!(e.code, ErrorCode::MissingField);
    assert_mentions(&e, &["frame"]);
    assert_eq!(
        (e.message_type.as_deref(), e.id),
        (Some("command"), Some(10))
    );

    let e = client_err(r#"{"type":"command","id":11,"command":{"frame":3}}"#);
    assert_eq!((e.code, e.id), (ErrorCode::MissingField, Some(11)));
    assert_mentions(&e, &["kind"]);

    let e = client_err(r#"{"type":"command","id":12}"#);
    assert_eq!((e.code, e.id), (ErrorCode::MissingField, Some(12)));
    assert_mentions(&e, &["`command`"]);

    let e = client_err(r#"{"type":"command","command":{"kind":"pause"}}"#);
    assert_eq!((e.code, e.id), (ErrorCode::MissingField, None));
    assert_mentions(&e, &["`id`"]);

    // Inside a batch, the failing inner command is pointed at.
    let e = client_err(
        r#"{"type":"command","id":13,"command":{"kind":"batch","commands":[{"kind":"pause"},{"kind":"batch","commands":[{"kind":"step"}]}]}}"#,
    );
    assert_eq!((e.code, e.id), (ErrorCode::MissingField, Some(13)));
    assert_mentions(&e, &["commands[1].commands[0]", "delta"]);

    // Nested structs name the path.
    let e = server_err(r#"{"type":"snapshot","sprites":[{"sprite_num":1}]}"#);
    assert_eq!(e.code, ErrorCode::MissingField);
    assert_mentions(&e, &["sprites[0]", "begin_frame"]);

    let e = server_err(r#"{"type":"response","id":5,"ok":false,"error":{"code":"busy"}}"#);
    assert_eq!((e.code, e.id), (ErrorCode::MissingField, Some(5)));
    assert_mentions(&e, &["error", "message"]);
}

#[test]
fn an_invalid_field_is_named() {
    let e = client_err(r#"{"type":"hello","protocol":"1"}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["protocol", "string"]);
    assert_eq!(e.message_type.as_deref(), Some("hello"));

    let e = client_err(r#"{"type":"command","id":10,"command":{"kind":"dance"}}"#);
    assert_eq!(e.code, ErrorCode::UnknownCommand);
    assert_mentions(&e, &["dance", "kind"]);
    assert_eq!(
        (e.message_type.as_deref(), e.id),
        (Some("command"), Some(10))
    );

    let e = client_err(r#"{"type":"command","id":10,"command":{"kind":7}}"#);
    assert_eq!((e.code, e.id), (ErrorCode::InvalidField, Some(10)));

    let e = client_err(r#"{"type":"command","id":14,"command":{"kind":"go_to_frame","frame":-1}}"#);
    assert_eq!((e.code, e.id), (ErrorCode::InvalidField, Some(14)));

    let e = client_err(
        r#"{"type":"command","id":15,"command":{"kind":"set_movie_prop","prop":"x","value":{"nope":1}}}"#,
    );
    assert_eq!((e.code, e.id), (ErrorCode::InvalidField, Some(15)));
    assert_mentions(&e, &["PropValue"]);

    let e = client_err(r#"{"type":"hello","protocol":1,"role":"king"}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["role", "king"]);

    let e = client_err(r#"{"type":"hello","protocol":1,"client":{"id":5}}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["client.id"]);

    let e = client_err(r#"{"type":"subscribe","streams":["frames",1]}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["streams[1]"]);

    let e = client_err(r#"{"type":"pixels_ack","frame":4294967296}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["frame"]);

    // A request id that is not a u64 is invalid, and not recovered.
    let e = client_err(r#"{"type":"request","id":"5","what":"stage"}"#);
    assert_eq!((e.code, e.id), (ErrorCode::InvalidField, None));
    assert_mentions(&e, &["id"]);

    let e = server_err(r#"{"type":"ack","id":1,"status":"meh"}"#);
    assert_eq!((e.code, e.id), (ErrorCode::InvalidField, Some(1)));
    assert_mentions(&e, &["status", "meh"]);

    let e = server_err(r#"{"type":"error","code":"nope","message":"m","fatal":true}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["code", "nope"]);

    // A duplicate field is refused by the parser only; the message still says why.
    let e = client_err(r#"{"type":"command","id":1,"id":2,"command":{"kind":"pause"}}"#);
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert_mentions(&e, &["duplicate", "id"]);
}

#[test]
fn unknown_fields_are_ignored() {
    let m = decode_client(br#"{"type":"ping","t":3,"future":{"x":[1,2]}}"#).unwrap();
    assert_eq!(m, ClientMessage::Ping(Ping { t: 3 }));
    let m =
        decode_server(br#"{"type":"gap","stream":"sounds","from_seq":1,"to_seq":2,"why":"slow"}"#)
            .unwrap();
    assert!(matches!(m, ServerMessage::Gap(_)));
}

/// A full example of every message type; removing a key must either still decode (the field is
/// optional) or be a `missing_field` naming that key. The required keys are listed.
#[test]
fn every_required_field_is_named_when_missing() {
    let client: &[(&str, &[&str])] = &[
        (
            r#"{"type":"hello","protocol":1,"project":"demo","client":{"id":"a","name":"b","version":"c"},"role":"controller","token":"t","subscribe":["*"],"snapshot":true,"takeover":true}"#,
            &["protocol"],
        ),
        (
            r#"{"type":"subscribe","streams":["frames"],"snapshot":true}"#,
            &["streams"],
        ),
        (
            r#"{"type":"unsubscribe","streams":["frames"]}"#,
            &["streams"],
        ),
        (
            r#"{"type":"request","id":5,"what":"stage"}"#,
            &["id", "what"],
        ),
        (
            r#"{"type":"command","id":9,"command":{"kind":"go_to_frame","frame":42}}"#,
            &["id", "command"],
        ),
        (r#"{"type":"ping","t":1}"#, &[]),
        (r#"{"type":"pong","t":1}"#, &[]),
        (r#"{"type":"bye","reason":"done"}"#, &[]),
        (r#"{"type":"pixels_ack","frame":3}"#, &["frame"]),
    ];
    let server: &[(&str, &[&str])] = &[
        (
            r#"{"type":"welcome","protocol":1,"session":"s","server":{"name":"p"},"project":"demo","role":"observer","streams":[{"name":"frames","policy":"latest"}],"capabilities":["pixels"],"heartbeat_ms":5000,"idle_timeout_ms":30000}"#,
            &[
                "protocol",
                "session",
                "server",
                "role",
                "streams",
                "heartbeat_ms",
                "idle_timeout_ms",
            ],
        ),
        (
            r#"{"type":"event","stream":"tempos","seq":2,"first_seq":1,"frame":3,"items":[]}"#,
            &["stream", "seq", "frame", "items"],
        ),
        (
            r#"{"type":"snapshot","seqs":{"frames":1},"movie":{"frame":1,"frame_count":2,"tempo":30,"playing":true},"stage_props":{},"movie_props":{},"sprites":[],"members":[]}"#,
            &[],
        ),
        (
            r#"{"type":"response","id":5,"ok":true,"data":{"x":1}}"#,
            &["id", "ok"],
        ),
        (
            r#"{"type":"ack","id":9,"status":"applied","frame":43,"result":[1],"error":{"code":"busy","message":"m"}}"#,
            &["id", "status"],
        ),
        (
            r#"{"type":"gap","stream":"sounds","from_seq":1,"to_seq":4}"#,
            &["stream", "from_seq", "to_seq"],
        ),
        (
            r#"{"type":"notice","code":"host_left","message":"gone"}"#,
            &["code"],
        ),
        (
            r#"{"type":"error","code":"bad_json","message":"m","fatal":false,"id":4}"#,
            &["code", "message", "fatal"],
        ),
        (r#"{"type":"ping","t":1}"#, &[]),
        (r#"{"type":"pong","t":1}"#, &[]),
        (r#"{"type":"bye"}"#, &[]),
    ];
    for (examples, decode) in [(client, DECODERS[0]), (server, DECODERS[1])] {
        for (json, required) in examples {
            decode(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
            let full: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(json).unwrap();
            let mut found = Vec::new();
            for key in full.keys().filter(|k| *k != "type") {
                let mut less = full.clone();
                less.remove(key);
                let bytes = serde_json::to_vec(&less).unwrap();
                if let Err(e) = decode(&bytes) {
                    assert_eq!(e.code, ErrorCode::MissingField, "{json} without {key}: {e}");
                    assert!(
                        e.message.contains(&format!("`{key}`")),
                        "{json} without {key}: {e}"
                    );
                    assert_eq!(e.message_type.as_deref(), full["type"].as_str());
                    found.push(key.as_str());
                }
            }
            let mut required = required.to_vec();
            required.sort_unstable();
            found.sort_unstable();
            assert_eq!(found, required, "required fields of {json}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pixel tiles

fn header(encoding: TileEncoding, x: u16, y: u16, w: u16, h: u16, sw: u16, sh: u16) -> TileHeader {
    TileHeader {
        encoding,
        flags: FLAG_LAST,
        frame: 9,
        x,
        y,
        w,
        h,
        stage_w: sw,
        stage_h: sh,
    }
}

/// A tile message with the given header fields and payload, lengths written as given.
fn raw_message(h: &TileHeader, raw_len: u32, payload_len: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![OPCODE_TILE, h.encoding as u8];
    m.extend_from_slice(&h.flags.to_le_bytes());
    m.extend_from_slice(&h.frame.to_le_bytes());
    for v in [h.x, h.y, h.w, h.h, h.stage_w, h.stage_h] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend_from_slice(&raw_len.to_le_bytes());
    m.extend_from_slice(&payload_len.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

fn valid_tile() -> Vec<u8> {
    let h = header(TileEncoding::Raw, 8, 8, 4, 2, 64, 48);
    encode_tile(h, &[1u8; 32]).to_vec()
}

#[test]
fn a_short_tile_is_refused() {
    let good = valid_tile();
    for n in 0..TILE_HEADER_LEN {
        let e = decode_tile(&good[..n]).unwrap_err();
        assert_eq!(e, PixelError::Short(n));
        assert!(e.to_string().contains("28-byte"), "{e}");
        assert_eq!(
            decode_tile_header(&good[..n]).unwrap_err(),
            PixelError::Short(n)
        );
    }
    // The header alone of a zero-size tile is a whole message.
    let h = header(TileEncoding::Raw, 0, 0, 0, 0, 1, 1);
    let t = decode_tile(&encode_tile(h, &[])).unwrap();
    assert!(t.rgba.is_empty());
}

#[test]
fn an_unknown_opcode_or_encoding_is_refused() {
    let mut m = valid_tile();
    m[0] = 0x02;
    let e = decode_tile(&m).unwrap_err();
    assert_eq!(e, PixelError::UnknownOpcode(2));
    assert!(e.to_string().contains("0x02"), "{e}");
    m[0] = b'{';
    assert_eq!(
        decode_tile(&m).unwrap_err(),
        PixelError::UnknownOpcode(b'{')
    );

    let mut m = valid_tile();
    m[1] = 7;
    let e = decode_tile(&m).unwrap_err();
    assert_eq!(e, PixelError::UnknownEncoding(7));
    assert!(e.to_string().contains("encoding 7"), "{e}");
}

#[test]
fn a_tile_outside_its_stage_is_refused() {
    for (x, y, w, h, sw, sh) in [
        (61u16, 0u16, 4u16, 1u16, 64u16, 48u16),
        (0, 47, 1, 2, 64, 48),
        (65, 0, 0, 0, 64, 48),
        (u16::MAX, 0, u16::MAX, 1, u16::MAX, 1), // the sum must not wrap
        (0, 0, 1, 1, 0, 0),
    ] {
        let hd = header(TileEncoding::Raw, x, y, w, h, sw, sh);
        let len = hd.raw_len() as u32;
        let m = raw_message(&hd, len, 0, &[]);
        let e = decode_tile(&m).unwrap_err();
        assert_eq!(
            e,
            PixelError::OutOfStage {
                x,
                y,
                w,
                h,
                stage_w: sw,
                stage_h: sh
            },
            "{x},{y} {w}x{h} in {sw}x{sh}"
        );
        assert!(e.to_string().contains(&format!("{sw}x{sh} stage")), "{e}");
    }
    // Touching the right and bottom edges is inside.
    let hd = header(TileEncoding::Raw, 60, 46, 4, 2, 64, 48);
    assert!(decode_tile(&encode_tile(hd, &[0u8; 32])).is_ok());
}

#[test]
fn length_mismatches_are_refused() {
    let hd = header(TileEncoding::Raw, 0, 0, 4, 2, 64, 48);
    let payload = [5u8; 32];

    // The raw length field disagrees with w*h*4.
    let e = decode_tile(&raw_message(&hd, 31, 32, &payload)).unwrap_err();
    assert_eq!(e, PixelError::RawLength { got: 31, want: 32 });
    assert!(e.to_string().contains("raw length 31"), "{e}");

    // The payload length field disagrees with the bytes present.
    let e = decode_tile(&raw_message(&hd, 32, 33, &payload)).unwrap_err();
    assert_eq!(
        e,
        PixelError::PayloadLength {
            declared: 33,
            actual: 32
        }
    );
    assert!(e.to_string().contains("payload length 33"), "{e}");
    let e = decode_tile(&raw_message(&hd, 32, 32, &payload[..31])).unwrap_err();
    assert_eq!(
        e,
        PixelError::PayloadLength {
            declared: 32,
            actual: 31
        }
    );
    let e = decode_tile(&raw_message(&hd, 32, u32::MAX, &payload)).unwrap_err();
    assert!(matches!(e, PixelError::PayloadLength { .. }));

    // A raw payload whose declared length is right but is not w*h*4 bytes.
    let e = decode_tile(&raw_message(&hd, 32, 16, &payload[..16])).unwrap_err();
    assert_eq!(e, PixelError::RawLength { got: 16, want: 32 });
}

#[test]
fn corrupt_lz4_is_refused() {
    let hd = header(TileEncoding::Lz4, 0, 0, 8, 8, 64, 48); // 256 raw bytes
    let want = hd.raw_len();

    // Garbage: a literal run that claims more bytes than follow.
    let garbage = [0xF0u8, 0xFF, 0xFF, 1, 2, 3];
    let e = decode_tile(&raw_message(&hd, want as u32, 6, &garbage)).unwrap_err();
    assert!(matches!(e, PixelError::Lz4(_)), "{e:?}");
    assert!(e.to_string().starts_with("LZ4 payload is corrupt"), "{e}");

    // A match offset pointing before the start of the output.
    let bad_offset = [0x1Fu8, b'a', 0xFF, 0x00, 0x00];
    assert!(matches!(
        decode_tile(&raw_message(&hd, want as u32, 5, &bad_offset)),
        Err(PixelError::Lz4(_))
    ));

    // A valid block of the wrong size: too short, and too long for the tile.
    let short = lz4_flex::block::compress(&[3u8; 100]);
    let e = decode_tile(&raw_message(&hd, want as u32, short.len() as u32, &short)).unwrap_err();
    assert_eq!(
        e,
        PixelError::Lz4(format!("decompressed 100 bytes, expected {want}"))
    );
    let long = lz4_flex::block::compress(&[3u8; 1000]);
    let e = decode_tile(&raw_message(&hd, want as u32, long.len() as u32, &long)).unwrap_err();
    assert!(matches!(e, PixelError::Lz4(_)), "{e:?}");

    // An empty LZ4 payload for a non-empty tile.
    let e = decode_tile(&raw_message(&hd, want as u32, 0, &[])).unwrap_err();
    assert!(matches!(e, PixelError::Lz4(_)), "{e:?}");

    // Random bytes, many lengths: always an error or the right size, never a panic.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for len in 1..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        if let Ok(t) = decode_tile(&raw_message(&hd, want as u32, len, &bytes)) {
            assert_eq!(t.rgba.len(), want);
        }
    }
}

#[test]
fn an_lz4_payload_that_claims_a_huge_output_allocates_nothing_big() {
    // 65535 x 16383 RGBA is 4 294 639 620 bytes: the largest tile a u32 raw length can state.
    let hd = header(TileEncoding::Lz4, 0, 0, u16::MAX, 16383, u16::MAX, 16383);
    let raw = hd.raw_len();
    assert!(raw > 4_000_000_000 && raw <= u32::MAX as usize);
    let payload = [0x1Fu8, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    let msg = raw_message(&hd, raw as u32, payload.len() as u32, &payload);
    let (result, largest) = largest_allocation(|| decode_tile(&msg));
    let e = result.unwrap_err();
    assert!(matches!(e, PixelError::Lz4(_)), "{e:?}");
    assert!(
        largest < 1 << 20,
        "decoding a 38-byte message allocated {largest} bytes"
    );

    // A claim the payload could meet is tried, with one allocation of the tile's size at most.
    let hd = header(TileEncoding::Lz4, 0, 0, 64, 64, 640, 480);
    let payload = vec![0xFFu8; 200];
    let msg = raw_message(&hd, hd.raw_len() as u32, 200, &payload);
    let (result, largest) = largest_allocation(|| decode_tile(&msg));
    assert!(matches!(result, Err(PixelError::Lz4(_))));
    assert!(largest <= hd.raw_len() + 1024, "allocated {largest} bytes");

    // And a real tile decodes with one tile-sized buffer.
    let rgba = vec![9u8; hd.raw_len()];
    let msg = encode_tile(hd, &rgba);
    let (result, largest) = largest_allocation(|| decode_tile(&msg));
    assert_eq!(result.unwrap().rgba, rgba);
    assert!(largest <= hd.raw_len() + 1024, "allocated {largest} bytes");
}

// ---------------------------------------------------------------------------------------------
// Framing

#[test]
fn a_frame_too_large_is_refused_with_its_size() {
    let mut codec = FrameCodec::new(10);
    let mut src = BytesMut::from(&[11u8, 0, 0, 0][..]);
    let e = codec.decode(&mut src).unwrap_err();
    assert!(matches!(e, FrameError::TooLarge { len: 11, max: 10 }));
    assert_eq!(
        e.to_string(),
        "frame of 11 bytes exceeds the limit of 10 bytes"
    );

    let mut src = BytesMut::from(&[0xFFu8, 0xFF, 0xFF, 0xFF][..]);
    let e = FrameCodec::default().decode(&mut src).unwrap_err();
    assert!(matches!(
        e,
        FrameError::TooLarge {
            len: 4_294_967_295,
            ..
        }
    ));

    let mut dst = BytesMut::new();
    let e = codec.encode([0u8; 11], &mut dst).unwrap_err();
    assert_eq!(
        e.to_string(),
        "frame of 11 bytes exceeds the limit of 10 bytes"
    );

    let io = FrameError::from(std::io::Error::other("pipe closed"));
    assert_eq!(io.to_string(), "pipe closed");
}

#[test]
fn an_announced_frame_does_not_make_the_decoder_wait_for_ever_on_garbage() {
    // A partial frame is kept, not consumed, until the rest arrives.
    let mut codec = FrameCodec::new(100);
    let mut src = BytesMut::from(&[5u8, 0, 0, 0, b'{', b'}'][..]);
    assert!(codec.decode(&mut src).unwrap().is_none());
    assert_eq!(src.len(), 6);
    src.extend_from_slice(b"abc");
    assert_eq!(&codec.decode(&mut src).unwrap().unwrap()[..], b"{}abc");
    assert!(src.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The error-code table

/// `docs/DECISIONS.md`'s table: number, wire name, fatal.
const TABLE: &[(u16, &str, bool)] = &[
    (1, "bad_json", false),
    (2, "unknown_type", false),
    (3, "missing_field", false),
    (4, "invalid_field", false),
    (5, "not_identified", true),
    (6, "already_identified", false),
    (7, "auth_failed", true),
    (8, "protocol_version", true),
    (9, "unknown_project", true),
    (10, "unknown_stream", false),
    (11, "forbidden", false),
    (12, "frame_too_large", true),
    (13, "rate_limited", false),
    (14, "idle_timeout", true),
    (15, "session_replaced", true),
    (16, "host_left", false),
    (17, "host_joined", false),
    (18, "busy", false),
    (19, "unknown_request", false),
    (20, "unknown_sprite", false),
    (21, "unknown_member", false),
    (22, "unknown_property", false),
    (23, "invalid_value", false),
    (24, "out_of_range", false),
    (25, "unknown_command", false),
    (26, "no_host", false),
    (27, "timeout", false),
    (28, "shutdown", true),
    (29, "internal", false),
    (30, "project_taken", true),
];

#[test]
fn error_codes_match_the_table() {
    assert_eq!(ErrorCode::ALL.len(), 30);
    assert_eq!(ErrorCode::ALL.len(), TABLE.len());
    for (code, &(n, name, fatal)) in ErrorCode::ALL.iter().zip(TABLE) {
        assert_eq!(code.number(), n, "{name}");
        assert_eq!(code.as_str(), name);
        assert_eq!(code.to_string(), name);
        assert_eq!(code.is_fatal(), fatal, "{name}");
        assert_eq!(code.close_code(), 4000 + n);
        assert_eq!(ErrorCode::from_close_code(4000 + n), Some(*code));
        assert_eq!(ErrorCode::parse(name), Some(*code));
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(name));
        assert_eq!(
            serde_json::from_value::<ErrorCode>(serde_json::json!(name)).unwrap(),
            *code
        );
    }
    for close in [0u16, 1000, 1011, 3999, 4000, 4031, 4999, u16::MAX] {
        assert_eq!(ErrorCode::from_close_code(close), None, "{close}");
    }
    assert_eq!(ErrorCode::parse("Bad_Json"), None);
    assert_eq!(ErrorCode::parse(""), None);
    assert!(serde_json::from_str::<ErrorCode>("\"dance\"").is_err());
}

#[test]
fn the_fatal_set_is_exactly_the_documented_one() {
    let fatal: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| c.is_fatal())
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        fatal,
        [
            "not_identified",
            "auth_failed",
            "protocol_version",
            "unknown_project",
            "frame_too_large",
            "idle_timeout",
            "session_replaced",
            "shutdown",
            "project_taken"
        ]
    );
    // Every decode error is non-fatal: a malformed message never ends a session.
    for c in [
        ErrorCode::BadJson,
        ErrorCode::UnknownType,
        ErrorCode::MissingField,
        ErrorCode::InvalidField,
    ] {
        assert!(!c.is_fatal());
        assert!(!ErrorMessage::new(c, "x").fatal);
    }
    assert!(ErrorMessage::new(ErrorCode::AuthFailed, "x").fatal);
}

#[test]
fn error_bodies_display_code_and_message() {
    let b = ErrorBody::new(ErrorCode::UnknownSprite, "no sprite in channel 99");
    assert_eq!(b.to_string(), "unknown_sprite: no sprite in channel 99");
    assert_eq!(
        serde_json::to_string(&b).unwrap(),
        r#"{"code":"unknown_sprite","message":"no sprite in channel 99"}"#
    );
    let a = Ack::busy(3);
    assert_eq!(a.error.unwrap().code, ErrorCode::Busy);
}
