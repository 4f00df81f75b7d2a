//! Protocol v1 over a real WebSocket: hello, auth, every error code a client can provoke,
//! streams, commands, requests and snapshots.

mod common;

use std::time::Duration;

use common::{Client, Host, OBSERVER_TOKEN, TOKEN, hub_config};
use serde_json::json;
use stagelink_contracts::{ErrorCode, FrameScript, MovieProp, SoundCue, StageProp};

#[tokio::test]
async fn hello_gets_welcome() {
    let host = Host::start().await;
    let mut client = Client::connect(&host.url()).await;
    let welcome = client
        .hello(
            json!({"role": "controller", "token": TOKEN, "project": "demo",
            "client": {"id": "t-1", "name": "test", "version": "0"}}),
        )
        .await;
    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["project"], "demo");
    assert_eq!(welcome["role"], "controller");
    assert!(welcome["session"].as_str().is_some_and(|s| !s.is_empty()));
    let streams = welcome["streams"].as_array().unwrap();
    assert!(
        streams
            .iter()
            .any(|s| s["name"] == "sprites" && s["policy"] == "coalesce")
    );
    assert_eq!(host.hub.session_count(), 1);

    // ping/pong and a clean bye (close 1000).
    client.send(json!({"type": "ping", "t": 42})).await;
    assert_eq!(client.expect("pong").await["t"], 42);
    client.send(json!({"type": "bye", "reason": "done"})).await;
    let (code, _) = client.expect_close().await;
    assert_eq!(code, 1000);
}

#[tokio::test]
async fn observer_token_grants_observer_only() {
    let host = Host::start().await;
    let mut client = Client::connect(&host.url()).await;
    let welcome = client
        .hello(json!({"role": "observer", "token": OBSERVER_TOKEN}))
        .await;
    assert_eq!(welcome["role"], "observer");

    let mut client = Client::connect(&host.url()).await;
    client
        .send(
            json!({"type": "hello", "protocol": 1, "role": "controller", "token": OBSERVER_TOKEN}),
        )
        .await;
    client.expect_fatal(ErrorCode::AuthFailed).await;
}

#[tokio::test]
async fn auth_failures_close_with_4007() {
    let host = Host::start().await;
    for hello in [
        json!({"type": "hello", "protocol": 1, "role": "controller"}),
        json!({"type": "hello", "protocol": 1, "role": "controller", "token": "wrong"}),
        json!({"type": "hello", "protocol": 1, "role": "observer", "token": ""}),
    ] {
        let mut client = Client::connect(&host.url()).await;
        client.send(hello).await;
        client.expect_fatal(ErrorCode::AuthFailed).await;
    }
    // The failed sessions leave the hub.
    common::wait_for(|| host.hub.session_count() == 0).await;

    // `role: host` is for relays: a player says so without ending the session.
    let mut client = Client::connect(&host.url()).await;
    client
        .send(json!({"type": "hello", "protocol": 1, "role": "host", "token": TOKEN}))
        .await;
    let e = client.expect_error("invalid_field").await;
    assert_eq!(e["fatal"], false);
    client
        .hello(json!({"role": "controller", "token": TOKEN}))
        .await;
}

#[tokio::test]
async fn a_client_hanging_up_ends_its_session() {
    let host = Host::start().await;
    let client = host.controller(json!({"subscribe": ["*"]})).await;
    let mut other = host.controller(json!({})).await;
    assert_eq!(host.hub.session_count(), 2);
    drop(client); // no close frame: the TCP connection just goes away
    common::wait_for(|| host.hub.session_count() == 1).await;
    other.send(json!({"type": "bye"})).await;
    assert_eq!(other.expect_close().await.0, 1000);
    common::wait_for(|| host.hub.session_count() == 0).await;
}

#[tokio::test]
async fn anything_before_hello_is_not_identified() {
    let host = Host::start().await;
    let mut client = Client::connect(&host.url()).await;
    client.send(json!({"type": "ping", "t": 1})).await;
    client.expect_fatal(ErrorCode::NotIdentified).await;
}

#[tokio::test]
async fn wrong_protocol_and_project_are_fatal() {
    let host = Host::start().await;
    let mut client = Client::connect(&host.url()).await;
    client
        .send(json!({"type": "hello", "protocol": 2, "role": "controller", "token": TOKEN}))
        .await;
    client.expect_fatal(ErrorCode::ProtocolVersion).await;

    let mut client = Client::connect(&host.url()).await;
    client
        .send(json!({"type": "hello", "protocol": 1, "project": "other", "role": "controller", "token": TOKEN}))
        .await;
    client.expect_fatal(ErrorCode::UnknownProject).await;
}

