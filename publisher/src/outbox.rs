//! A session's outbox: a control lane that always goes first, then one bounded queue per
//! stream with that stream's policy, then pixel tiles under flow control.
//!
//! Events arrive as one [`SharedEvent`] per flush (the bytes encoded once, shared by every
//! session). What a slow session costs the publishing thread is constant per event and never
//! a parse or an encode of its own:
//!
//! - `latest`: the older unsent event is replaced (a reference moves); the replacement is
//!   re-encoded with its `first_seq` only when it is sent, by the session's own transport task.
//! - `fifo`: the oldest unsent event is dropped (a reference moves) and the gap widened.
//! - `coalesce`: when the queue is full, its oldest event is folded into the session's merged
//!   state for that stream: a map from item key to fields, the values' JSON text copied as is.
//!   The event's items are split into keyed fields once per event for the whole hub (the first
//!   session that needs it pays), so each further stalled session costs a map lookup and a few
//!   short copies per item. The merged event is written out when it is sent, on
//!   the session's task. Memory stays bounded by the distinct keys (protocol §7.2).

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::value::RawValue;
use stagelink_contracts::{Gap, Policy, STREAM_COUNT, ServerMessage, StreamName, encode_event_raw};

use crate::direct::DirectWrite;
use crate::pixels::{PixelCursor, PixelStore};
use std::sync::Arc;

use crate::stats::{HubStats, SessionStats};

/// What a transport must send next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A JSON text message.
    Text(Bytes),
    /// A binary message (pixel tile).
    Binary(Bytes),
    /// Close the connection with this code and reason, after sending everything before it.
    Close { code: u16, reason: String },
    /// The rest of a message the publishing thread began writing directly, already framed by
    /// the transport's own [`DirectWrite`]: write it as is, before anything
    /// else. Only transports that offered a writer get it.
    Raw(Bytes),
}

/// One published event, shared by every session it is queued for.
#[derive(Debug)]
pub struct SharedEvent {
    bytes: Bytes,
    /// The items split into keyed fields, for `coalesce` merging: computed at most once, the
    /// first time a session's queue overflows with this event in it. `None`: not an event
    /// with an `items` array of objects.
    items: OnceLock<Option<Box<[KeyedItem]>>>,
}

impl SharedEvent {
    /// Wraps an encoded `event`.
    pub fn new(bytes: Bytes) -> Self {
        Self {
            bytes,
            items: OnceLock::new(),
        }
    }

    /// The encoded event.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    fn keyed_items(&self, stream: StreamName) -> Option<&[KeyedItem]> {
        self.items
            .get_or_init(|| split_items(stream, &self.bytes))
            .as_deref()
    }
}

/// One item of a `coalesce` event: its key and its fields, each value a slice of the event's
/// bytes (never re-encoded, so numbers keep their exact text).
#[derive(Debug)]
struct KeyedItem {
    key: Arc<str>,
    fields: Vec<(Arc<str>, Bytes)>,
}

#[derive(Debug)]
struct QueuedEvent {
    /// Position in the session's enqueue order, so streams interleave as the engine produced them.
    order: u64,
    seq: u64,
    first_seq: Option<u64>,
    frame: u32,
    event: Arc<SharedEvent>,
    /// The bytes do not carry `first_seq` yet: a `latest` replacement, re-encoded when popped
    /// so the publishing thread never pays for it.
    stale: bool,
}

impl QueuedEvent {
    /// The oldest seq this event stands for: the one this outbox merged it from, else the one
    /// its bytes already carry (a relay forwards a host's merged events as they are), else its
    /// own.
    fn first_seq(&self) -> u64 {
        self.first_seq
            .or_else(|| embedded_first_seq(&self.event.bytes))
            .unwrap_or(self.seq)
    }
}

