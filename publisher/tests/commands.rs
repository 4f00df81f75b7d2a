//! The command lane (protocol §10): every command gets exactly one ack — applied, rejected
//! (by the engine, by dropping it, `forbidden`, malformed) or `busy` when the lane is full.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use serde_json::{Value, json};
use stagelink_contracts::*;
use stagelink_publisher::*;

/// What the test expects for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Applied(u32),
    Rejected(&'static str),
}

#[tokio::test]
async fn every_command_is_acked_exactly_once_under_load() {
    let hub = Hub::new(HubConfig {
        command_lane: 48,
        rate_limit_per_sec: u32::MAX,
        ..HubConfig::default()
    });
    let mut publisher = Publisher::new(hub.clone());
    let mut rng = Rng::new(42);
    let controllers = 4;
    let mut sessions: Vec<Session> = (0..controllers)
        .map(|_| connect(&hub, json!({"role": "controller"})))
        .collect();
    sessions.push(connect(&hub, json!({"role": "observer"})));
    let observer = controllers;
    let ids: Vec<u64> = sessions.iter().map(Session::id).collect();
    // Per session: command id -> what it must be acked with (`None`: busy or engine's choice).
    let mut sent: Vec<Vec<u64>> = vec![Vec::new(); sessions.len()];
    let mut expected: Vec<HashMap<u64, Fate>> = vec![HashMap::new(); sessions.len()];
    let mut engine_saw: HashSet<(u64, u64)> = HashSet::new();
    let mut acks: Vec<HashMap<u64, Vec<Value>>> = vec![HashMap::new(); sessions.len()];
    let mut errors_with_ids = Vec::new();
    let mut read = |i: usize, s: &mut Session, acks: &mut Vec<HashMap<u64, Vec<Value>>>| {
        for m in drain_json(s) {
            match m["type"].as_str() {
                Some("ack") => acks[i]
                    .entry(m["id"].as_u64().unwrap())
                    .or_default()
                    .push(m),
                Some("error") if m.get("id").is_some() => errors_with_ids.push(m),
                _ => panic!("unexpected {m}"),
            }
        }
    };

    let mut frame = 0;
    for round in 0..250u32 {
        for (i, s) in sessions.iter_mut().enumerate() {
            let n = if i == observer { 2 } else { rng.below(24) };
            for _ in 0..n {
                let id = (round as u64) << 20 | sent[i].len() as u64;
                sent[i].push(id);
                if i == observer {
                    expected[i].insert(id, Fate::Rejected("forbidden"));
                    send(
                        s,
                        json!({"type":"command","id":id,"command":{"kind":"pause"}}),
                    );
                } else if rng.chance(4) {
                    expected[i].insert(id, Fate::Rejected("missing_field"));
                    send(
                        s,
                        json!({"type":"command","id":id,"command":{"kind":"go_to_frame"}}),
                    );
                } else {
                    let cmd = json!({"type":"command","id":id,
                        "command":{"kind":"go_to_frame","frame": 1 + rng.below(240)}});
                    send(s, cmd);
                }
            }
            if rng.chance(50) {
                read(i, s, &mut acks);
            }
        }
        // The engine sometimes skips a tick, so the lane fills up and commands are `busy`.
        if rng.chance(70) {
            frame += 1;
            for c in publisher.drain_commands() {
                let who = c.session_id().expect("session alive");
                let i = ids.iter().position(|x| *x == who).unwrap();
                assert!(
                    engine_saw.insert((who, c.id)),
                    "the engine got a command twice"
                );
                assert!(matches!(c.command, Command::GoToFrame { .. }));
                match c.id % 3 {
                    0 => {
                        expected[i].insert(c.id, Fate::Applied(frame));
                        let echo = json!({"echo": c.id});
                        c.applied(frame, Some(echo));
                    }
                    1 => {
                        expected[i].insert(c.id, Fate::Rejected("unknown_sprite"));
                        c.rejected(ErrorCode::UnknownSprite, "no sprite in channel 99");
                    }
                    _ => {
                        // Dropped unanswered: the hub answers `rejected`/`internal`.
                        expected[i].insert(c.id, Fate::Rejected("internal"));
                        drop(c);
                    }
                }
            }
            publisher.end_tick(frame, &StillEngine { frame });
        }
    }
    for c in publisher.drain_commands() {
        let i = ids.iter().position(|x| Some(*x) == c.session_id()).unwrap();
        expected[i].insert(c.id, Fate::Applied(frame));
        let echo = json!({"echo": c.id});
        c.applied(frame, Some(echo));
    }
    for (i, s) in sessions.iter_mut().enumerate() {
        read(i, s, &mut acks);
    }

    let (mut total, mut busy) = (0, 0);
    for i in 0..sessions.len() {
        assert_eq!(acks[i].len(), sent[i].len(), "session {i}: one ack per id");
        for id in &sent[i] {
            total += 1;
            let got = &acks[i][id];
            assert_eq!(got.len(), 1, "session {i} id {id}: {got:?}");
            let ack = &got[0];
            match (ack["status"].as_str().unwrap(), expected[i].get(id)) {
                ("busy", None) => {
                    busy += 1;
                    assert_eq!(ack["error"]["code"], "busy");
                    assert!(!engine_saw.contains(&(ids[i], *id)));
                }
                ("applied", Some(Fate::Applied(f))) => {
                    assert_eq!(ack["frame"], *f);
                    assert_eq!(ack["result"]["echo"], *id);
                }
                ("rejected", Some(Fate::Rejected(code))) => {
                    assert_eq!(ack["error"]["code"], *code, "{ack}");
                }
                (status, fate) => panic!("session {i} id {id}: {status} but expected {fate:?}"),
            }
        }
    }
    assert!(total > 5000, "{total} commands");
    assert!(busy > 50, "the lane filled up: {busy} busy");
    assert!(
        errors_with_ids.is_empty(),
        "acked commands also got errors: {errors_with_ids:?}"
    );
    let c = &hub.stats().commands;
    let sum: u64 = c
        .iter()
        .map(|a| a.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    assert_eq!(sum, total, "hub counters: one per ack");
}

#[tokio::test]
async fn a_full_lane_answers_busy_at_once() {
    let hub = Hub::new(HubConfig {
        command_lane: 2,
        ..HubConfig::default()
    });
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"role": "controller"}));
    for id in 1..=5 {
        send(
            &mut s,
            json!({"type":"command","id":id,"command":{"kind":"rewind"}}),
        );
    }
    let msgs = drain_json(&mut s);
    assert_eq!(
        msgs,
        (3..=5)
            .map(|id| json!({"type":"ack","id":id,"status":"busy",
                "error":{"code":"busy","message":"command queue full"}}))
            .collect::<Vec<_>>()
    );
    let commands = publisher.drain_commands();
    assert_eq!(commands.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2]);
    for c in commands {
        c.applied(1, None);
    }
    let msgs = drain_json(&mut s);
    assert_eq!(
        msgs[0],
        json!({"type":"ack","id":1,"status":"applied","frame":1})
    );
    assert_eq!(msgs[1]["id"], 2);
    // The lane has room again.
    send(
        &mut s,
        json!({"type":"command","id":6,"command":{"kind":"pause"}}),
    );
    assert!(drain_json(&mut s).is_empty());
    assert_eq!(publisher.drain_commands().len(), 1);
    assert_eq!(
        drain_json(&mut s)[0]["error"]["code"],
        "internal",
        "dropped above"
    );
    send(&mut s, json!({"type":"request","id":1,"what":"stats"}));
    let stats = &drain_json(&mut s)[0]["data"]["commands"];
    assert_eq!(*stats, json!({"applied": 2, "rejected": 1, "busy": 3}));
}

