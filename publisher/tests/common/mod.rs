//! Shared by the integration tests: a small engine with real state ([`TestEngine`]), a client
//! mirror that applies what a session receives and checks the seq rules ([`Mirror`]), and helpers
//! that drive a [`Session`] directly — no sockets.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use serde_json::{Value, json};
use stagelink_contracts::*;
use stagelink_publisher::*;

/// A deterministic xorshift64* generator (the tests must not depend on a seed they can't print).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// A number that survives any JSON round trip exactly (a multiple of 1/4).
    pub fn exact_f64(&mut self) -> f64 {
        (self.below(4000) as f64 - 2000.0) / 4.0
    }
}

/// A tiny movie: sprites, members, movie and stage properties, plus fifo streams. Everything it
/// changes it records on the publisher, and [`SnapshotProvider`] reports its true state.
#[derive(Debug)]
pub struct TestEngine {
    pub frame: u32,
    pub frame_count: u32,
    pub playing: bool,
    pub sprites: BTreeMap<(u32, u32), SpriteDelta>,
    pub member_props: BTreeMap<(u32, u32, String), PropValue>,
    pub movie_props: BTreeMap<String, PropValue>,
    pub stage_props: BTreeMap<String, PropValue>,
    pub sounds: u64,
    pub rng: Rng,
}

impl TestEngine {
    pub fn new(seed: u64) -> Self {
        Self {
            frame: 0,
            frame_count: 240,
            playing: true,
            sprites: BTreeMap::new(),
            member_props: BTreeMap::new(),
            movie_props: BTreeMap::new(),
            stage_props: BTreeMap::new(),
            sounds: 0,
            rng: Rng::new(seed),
        }
    }

    fn full_sprite(&mut self, num: u32, begin: u32) -> SpriteDelta {
        let r = &mut self.rng;
        SpriteDelta {
            end_frame: Some(begin + 100),
            member: Some(MemberRef {
                cast_lib: 1,
                member_num: 1 + r.below(6) as u32,
            }),
            loc_h: Some(r.exact_f64()),
            loc_v: Some(r.exact_f64()),
            loc_z: Some(num as i32),
            width: Some(48.0),
            height: Some(48.0),
            rotation: Some(0.0),
            skew: Some(0.0),
            blend: Some(100),
            ink: Some(36),
            visible: Some(true),
            color: Some(Color::rgb(255, 64, 64)),
            ..SpriteDelta::new(num, begin)
        }
    }

    /// Changes a random sprite: a new span gets every field, an existing one one to three.
    pub fn change_sprite(&mut self, p: &mut Publisher, sprites: u32) {
        let num = 1 + self.rng.below(sprites.into()) as u32;
        let begin = 1 + (num % 3);
        if !self.sprites.contains_key(&(num, begin)) {
            let full = self.full_sprite(num, begin);
            self.sprites.insert((num, begin), full.clone());
            p.record(full);
            return;
        }
        let mut delta = SpriteDelta::new(num, begin);
        for _ in 0..1 + self.rng.below(3) {
            let r = &mut self.rng;
            match r.below(8) {
                0 => delta.loc_h = Some(r.exact_f64()),
                1 => delta.loc_v = Some(r.exact_f64()),
                2 => delta.rotation = Some(r.exact_f64()),
                3 => delta.blend = Some(r.below(101) as u8),
                4 => delta.visible = Some(r.chance(50)),
                5 => delta.color = Some(Color::rgb(r.next() as u8, r.next() as u8, 9)),
                6 => {
                    delta.member = Some(MemberRef {
                        cast_lib: 1,
                        member_num: 1 + r.below(6) as u32,
                    })
                }
                _ => delta.ink = Some([0, 8, 32, 36][r.below(4) as usize]),
            }
        }
        self.sprites.get_mut(&(num, begin)).unwrap().apply(&delta);
        p.record(delta);
    }

    pub fn change_member(&mut self, p: &mut Publisher) {
        let member_num = 1 + self.rng.below(6) as u32;
        let prop = ["width", "text", "loop"][self.rng.below(3) as usize].to_owned();
        let value = match prop.as_str() {
            "width" => PropValue::Int(self.rng.below(640) as i64),
            "text" => PropValue::Text(format!("text {}", self.rng.below(1000))),
            _ => PropValue::Bool(self.rng.chance(50)),
        };
        self.member_props
            .insert((1, member_num, prop.clone()), value.clone());
        p.record(MemberProp {
            cast_lib: 1,
            member_num,
            prop,
            value,
        });
    }

