//! The session state machine through its public API only: every error code a session can
//! produce (protocol §14), requests, liveness (paused time, no real sleeps) and closing.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use stagelink_contracts::*;
use stagelink_publisher::*;

fn hub_with(f: impl FnOnce(&mut HubConfig)) -> Hub {
    let mut config = HubConfig::default();
    f(&mut config);
    Hub::new(config)
}

fn raw(hub: &Hub) -> Session {
    Session::new(hub, ConnectionInfo::default())
}

/// Sends `msg` and expects exactly one non-fatal error with `code`; the session goes on.
fn expect_error(s: &mut Session, msg: &[u8], code: &str) -> Value {
    assert_eq!(s.handle_message(msg), Flow::Continue);
    let msgs = drain_json(s);
    assert_eq!(msgs.len(), 1, "{}: {msgs:?}", String::from_utf8_lossy(msg));
    let e = msgs[0].clone();
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["code"], code, "{e}");
    assert_eq!(e["fatal"], false);
    assert!(!e["message"].as_str().unwrap().is_empty());
    still_alive(s);
    e
}

fn still_alive(s: &mut Session) {
    assert_eq!(
        send(s, json!({"type":"ping","t":77})),
        Flow::Continue,
        "the session goes on"
    );
    assert_eq!(drain_json(s), [json!({"type":"pong","t":77})]);
}

/// Sends `msg` and expects the fatal `code`: an error, then a close with `4000 + n`, and
/// nothing more.
fn expect_fatal(s: &mut Session, msg: &[u8], code: ErrorCode) {
    assert_eq!(s.handle_message(msg), Flow::Closing);
    expect_closed(s, code);
}

