//! Proptest strategies shared by the integration tests: every message, item, command and value
//! of protocol v1, built so that each value survives a JSON round trip exactly.
#![allow(dead_code)]

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::Value;
use stagelink_contracts::*;

/// A finite float that JSON carries exactly: an integer part and a fraction `k/256`, at most 15
/// significant digits, so even a best-effort float parser reads back the same bits. May be
/// integral (use it where the field is typed `f64`).
pub fn exact_f64() -> impl Strategy<Value = f64> {
    (-1_000_000i32..1_000_000, 0u32..256).prop_map(|(i, k)| f64::from(i) + f64::from(k) / 256.0)
}

/// Like [`exact_f64`] but never integral: an integral float would come back as
/// [`PropValue::Int`] (the untagged value's shape decides).
pub fn fractional_f64() -> impl Strategy<Value = f64> {
    (-1_000_000i32..1_000_000, 1u32..256).prop_map(|(i, k)| f64::from(i) + f64::from(k) / 256.0)
}

/// Any text, Unicode included.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z_]{0,12}",
        1 => any::<String>(),
    ]
}

/// A property or name-like identifier.
pub fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,10}"
}

pub fn color() -> impl Strategy<Value = Color> {
    any::<[u8; 4]>().prop_map(|[r, g, b, a]| Color { r, g, b, a })
}

/// Every [`PropValue`] shape, without ambiguous cases.
pub fn prop_value() -> impl Strategy<Value = PropValue> {
    prop_oneof![
        any::<bool>().prop_map(PropValue::Bool),
        any::<i64>().prop_map(PropValue::Int),
        fractional_f64().prop_map(PropValue::Float),
        text().prop_map(PropValue::Text),
        color().prop_map(PropValue::Color),
        member_ref().prop_map(PropValue::Member),
        [exact_f64(), exact_f64()].prop_map(PropValue::Point),
    ]
}

pub fn prop_map() -> impl Strategy<Value = BTreeMap<String, PropValue>> {
    btree_map(ident(), prop_value(), 0..5)
}

/// An arbitrary JSON value (numbers that round-trip exactly), nested a few levels.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        exact_f64().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(text(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON value that is not `null` — for `Option<Value>` fields, where `Some(null)` is written
/// as `null` and reads back as `None` (the same thing on the wire).
pub fn json_not_null() -> impl Strategy<Value = Value> {
    json_value().prop_filter("null reads back as an absent value", |v| !v.is_null())
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(ErrorCode::ALL)
}

pub fn stream_name() -> impl Strategy<Value = StreamName> {
    proptest::sample::select(StreamName::ALL)
}

pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Observer),
        Just(Role::Controller),
        Just(Role::Host)
    ]
}

pub fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Latest),
        Just(Policy::Coalesce),
        Just(Policy::Fifo)
    ]
}

pub fn ack_status() -> impl Strategy<Value = AckStatus> {
    prop_oneof![
        Just(AckStatus::Applied),
        Just(AckStatus::Rejected),
        Just(AckStatus::Busy)
    ]
}

pub fn error_body() -> impl Strategy<Value = ErrorBody> {
    (error_code(), text()).prop_map(|(code, message)| ErrorBody { code, message })
}

pub fn peer_info() -> impl Strategy<Value = PeerInfo> {
    (option::of(text()), option::of(text()), option::of(text()))
        .prop_map(|(id, name, version)| PeerInfo { id, name, version })
}

// ---------------------------------------------------------------------------------------------
// Commands