    pub fn change_movie_prop(&mut self, p: &mut Publisher) {
        let prop = ["name", "loop", "update_lock"][self.rng.below(3) as usize].to_owned();
        let value = match prop.as_str() {
            "name" => PropValue::Text(format!("movie {}", self.rng.below(100))),
            _ => PropValue::Bool(self.rng.chance(50)),
        };
        self.movie_props.insert(prop.clone(), value.clone());
        p.record(MovieProp { prop, value });
    }

    pub fn change_stage_prop(&mut self, p: &mut Publisher) {
        let prop = ["width", "bg_color", "title"][self.rng.below(3) as usize].to_owned();
        let value = match prop.as_str() {
            "width" => PropValue::Int(320 + self.rng.below(640) as i64),
            "bg_color" => PropValue::Color(Color::rgb(self.rng.next() as u8, 1, 2)),
            _ => PropValue::Text(format!("title {}", self.rng.below(100))),
        };
        self.stage_props.insert(prop.clone(), value.clone());
        p.record(StageProp { prop, value });
    }

    pub fn play_sound(&mut self, p: &mut Publisher) {
        self.sounds += 1;
        p.record(SoundCue {
            frame: self.frame,
            channel: 1 + (self.sounds % 4) as u32,
            cast_lib: 1,
            member_num: 4,
            playing: self.sounds & 1 == 0,
        });
    }

    pub fn stage_frame(&self) -> StageFrame {
        StageFrame {
            frame: self.frame,
            frame_count: self.frame_count,
            tempo: 30,
            playing: self.playing,
            time_ms: u64::from(self.frame) * 33,
            width: 640,
            height: 480,
        }
    }

    /// One tick: random changes on every kind of stream, then `end_tick`.
    pub fn tick(&mut self, p: &mut Publisher) -> TickReport {
        self.frame += 1;
        for _ in 0..self.rng.below(6) {
            self.change_sprite(p, 24);
        }
        for _ in 0..self.rng.below(3) {
            self.change_member(p);
        }
        if self.rng.chance(30) {
            self.change_movie_prop(p);
        }
        if self.rng.chance(20) {
            self.change_stage_prop(p);
        }
        if self.rng.chance(60) {
            self.play_sound(p);
        }
        p.record(self.stage_frame());
        let frame = self.frame;
        p.end_tick(frame, self)
    }
}

impl SnapshotProvider for TestEngine {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: self.frame_count,
            tempo: 30,
            playing: self.playing,
        }
    }

    fn stage(&self) -> StageSnapshot {
        let mut members: BTreeMap<(u32, u32), MemberInfo> = BTreeMap::new();
        for ((cast_lib, member_num, prop), value) in &self.member_props {
            members
                .entry((*cast_lib, *member_num))
                .or_insert_with(|| MemberInfo {
                    cast_lib: *cast_lib,
                    member_num: *member_num,
                    name: format!("member {member_num}"),
                    kind: "text".into(),
                    props: BTreeMap::new(),
                })
                .props
                .insert(prop.clone(), value.clone());
        }
        StageSnapshot {
            seqs: BTreeMap::new(),
            movie: Some(self.movie_state()),
            stage_props: self.stage_props.clone(),
            movie_props: self.movie_props.clone(),
            sprites: self.sprites.values().cloned().collect(),
            members: members.into_values().collect(),
        }
    }

    fn project(&self) -> serde_json::Value {
        json!({"name": "test", "frame_count": self.frame_count, "casts": [], "score": {}})
    }
}

/// A minimal engine for tests that only need a provider.
#[derive(Debug, Default)]
pub struct StillEngine {
    pub frame: u32,
}

impl SnapshotProvider for StillEngine {
    fn movie_state(&self) -> MovieState {
        MovieState {
            frame: self.frame,
            frame_count: 240,
            tempo: 30,
            playing: false,
        }
    }
    fn stage(&self) -> StageSnapshot {
        StageSnapshot {
            movie: Some(self.movie_state()),
            ..StageSnapshot::default()
        }
    }
    fn project(&self) -> serde_json::Value {
        json!({"name": "still"})
    }
}