fn expect_closed(s: &mut Session, code: ErrorCode) {
    let out = drain(s);
    let n = out.len();
    assert!(n >= 2, "{out:?}");
    let e = json(&out[n - 2]);
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], code.as_str());
    assert_eq!(e["fatal"], true);
    assert_eq!(
        out[n - 1],
        Outgoing::Close {
            code: code.close_code(),
            reason: code.as_str().into()
        }
    );
    assert!(drain(s).is_empty(), "nothing after the close");
    assert_eq!(s.handle_message(br#"{"type":"ping"}"#), Flow::Closing);
    assert!(drain(s).is_empty());
}

#[tokio::test]
async fn welcome_announces_the_session() {
    let hub = hub_with(|c| c.project = "demo".into());
    let mut s = raw(&hub);
    s.handle_message(br#"{"type":"hello","protocol":1,"project":"demo","role":"controller"}"#);
    let w = drain_json(&mut s).remove(0);
    assert_eq!(w["type"], "welcome");
    assert_eq!(w["protocol"], 1);
    assert_eq!(w["project"], "demo");
    assert_eq!(w["role"], "controller");
    assert_eq!(w["heartbeat_ms"], 5000);
    assert_eq!(w["idle_timeout_ms"], 30000);
    assert_eq!(w["streams"].as_array().unwrap().len(), STREAM_COUNT);
    assert_eq!(w["streams"][0], json!({"name":"frames","policy":"latest"}));
    assert!(w["session"].as_str().unwrap().starts_with("s-"));
    assert_eq!(s.role(), Some(Role::Controller));
    assert_eq!(hub.session_count(), 1);
    drop(s);
    assert_eq!(hub.session_count(), 0);
}

#[tokio::test]
async fn malformed_messages_are_non_fatal() {
    let hub = hub_with(|_| {});
    let mut s = connect(&hub, json!({}));
    let e = expect_error(&mut s, br#"{"type":"#, "bad_json");
    assert!(e["message"].as_str().unwrap().contains("line 1"), "{e}");
    let e = expect_error(&mut s, br#"{"type":"query","id":31}"#, "unknown_type");
    assert_eq!(e["id"], 31);
    expect_error(&mut s, br#"{"type":"subscribe"}"#, "missing_field");
    expect_error(&mut s, br#"{"id":4}"#, "missing_field");
    expect_error(
        &mut s,
        br#"{"type":"subscribe","streams":"x"}"#,
        "invalid_field",
    );
    expect_error(&mut s, br#"{"type":5}"#, "invalid_field");
    expect_error(
        &mut s,
        br#"{"type":"pixels_ack","frame":-1}"#,
        "invalid_field",
    );
    // §2.2: an empty local-socket payload is `invalid_field`; §11/§14: a binary message where
    // none is expected is `unknown_type`.
    expect_error(&mut s, b"", "invalid_field");
    expect_error(&mut s, &[0x01, 0, 0, 0], "unknown_type");
    // A malformed request with a readable id gets its one `response`, nothing else.
    send(&mut s, json!({"type":"request","id":3}));
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["type"], "response");
    assert_eq!(msgs[0]["ok"], false);
    assert_eq!(msgs[0]["error"]["code"], "missing_field");
    // Unknown fields are ignored (forward compatibility).
    send(&mut s, json!({"type":"ping","t":5,"future":true}));
    assert_eq!(drain_json(&mut s), [json!({"type":"pong","t":5})]);
}

#[tokio::test]
async fn anything_before_hello_is_not_identified() {
    let hub = hub_with(|_| {});
    for first in [
        &br#"{"type":"ping","t":1}"#[..],
        br#"{"type":"command","id":1,"command":{"kind":"pause"}}"#,
        br#"{"type":"#,
        br#"{"type":"nope"}"#,
        &[0x01, 2, 3],
    ] {
        let mut s = raw(&hub);
        expect_fatal(&mut s, first, ErrorCode::NotIdentified);
    }
}

/// §3: a malformed `hello` is non-fatal and leaves the session unidentified; a corrected one
/// is welcomed.
#[tokio::test]
async fn a_malformed_hello_can_be_corrected() {
    let hub = hub_with(|_| {});
    let mut s = raw(&hub);
    let e = expect_error_unidentified(&mut s, br#"{"type":"hello"}"#, "missing_field");
    assert!(e["message"].as_str().unwrap().contains("protocol"), "{e}");
    expect_error_unidentified(
        &mut s,
        br#"{"type":"hello","protocol":1,"role":"king"}"#,
        "invalid_field",
    );
    expect_error_unidentified(
        &mut s,
        br#"{"type":"hello","protocol":"1"}"#,
        "invalid_field",
    );
    // A player answers `role: host` with `invalid_field` (§15).
    expect_error_unidentified(
        &mut s,
        br#"{"type":"hello","protocol":1,"role":"host"}"#,
        "invalid_field",
    );
    assert_eq!(s.role(), None);
    s.handle_message(br#"{"type":"hello","protocol":1}"#);
    assert_eq!(drain_json(&mut s)[0]["type"], "welcome");
    assert_eq!(s.role(), Some(Role::Observer));
}

fn expect_error_unidentified(s: &mut Session, msg: &[u8], code: &str) -> Value {
    assert_eq!(s.handle_message(msg), Flow::Continue);
    let msgs = drain_json(s);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["code"], code, "{}", msgs[0]);
    assert_eq!(msgs[0]["fatal"], false);
    msgs[0].clone()
}

#[tokio::test]
async fn a_second_hello_is_already_identified() {
    let hub = hub_with(|_| {});
    let mut s = connect(&hub, json!({"role":"observer"}));
    expect_error(
        &mut s,
        br#"{"type":"hello","protocol":1,"role":"controller"}"#,
        "already_identified",
    );
    assert_eq!(s.role(), Some(Role::Observer), "ignored otherwise");
}

#[tokio::test]
async fn tokens_decide_roles() {
    let hub = hub_with(|c| {
        c.auth = AuthConfig {
            controller_token: Some("c-token".into()),
            observer_token: Some("o-token".into()),
            ..AuthConfig::default()
        }
    });
    for hello in [
        json!({"type":"hello","protocol":1}),
        json!({"type":"hello","protocol":1,"token":"wrong"}),
        json!({"type":"hello","protocol":1,"token":"c-toke"}),
        json!({"type":"hello","protocol":1,"role":"controller","token":"o-token"}),
    ] {
        let mut s = raw(&hub);
        expect_fatal(&mut s, hello.to_string().as_bytes(), ErrorCode::AuthFailed);
    }
    let s = connect(&hub, json!({"role":"controller","token":"c-token"}));
    assert_eq!(s.role(), Some(Role::Controller));
    let s = connect(&hub, json!({"token":"o-token"}));
    assert_eq!(s.role(), Some(Role::Observer));
    // A transport that proved the peer (same uid on a local socket) needs no token.
    let mut s = Session::new(
        &hub,
        ConnectionInfo {
            peer: "pipe uid 1000".into(),
            trusted: true,
        },
    );
    s.handle_message(br#"{"type":"hello","protocol":1,"role":"controller"}"#);
    assert_eq!(drain_json(&mut s)[0]["type"], "welcome");
    assert_eq!(s.role(), Some(Role::Controller));
}

#[tokio::test]
async fn wrong_protocol_or_project_is_fatal() {
    let hub = hub_with(|c| c.project = "demo".into());
    let mut s = raw(&hub);
    expect_fatal(
        &mut s,
        br#"{"type":"hello","protocol":2}"#,
        ErrorCode::ProtocolVersion,
    );
    let mut s = raw(&hub);
    expect_fatal(
        &mut s,
        br#"{"type":"hello","protocol":1,"project":"other"}"#,
        ErrorCode::UnknownProject,
    );
}

#[tokio::test]
async fn unknown_streams_are_named_and_the_rest_applies() {
    let hub = hub_with(|_| {});
    let mut publisher = Publisher::new(hub.clone());
    let mut s = raw(&hub);
    s.handle_message(br#"{"type":"hello","protocol":1,"subscribe":["frames","nope"]}"#);
    let msgs = drain_json(&mut s);
    assert_eq!(msgs[0]["type"], "welcome");
    assert_eq!(msgs[1]["code"], "unknown_stream");
    assert!(msgs[1]["message"].as_str().unwrap().contains("nope"));
    let e = expect_error(
        &mut s,
        br#"{"type":"subscribe","streams":["tempos","bogus"]}"#,
        "unknown_stream",
    );
    assert!(e["message"].as_str().unwrap().contains("bogus"));
    expect_error(
        &mut s,
        br#"{"type":"unsubscribe","streams":["bogus"]}"#,
        "unknown_stream",
    );
    publisher.record(TempoChange {
        frame: 1,
        tempo: 12,
    });
    publisher.end_tick(1, &StillEngine::default());
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["stream"], "tempos");
}

#[tokio::test]
async fn oversized_messages_are_fatal() {
    let hub = hub_with(|c| c.max_message = 64);
    let mut s = connect(&hub, json!({}));
    assert_eq!(s.max_message(), 64);
    let big = format!(r#"{{"type":"ping","t":1,"pad":"{}"}}"#, "x".repeat(64));
    expect_fatal(&mut s, big.as_bytes(), ErrorCode::FrameTooLarge);
    // The transport can report a frame it refused to read.
    let mut s = connect(&hub, json!({}));
    assert_eq!(s.frame_too_large(1 << 30), Flow::Closing);
    expect_closed(&mut s, ErrorCode::FrameTooLarge);
    // Before hello too.
    let mut s = raw(&hub);
    expect_fatal(&mut s, big.as_bytes(), ErrorCode::FrameTooLarge);
}

/// §7.6: over-limit commands are rejected, requests answered `ok:false`, other messages
/// dropped with at most one `rate_limited` error per second.
#[tokio::test(start_paused = true)]
async fn flooding_is_rate_limited() {
    let hub = hub_with(|c| c.rate_limit_per_sec = 5);
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"role":"controller"})); // message 1 of 5
    for t in 0..10 {
        send(&mut s, json!({"type":"ping","t":t}));
    }
    let msgs = drain_json(&mut s);
    let pongs = of_type(&msgs, "pong");
    assert_eq!(pongs.len(), 4);
    let errors = of_type(&msgs, "error");
    assert_eq!(errors.len(), 1, "one error per second: {msgs:?}");
    assert_eq!(errors[0]["code"], "rate_limited");
    assert_eq!(errors[0]["fatal"], false);
    send(
        &mut s,
        json!({"type":"command","id":1,"command":{"kind":"pause"}}),
    );
    send(
        &mut s,
        json!({"type":"request","id":2,"what":"movie_state"}),
    );
    send(
        &mut s,
        json!({"type":"command","id":3,"command":{"kind":"go_to_frame"}}),
    );
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(msgs[0]["type"], "ack");
    assert_eq!(msgs[0]["status"], "rejected");
    assert_eq!(msgs[0]["error"]["code"], "rate_limited");
    assert_eq!(msgs[1]["type"], "response");
    assert_eq!(msgs[1]["error"]["code"], "rate_limited");
    assert_eq!(msgs[2]["id"], 3);
    assert_eq!(msgs[2]["error"]["code"], "rate_limited");
    assert!(publisher.drain_commands().is_empty());

    tokio::time::advance(Duration::from_secs(1)).await;
    send(
        &mut s,
        json!({"type":"command","id":4,"command":{"kind":"pause"}}),
    );
    assert!(drain_json(&mut s).is_empty());
    assert_eq!(publisher.drain_commands().len(), 1);
    let msgs = drain_json(&mut s);
    assert_eq!(msgs[0]["error"]["code"], "internal");
}

#[tokio::test(start_paused = true)]
async fn a_silent_session_is_pinged_then_closed_for_idleness() {
    let hub = hub_with(|_| {});
    let start = tokio::time::Instant::now();
    let mut s = connect(&hub, json!({}));
    let mut pings = Vec::new();
    loop {
        match s.next_outgoing().await {
            Outgoing::Text(b) => {
                let m: Value = serde_json::from_slice(&b).unwrap();
                if m["type"] == "ping" {
                    pings.push(start.elapsed().as_secs());
                    assert!(m["t"].is_u64());
                    // The client answers pings, but a pong at 10 s is the last thing it says.
                    if pings.len() == 2 {
                        send(&mut s, json!({"type":"pong","t":m["t"]}));
                    }
                } else {
                    assert_eq!(m["code"], "idle_timeout", "{m}");
                    assert_eq!(m["fatal"], true);
                    assert_eq!(start.elapsed(), Duration::from_secs(40));
                }
            }
            Outgoing::Close { code, reason } => {
                assert_eq!((code, reason.as_str()), (4014, "idle_timeout"));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(pings, [5, 10, 15, 20, 25, 30, 35]);
    assert_eq!(s.handle_message(br#"{"type":"ping"}"#), Flow::Closing);
}

/// The same deadline driven by hand with `tokio::time::advance`: quiet up to the last
/// millisecond, closed at the deadline, and any inbound message moves the deadline.
#[tokio::test(start_paused = true)]
async fn idle_timeout_fires_exactly_at_the_deadline() {
    let hub = hub_with(|c| {
        c.idle_timeout = Duration::from_secs(30);
        c.heartbeat = Duration::from_secs(3600);
    });
    let mut s = connect(&hub, json!({}));
    tokio::time::advance(Duration::from_secs(20)).await;
    send(&mut s, json!({"type":"pixels_ack","frame":1})); // any message counts
    tokio::time::advance(Duration::from_millis(29_999)).await;
    assert!(drain(&mut s).is_empty(), "not yet");
    tokio::time::advance(Duration::from_millis(1)).await;
    let out = drain(&mut s);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(json(&out[0])["code"], "idle_timeout");
    assert!(matches!(out[1], Outgoing::Close { code: 4014, .. }));
}

#[tokio::test(start_paused = true)]
async fn an_unidentified_session_times_out_too() {
    let hub = hub_with(|c| {
        c.idle_timeout = Duration::from_secs(3);
        c.heartbeat = Duration::from_secs(60);
    });
    let mut s = raw(&hub);
    let start = tokio::time::Instant::now();
    let e = json(&s.next_outgoing().await);
    assert_eq!(e["code"], "idle_timeout");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(matches!(
        s.next_outgoing().await,
        Outgoing::Close { code: 4014, .. }
    ));
}

/// §12: the server pings a session it has sent nothing to for `heartbeat_ms`; one that keeps
/// receiving events needs no ping.
#[tokio::test(start_paused = true)]
async fn heartbeats_only_for_quiet_sessions() {
    let hub = hub_with(|_| {});
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"subscribe":["frames"]}));
    for frame in 1..=20 {
        tokio::time::advance(Duration::from_secs(1)).await;
        publisher.record(StageFrame {
            frame,
            frame_count: 240,
            tempo: 1,
            playing: true,
            time_ms: u64::from(frame) * 1000,
            width: 1,
            height: 1,
        });
        publisher.end_tick(frame, &StillEngine::default());
        send(&mut s, json!({"type":"pong"})); // the client is alive too
        let msgs = drain_json(&mut s);
        assert_eq!(msgs.len(), 1, "at {frame} s: {msgs:?}");
        assert_eq!(msgs[0]["type"], "event");
    }
    let start = tokio::time::Instant::now();
    let ping = json(&s.next_outgoing().await);
    assert_eq!(ping["type"], "ping");
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(5),
        "5 s after the last event"
    );
}

#[tokio::test]
async fn ping_pong_and_bye() {
    let hub = hub_with(|_| {});
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"subscribe":["*"]}));
    send(&mut s, json!({"type":"ping","t":123}));
    send(&mut s, json!({"type":"ping"}));
    assert_eq!(
        drain_json(&mut s),
        [json!({"type":"pong","t":123}), json!({"type":"pong","t":0})]
    );
    // A pong from the client is accepted silently.
    send(&mut s, json!({"type":"pong","t":9}));
    assert!(drain(&mut s).is_empty());

    publisher.record(TempoChange { frame: 1, tempo: 5 });
    publisher.end_tick(1, &StillEngine::default());
    send(&mut s, json!({"type":"ping","t":1}));
    assert_eq!(
        send(&mut s, json!({"type":"bye","reason":"user quit"})),
        Flow::Closing
    );
    let out = drain(&mut s);
    assert_eq!(
        out.len(),
        2,
        "the pong, then the close; no events after bye: {out:?}"
    );
    assert_eq!(json(&out[0])["type"], "pong");
    assert_eq!(
        out[1],
        Outgoing::Close {
            code: 1000,
            reason: "bye".into()
        }
    );
    assert_eq!(send(&mut s, json!({"type":"ping"})), Flow::Closing);
    assert!(drain(&mut s).is_empty());
}

#[tokio::test]
async fn the_same_client_id_replaces_the_older_session() {
    let hub = hub_with(|_| {});
    let mut old = connect(&hub, json!({"client":{"id":"term-1"}}));
    let mut other = connect(&hub, json!({"client":{"id":"term-2"}}));
    let mut new = connect(&hub, json!({"client":{"id":"term-1"}}));
    expect_closed(&mut old, ErrorCode::SessionReplaced);
    still_alive(&mut new);
    still_alive(&mut other);
    drop(old);
    // A third connection replaces the second, not anyone else.
    let mut third = connect(&hub, json!({"client":{"id":"term-1"}}));
    expect_closed(&mut new, ErrorCode::SessionReplaced);
    still_alive(&mut third);
    still_alive(&mut other);
}

#[tokio::test]
async fn shutdown_says_bye_then_closes_with_4028() {
    let hub = hub_with(|c| c.stream_queue = 4);
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(1);
    let mut sessions: Vec<Session> = (0..3)
        .map(|_| connect(&hub, json!({"subscribe":["*"]})))
        .collect();
    let mut controller = connect(&hub, json!({"role":"controller","subscribe":["*"]}));
    for _ in 0..10 {
        engine.tick(&mut publisher); // events queued, never read
    }
    send(
        &mut controller,
        json!({"type":"command","id":1,"command":{"kind":"pause"}}),
    );
    hub.shutdown("maintenance");
    // §13: commands already on the lane are still applied, but their acks are not delivered.
    for c in publisher.drain_commands() {
        c.applied(engine.frame, None);
    }
    sessions.push(controller);
    assert!(hub.is_shutting_down());
    for s in &mut sessions {
        let out = drain(s);
        assert_eq!(
            out.len(),
            3,
            "bye, error, close — no events after bye: {out:?}"
        );
        assert_eq!(json(&out[0]), json!({"type":"bye","reason":"maintenance"}));
        let e = json(&out[1]);
        assert_eq!(
            (e["code"].as_str(), e["fatal"].as_bool()),
            (Some("shutdown"), Some(true))
        );
        assert!(matches!(&out[2], Outgoing::Close { code: 4028, .. }));
    }
    assert!(drain(&mut sessions[0]).is_empty());
}

#[tokio::test]
async fn requests_in_flight_are_answered_by_id() {
    let hub = hub_with(|_| {});
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(2);
    for _ in 0..3 {
        engine.tick(&mut publisher);
    }
    let mut s = connect(&hub, json!({}));
    let whats = ["movie_state", "stage", "project", "stats", "score_dump"];
    for id in 0..50u64 {
        send(
            &mut s,
            json!({"type":"request","id":id,"what":whats[id as usize % 5]}),
        );
    }
    // `stats` and unknown requests are answered at once; the others at the tick boundary.
    let now = drain_json(&mut s);
    assert_eq!(now.len(), 20);
    for r in &now {
        let id = r["id"].as_u64().unwrap();
        match id % 5 {
            3 => {
                assert_eq!(r["ok"], true);
                assert!(r["data"]["messages_in"].as_u64().unwrap() > id);
                assert!(r["data"]["per_stream"].is_object());
                assert!(r["data"]["commands"].is_object());
            }
            4 => {
                assert_eq!(r["ok"], false);
                assert_eq!(r["error"]["code"], "unknown_request");
            }
            _ => panic!("answered too early: {r}"),
        }
    }
    engine.tick(&mut publisher);
    let later = drain_json(&mut s);
    assert_eq!(later.len(), 30);
    let mut ids: Vec<u64> = later.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "one response per id");
    for r in &later {
        assert_eq!(r["type"], "response");
        assert_eq!(r["ok"], true, "{r}");
        let data = &r["data"];
        match r["id"].as_u64().unwrap() % 5 {
            0 => assert_eq!(data["frame"], engine.frame),
            1 => {
                assert_eq!(data["seqs"]["frames"], engine.frame);
                assert_eq!(data["movie"]["frame"], engine.frame);
                assert_eq!(
                    data["sprites"].as_array().unwrap().len(),
                    engine.sprites.len()
                );
            }
            2 => assert_eq!(data["name"], "test"),
            _ => unreachable!(),
        }
    }
    assert_eq!(hub.movie_state().unwrap().frame, engine.frame);
}

#[tokio::test]
async fn too_many_requests_in_flight_are_busy() {
    let hub = hub_with(|c| c.max_requests_in_flight = 2);
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({}));
    for id in 1..=3 {
        send(
            &mut s,
            json!({"type":"request","id":id,"what":"movie_state"}),
        );
    }
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["id"], 3);
    assert_eq!(msgs[0]["error"]["code"], "busy");
    publisher.end_tick(1, &StillEngine { frame: 1 });
    assert_eq!(drain_json(&mut s).len(), 2);
    send(
        &mut s,
        json!({"type":"request","id":4,"what":"movie_state"}),
    );
    publisher.end_tick(2, &StillEngine { frame: 2 });
    assert_eq!(drain_json(&mut s)[0]["data"]["frame"], 2);
}

/// A request the engine drops unanswered still gets its response (`internal`).
#[tokio::test]
async fn a_dropped_request_fails_internal() {
    let hub = hub_with(|_| {});
    let mut link = hub.take_engine_link().unwrap();
    let mut s = connect(&hub, json!({}));
    send(&mut s, json!({"type":"request","id":8,"what":"project"}));
    let requests = link.drain_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].kind, RequestKind::Project);
    drop(requests);
    let r = drain_json(&mut s).remove(0);
    assert_eq!(
        (r["id"].as_u64(), r["ok"].as_bool()),
        (Some(8), Some(false))
    );
    assert_eq!(r["error"]["code"], "internal");
}