#[tokio::test]
async fn observers_are_forbidden_and_never_reach_the_engine() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"role": "observer"}));
    send(
        &mut s,
        json!({"type":"command","id":27,"command":{"kind":"pause"}}),
    );
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["status"], "rejected");
    assert_eq!(msgs[0]["error"]["code"], "forbidden");
    assert!(publisher.drain_commands().is_empty());
}

/// A `command` whose inner command is malformed but whose id is readable gets exactly one
/// message: a `rejected` ack with `missing_field`/`invalid_field` (§10, §18.4).
#[tokio::test]
async fn malformed_commands_with_a_readable_id_get_a_rejected_ack() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"role": "controller"}));
    let cases = [
        (json!({"kind":"go_to_frame"}), "missing_field"),
        (json!({"kind":"go_to_frame","frame":"x"}), "invalid_field"),
        (json!({"kind":"step","delta":1.5}), "invalid_field"),
        (
            json!({"kind":"set_sprite_prop","sprite_num":1,"begin_frame":1,"prop":"loc_h","value":null}),
            "invalid_field",
        ),
        (
            json!({"kind":"batch","commands":[{"kind":"pause"},{"kind":"go_to_frame"}]}),
            "missing_field",
        ),
        (json!("pause"), "invalid_field"),
    ];
    for (i, (command, code)) in cases.iter().enumerate() {
        send(
            &mut s,
            json!({"type":"command","id":100 + i,"command":command}),
        );
        let msgs = drain_json(&mut s);
        assert_eq!(msgs.len(), 1, "{command}: {msgs:?}");
        assert_eq!(msgs[0]["type"], "ack");
        assert_eq!(msgs[0]["id"], 100 + i);
        assert_eq!(msgs[0]["status"], "rejected");
        assert_eq!(msgs[0]["error"]["code"], *code, "{command}: {}", msgs[0]);
    }
    // Without the `command` field at all, the id is still readable.
    send(&mut s, json!({"type":"command","id":200}));
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["error"]["code"], "missing_field");
    assert_eq!(msgs[0]["id"], 200);
    // Without a readable id there is nothing to ack: a plain error.
    send(
        &mut s,
        json!({"type":"command","id":"x","command":{"kind":"pause"}}),
    );
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["type"], "error");
    assert_eq!(msgs[0]["code"], "invalid_field");
    assert!(publisher.drain_commands().is_empty());
}