/// One command of a kind that is not `batch`.
pub fn leaf_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        any::<u32>().prop_map(|frame| Command::GoToFrame { frame }),
        Just(Command::Pause),
        Just(Command::Resume),
        Just(Command::Rewind),
        any::<i32>().prop_map(|delta| Command::Step { delta }),
        any::<u32>().prop_map(|tempo| Command::SetTempo { tempo }),
        (any::<u32>(), any::<u32>(), ident(), prop_value()).prop_map(
            |(sprite_num, begin_frame, prop, value)| Command::SetSpriteProp {
                sprite_num,
                begin_frame,
                prop,
                value
            }
        ),
        (any::<u32>(), any::<u32>(), ident(), prop_value()).prop_map(
            |(cast_lib, member_num, prop, value)| Command::SetMemberProp {
                cast_lib,
                member_num,
                prop,
                value
            }
        ),
        (any::<u32>(), ident(), prop_value()).prop_map(|(cast_lib, prop, value)| {
            Command::SetCastProp {
                cast_lib,
                prop,
                value,
            }
        }),
        (ident(), prop_value()).prop_map(|(prop, value)| Command::SetMovieProp { prop, value }),
        (ident(), prop_value()).prop_map(|(prop, value)| Command::SetStageProp { prop, value }),
        (text(), json_value()).prop_map(|(name, payload)| Command::Custom { name, payload }),
    ]
}

/// Any command, `batch` included, nested up to three levels.
pub fn command() -> impl Strategy<Value = Command> {
    leaf_command().prop_recursive(3, 24, 6, |inner| {
        vec(inner, 0..6).prop_map(|commands| Command::Batch { commands })
    })
}

// ---------------------------------------------------------------------------------------------
// Stream items

pub fn member_ref() -> impl Strategy<Value = MemberRef> {
    (any::<u32>(), any::<u32>()).prop_map(|(cast_lib, member_num)| MemberRef {
        cast_lib,
        member_num,
    })
}

pub fn stage_frame() -> impl Strategy<Value = StageFrame> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(frame, frame_count, tempo, playing, time_ms, width, height)| StageFrame {
                frame,
                frame_count,
                tempo,
                playing,
                time_ms,
                width,
                height,
            },
        )
}

/// A sprite delta with any subset of its optional fields.
pub fn sprite_delta() -> impl Strategy<Value = SpriteDelta> {
    (
        (any::<u32>(), any::<u32>(), option::of(any::<u32>())),
        option::of(member_ref()),
        (
            option::of(exact_f64()),
            option::of(exact_f64()),
            option::of(any::<i32>()),
        ),
        (
            option::of(exact_f64()),
            option::of(exact_f64()),
            option::of(exact_f64()),
            option::of(exact_f64()),
        ),
        (
            option::of(any::<u8>()),
            option::of(any::<u32>()),
            option::of(any::<bool>()),
            option::of(color()),
        ),
    )
        .prop_map(
            |(
                (sprite_num, begin_frame, end_frame),
                member,
                (loc_h, loc_v, loc_z),
                (width, height, rotation, skew),
                (blend, ink, visible, color),
            )| SpriteDelta {
                sprite_num,
                begin_frame,
                end_frame,
                member,
                loc_h,
                loc_v,
                loc_z,
                width,
                height,
                rotation,
                skew,
                blend,
                ink,
                visible,
                color,
            },
        )
}

/// A full sprite state (every field present), as snapshots carry.
pub fn full_sprite() -> impl Strategy<Value = SpriteDelta> {
    (
        sprite_delta(),
        any::<u32>(),
        member_ref(),
        [exact_f64(), exact_f64(), exact_f64(), exact_f64()],
        (exact_f64(), exact_f64(), any::<i32>()),
        (any::<u8>(), any::<u32>(), any::<bool>(), color()),
    )
        .prop_map(
            |(mut s, end, member, [h, v, w, ht], (rotation, skew, z), (blend, ink, vis, col))| {
                s.end_frame = Some(end);
                s.member = Some(member);
                s.loc_h = Some(h);
                s.loc_v = Some(v);
                s.width = Some(w);
                s.height = Some(ht);
                s.rotation = Some(rotation);
                s.skew = Some(skew);
                s.loc_z = Some(z);
                s.blend = Some(blend);
                s.ink = Some(ink);
                s.visible = Some(vis);
                s.color = Some(col);
                s
            },
        )
}

pub fn sprite_event() -> impl Strategy<Value = SpriteEvent> {
    (
        text(),
        prop_oneof![
            Just(SpriteEventKind::Added),
            Just(SpriteEventKind::Removed),
            Just(SpriteEventKind::Cleared)
        ],
        any::<u32>(),
        any::<u32>(),
        option::of(full_sprite()),
    )
        .prop_map(
            |(manager, event, sprite_num, begin_frame, sprite)| SpriteEvent {
                manager,
                event,
                sprite_num,
                begin_frame,
                sprite,
            },
        )
}

