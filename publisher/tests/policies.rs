//! Delivery policies under slow sessions (protocol §7): bounded memory, exact coalesced state,
//! `latest` replacement, fifo overflow reported as an exact `gap`, `first_seq` on merged events,
//! and a resync with a `stage` request after a gap.

mod common;

use common::*;
use serde_json::{Value, json};
use stagelink_contracts::*;
use stagelink_publisher::*;

const STREAMS: [&str; 6] = [
    "frames",
    "sprites",
    "member_props",
    "movie_props",
    "stage_props",
    "sounds",
];

fn hub(stream_queue: usize) -> Hub {
    Hub::new(HubConfig {
        stream_queue,
        ..HubConfig::default()
    })
}

/// One session never reads while 2,000 ticks go by, one reads every tick, one every 13 ticks.
/// Every queue stays within its configured bound; every reader's final state is exact; the
/// stalled one gets one `frames` event, merged coalesce events and one exact gap; then it
/// resyncs with a `stage` request.
#[tokio::test]
async fn slow_sessions_stay_bounded_and_end_exact() {
    const CAP: usize = 8;
    const TICKS: u32 = 2000;
    let hub = hub(CAP);
    let mut publisher = Publisher::new(hub.clone());
    let mut engine = TestEngine::new(7);
    let subscribe = json!({ "subscribe": STREAMS });
    let mut fast = connect(&hub, subscribe.clone());
    let mut stalled = connect(&hub, subscribe.clone());
    let mut lazy = connect(&hub, subscribe);
    let (mut fast_m, mut stalled_m, mut lazy_m) = (
        Mirror::from_start(),
        Mirror::from_start(),
        Mirror::from_start(),
    );
    // latest: at most 1 queued; coalesce and fifo: at most CAP each.
    let bound = 1 + (STREAMS.len() - 1) * CAP;
    let mut peak = 0;

    for t in 1..=TICKS {
        engine.tick(&mut publisher);
        for (i, queued) in hub.queued_events().into_iter().enumerate() {
            assert!(
                queued <= bound,
                "session {i} holds {queued} events > {bound} at tick {t}"
            );
            peak = peak.max(queued);
        }
        for m in drain_json(&mut fast) {
            fast_m.apply(&m);
        }
        fast_m.assert_matches(&engine, "fast");
        if t % 13 == 0 {
            for m in drain_json(&mut lazy) {
                lazy_m.apply(&m);
            }
            lazy_m.assert_matches(&engine, "lazy");
        }
    }
    assert!(peak > CAP, "the stalled session really was stalled");
    assert!(fast_m.merged_events == 0 && fast_m.gaps.is_empty());
    assert_eq!(fast_m.frames.len(), TICKS as usize);

    // The stalled session reads at last: one `frames` event standing for all of them, merged
    // coalesce events, and the fifo overflow as one exact gap before the next `sounds` event.
    let msgs = drain_json(&mut stalled);
    for m in &msgs {
        stalled_m.apply(m);
    }
    stalled_m.assert_matches(&engine, "stalled");
    let frames: Vec<&Value> = msgs.iter().filter(|m| m["stream"] == "frames").collect();
    assert_eq!(frames.len(), 1, "latest: only the newest frame is queued");
    assert_eq!(frames[0]["first_seq"], 1);
    assert_eq!(frames[0]["seq"], TICKS);
    assert_eq!(frames[0]["items"][0]["frame"], TICKS);
    assert!(stalled_m.merged_events >= 4, "coalesce merged");
    for stream in ["sprites", "member_props"] {
        let merged = msgs
            .iter()
            .find(|m| m["stream"] == stream)
            .expect("an event");
        assert_eq!(merged["first_seq"], 1, "the oldest merged seq: {merged}");
    }
    let sounds = engine.sounds;
    assert_eq!(
        stalled_m.gaps,
        vec![("sounds".to_owned(), 1, sounds - CAP as u64)]
    );
    let gap_at = msgs.iter().position(|m| m["type"] == "gap").unwrap();
    let after: Vec<&Value> = msgs[gap_at + 1..]
        .iter()
        .filter(|m| m["stream"] == "sounds")
        .collect();
    assert_eq!(after.len(), CAP);
    assert_eq!(after[0]["seq"], sounds - CAP as u64 + 1, "gap right before");
    assert!(
        msgs[..gap_at].iter().all(|m| m["stream"] != "sounds"),
        "nothing of `sounds` before its gap"
    );
    let stats = hub.session_stats();
    assert_eq!(stats[1].1["drops"], sounds - CAP as u64);
    assert_eq!(stats[1].1["gaps"], 1);

    // The client answers the gap with a `stage` request. Responses overtake queued events, so
    // it buffers events, applies `data`, drops events with seq <= data.seqs, applies the rest.
    send(
        &mut stalled,
        json!({"type":"request","id":1,"what":"stage"}),
    );
    for _ in 0..3 {
        engine.tick(&mut publisher);
    }
    let msgs = drain_json(&mut stalled);
    let response = msgs
        .iter()
        .find(|m| m["type"] == "response" && m["id"] == 1)
        .expect("stage response");
    assert_eq!(response["ok"], true);
    let mut resynced = Mirror::default();
    resynced.apply_stage_response(&response["data"]);
    let mut skipped = 0;
    for m in &msgs {
        if m["type"] == "event" {
            let seqs = &response["data"]["seqs"];
            if m["seq"].as_u64() <= seqs[m["stream"].as_str().unwrap()].as_u64() {
                skipped += 1;
                continue;
            }
        }
        resynced.apply(m);
    }
    assert!(
        skipped > 0,
        "the response overtook the tick it was answered in"
    );
    resynced.assert_matches(&engine, "resynced");
}