#[tokio::test]
async fn without_an_engine_commands_are_rejected_internal() {
    let hub = Hub::new(HubConfig::default());
    let publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"role": "controller"}));
    send(
        &mut s,
        json!({"type":"command","id":1,"command":{"kind":"pause"}}),
    );
    assert!(drain_json(&mut s).is_empty(), "queued for the engine");
    drop(publisher); // the engine goes away with a command on the lane
    send(
        &mut s,
        json!({"type":"command","id":2,"command":{"kind":"pause"}}),
    );
    let msgs = drain_json(&mut s);
    let codes: Vec<(u64, &str)> = msgs
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().unwrap(),
                m["error"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(codes, [(1, "internal"), (2, "internal")]);
}

/// A command answered after its session left is simply dropped, without panicking.
#[tokio::test]
async fn answers_for_a_closed_session_go_nowhere() {
    let hub = Hub::new(HubConfig::default());
    let mut publisher = Publisher::new(hub.clone());
    let mut s = connect(&hub, json!({"role": "controller"}));
    send(
        &mut s,
        json!({"type":"command","id":1,"command":{"kind":"pause"}}),
    );
    send(
        &mut s,
        json!({"type":"command","id":2,"command":{"kind":"pause"}}),
    );
    drop(s);
    let mut commands = publisher.drain_commands().into_iter();
    assert_eq!(commands.next().unwrap().session_id(), None);
    commands.next().unwrap().applied(1, None);
    drop(commands);
    assert_eq!(hub.session_count(), 0);
}