pub fn member_prop() -> impl Strategy<Value = MemberProp> {
    (any::<u32>(), any::<u32>(), ident(), prop_value()).prop_map(
        |(cast_lib, member_num, prop, value)| MemberProp {
            cast_lib,
            member_num,
            prop,
            value,
        },
    )
}

pub fn movie_prop() -> impl Strategy<Value = MovieProp> {
    (ident(), prop_value()).prop_map(|(prop, value)| MovieProp { prop, value })
}

pub fn stage_prop() -> impl Strategy<Value = StageProp> {
    (ident(), prop_value()).prop_map(|(prop, value)| StageProp { prop, value })
}

pub fn keyframe() -> impl Strategy<Value = Keyframe> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        ident(),
        prop_value(),
    )
        .prop_map(|(frame, sprite_num, begin_frame, prop, value)| Keyframe {
            frame,
            sprite_num,
            begin_frame,
            prop,
            value,
        })
}

pub fn film_loop() -> impl Strategy<Value = FilmLoop> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(cast_lib, member_num, start_frame, end_frame, playing)| FilmLoop {
                cast_lib,
                member_num,
                start_frame,
                end_frame,
                playing,
            },
        )
}

pub fn sound_cue() -> impl Strategy<Value = SoundCue> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(frame, channel, cast_lib, member_num, playing)| SoundCue {
            frame,
            channel,
            cast_lib,
            member_num,
            playing,
        })
}

pub fn tempo_change() -> impl Strategy<Value = TempoChange> {
    (any::<u32>(), any::<u32>()).prop_map(|(frame, tempo)| TempoChange { frame, tempo })
}

pub fn palette() -> impl Strategy<Value = Palette> {
    (any::<u32>(), vec(color(), 0..20)).prop_map(|(frame, colors)| Palette { frame, colors })
}

pub fn frame_script() -> impl Strategy<Value = FrameScript> {
    (any::<u32>(), text()).prop_map(|(frame, script)| FrameScript { frame, script })
}

pub fn transition() -> impl Strategy<Value = Transition> {
    (any::<u32>(), text(), any::<u32>()).prop_map(|(frame, kind, duration_ms)| Transition {
        frame,
        kind,
        duration_ms,
    })
}

pub fn text_style() -> impl Strategy<Value = TextStyle> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        ident(),
        prop_value(),
    )
        .prop_map(
            |(cast_lib, member_num, start, end, style, value)| TextStyle {
                cast_lib,
                member_num,
                start,
                end,
                style,
                value,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Messages

pub fn hello() -> impl Strategy<Value = Hello> {
    (
        any::<u32>(),
        option::of(text()),
        peer_info(),
        role(),
        option::of(text()),
        option::of(vec(ident(), 0..5)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(protocol, project, client, role, token, subscribe, snapshot, takeover)| Hello {
                protocol,
                project,
                client,
                role,
                token,
                subscribe,
                snapshot,
                takeover,
            },
        )
}

pub fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        hello().prop_map(ClientMessage::Hello),
        (vec(ident(), 0..5), any::<bool>()).prop_map(|(streams, snapshot)| {
            ClientMessage::Subscribe(Subscribe { streams, snapshot })
        }),
        vec(ident(), 0..5).prop_map(|streams| ClientMessage::Unsubscribe(Unsubscribe { streams })),
        (any::<u64>(), ident()).prop_map(|(id, what)| ClientMessage::Request(Request { id, what })),
        (any::<u64>(), command())
            .prop_map(|(id, command)| ClientMessage::Command(CommandMessage { id, command })),
        any::<u64>().prop_map(|t| ClientMessage::Ping(Ping { t })),
        any::<u64>().prop_map(|t| ClientMessage::Pong(Ping { t })),
        option::of(text()).prop_map(|reason| ClientMessage::Bye(Bye { reason })),
        any::<u32>().prop_map(|frame| ClientMessage::PixelsAck(PixelsAck { frame })),
    ]
}

pub fn welcome() -> impl Strategy<Value = Welcome> {
    (
        (
            any::<u32>(),
            text(),
            peer_info(),
            option::of(text()),
            role(),
        ),
        vec(
            (ident(), policy()).prop_map(|(name, policy)| StreamInfo { name, policy }),
            0..16,
        ),
        vec(ident(), 0..5),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(
                (protocol, session, server, project, role),
                streams,
                capabilities,
                heartbeat_ms,
                idle_timeout_ms,
            )| Welcome {
                protocol,
                session,
                server,
                project,
                role,
                streams,
                capabilities,
                heartbeat_ms,
                idle_timeout_ms,
            },
        )
}

pub fn event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![stream_name().prop_map(|s| s.as_str().to_owned()), text()],
        any::<u64>(),
        option::of(any::<u64>()),
        any::<u32>(),
        vec(json_value(), 0..6),
    )
        .prop_map(|(stream, seq, first_seq, frame, items)| Event {
            stream,
            seq,
            first_seq,
            frame,
            items,
        })
}