#[tokio::test]
async fn malformed_messages_get_non_fatal_errors() {
    let host = Host::start().await;
    let mut client = host.controller(json!({})).await;

    client.send_text(r#"{"type":"#).await;
    let e = client.expect_error("bad_json").await;
    assert_eq!(e["fatal"], false);

    client.send(json!({"type": "query", "id": 31})).await;
    let e = client.expect_error("unknown_type").await;
    assert_eq!(e["id"], 31);

    client.send(json!({"type": "subscribe"})).await;
    let e = client.expect_error("missing_field").await;
    assert!(e["message"].as_str().unwrap().contains("streams"), "{e}");

    client
        .send(json!({"type": "subscribe", "streams": 5}))
        .await;
    client.expect_error("invalid_field").await;

    client
        .send(json!({"type": "hello", "protocol": 1, "role": "controller", "token": TOKEN}))
        .await;
    client.expect_error("already_identified").await;

    client
        .send(json!({"type": "subscribe", "streams": ["sounds", "nope"]}))
        .await;
    let e = client.expect_error("unknown_stream").await;
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");

    // A binary message from a client is refused without ending the session.
    client.send_binary(vec![1u8, 2, 3]).await;
    let e = client.expect_error("unknown_type").await;
    assert_eq!(e["fatal"], false, "{e}");

    // A malformed command whose id is readable still gets exactly one ack.
    client
        .send(json!({"type": "command", "id": 10, "command": {"kind": "go_to_frame"}}))
        .await;
    let messages = client.barrier().await;
    let ack = messages
        .iter()
        .find(|m| m["type"] == "ack")
        .expect("an ack");
    assert_eq!(ack["id"], 10);
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["error"]["code"], "missing_field");

    // The session is still alive.
    client.send(json!({"type": "ping", "t": 7})).await;
    assert_eq!(client.expect("pong").await["t"], 7);
}

#[tokio::test]
async fn observers_are_forbidden_to_command() {
    let host = Host::start().await;
    let mut client = Client::connect(&host.url()).await;
    client
        .hello(json!({"role": "observer", "token": OBSERVER_TOKEN}))
        .await;
    client
        .send(json!({"type": "command", "id": 3, "command": {"kind": "pause"}}))
        .await;
    let ack = client.expect("ack").await;
    assert_eq!(ack["id"], 3);
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["error"]["code"], "forbidden");
}

#[tokio::test]
async fn oversized_messages_are_frame_too_large() {
    let mut config = hub_config();
    config.max_message = 1024;
    let host = Host::start_hub(config).await;

    // Exactly at the limit is fine (a bad one, but it gets through to the session).
    let mut client = host.controller(json!({})).await;
    let mut at_limit = format!(r#"{{"type":"ping","t":5,"pad":"{}"#, "x".repeat(1024));
    at_limit.truncate(1022);
    at_limit.push_str("\"}");
    assert_eq!(at_limit.len(), 1024);
    client.send_text(&at_limit).await;
    assert_eq!(client.expect("pong").await["t"], 5);

    // One byte over is fatal.
    let over = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(2000));
    client.send_text(&over).await;
    client.expect_fatal(ErrorCode::FrameTooLarge).await;

    // The same for a message much larger than the socket's buffers, and before hello.
    let mut client = Client::connect(&host.url()).await;
    client.send_binary(vec![b'x'; 256 * 1024]).await;
    client.expect_fatal(ErrorCode::FrameTooLarge).await;
}

#[tokio::test]
async fn silence_is_idle_timeout() {
    let mut config = hub_config();
    config.idle_timeout = Duration::from_millis(300);
    let host = Host::start_hub(config).await;
    let mut client = Client::connect(&host.url()).await;
    // Waiting for the server to give up on us: every wait is bounded by common::WAIT.
    client.expect_fatal(ErrorCode::IdleTimeout).await;
}

#[tokio::test]
async fn the_same_client_id_replaces_the_session() {
    let host = Host::start().await;
    let mut first = host.controller(json!({"client": {"id": "tool-1"}})).await;
    let mut second = host.controller(json!({"client": {"id": "tool-1"}})).await;
    first.expect_fatal(ErrorCode::SessionReplaced).await;
    second.send(json!({"type": "ping", "t": 1})).await;
    second.expect("pong").await;
}

#[tokio::test]
async fn too_many_messages_are_rate_limited() {
    let mut config = hub_config();
    config.rate_limit_per_sec = 3;
    let host = Host::start_hub(config).await;
    let mut client = host.controller(json!({})).await;
    for t in 0..6 {
        client.send(json!({"type": "ping", "t": t})).await;
    }
    let (_, error) = client.until(|m| m["type"] == "error").await;
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(error["fatal"], false);
}