/// `latest`: a stalled session holds one event per stream, which stands for every seq it
/// replaced (`first_seq`).
#[tokio::test]
async fn latest_replaces_older_unsent_events() {
    let hub = hub(64);
    let mut publisher = Publisher::new(hub.clone());
    let engine = StillEngine::default();
    let mut s = connect(&hub, json!({"subscribe": ["frames", "palettes"]}));
    for frame in 1..=100u32 {
        publisher.record(StageFrame {
            frame,
            frame_count: 240,
            tempo: 30,
            playing: true,
            time_ms: 0,
            width: 640,
            height: 480,
        });
        publisher.record(Palette {
            frame,
            colors: vec![Color::rgb(frame as u8, 0, 0); 4],
        });
        publisher.end_tick(frame, &engine);
        assert_eq!(hub.queued_events(), vec![2]);
    }
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    for m in &msgs {
        assert_eq!(m["seq"], 100);
        assert_eq!(m["first_seq"], 1);
        assert_eq!(m["frame"], 100);
        assert_eq!(m["items"].as_array().unwrap().len(), 1);
        assert_eq!(m["items"][0]["frame"], 100);
    }
    // Read promptly, nothing is merged.
    publisher.record(StageFrame {
        frame: 101,
        frame_count: 240,
        tempo: 30,
        playing: true,
        time_ms: 0,
        width: 640,
        height: 480,
    });
    publisher.end_tick(101, &engine);
    let msgs = drain_json(&mut s);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["seq"], 101);
    assert!(msgs[0].get("first_seq").is_none());
}

