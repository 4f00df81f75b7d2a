//! The engine-facing [`Publisher`]: record changes during a tick (in memory, never blocking),
//! then [`Publisher::end_tick`] encodes each stream's items once and fans the bytes out.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use bytes::Bytes;
use stagelink_contracts::{
    FilmLoop, FrameScript, Keyframe, MemberProp, MovieProp, MovieState, Palette, Policy, SoundCue,
    SpriteDelta, SpriteEvent, StageFrame, StageProp, StageSnapshot, StreamItem, StreamName,
    TempoChange, TextStyle, Transition, encode_event,
};

use crate::engine_link::{EngineLink, PendingCommand, PendingRequest, RequestKind};
use crate::hub::Hub;

/// What the engine exposes so the hub can answer requests and snapshots without knowing the
/// engine's types. Called on the engine's thread at the tick boundary, so answers are
/// consistent with the events already flushed.
pub trait SnapshotProvider {
    /// `movie_state`.
    fn movie_state(&self) -> MovieState;
    /// `stage`: everything needed to draw and inspect the current frame. `seqs` is filled in by
    /// the publisher.
    fn stage(&self) -> StageSnapshot;
    /// `project`: the whole movie document.
    fn project(&self) -> serde_json::Value;
}

/// The hasher of the per-tick coalescing index: FxHash (as in `rustc-hash`), a multiply and a
/// rotate per word. `record` is the engine's hot path and SipHash was a third of its cost; the
/// keys are the engine's own (property names, sprite and member numbers) and live one tick, so
/// SipHash's flooding resistance buys nothing here.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i.into());
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i.into());
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One stream's items for the current tick, coalesced by the stream's policy.
#[derive(Debug)]
pub struct TickBuffer<T: StreamItem> {
    items: Vec<T>,
    index: HashMap<T::Key, usize, BuildHasherDefault<KeyHasher>>,
}

impl<T: StreamItem> Default for TickBuffer<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::default(),
        }
    }
}

impl<T: StreamItem> TickBuffer<T> {
    fn record(&mut self, item: T) {
        match T::STREAM.policy() {
            Policy::Latest => {
                self.items.clear();
                self.items.push(item);
            }
            Policy::Fifo => self.items.push(item),
            // One `key()` per record (a hit used to build it once, a miss twice).
            Policy::Coalesce => match self.index.entry(item.key()) {
                Entry::Occupied(at) => self.items[*at.get()].merge(item),
                Entry::Vacant(slot) => {
                    slot.insert(self.items.len());
                    self.items.push(item);
                }
            },
        }
    }

    fn take_encoded(&mut self, hub: &Hub, frame: u32) -> Option<(u64, Bytes)> {
        if self.items.is_empty() {
            return None;
        }
        let seq = hub.next_seq(T::STREAM);
        let bytes = encode_event(T::STREAM, seq, None, frame, &self.items);
        self.items.clear();
        self.index.clear();
        Some((seq, bytes))
    }
}

/// An item the [`Publisher`] can record: ties each DTO to its buffer.
pub trait Recordable: StreamItem {
    #[doc(hidden)]
    fn buffer(buffers: &mut TickBuffers) -> &mut TickBuffer<Self>;
}

macro_rules! buffers {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The current tick's items, one buffer per stream.
        #[derive(Debug, Default)]
        pub struct TickBuffers { $($field: TickBuffer<$ty>,)* }

        $(impl Recordable for $ty {
            fn buffer(buffers: &mut TickBuffers) -> &mut TickBuffer<Self> { &mut buffers.$field }
        })*

        impl TickBuffers {
            fn flush(&mut self, hub: &Hub, frame: u32, out: &mut Vec<(StreamName, u64, Bytes)>) {
                $(if let Some((seq, bytes)) = self.$field.take_encoded(hub, frame) {
                    out.push((<$ty as StreamItem>::STREAM, seq, bytes));
                })*
            }
        }
    };
}