/// What a client rebuilt from a session's messages, with the protocol's seq rules checked on
/// every message (§7.4, §9).
#[derive(Debug, Default)]
pub struct Mirror {
    pub sprites: BTreeMap<(u32, u32), SpriteDelta>,
    pub member_props: BTreeMap<(u32, u32, String), PropValue>,
    pub movie_props: BTreeMap<String, PropValue>,
    pub stage_props: BTreeMap<String, PropValue>,
    pub frames: Vec<StageFrame>,
    /// Per stream, the last seq accounted for (by an event, a gap or a snapshot).
    pub last: HashMap<String, u64>,
    pub merged_events: usize,
    pub gaps: Vec<(String, u64, u64)>,
    pub events: usize,
    pub snapshots: usize,
    /// Streams whose next event may straddle the last seq (after a `stage` response, §8).
    pub overlap_ok: std::collections::HashSet<String>,
}

impl Mirror {
    /// A mirror that expects every stream to start at seq 1 (subscribed before anything was
    /// published, no snapshot).
    pub fn from_start() -> Self {
        let mut m = Self::default();
        for s in StreamName::ALL {
            m.last.insert(s.as_str().to_owned(), 0);
        }
        m
    }

    pub fn apply_snapshot(&mut self, data: &Value) {
        let snap: StageSnapshot = serde_json::from_value(data.clone()).expect("snapshot shape");
        self.sprites = snap
            .sprites
            .into_iter()
            .map(|s| ((s.sprite_num, s.begin_frame), s))
            .collect();
        self.member_props.clear();
        for m in snap.members {
            for (prop, value) in m.props {
                self.member_props
                    .insert((m.cast_lib, m.member_num, prop), value);
            }
        }
        self.movie_props = snap.movie_props;
        self.stage_props = snap.stage_props;
        for (stream, seq) in snap.seqs {
            self.last.insert(stream, seq);
        }
        self.snapshots += 1;
    }

    /// Resynchronises from a `stage` response (§8). Unlike a snapshot, the response travels on
    /// the control lane and can overtake queued events: the caller discards events with
    /// `seq <= data.seqs[s]`, and the next event of a `latest`/`coalesce` stream may be a merged
    /// one whose `first_seq` is at or before `data.seqs[s]` (applying it again is harmless:
    /// newer values win).
    pub fn apply_stage_response(&mut self, data: &Value) {
        self.apply_snapshot(data);
        self.snapshots -= 1;
        self.overlap_ok = self.last.keys().cloned().collect();
    }

    /// Applies one server message; panics when a seq rule is broken.
    pub fn apply(&mut self, msg: &Value) {
        match msg["type"].as_str() {
            Some("snapshot") => self.apply_snapshot(msg),
            Some("gap") => {
                let stream = msg["stream"].as_str().unwrap().to_owned();
                let (from, to) = (
                    msg["from_seq"].as_u64().unwrap(),
                    msg["to_seq"].as_u64().unwrap(),
                );
                assert!(from <= to, "gap range {msg}");
                assert_eq!(
                    StreamName::parse(&stream).unwrap().policy(),
                    Policy::Fifo,
                    "gaps are for fifo streams only: {msg}"
                );
                if let Some(last) = self.last.get(&stream) {
                    assert_eq!(from, last + 1, "gap must start right after {last}: {msg}");
                }
                self.last.insert(stream.clone(), to);
                self.gaps.push((stream, from, to));
            }
            Some("event") => self.apply_event(msg),
            _ => {}
        }
    }