/// `coalesce`: when the queue is full, its oldest events fold into one merged event, key by key,
/// newer fields winning, with `first_seq` = the oldest merged seq and `seq`/`frame` those of the
/// newest event folded in; the merged state takes one slot of the queue, the newer events follow.
#[tokio::test]
async fn coalesce_merges_by_key_with_first_seq() {
    let hub = hub(2);
    let mut publisher = Publisher::new(hub.clone());
    let engine = StillEngine::default();
    let mut s = connect(&hub, json!({"subscribe": ["sprites"]}));
    publisher.record(SpriteDelta {
        loc_h: Some(1.0),
        blend: Some(10),
        ..SpriteDelta::new(1, 1)
    });
    publisher.end_tick(1, &engine);
    publisher.record(SpriteDelta {
        loc_h: Some(2.0),
        ..SpriteDelta::new(2, 5)
    });
    publisher.end_tick(2, &engine);
    assert_eq!(hub.queued_events(), vec![2]);
    publisher.record(SpriteDelta {
        loc_v: Some(3.5),
        blend: Some(30),
        ..SpriteDelta::new(1, 1)
    });
    publisher.end_tick(3, &engine);
    assert_eq!(
        hub.queued_events(),
        vec![2],
        "merged state + the newest event"
    );
    publisher.record(SpriteDelta {
        loc_h: Some(4.25),
        ..SpriteDelta::new(2, 5)
    });
    publisher.end_tick(4, &engine);
    assert_eq!(hub.queued_events(), vec![2], "still bounded");
    let msgs = drain_json(&mut s);
    assert_eq!(
        msgs,
        vec![
            json!({
                "type": "event", "stream": "sprites", "seq": 3, "first_seq": 1, "frame": 3,
                "items": [
                    {"sprite_num": 1, "begin_frame": 1, "loc_h": 1.0, "blend": 30, "loc_v": 3.5},
                    {"sprite_num": 2, "begin_frame": 5, "loc_h": 2.0}
                ]
            }),
            json!({
                "type": "event", "stream": "sprites", "seq": 4, "frame": 4,
                "items": [{"sprite_num": 2, "begin_frame": 5, "loc_h": 4.25}]
            })
        ]
    );

    // Within one tick the publisher already coalesces: a thousand writes, one item.
    for i in 0..1000 {
        publisher.record(MemberProp {
            cast_lib: 1,
            member_num: 2,
            prop: "text".into(),
            value: PropValue::Int(i),
        });
    }
    let report = publisher.end_tick(4, &engine);
    assert_eq!(report.events, 1);
}

/// `fifo`: the oldest unsent events are dropped, and one `gap` with the exact inclusive range
/// goes out right before the next event of the stream; `stats` counts drops and gaps.
#[tokio::test]
async fn fifo_overflow_reports_the_exact_gap() {
    let hub = hub(4);
    let mut publisher = Publisher::new(hub.clone());
    let engine = StillEngine::default();
    let mut s = connect(&hub, json!({"subscribe": ["sounds", "tempos"]}));
    let mut tick = 0u32;
    let mut sound = |publisher: &mut Publisher, n: u32| {
        for _ in 0..n {
            tick += 1;
            publisher.record(SoundCue {
                frame: tick,
                channel: 1,
                cast_lib: 1,
                member_num: 4,
                playing: true,
            });
            if tick.is_multiple_of(5) {
                publisher.record(TempoChange {
                    frame: tick,
                    tempo: tick,
                });
            }
            publisher.end_tick(tick, &engine);
        }
    };
    sound(&mut publisher, 10);
    assert_eq!(hub.queued_events(), vec![4 + 2]);
    let msgs = drain_json(&mut s);
    let sounds: Vec<Value> = msgs
        .iter()
        .filter(|m| m["stream"] == "sounds")
        .cloned()
        .collect();
    assert_eq!(
        sounds[0],
        json!({"type":"gap","stream":"sounds","from_seq":1,"to_seq":6})
    );
    let seqs: Vec<u64> = sounds[1..]
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [7, 8, 9, 10]);
    assert_eq!(of_type(&msgs, "event").len(), 4 + 2, "tempos untouched");

    sound(&mut publisher, 3);
    let msgs = drain_json(&mut s);
    assert!(of_type(&msgs, "gap").is_empty());
    sound(&mut publisher, 6);
    let msgs = drain_json(&mut s);
    let sounds: Vec<&Value> = msgs.iter().filter(|m| m["stream"] == "sounds").collect();
    assert_eq!(
        *sounds[0],
        json!({"type":"gap","stream":"sounds","from_seq":14,"to_seq":15})
    );
    assert_eq!(sounds[1]["seq"], 16);

    send(&mut s, json!({"type":"request","id":9,"what":"stats"}));
    let stats = drain_json(&mut s).remove(0);
    assert_eq!(stats["id"], 9);
    assert_eq!(stats["data"]["drops"], 8);
    assert_eq!(stats["data"]["gaps"], 2);
    assert_eq!(stats["data"]["per_stream"]["sounds"]["drops"], 8);
    assert_eq!(stats["data"]["per_stream"]["sounds"]["gaps"], 2);
    assert_eq!(stats["data"]["per_stream"]["tempos"]["drops"], 0);
    let metrics = hub.stats().prometheus("stagelink", hub.session_count());
    assert!(metrics.contains("stagelink_drops_total{stream=\"sounds\"} 8"));
    assert!(metrics.contains("stagelink_gaps_total{stream=\"sounds\"} 2"));
}