buffers! {
    frames: StageFrame,
    sprites: SpriteDelta,
    sprite_events: SpriteEvent,
    member_props: MemberProp,
    movie_props: MovieProp,
    stage_props: StageProp,
    keyframes: Keyframe,
    film_loops: FilmLoop,
    sounds: SoundCue,
    tempos: TempoChange,
    palettes: Palette,
    frame_scripts: FrameScript,
    transitions: Transition,
    text_styles: TextStyle,
}

/// What one [`Publisher::end_tick`] did.
#[derive(Debug, Clone, Default)]
pub struct TickReport {
    /// Events flushed (one per stream that changed).
    pub events: usize,
    /// Bytes encoded (once, whatever the number of sessions).
    pub bytes: usize,
    /// Requests answered at this boundary.
    pub requests: usize,
}

/// The engine's handle. Owned by the engine thread; everything it does is in memory.
#[derive(Debug)]
pub struct Publisher {
    hub: Hub,
    buffers: TickBuffers,
    link: EngineLink,
    flushed: Vec<(StreamName, u64, Bytes)>,
    tick_started: Option<Instant>,
}

impl Publisher {
    /// A publisher for `hub`.
    ///
    /// # Panics
    /// If the hub's engine link was already taken (one engine per hub).
    pub fn new(hub: Hub) -> Self {
        let link = hub
            .take_engine_link()
            .expect("a hub has exactly one engine: its engine link was already taken");
        Self {
            hub,
            buffers: TickBuffers::default(),
            link,
            flushed: Vec::new(),
            tick_started: None,
        }
    }

    /// The hub this publisher feeds.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Records one change. Coalesces within the tick by the stream's key: a thousand writes to
    /// one property become one item with the last value.
    #[inline]
    pub fn record<T: Recordable>(&mut self, item: T) {
        if self.tick_started.is_none() {
            self.tick_started = Some(Instant::now());
        }
        T::buffer(&mut self.buffers).record(item);
    }

    /// Takes the commands waiting since the last call. The engine applies each at the start of
    /// its tick and answers it (`applied`/`rejected`); every one is acked exactly once.
    pub fn drain_commands(&mut self) -> Vec<PendingCommand> {
        if self.tick_started.is_none() {
            self.tick_started = Some(Instant::now());
        }
        self.link.drain_commands()
    }

    /// Ends the tick: encodes each changed stream once, fans the bytes out to every subscribed
    /// session, then answers requests and snapshots through `provider` — after the flush, so
    /// their seqs match exactly what was sent.
    pub fn end_tick(&mut self, frame: u32, provider: &dyn SnapshotProvider) -> TickReport {
        let mut report = TickReport::default();
        self.flushed.clear();
        self.buffers.flush(&self.hub, frame, &mut self.flushed);
        for (_, _, bytes) in &self.flushed {
            report.events += 1;
            report.bytes += bytes.len();
        }
        self.hub.fan_out_tick(frame, &self.flushed);
        let requests = self.link.drain_requests();
        if !requests.is_empty() {
            report.requests = requests.len();
            self.answer(requests, provider);
        }
        self.hub.set_movie_state(provider.movie_state());
        if let Some(start) = self.tick_started.take() {
            self.hub
                .stats()
                .record_tick(start.elapsed().as_micros() as u64);
        }
        report
    }

    fn answer(&self, requests: Vec<PendingRequest>, provider: &dyn SnapshotProvider) {
        let mut stage: Option<StageSnapshot> = None;
        for request in requests {
            match request.kind {
                RequestKind::MovieState => {
                    let data = serde_json::to_value(provider.movie_state()).unwrap_or_default();
                    request.answer_json(data);
                }
                RequestKind::Project => request.answer_json(provider.project()),
                RequestKind::Stage | RequestKind::Snapshot { .. } => {
                    let snapshot = stage.get_or_insert_with(|| {
                        let mut s = provider.stage();
                        let seqs = self.hub.seqs();
                        // Every event stream; `pixels` carries no seq (protocol §5.6, §6.2).
                        s.seqs = StreamName::ALL
                            .iter()
                            .filter(|n| **n != StreamName::Pixels)
                            .map(|n| (n.as_str().to_owned(), seqs[n.index()]))
                            .collect();
                        s
                    });
                    request.answer_snapshot(snapshot);
                }
            }
        }
    }
}