#[tokio::test]
async fn a_full_command_lane_answers_busy() {
    let mut config = hub_config();
    config.command_lane = 1;
    let mut host = Host::start_hub(config).await;
    let mut client = host.controller(json!({})).await;
    client
        .send(json!({"type": "command", "id": 1, "command": {"kind": "pause"}}))
        .await;
    client
        .send(json!({"type": "command", "id": 2, "command": {"kind": "resume"}}))
        .await;
    let acks = client.barrier().await;
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0]["id"], 2);
    assert_eq!(acks[0]["status"], "busy");
    assert_eq!(acks[0]["error"]["code"], "busy");
    host.engine.tick();
    let ack = client.expect("ack").await;
    assert_eq!(
        (ack["id"].as_u64(), ack["status"].as_str()),
        (Some(1), Some("applied"))
    );
}

#[tokio::test]
async fn events_on_several_streams() {
    let mut host = Host::start().await;
    let mut client = host
        .controller(json!({"subscribe": ["movie_props", "sounds", "frame_scripts"]}))
        .await;

    host.engine.tick_with(|p, _| {
        p.record(MovieProp {
            prop: "title".into(),
            value: "A".into(),
        });
        p.record(SoundCue {
            frame: 1,
            channel: 1,
            cast_lib: 1,
            member_num: 4,
            playing: true,
        });
        p.record(FrameScript {
            frame: 1,
            script: "go".into(),
        });
        p.record(StageProp {
            prop: "bg".into(),
            value: 1.into(),
        }); // not subscribed
    });
    let mut streams = Vec::new();
    for _ in 0..3 {
        let event = client.expect("event").await;
        assert_eq!(event["seq"], 1);
        assert_eq!(event["frame"], 1);
        streams.push(event["stream"].as_str().unwrap().to_owned());
    }
    streams.sort();
    assert_eq!(streams, ["frame_scripts", "movie_props", "sounds"]);

    // Subscribe to one more, drop one.
    client
        .send(json!({"type": "subscribe", "streams": ["stage_props"]}))
        .await;
    client
        .send(json!({"type": "unsubscribe", "streams": ["sounds"]}))
        .await;
    assert!(client.barrier().await.is_empty());
    host.engine.tick_with(|p, _| {
        p.record(SoundCue {
            frame: 2,
            channel: 1,
            cast_lib: 1,
            member_num: 4,
            playing: false,
        });
        p.record(StageProp {
            prop: "bg".into(),
            value: 2.into(),
        });
    });
    host.engine.set_movie_prop("title", "B");
    let (before, last) = client.until(|m| m["stream"] == "movie_props").await;
    assert_eq!(last["seq"], 2);
    assert_eq!(last["items"][0]["value"], "B");
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["stream"], "stage_props");
    assert_eq!(before[0]["seq"], 2); // seqs count per stream, per host run
    assert_eq!(before[0]["items"][0]["value"], 2);
}

#[tokio::test]
async fn commands_are_acked_after_the_tick() {
    let mut host = Host::start().await;
    let mut client = host.controller(json!({"subscribe": ["movie_props"]})).await;
    client
        .send(json!({"type": "command", "id": 9, "command": {"kind": "go_to_frame", "frame": 42}}))
        .await;
    client
        .send(json!({"type": "command", "id": 10, "command": {"kind": "custom", "name": "echo", "payload": {"x": 1}}}))
        .await;
    client
        .send(json!({"type": "command", "id": 11, "command": {"kind": "custom", "name": "nope"}}))
        .await;
    client
        .send(json!({"type": "command", "id": 12, "command": {"kind": "set_movie_prop", "prop": "title", "value": "Hi"}}))
        .await;
    assert!(
        client.barrier().await.is_empty(),
        "nothing is acked before the engine runs"
    );
    host.engine.tick();

    let mut acks = std::collections::BTreeMap::new();
    let mut events = Vec::new();
    while acks.len() < 4 || events.is_empty() {
        let m = client.json().await;
        match m["type"].as_str() {
            Some("ack") => {
                acks.insert(m["id"].as_u64().unwrap(), m);
            }
            Some("event") => events.push(m),
            _ => panic!("unexpected {m}"),
        }
    }
    assert_eq!(acks[&9]["status"], "applied");
    assert_eq!(acks[&9]["frame"], 42);
    assert_eq!(acks[&10]["result"], json!({"x": 1}));
    assert_eq!(acks[&11]["status"], "rejected");
    assert_eq!(acks[&11]["error"]["code"], "unknown_command");
    assert_eq!(acks[&12]["status"], "applied");
    assert_eq!(
        events[0]["items"][0],
        json!({"prop": "title", "value": "Hi"})
    );
    assert_eq!(events[0]["frame"], 42);
    assert_eq!(host.hub.movie_state().unwrap().frame, 42);
}