    fn apply_event(&mut self, msg: &Value) {
        let stream_name = msg["stream"].as_str().unwrap().to_owned();
        let stream = StreamName::parse(&stream_name).unwrap();
        let seq = msg["seq"].as_u64().unwrap();
        let first = match msg.get("first_seq") {
            Some(f) => {
                let f = f.as_u64().unwrap();
                assert_ne!(stream.policy(), Policy::Fifo, "fifo never merges: {msg}");
                assert!(f < seq, "first_seq < seq on a merged event: {msg}");
                self.merged_events += 1;
                f
            }
            None => seq,
        };
        if self.overlap_ok.remove(&stream_name) {
            let last = self.last[&stream_name];
            assert!(
                first <= last + 1 && last < seq,
                "{stream_name} after {last}: {msg}"
            );
        } else if let Some(last) = self.last.get(&stream_name) {
            assert_eq!(
                first,
                last + 1,
                "{stream_name}: expected seq {} next, got {msg}",
                last + 1
            );
        }
        self.last.insert(stream_name, seq);
        self.events += 1;
        let items = msg["items"].as_array().unwrap();
        match stream {
            StreamName::Sprites => {
                for item in items {
                    let d: SpriteDelta = serde_json::from_value(item.clone()).unwrap();
                    self.sprites
                        .entry((d.sprite_num, d.begin_frame))
                        .or_insert_with(|| SpriteDelta::new(d.sprite_num, d.begin_frame))
                        .apply(&d);
                }
            }
            StreamName::MemberProps => {
                for item in items {
                    let m: MemberProp = serde_json::from_value(item.clone()).unwrap();
                    self.member_props
                        .insert((m.cast_lib, m.member_num, m.prop), m.value);
                }
            }
            StreamName::MovieProps => {
                for item in items {
                    let m: MovieProp = serde_json::from_value(item.clone()).unwrap();
                    self.movie_props.insert(m.prop, m.value);
                }
            }
            StreamName::StageProps => {
                for item in items {
                    let m: StageProp = serde_json::from_value(item.clone()).unwrap();
                    self.stage_props.insert(m.prop, m.value);
                }
            }
            StreamName::Frames => {
                assert_eq!(items.len(), 1, "frames is `latest`: one item: {msg}");
                self.frames
                    .push(serde_json::from_value(items[0].clone()).unwrap());
            }
            _ => {}
        }
    }

    /// Asserts the coalesced state equals the engine's.
    pub fn assert_matches(&self, engine: &TestEngine, who: &str) {
        assert_eq!(self.sprites, engine.sprites, "{who}: sprites");
        assert_eq!(
            self.member_props, engine.member_props,
            "{who}: member_props"
        );
        assert_eq!(self.movie_props, engine.movie_props, "{who}: movie_props");
        assert_eq!(self.stage_props, engine.stage_props, "{who}: stage_props");
    }
}

/// Polls a future once with a no-op waker.
pub fn now_or_never<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Everything the session has ready right now (up to and including a `Close`). Needs a tokio
/// runtime (an empty outbox arms the heartbeat timer).
pub fn drain(session: &mut Session) -> Vec<Outgoing> {
    let mut out = Vec::new();
    while let Some(o) = now_or_never(session.next_outgoing()) {
        let close = matches!(o, Outgoing::Close { .. });
        out.push(o);
        if close {
            break;
        }
    }
    out
}

/// The JSON of a text message.
pub fn json(o: &Outgoing) -> Value {
    match o {
        Outgoing::Text(b) => serde_json::from_slice(b).expect("server sent invalid JSON"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Drains and parses; panics on a binary message or a close.
pub fn drain_json(session: &mut Session) -> Vec<Value> {
    drain(session)
        .iter()
        .map(|o| match o {
            Outgoing::Text(_) => json(o),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

/// A session that said `hello` (the given JSON fields are added to a minimal hello) and
/// whose `welcome` (and whatever came with it) was consumed.
pub fn connect(hub: &Hub, extra: Value) -> Session {
    let mut s = Session::new(hub, ConnectionInfo::default());
    let mut hello = json!({"type": "hello", "protocol": 1});
    if let (Some(h), Some(e)) = (hello.as_object_mut(), extra.as_object()) {
        h.extend(e.clone());
    }
    assert_eq!(
        s.handle_message(hello.to_string().as_bytes()),
        Flow::Continue
    );
    let first = json(&now_or_never(s.next_outgoing()).expect("welcome"));
    assert_eq!(first["type"], "welcome", "{first}");
    s
}

/// Sends a JSON message.
pub fn send(session: &mut Session, msg: Value) -> Flow {
    session.handle_message(msg.to_string().as_bytes())
}

/// The messages of a given type.
pub fn of_type<'a>(msgs: &'a [Value], ty: &str) -> Vec<&'a Value> {
    msgs.iter().filter(|m| m["type"] == ty).collect()
}