/// Unsubscribing discards the stream's queued events (and a pending gap) at once.
#[tokio::test]
async fn unsubscribe_discards_queued_events() {
    let hub = hub(2);
    let mut publisher = Publisher::new(hub.clone());
    let engine = StillEngine::default();
    let mut s = connect(&hub, json!({"subscribe": ["sounds", "movie_props"]}));
    for frame in 1..=5 {
        publisher.record(SoundCue {
            frame,
            channel: 1,
            cast_lib: 1,
            member_num: 4,
            playing: true,
        });
        publisher.record(MovieProp {
            prop: "loop".into(),
            value: (frame % 2 == 0).into(),
        });
        publisher.end_tick(frame, &engine);
    }
    send(&mut s, json!({"type":"unsubscribe","streams":["sounds"]}));
    let msgs = drain_json(&mut s);
    assert!(
        msgs.iter().all(|m| m["stream"] == "movie_props"),
        "{msgs:?}"
    );
    assert!(of_type(&msgs, "gap").is_empty());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// "However slowly a client reads, its final state is exact" (§7.2) — for any float: the
    /// merge of a slow session's queued events must not perturb the numbers it re-encodes.
    #[test]
    fn merged_events_carry_the_exact_floats(
        values in proptest::collection::vec(proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO, 3..12),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let _rt = rt.enter();
        let hub = hub(1);
        let mut publisher = Publisher::new(hub.clone());
        let mut s = connect(&hub, json!({"subscribe": ["sprites", "frames"]}));
        let mut truth = SpriteDelta::new(1, 1);
        for (i, v) in values.iter().enumerate() {
            let d = SpriteDelta {
                loc_h: (i % 2 == 0).then_some(*v),
                rotation: (i % 2 == 1).then_some(-*v),
                ..SpriteDelta::new(1, 1)
            };
            truth.apply(&d);
            publisher.record(d);
            publisher.end_tick(i as u32 + 1, &StillEngine::default());
        }
        let out = drain(&mut s);
        proptest::prop_assert_eq!(out.len(), 1);
        let Outgoing::Text(bytes) = &out[0] else { panic!("{out:?}") };
        let text = std::str::from_utf8(bytes).unwrap();
        proptest::prop_assert!(text.contains("\"first_seq\":1,"), "{}", text);
        // Read the numbers off the wire with std's correctly rounded parser, so that only the
        // server's re-encoding is under test.
        proptest::prop_assert_eq!(number_after(text, "loc_h"), truth.loc_h);
        proptest::prop_assert_eq!(number_after(text, "rotation"), truth.rotation);
    }
}

fn number_after(text: &str, key: &str) -> Option<f64> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let end = text[at..]
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .map_or(text.len(), |e| at + e);
    Some(text[at..end].parse().expect("a JSON number"))
}