#[tokio::test]
async fn requests_are_answered() {
    let mut host = Host::start().await;
    let mut client = host.controller(json!({})).await;
    host.engine.set_movie_prop("title", "Demo");
    for (id, what) in [
        (1, "movie_state"),
        (2, "stage"),
        (3, "project"),
        (4, "stats"),
        (5, "nope"),
    ] {
        client
            .send(json!({"type": "request", "id": id, "what": what}))
            .await;
    }
    // `stats` and unknown requests are answered by the session at once; the rest at the tick.
    let answered_now = client.barrier().await;
    assert_eq!(answered_now.len(), 2, "{answered_now:?}");
    host.engine.tick();
    let mut responses = std::collections::BTreeMap::new();
    for r in answered_now {
        responses.insert(r["id"].as_u64().unwrap(), r);
    }
    while responses.len() < 5 {
        let r = client.expect("response").await;
        responses.insert(r["id"].as_u64().unwrap(), r);
    }
    assert_eq!(
        responses[&1]["data"],
        json!({"frame": 1, "frame_count": 240, "tempo": 30, "playing": true})
    );
    assert_eq!(responses[&2]["data"]["movie_props"]["title"], "Demo");
    assert_eq!(responses[&2]["data"]["seqs"]["movie_props"], 1);
    assert_eq!(responses[&3]["data"]["name"], "demo");
    assert!(responses[&4]["data"]["messages_in"].as_u64().unwrap() >= 5);
    assert_eq!(responses[&5]["ok"], false);
    assert_eq!(responses[&5]["error"]["code"], "unknown_request");
}

#[tokio::test]
async fn snapshot_then_live() {
    let mut host = Host::start().await;
    host.engine.set_movie_prop("title", "before"); // seq 1, before anyone listens
    let mut client = host
        .controller(json!({"subscribe": ["movie_props"], "snapshot": true}))
        .await;
    // The welcome is out, so the snapshot request is waiting for the engine's next tick; this
    // tick's change is flushed first and is therefore in the snapshot, not sent as an event.
    host.engine.set_movie_prop("title", "during"); // seq 2
    let snapshot = client.expect("snapshot").await;
    assert_eq!(snapshot["seqs"]["movie_props"], 2);
    assert_eq!(snapshot["movie_props"]["title"], "during");
    assert_eq!(snapshot["movie"]["frame"], 1);

    host.engine.set_movie_prop("title", "after"); // seq 3, live
    let event = client.expect("event").await;
    assert_eq!(event["stream"], "movie_props");
    assert_eq!(event["seq"], 3);
    assert!(event.get("first_seq").is_none());
    assert_eq!(event["items"][0]["value"], "after");

    // A later subscribe with a snapshot works the same way.
    client
        .send(json!({"type": "subscribe", "streams": ["sounds"], "snapshot": true}))
        .await;
    assert!(client.barrier().await.is_empty());
    host.engine.tick_with(|p, _| {
        p.record(SoundCue {
            frame: 1,
            channel: 2,
            cast_lib: 1,
            member_num: 4,
            playing: true,
        });
    });
    let snapshot = client.expect("snapshot").await;
    assert_eq!(snapshot["seqs"]["sounds"], 1);
    host.engine.tick_with(|p, _| {
        p.record(SoundCue {
            frame: 2,
            channel: 2,
            cast_lib: 1,
            member_num: 4,
            playing: false,
        });
    });
    let event = client.expect("event").await;
    assert_eq!(
        (event["stream"].as_str(), event["seq"].as_u64()),
        (Some("sounds"), Some(2))
    );
}

#[tokio::test]
async fn pixels_arrive_as_binary_tiles() {
    let mut host = Host::start().await;
    let mut client = host.controller(json!({"subscribe": ["pixels"]})).await;
    let (w, h) = (96u32, 70u32);
    let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i % 251) as u8).collect();
    host.hub.publish_pixels(1, w, h, &rgba);
    host.engine.tick();
    // 96x70 is 2x2 tiles; a first frame is a keyframe with every tile, the last one flagged.
    let mut tiles = Vec::new();
    loop {
        match client.recv().await {
            common::Incoming::Binary(tile) => {
                assert_eq!(tile[0], 0x01, "opcode");
                let flags = u16::from_le_bytes([tile[2], tile[3]]);
                tiles.push(tile);
                if flags & 0b10 != 0 {
                    break;
                }
            }
            other => panic!("expected a tile, got {other:?}"),
        }
    }
    assert_eq!(tiles.len(), 4);
    client.send(json!({"type": "pixels_ack", "frame": 1})).await;
    client.barrier().await;
}
