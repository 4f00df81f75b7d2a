//! Direct writes over WebSocket: the publishing thread writes a caught-up client's ticks to
//! the socket itself; a client's WebSocket ping turns that off for its connection; a client
//! that stops reading still gets everything, in order, once it reads again.

mod common;

use std::sync::atomic::Ordering::Relaxed;

use common::{Client, Host, hub_config};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use stagelink_contracts::SoundCue;
use stagelink_publisher::HubConfig;
use tokio_tungstenite::tungstenite::Message;

/// Ticks `ticks` times, each publishing one `sounds` event of `per_tick` cues (channels
/// numbered from `first`).
fn tick_sounds(host: &mut Host, first: u32, ticks: u32, per_tick: u32) {
    for t in 0..ticks {
        host.engine.tick_with(|p, s| {
            s.frame += 1;
            for i in 0..per_tick {
                p.record(SoundCue {
                    frame: s.frame,
                    channel: first + t * per_tick + i,
                    cast_lib: 1,
                    member_num: 4,
                    playing: true,
                });
            }
        });
    }
}

/// Reads `sounds` events until `count` cues came from channel `first` on, checking that their
/// seqs follow each other and the cues come in order; returns the last seq.
async fn expect_sounds(client: &mut Client, first: u32, count: u32) -> u64 {
    let mut next = first;
    let mut last_seq: Option<u64> = None;
    while next < first + count {
        let event = client.expect("event").await;
        assert_eq!(event["stream"], "sounds", "{event}");
        let seq = event["seq"].as_u64().unwrap();
        if let Some(last) = last_seq {
            assert_eq!(seq, last + 1, "no hole, no repeat");
        }
        last_seq = Some(seq);
        for item in event["items"].as_array().unwrap() {
            assert_eq!(item["channel"], next, "cues in order");
            next += 1;
        }
    }
    last_seq.unwrap()
}

fn direct_writes(host: &Host) -> u64 {
    host.hub.stats().direct_writes.load(Relaxed)
}

#[tokio::test]
async fn a_caught_up_client_gets_its_ticks_written_directly_in_order() {
    let mut host = Host::start().await;
    let mut client = host.controller(json!({"subscribe": ["sounds"]})).await;
    tick_sounds(&mut host, 0, 50, 3);
    expect_sounds(&mut client, 0, 150).await;
    assert!(direct_writes(&host) > 0, "some ticks went out directly");
    // The connection is still a plain WebSocket: requests and commands work as ever.
    assert!(client.barrier().await.is_empty());
}

#[tokio::test]
async fn a_websocket_ping_from_the_client_turns_direct_writes_off() {
    let mut host = Host::start().await;
    let mut client = host.controller(json!({"subscribe": ["sounds"]})).await;
    tick_sounds(&mut host, 0, 5, 1);
    expect_sounds(&mut client, 0, 5).await;
    client
        .ws
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    loop {
        match client.ws.next().await.unwrap().unwrap() {
            Message::Pong(data) => {
                assert_eq!(&data[..], b"are you there");
                break;
            }
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                panic!("unexpected {v}");
            }
            _ => {}
        }
    }
    let before = direct_writes(&host);
    tick_sounds(&mut host, 5, 20, 1);
    expect_sounds(&mut client, 5, 20).await;
    assert_eq!(direct_writes(&host), before, "none after the ping");
}

#[tokio::test]
async fn a_client_that_stops_reading_gets_everything_in_order_afterwards() {
    // Room for every event of the test in the session's queue: nothing may be dropped.
    let mut host = Host::start_hub(HubConfig {
        stream_queue: 10_000,
        ..hub_config()
    })
    .await;
    let mut client = host.controller(json!({"subscribe": ["sounds"]})).await;
    tick_sounds(&mut host, 0, 3, 1);
    let seq = expect_sounds(&mut client, 0, 3).await;
    // About 16 MB while the client reads nothing: far more than the sockets' buffers hold, so
    // the queue takes over from direct writes.
    tick_sounds(&mut host, 3, 400, 400);
    let last = expect_sounds(&mut client, 3, 160_000).await;
    assert_eq!(last, seq + 400);
    // Caught up again: back to direct writes.
    let before = direct_writes(&host);
    tick_sounds(&mut host, 160_003, 1, 1);
    expect_sounds(&mut client, 160_003, 1).await;
    common::wait_for(|| direct_writes(&host) > before).await;
}