/// The `first_seq` in the head of an encoded event (before its `items`), if there is one.
fn embedded_first_seq(bytes: &[u8]) -> Option<u64> {
    const KEY: &[u8] = br#""first_seq":"#;
    let head = &bytes[..bytes.len().min(160)];
    let head = match head.windows(8).position(|w| w == br#""items":"#) {
        Some(end) => &head[..end],
        None => head,
    };
    let at = head.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits = head[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&head[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// A session's merged state of one `coalesce` stream: every event folded into it, item by item,
/// newer fields winning. It stands for the seqs `first_seq..=seq` and sits at the position of the
/// newest event folded in.
///
/// Field values are copied into the session's own `arena` (a few bytes each) rather than kept
/// as slices of the shared event bytes: cloning a slice touches the event's reference count,
/// one cache line every session thread also touches when it sends the event, and the engine
/// thread would do that for every field of every stalled session.
#[derive(Debug)]
struct Merged {
    order: u64,
    seq: u64,
    first_seq: u64,
    frame: u32,
    index: HashMap<Arc<str>, usize>,
    /// Per item: its key and its fields.
    items: Vec<(Arc<str>, MergedFields)>,
    arena: Vec<u8>,
    /// Bytes of `arena` still referenced; the rest is replaced values.
    live: usize,
}

/// An item's fields in a merged state: each a name and where its value lies in the arena.
type MergedFields = Vec<(Arc<str>, Span)>;

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Merged {
    fn new(event: &QueuedEvent) -> Self {
        Self {
            order: event.order,
            seq: event.seq,
            first_seq: event.first_seq(),
            frame: event.frame,
            index: HashMap::new(),
            items: Vec::new(),
            arena: Vec::new(),
            live: 0,
        }
    }

    fn store(arena: &mut Vec<u8>, value: &[u8]) -> Span {
        let start = arena.len() as u32;
        arena.extend_from_slice(value);
        Span {
            start,
            len: value.len() as u32,
        }
    }

    fn value(&self, span: Span) -> &[u8] {
        &self.arena[span.start as usize..(span.start + span.len) as usize]
    }

    /// Folds `event` (newer than everything folded so far) in.
    /// Items whose key `removed` lists with a later removal are skipped: the span is gone by
    /// the time the merged event arrives.
    fn fold(&mut self, event: &QueuedEvent, items: &[KeyedItem], removed: &[(Arc<str>, u64)]) {
        (self.order, self.seq, self.frame) = (event.order, event.seq, event.frame);
        for item in items {
            if removed
                .iter()
                .any(|(key, at)| *at > event.order && *key == item.key)
            {
                continue;
            }
            match self.index.get(&item.key) {
                Some(&i) => {
                    let fields = &mut self.items[i].1;
                    for (name, value) in &item.fields {
                        // Names are interned, so the pointer test nearly always decides.
                        match fields
                            .iter_mut()
                            .find(|(n, _)| Arc::ptr_eq(n, name) || n == name)
                        {
                            // A value no longer than the old one (a number, mostly) is
                            // overwritten where it is.
                            Some(slot) if value.len() <= slot.1.len as usize => {
                                let start = slot.1.start as usize;
                                self.arena[start..start + value.len()].copy_from_slice(value);
                                self.live -= slot.1.len as usize - value.len();
                                slot.1.len = value.len() as u32;
                            }
                            Some(slot) => {
                                self.live += value.len() - slot.1.len as usize;
                                slot.1 = Self::store(&mut self.arena, value);
                            }
                            None => {
                                self.live += value.len();
                                let span = Self::store(&mut self.arena, value);
                                fields.push((name.clone(), span));
                            }
                        }
                    }
                }
                None => {
                    self.index.insert(item.key.clone(), self.items.len());
                    let fields = item
                        .fields
                        .iter()
                        .map(|(name, value)| {
                            self.live += value.len();
                            (name.clone(), Self::store(&mut self.arena, value))
                        })
                        .collect();
                    self.items.push((item.key.clone(), fields));
                }
            }
        }
        // Replaced values are garbage: once they outweigh the live ones, copy the live ones.
        if self.arena.len() > 4 * self.live.max(1024) {
            let mut arena = Vec::with_capacity(self.live * 2);
            for (_, fields) in &mut self.items {
                for (_, span) in fields.iter_mut() {
                    let value = &self.arena[span.start as usize..(span.start + span.len) as usize];
                    *span = Self::store(&mut arena, value);
                }
            }
            self.arena = arena;
        }
    }

    /// Drops the item with `key`: its span was removed, and an old delta must not bring it back
    /// after the removal (the merged event goes out later than the `sprite_events` removal).
    fn forget(&mut self, key: &str) {
        let Some(i) = self.index.remove(key) else {
            return;
        };
        let (_, fields) = self.items.swap_remove(i);
        self.live -= fields
            .iter()
            .map(|(_, span)| span.len as usize)
            .sum::<usize>();
        if let Some((moved, _)) = self.items.get(i) {
            self.index.insert(moved.clone(), i);
        }
    }

    /// The merged event, encoded.
    fn encode(&self, stream: StreamName) -> Bytes {
        let raw: Vec<Vec<u8>> = self
            .items
            .iter()
            .map(|(_, fields)| {
                let mut out = Vec::with_capacity(16 + fields.len() * 24);
                out.push(b'{');
                for (i, (name, span)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // Writing a string into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut out, &**name);
                    out.push(b':');
                    out.extend_from_slice(self.value(*span));
                }
                out.push(b'}');
                out
            })
            .collect();
        encode_event_raw(
            stream,
            self.seq,
            Some(self.first_seq),
            self.frame,
            raw.iter().map(Vec::as_slice),
        )
    }
}

#[derive(Debug, Default)]
struct StreamQueue {
    /// `sprites` only: spans removed (key, order of the removal) while older deltas for them
    /// were still queued; folding skips those deltas. Pruned once no older event is queued.
    removed: Vec<(Arc<str>, u64)>,
    /// `coalesce` only: the events folded out of a full queue; always older than `events`.
    merged: Option<Merged>,
    events: VecDeque<QueuedEvent>,
    /// Fifo seqs dropped and not yet reported; a `gap` goes out before the next event.
    pending_gap: Option<(u64, u64)>,
    /// The last seq the session's latest snapshot covered. A relay gets a host's answer to its
    /// `stage` request ahead of events the host queued before answering, so events at or
    /// below it can arrive after the snapshot was delivered; they are dropped (the snapshot
    /// holds their state), never sent after it (§9). Reset with the stream's queue.
    covered: u64,
}

/// The per-session outbox. Lives behind the session's mutex; the hub pushes, the transport pops.
#[derive(Debug)]
pub struct SessionOutbox {
    control: VecDeque<Bytes>,
    streams: Vec<StreamQueue>,
    next_order: u64,
    capacity: usize,
    /// The close to send once the control lane is empty; taken when sent.
    close: Option<(u16, String)>,
    /// Set by the first [`SessionOutbox::close`] and never cleared: from then on nothing new
    /// is queued and no event or tile goes out (after `bye` or a fatal error a side sends
    /// nothing more, protocol §5.13, §13).
    closing: bool,
    pub(crate) pixels: PixelCursor,
    pending_tiles: VecDeque<Bytes>,
    pub(crate) stats: SessionStats,
    /// The hub's totals, fed alongside the session's own counters.
    pub(crate) hub_stats: Option<Arc<HubStats>>,
    /// The transport's non-blocking writer, when it offered one (see [`crate::direct`]).
    direct: Option<Arc<dyn DirectWrite>>,
    /// The transport took a message and has not said it was written yet.
    wire_busy: bool,
    /// The framed rest of a message the publishing thread wrote only in part.
    raw: Option<Bytes>,
    /// Messages the publishing thread wrote directly.
    pub(crate) direct_sent: u64,
    /// A stream queue overflowed (merged or dropped) since the outbox was last empty: the
    /// session is not keeping up, and the hub serves it after the others.
    pub(crate) backlogged: bool,
}

/// At most this many messages per session per tick are written directly; the rest wait for
/// the session's task as usual.
const DIRECT_BATCH: usize = 64;

impl SessionOutbox {
    /// An outbox whose stream queues hold `capacity` events before their policy applies.
    pub fn new(capacity: usize, pixel_window: u32) -> Self {
        Self {
            control: VecDeque::new(),
            streams: (0..STREAM_COUNT).map(|_| StreamQueue::default()).collect(),
            next_order: 0,
            capacity: capacity.max(1),
            close: None,
            closing: false,
            pixels: PixelCursor::new(pixel_window),
            pending_tiles: VecDeque::new(),
            stats: SessionStats::default(),
            hub_stats: None,
            direct: None,
            wire_busy: false,
            raw: None,
            direct_sent: 0,
            backlogged: false,
        }
    }

    /// Lets the publishing thread write to the connection directly through `writer`.
    pub(crate) fn set_direct(&mut self, writer: Arc<dyn DirectWrite>) {
        self.direct = Some(writer);
    }

    /// Whether a writer is set.
    pub(crate) fn has_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// The transport wrote (and flushed) everything it took.
    pub(crate) fn wire_idle(&mut self) {
        self.wire_busy = false;
    }

    /// Writes what is queued straight to the socket, when the session is caught up (see
    /// [`crate::direct`]). Returns whether the session's task must be woken: something is left
    /// for it, or no direct write was possible.
    pub(crate) fn write_direct(&mut self, pixels: &PixelStore) -> bool {
        let Some(writer) = self.direct.clone() else {
            return true;
        };
        if self.wire_busy || self.raw.is_some() || self.closing {
            return true;
        }
        for _ in 0..DIRECT_BATCH {
            if !writer.can_write() {
                return true;
            }
            let Some(message) = self.pop_inner(pixels, false) else {
                // Every queue is drained: caught up, whatever overflowed before.
                self.backlogged = false;
                // Pixel tiles are left to the session's task: a frame is many large writes.
                return !self.pending_tiles.is_empty() || self.pixels.wants(pixels);
            };
            match writer.try_write(&message) {
                Ok(None) => {
                    self.direct_sent += 1;
                    if let Some(h) = &self.hub_stats {
                        h.direct_writes
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Ok(Some(rest)) => {
                    self.raw = Some(rest);
                    return true;
                }
                Err(e) => {
                    // The transport will find the broken socket on its own.
                    tracing::debug!(error = %e, "direct write failed; the session's task takes over");
                    self.direct = None;
                    return true;
                }
            }
        }
        true
    }

    /// Queues a control message (welcome, ack, response, error, snapshot, pong…). Ignored once
    /// the outbox is closing.
    pub fn push_control(&mut self, bytes: Bytes) {
        if !self.closing {
            self.control.push_back(bytes);
        }
    }

    /// Queues a control message encoded from a typed server message.
    pub fn push_message(&mut self, msg: &ServerMessage) {
        self.push_control(Bytes::from(msg.to_json()));
    }

    /// Asks the transport to close after the control messages already queued (the final
    /// `bye`/`error`); queued events and pixel tiles are discarded, and nothing queued later
    /// is sent. The first close wins.
    pub fn close(&mut self, code: u16, reason: impl Into<String>) {
        if !self.closing {
            self.closing = true;
            self.close = Some((code, reason.into()));
            for q in &mut self.streams {
                q.events.clear();
                q.merged = None;
                q.pending_gap = None;
            }
            self.pending_tiles.clear();
        }
    }

    /// Whether a close has been requested (it stays true after the close went out).
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Events queued across all streams (for tests and metrics).
    pub fn queued_events(&self) -> usize {
        self.streams
            .iter()
            .map(|q| q.events.len() + usize::from(q.merged.is_some()))
            .sum()
    }

    /// Queues one event of `stream` according to the stream's policy.
    pub fn push_event(&mut self, stream: StreamName, seq: u64, frame: u32, bytes: Bytes) {
        self.push_shared(stream, seq, frame, &Arc::new(SharedEvent::new(bytes)));
    }

    /// Queues one event of `stream` according to the stream's policy; the hub hands the same
    /// [`SharedEvent`] to every session.
    pub fn push_shared(
        &mut self,
        stream: StreamName,
        seq: u64,
        frame: u32,
        shared: &Arc<SharedEvent>,
    ) {
        if self.closing {
            return;
        }
        if seq <= self.streams[stream.index()].covered {
            return;
        }
        let order = self.next_order;
        self.next_order += 1;
        let capacity = self.capacity;
        let queue = &mut self.streams[stream.index()];
        let mut event = QueuedEvent {
            order,
            seq,
            first_seq: None,
            frame,
            event: shared.clone(),
            stale: false,
        };
        match stream.policy() {
            Policy::Latest => {
                // Only the newest unsent item matters; it stands for the seqs it replaced.
                if let Some(old) = queue.events.pop_front() {
                    queue.events.clear();
                    event.first_seq = Some(old.first_seq());
                    event.stale = true;
                }
                queue.events.push_back(event);
            }
            Policy::Coalesce => {
                queue.events.push_back(event);
                // The merged state takes one of the queue's slots.
                while queue.events.len() + usize::from(queue.merged.is_some()) > capacity {
                    let Some(oldest) = queue.events.pop_front() else {
                        break;
                    };
                    self.backlogged = true;
                    match oldest.event.keyed_items(stream) {
                        Some(items) => queue
                            .merged
                            .get_or_insert_with(|| Merged::new(&oldest))
                            .fold(&oldest, items, &queue.removed),
                        None => {
                            // Only a foreign host behind a relay could send such an event.
                            tracing::warn!(
                                stream = stream.as_str(),
                                seq = oldest.seq,
                                "dropping an unmergeable event from a full coalesce queue"
                            );
                            self.stats.record_drop(stream);
                            if let Some(h) = &self.hub_stats {
                                h.drops[stream.index()]
                                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
            Policy::Fifo => {
                queue.events.push_back(event);
                while queue.events.len() > capacity {
                    self.backlogged = true;
                    if let Some(dropped) = queue.events.pop_front() {
                        let from = dropped.first_seq();
                        queue.pending_gap = Some(match queue.pending_gap {
                            Some((a, _)) => (a, dropped.seq),
                            None => (from, dropped.seq),
                        });
                        self.stats.record_drop(stream);
                        if let Some(h) = &self.hub_stats {
                            h.drops[stream.index()]
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        if stream == StreamName::SpriteEvents {
            self.forget_removed_spans(shared, order);
        }
    }

    /// A span removed (`sprite_events` `removed`) leaves a slow session's merged `sprites`
    /// state: the merged event is sent at the position of the newest delta folded into it,
    /// after the removal, and would otherwise bring the span back on the client. Only sessions
    /// with a merged state parse the (rare) `sprite_events` event, once for the whole hub.
    fn forget_removed_spans(&mut self, shared: &SharedEvent, order: u64) {
        let sprites = &mut self.streams[StreamName::Sprites.index()];
        // Removals older than every queued delta protect nothing any more.
        let oldest = sprites.events.front().map_or(u64::MAX, |e| e.order);
        sprites.removed.retain(|(_, at)| *at > oldest);
        if sprites.merged.is_none() && sprites.events.is_empty() {
            return;
        }
        let Some(items) = shared.keyed_items(StreamName::SpriteEvents) else {
            return;
        };
        for item in items {
            let removed = item
                .fields
                .iter()
                .any(|(name, value)| &**name == "event" && &value[..] == br#""removed""#);
            if removed {
                if let Some(merged) = sprites.merged.as_mut() {
                    merged.forget(&item.key);
                }
                if !sprites.events.is_empty() {
                    sprites.removed.push((item.key.clone(), order));
                }
            }
        }
    }

    /// Drops everything queued for `stream` (on unsubscribe; for `pixels`, the rest of a pixel
    /// frame not yet sent).
    pub fn clear_stream(&mut self, stream: StreamName) {
        let q = &mut self.streams[stream.index()];
        q.events.clear();
        q.merged = None;
        q.removed.clear();
        q.pending_gap = None;
        q.covered = 0;
        if stream == StreamName::Pixels {
            self.pending_tiles.clear();
        }
    }

    /// Discards queued events (and dropped ranges) a snapshot already covers: per stream,
    /// everything with `seq <= seqs[stream]`. Protocol §9: events of `s` with `seq <= N` queued
    /// when the snapshot was taken are sent before it or discarded, never after it — nor those
    /// that arrive later (see `StreamQueue::covered`).
    pub(crate) fn discard_through(&mut self, seqs: &std::collections::BTreeMap<String, u64>) {
        for (name, &last) in seqs {
            let Some(stream) = StreamName::parse(name) else {
                continue;
            };
            let q = &mut self.streams[stream.index()];
            q.covered = last;
            q.events.retain(|e| e.seq > last);
            if q.merged.as_ref().is_some_and(|m| m.seq <= last) {
                q.merged = None;
            }
            q.pending_gap = match q.pending_gap {
                Some((_, to)) if to <= last => None,
                Some((from, to)) => Some((from.max(last + 1), to)),
                None => None,
            };
        }
    }

    fn count_out(&mut self, stream: Option<StreamName>, bytes: usize) {
        self.stats.record_out(stream, bytes);
        if let Some(h) = &self.hub_stats {
            h.add_out(stream, bytes);
        }
    }

    /// The next message to send, if any: control first, then the oldest queued event across
    /// streams (a pending `gap` right before its stream's next event), then pixel tiles. Once
    /// closing: the control messages queued before the close, then the close, then nothing.
    pub fn pop(&mut self, pixels: &PixelStore) -> Option<Outgoing> {
        if let Some(rest) = self.raw.take() {
            self.wire_busy = true;
            return Some(Outgoing::Raw(rest));
        }
        let out = self.pop_inner(pixels, true);
        match out {
            Some(_) if self.direct.is_some() => self.wire_busy = true,
            Some(_) => {}
            None => self.backlogged = false,
        }
        out
    }

    /// [`Self::pop`] without the wire bookkeeping; pixel tiles only when `tiles`.
    fn pop_inner(&mut self, pixels: &PixelStore, tiles: bool) -> Option<Outgoing> {
        if let Some(bytes) = self.control.pop_front() {
            self.count_out(None, bytes.len());
            return Some(Outgoing::Text(bytes));
        }
        if self.closing {
            return self
                .close
                .take()
                .map(|(code, reason)| Outgoing::Close { code, reason });
        }
        let next = self
            .streams
            .iter()
            .enumerate()
            .filter_map(|(i, q)| {
                let merged = q.merged.as_ref().map(|m| m.order);
                merged.or(q.events.front().map(|e| e.order)).map(|o| (o, i))
            })
            .min();
        if let Some((_, index)) = next {
            let stream = StreamName::ALL[index];
            let queue = &mut self.streams[index];
            if let Some((from_seq, to_seq)) = queue.pending_gap.take() {
                self.stats.record_gap(stream);
                if let Some(h) = &self.hub_stats {
                    h.gaps[stream.index()].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let gap = ServerMessage::Gap(Gap {
                    stream: stream.as_str().to_owned(),
                    from_seq,
                    to_seq,
                });
                let bytes = Bytes::from(gap.to_json());
                self.count_out(None, bytes.len());
                return Some(Outgoing::Text(bytes));
            }
            let bytes = if let Some(merged) = queue.merged.take() {
                Some(merged.encode(stream))
            } else if let Some(event) = queue.events.pop_front() {
                match event.first_seq {
                    Some(first) if event.stale => Some(with_first_seq(
                        stream,
                        &event.event.bytes,
                        event.seq,
                        first,
                        event.frame,
                    )),
                    _ => Some(event.event.bytes.clone()),
                }
            } else {
                None
            };
            if let Some(bytes) = bytes {
                self.count_out(Some(stream), bytes.len());
                return Some(Outgoing::Text(bytes));
            }
        }
        if !tiles {
            return None;
        }
        if self.pending_tiles.is_empty() {
            self.pixels.take_frame(pixels, &mut self.pending_tiles);
        }
        if let Some(tile) = self.pending_tiles.pop_front() {
            self.count_out(Some(StreamName::Pixels), tile.len());
            return Some(Outgoing::Binary(tile));
        }
        None
    }
}

/// The event `bytes` (seq `seq`) re-encoded to say it also stands for seqs from `first`. Our own
/// encoder's head is patched in place; anything else is parsed and re-encoded.
fn with_first_seq(stream: StreamName, bytes: &Bytes, seq: u64, first: u64, frame: u32) -> Bytes {
    let head = format!(
        r#"{{"type":"event","stream":"{}","seq":{seq},"#,
        stream.as_str()
    );
    if let Some(rest) = bytes.strip_prefix(head.as_bytes())
        && rest.starts_with(br#""frame":"#)
    {
        let mut out = Vec::with_capacity(bytes.len() + 32);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(format!(r#""first_seq":{first},"#).as_bytes());
        out.extend_from_slice(rest);
        return Bytes::from(out);
    }
    #[derive(serde::Deserialize)]
    struct Items<'a> {
        #[serde(borrow)]
        items: Vec<&'a RawValue>,
    }
    let items = serde_json::from_slice::<Items<'_>>(bytes)
        .map(|i| i.items)
        .unwrap_or_default();
    encode_event_raw(
        stream,
        seq,
        Some(first),
        frame,
        items.iter().map(|i| i.get().as_bytes()),
    )
}

/// The fields of a coalesce stream's item that make its key.
fn key_fields(stream: StreamName) -> &'static [&'static str] {
    match stream {
        // `sprite_events` items name spans the same way (see `forget_removed_spans`).
        StreamName::Sprites | StreamName::SpriteEvents => &["sprite_num", "begin_frame"],
        StreamName::MemberProps => &["cast_lib", "member_num", "prop"],
        _ => &["prop"],
    }
}

/// Splits an event's items into keyed fields whose values are slices of `bytes`; `None` when
/// `bytes` is not an event with an `items` array of objects.
fn split_items(stream: StreamName, bytes: &Bytes) -> Option<Box<[KeyedItem]>> {
    #[derive(serde::Deserialize)]
    struct Items<'a> {
        #[serde(borrow)]
        items: Vec<Fields<'a>>,
    }
    let parsed = serde_json::from_slice::<Items<'_>>(bytes).ok()?;
    let keys = key_fields(stream);
    let items = parsed
        .items
        .into_iter()
        .map(|Fields(fields)| {
            let mut key = String::new();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    key.push('\u{1f}');
                }
                if let Some((_, v)) = fields.iter().find(|(n, _)| n == k) {
                    key.push_str(v.get());
                }
            }
            KeyedItem {
                key: key.into(),
                fields: fields
                    .into_iter()
                    .map(|(name, value)| (intern(name), bytes.slice_ref(value.get().as_bytes())))
                    .collect(),
            }
        })
        .collect();
    Some(items)
}

/// Field names shared by every parsed event, so merging compares them by pointer. Bounded: a
/// host inventing names without end only stops them being shared.
fn intern(name: String) -> Arc<str> {
    const MAX_NAMES: usize = 1024;
    static NAMES: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashSet<Arc<str>>>> =
        std::sync::LazyLock::new(Default::default);
    let mut names = NAMES.lock();
    if let Some(known) = names.get(name.as_str()) {
        return known.clone();
    }
    let name: Arc<str> = name.into();
    if names.len() < MAX_NAMES {
        names.insert(name.clone());
    }
    name
}

/// A JSON object's members in order, values left unparsed.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    // A repeated member: the last one wins, as in any JSON reader we target.
                    match fields
                        .iter_mut()
                        .find(|(n, _): &&mut (String, _)| *n == name)
                    {
                        Some(slot) => slot.1 = value,
                        None => fields.push((name, value)),
                    }
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text message the outbox has ready, in order.
    fn drain_texts(outbox: &mut SessionOutbox) -> Vec<Bytes> {
        let store = PixelStore::default();
        std::iter::from_fn(|| match outbox.pop(&store) {
            Some(Outgoing::Text(t)) => Some(t),
            _ => None,
        })
        .collect()
    }

    fn event(stream: StreamName, seq: u64, frame: u32, items: &[&str]) -> Bytes {
        encode_event_raw(stream, seq, None, frame, items.iter().map(|i| i.as_bytes()))
    }

    #[test]
    fn an_overflow_marks_the_outbox_backlogged_until_it_drains() {
        let mut outbox = SessionOutbox::new(2, 2);
        for seq in 1..=2 {
            outbox.push_event(
                StreamName::Sounds,
                seq,
                1,
                event(StreamName::Sounds, seq, 1, &["{}"]),
            );
        }
        assert!(!outbox.backlogged, "full is not behind yet");
        outbox.push_event(
            StreamName::Sounds,
            3,
            1,
            event(StreamName::Sounds, 3, 1, &["{}"]),
        );
        assert!(outbox.backlogged, "a dropped event: behind");
        assert!(!drain_texts(&mut outbox).is_empty());
        assert!(!outbox.backlogged, "drained: caught up again");
    }

    #[test]
    fn first_seq_is_patched_into_our_own_head() {
        let b = event(StreamName::Frames, 9, 4, &[r#"{"frame":4}"#]);
        let out = with_first_seq(StreamName::Frames, &b, 9, 3, 4);
        assert_eq!(
            &out[..],
            br#"{"type":"event","stream":"frames","seq":9,"first_seq":3,"frame":4,"items":[{"frame":4}]}"#
        );
    }

    #[test]
    fn a_foreign_head_is_re_encoded() {
        let b = Bytes::from_static(
            br#"{"frame":4,"seq":9,"items":[{"frame":4, "x":1.10}],"stream":"frames","type":"event"}"#,
        );
        let out = with_first_seq(StreamName::Frames, &b, 9, 3, 4);
        assert_eq!(
            &out[..],
            br#"{"type":"event","stream":"frames","seq":9,"first_seq":3,"frame":4,"items":[{"frame":4, "x":1.10}]}"#
        );
    }

    #[test]
    fn coalesce_overflow_folds_oldest_events_by_key_keeping_value_text() {
        let mut outbox = SessionOutbox::new(2, 2);
        let s = StreamName::Sprites;
        outbox.push_event(
            s,
            1,
            1,
            event(
                s,
                1,
                1,
                &[r#"{"sprite_num":1,"begin_frame":1,"loc_h":1.50,"ink":8}"#],
            ),
        );
        outbox.push_event(
            s,
            2,
            2,
            event(
                s,
                2,
                2,
                &[
                    r#"{"sprite_num":2,"begin_frame":1,"loc_h":7}"#,
                    r#"{"sprite_num":1,"begin_frame":1,"loc_h":2.25}"#,
                ],
            ),
        );
        outbox.push_event(
            s,
            3,
            3,
            event(
                s,
                3,
                3,
                &[r#"{"sprite_num":1,"begin_frame":1,"visible":false}"#],
            ),
        );
        outbox.push_event(
            s,
            4,
            4,
            event(s, 4, 4, &[r#"{"sprite_num":3,"begin_frame":1}"#]),
        );
        assert_eq!(outbox.queued_events(), 2, "merged state + one event");
        let texts = drain_texts(&mut outbox);
        assert_eq!(texts.len(), 2);
        assert_eq!(
            &texts[0][..],
            br#"{"type":"event","stream":"sprites","seq":3,"first_seq":1,"frame":3,"items":[{"sprite_num":1,"begin_frame":1,"loc_h":2.25,"ink":8,"visible":false},{"sprite_num":2,"begin_frame":1,"loc_h":7}]}"#
        );
        assert_eq!(
            &texts[1][..],
            &event(s, 4, 4, &[r#"{"sprite_num":3,"begin_frame":1}"#])[..]
        );
    }

    #[test]
    fn replaced_values_are_compacted_away() {
        let mut outbox = SessionOutbox::new(1, 2);
        let s = StreamName::MovieProps;
        for seq in 1..=5000u64 {
            let item = format!(r#"{{"prop":"tempo","value":{seq}}}"#);
            outbox.push_event(s, seq, seq as u32, event(s, seq, seq as u32, &[&item]));
        }
        let merged = outbox.streams[s.index()].merged.as_ref().expect("merged");
        assert!(
            merged.arena.len() <= 8192,
            "arena {} bytes",
            merged.arena.len()
        );
        let store = PixelStore::default();
        let Some(Outgoing::Text(text)) = outbox.pop(&store) else {
            panic!("the merged event")
        };
        assert_eq!(
            &text[..],
            br#"{"type":"event","stream":"movie_props","seq":5000,"first_seq":1,"frame":5000,"items":[{"prop":"tempo","value":5000}]}"#
        );
    }

    #[test]
    fn a_removed_span_leaves_the_merged_state() {
        let mut outbox = SessionOutbox::new(1, 2);
        let (s, e) = (StreamName::Sprites, StreamName::SpriteEvents);
        outbox.push_event(
            s,
            1,
            1,
            event(
                s,
                1,
                1,
                &[
                    r#"{"sprite_num":4,"begin_frame":1,"loc_h":5}"#,
                    r#"{"sprite_num":5,"begin_frame":1,"loc_h":6}"#,
                ],
            ),
        );
        outbox.push_event(
            s,
            2,
            2,
            event(s, 2, 2, &[r#"{"sprite_num":4,"begin_frame":1,"loc_h":7}"#]),
        );
        outbox.push_event(
            e,
            1,
            3,
            event(
                e,
                1,
                3,
                &[
                    r#"{"manager":"score","event":"removed","sprite_num":4,"begin_frame":1}"#,
                    r#"{"manager":"score","event":"added","sprite_num":5,"begin_frame":1}"#,
                ],
            ),
        );
        let texts = drain_texts(&mut outbox);
        assert_eq!(texts.len(), 2);
        assert_eq!(
            &texts[0][..],
            br#"{"type":"event","stream":"sprites","seq":2,"first_seq":1,"frame":2,"items":[{"sprite_num":5,"begin_frame":1,"loc_h":6}]}"#,
            "sprite 4 is gone, sprite 5 (only added) stays"
        );
        assert!(texts[1].starts_with(br#"{"type":"event","stream":"sprite_events""#));
    }

    #[test]
    fn queued_deltas_of_a_span_removed_later_are_not_folded() {
        let mut outbox = SessionOutbox::new(2, 2);
        let (s, e) = (StreamName::Sprites, StreamName::SpriteEvents);
        outbox.push_event(
            s,
            1,
            1,
            event(s, 1, 1, &[r#"{"sprite_num":4,"begin_frame":1,"loc_h":5}"#]),
        );
        outbox.push_event(
            e,
            1,
            2,
            event(
                e,
                1,
                2,
                &[r#"{"manager":"score","event":"removed","sprite_num":4,"begin_frame":1}"#],
            ),
        );
        outbox.push_event(
            s,
            2,
            2,
            event(s, 2, 2, &[r#"{"sprite_num":5,"begin_frame":1,"loc_h":6}"#]),
        );
        // Overflow: sprites 1 (before the removal) is folded, without sprite 4.
        outbox.push_event(
            s,
            3,
            3,
            event(s, 3, 3, &[r#"{"sprite_num":5,"begin_frame":1,"loc_h":7}"#]),
        );
        let texts: Vec<String> = drain_texts(&mut outbox)
            .iter()
            .map(|t| String::from_utf8(t.to_vec()).unwrap())
            .collect();
        let sprites: Vec<&String> = texts
            .iter()
            .filter(|t| t.contains(r#""stream":"sprites""#))
            .collect();
        assert!(
            sprites.iter().all(|t| !t.contains(r#""sprite_num":4"#)),
            "{texts:?}"
        );
        assert!(sprites[0].contains(r#""first_seq":1"#), "{texts:?}");
    }

    #[test]
    fn a_forwarded_merged_event_keeps_its_first_seq_when_replaced() {
        // A relay forwards a host's `latest` event that already stands for seqs 3..=9.
        let mut outbox = SessionOutbox::new(4, 2);
        let s = StreamName::Frames;
        let merged = encode_event_raw(s, 9, Some(3), 9, [br#"{"frame":9}"#.as_slice()]);
        outbox.push_event(s, 9, 9, merged);
        outbox.push_event(s, 10, 10, event(s, 10, 10, &[r#"{"frame":10}"#]));
        let Some(Outgoing::Text(text)) = outbox.pop(&PixelStore::default()) else {
            panic!("an event")
        };
        assert_eq!(
            &text[..],
            br#"{"type":"event","stream":"frames","seq":10,"first_seq":3,"frame":10,"items":[{"frame":10}]}"#
        );
        assert_eq!(
            embedded_first_seq(br#"{"type":"event","seq":4,"frame":1,"items":[{"first_seq":2}]}"#),
            None
        );
    }

    #[test]
    fn an_unmergeable_event_is_counted_as_a_drop() {
        let mut outbox = SessionOutbox::new(1, 2);
        let s = StreamName::MovieProps;
        outbox.push_event(s, 1, 1, Bytes::from_static(b"not json"));
        outbox.push_event(s, 2, 2, event(s, 2, 2, &[r#"{"prop":"tempo","value":30}"#]));
        assert_eq!(outbox.stats.to_json()["drops"], 1);
        assert_eq!(outbox.queued_events(), 1);
    }
}