pub fn movie_state() -> impl Strategy<Value = MovieState> {
    (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()).prop_map(
        |(frame, frame_count, tempo, playing)| MovieState {
            frame,
            frame_count,
            tempo,
            playing,
        },
    )
}

pub fn member_info() -> impl Strategy<Value = MemberInfo> {
    (any::<u32>(), any::<u32>(), text(), ident(), prop_map()).prop_map(
        |(cast_lib, member_num, name, kind, props)| MemberInfo {
            cast_lib,
            member_num,
            name,
            kind,
            props,
        },
    )
}

pub fn stage_snapshot() -> impl Strategy<Value = StageSnapshot> {
    (
        btree_map(ident(), any::<u64>(), 0..6),
        option::of(movie_state()),
        prop_map(),
        prop_map(),
        vec(full_sprite(), 0..5),
        vec(member_info(), 0..5),
    )
        .prop_map(
            |(seqs, movie, stage_props, movie_props, sprites, members)| StageSnapshot {
                seqs,
                movie,
                stage_props,
                movie_props,
                sprites,
                members,
            },
        )
}

pub fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (any::<u64>(), option::of(json_not_null())).prop_map(|(id, data)| Response {
            id,
            ok: true,
            data,
            error: None,
        }),
        (any::<u64>(), error_body()).prop_map(|(id, error)| Response {
            id,
            ok: false,
            data: None,
            error: Some(error),
        }),
    ]
}

pub fn ack() -> impl Strategy<Value = Ack> {
    (
        any::<u64>(),
        ack_status(),
        option::of(any::<u32>()),
        option::of(json_not_null()),
        option::of(error_body()),
    )
        .prop_map(|(id, status, frame, result, error)| Ack {
            id,
            status,
            frame,
            result,
            error,
        })
}

pub fn gap() -> impl Strategy<Value = Gap> {
    (ident(), any::<u64>(), any::<u64>()).prop_map(|(stream, from_seq, to_seq)| Gap {
        stream,
        from_seq,
        to_seq,
    })
}

pub fn notice() -> impl Strategy<Value = Notice> {
    (error_code(), text()).prop_map(|(code, message)| Notice { code, message })
}

pub fn error_message() -> impl Strategy<Value = ErrorMessage> {
    (
        error_code(),
        text(),
        any::<bool>(),
        option::of(any::<u64>()),
    )
        .prop_map(|(code, message, fatal, id)| ErrorMessage {
            code,
            message,
            fatal,
            id,
        })
}

pub fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        welcome().prop_map(ServerMessage::Welcome),
        event().prop_map(ServerMessage::Event),
        stage_snapshot().prop_map(ServerMessage::Snapshot),
        response().prop_map(ServerMessage::Response),
        ack().prop_map(ServerMessage::Ack),
        gap().prop_map(ServerMessage::Gap),
        notice().prop_map(ServerMessage::Notice),
        error_message().prop_map(ServerMessage::Error),
        any::<u64>().prop_map(|t| ServerMessage::Ping(Ping { t })),
        any::<u64>().prop_map(|t| ServerMessage::Pong(Ping { t })),
        option::of(text()).prop_map(|reason| ServerMessage::Bye(Bye { reason })),
    ]
}
