//! Whatever a client sends, `Session::handle_message` never panics — before or after `hello` —
//! and what the session sends back stays well-formed: JSON text with a `type`, nothing after a
//! close.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use stagelink_contracts::Command;
use stagelink_publisher::*;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    })
}

/// Feeds `messages` to a fresh session (after a valid `hello` when `hello` is set), ticking an
/// engine between them so events, acks and responses flow too.
fn run(hello: Option<&str>, messages: &[Vec<u8>]) {
    run_with(2048, hello, messages);
}

fn run_with(max_message: usize, hello: Option<&str>, messages: &[Vec<u8>]) {
    let _rt = runtime().enter();
    let hub = Hub::new(HubConfig {
        max_message,
        stream_queue: 4,
        command_lane: 4,
        max_requests_in_flight: 4,
        rate_limit_per_sec: 64,
        ..HubConfig::default()
    });
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(messages.len() as u64);
    let mut session = Session::new(&hub, ConnectionInfo::default());
    let mut closed = false;
    let check = |session: &mut Session, closed: &mut bool| {
        for out in drain(session) {
            assert!(!*closed, "sent {out:?} after the close");
            match out {
                Outgoing::Text(b) => {
                    let v: serde_json::Value =
                        serde_json::from_slice(&b).expect("the server sends JSON");
                    assert!(v["type"].is_string(), "{v}");
                }
                Outgoing::Binary(b) => assert_eq!(b[0], 0x01),
                Outgoing::Close { .. } => *closed = true,
                Outgoing::Raw(b) => panic!("raw bytes without a direct writer: {b:?}"),
            }
        }
    };
    if let Some(hello) = hello {
        assert_eq!(session.handle_message(hello.as_bytes()), Flow::Continue);
    }
    for (i, m) in messages.iter().enumerate() {
        let flow = session.handle_message(m);
        for c in publisher.drain_commands() {
            match i % 3 {
                0 => c.applied(engine.frame, None),
                1 => c.rejected(stagelink_contracts::ErrorCode::OutOfRange, "no"),
                _ => drop(c),
            }
        }
        engine.tick(&mut publisher);
        check(&mut session, &mut closed);
        if flow == Flow::Closing {
            assert!(closed, "Closing, then a close");
        }
    }
    hub.shutdown("done");
    check(&mut session, &mut closed);
    assert!(closed);
}

const HELLOS: [&str; 3] = [
    r#"{"type":"hello","protocol":1,"role":"controller","subscribe":["*"],"snapshot":true}"#,
    r#"{"type":"hello","protocol":1,"subscribe":["sprites","pixels","sounds"]}"#,
    r#"{"type":"hello","protocol":1,"client":{"id":"fuzz"}}"#,
];

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    " ",
    "\"type\"",
    "\"hello\"",
    "\"command\"",
    "\"request\"",
    "\"subscribe\"",
    "\"unsubscribe\"",
    "\"ping\"",
    "\"pong\"",
    "\"bye\"",
    "\"pixels_ack\"",
    "\"id\"",
    "\"kind\"",
    "\"batch\"",
    "\"commands\"",
    "\"custom\"",
    "\"payload\"",
    "\"go_to_frame\"",
    "\"frame\"",
    "\"protocol\"",
    "\"role\"",
    "\"host\"",
    "\"token\"",
    "\"streams\"",
    "\"*\"",
    "\"what\"",
    "\"stage\"",
    "\"stats\"",
    "\"snapshot\"",
    "\"value\"",
    "\"set_sprite_prop\"",
    "\"sprite_num\"",
    "\"client\"",
    "\"t\"",
    "0",
    "1",
    "-1",
    "0.5",
    "1e999",
    "-0",
    "18446744073709551616",
    "9007199254740993",
    "4294967296",
    "null",
    "true",
    "false",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\u{1F3AC}\"",
    "\"\\\"",
    "\"",
];

fn json_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| {
        let mut s = String::from("{");
        s.extend(t);
        s.into_bytes()
    })
}

fn leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(Into::into),
        any::<i64>().prop_map(Into::into),
        any::<u64>().prop_map(Into::into),
        any::<f64>().prop_map(
            |f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
        ),
        prop::sample::select(TOKENS).prop_map(|t| t.trim_matches('"').into()),
        ".{0,12}".prop_map(Into::into),
    ]
}

fn value() -> impl Strategy<Value = serde_json::Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Into::into),
            prop::collection::btree_map(
                prop::sample::select(TOKENS).prop_map(|t| t.trim_matches('"').to_owned()),
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like client messages: a known (or not) `type` and plausible fields with
/// arbitrary values.
fn message_like() -> impl Strategy<Value = Vec<u8>> {
    let types = prop::sample::select(
        &[
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
            "",
        ][..],
    );
    let fields = prop::collection::btree_map(
        prop::sample::select(
            &[
                "id",
                "command",
                "what",
                "streams",
                "snapshot",
                "frame",
                "t",
                "protocol",
                "role",
                "token",
                "subscribe",
                "client",
                "project",
                "reason",
                "takeover",
            ][..],
        ),
        value(),
        0..5,
    );
    (types, fields).prop_map(|(ty, fields)| {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), ty.into());
        for (k, v) in fields {
            m.insert(k.into(), v);
        }
        serde_json::to_vec(&m).unwrap()
    })
}

fn any_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|mut b| {
            b.insert(0, b'{');
            b
        }),
        json_soup(),
        message_like(),
        value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn before_hello_nothing_panics(messages in prop::collection::vec(any_message(), 1..6)) {
        run(None, &messages);
    }

    #[test]
    fn after_hello_nothing_panics(
        hello in prop::sample::select(&HELLOS[..]),
        messages in prop::collection::vec(any_message(), 1..12),
    ) {
        run(Some(hello), &messages);
    }
}

/// Deep nesting stays within the decoder's limits: no stack overflow on a test thread's
/// stack, and a batch the decoder accepts reaches the engine intact.
#[test]
fn deeply_nested_messages_do_not_overflow() {
    let nested = |depth: usize| {
        let mut command = r#"{"kind":"pause"}"#.to_owned();
        for _ in 0..depth {
            command = format!(r#"{{"kind":"batch","commands":[{command}]}}"#);
        }
        format!(r#"{{"type":"command","id":1,"command":{command}}}"#).into_bytes()
    };
    let brackets = |depth: usize| {
        format!(
            r#"{{"type":"ping","t":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .into_bytes()
    };
    for m in [
        nested(40),
        nested(63),
        nested(64),
        nested(5000),
        brackets(100_000),
    ] {
        run_with(1 << 20, Some(HELLOS[0]), &[m]);
    }
    let _rt = runtime().enter();
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let _s = {
        let mut s = Session::new(&hub, ConnectionInfo::default());
        s.handle_message(HELLOS[0].as_bytes());
        s.handle_message(&nested(40));
        s
    };
    let mut c = publisher.drain_commands();
    assert_eq!(c.len(), 1);
    let mut depth = 0;
    let mut cmd = &c[0].command;
    while let Command::Batch { commands } = cmd {
        depth += 1;
        cmd = &commands[0];
    }
    assert_eq!(depth, 40);
    c.pop().unwrap().applied(1, None);
}
