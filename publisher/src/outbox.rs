//! A session's outbox: a control lane that always goes first, then one bounded queue per
//! stream with that stream's policy, then pixel tiles under flow control.
//!
//! Events arrive as shared `Bytes` (encoded once per flush). Only when a slow session's
//! `coalesce` queue overflows are its queued events merged into one and re-encoded (a bounded,
//! amortized cost per flush); a `latest` event that replaced older ones is re-encoded with its
//! `first_seq` only when it is sent, by the session's own transport task.

use std::collections::VecDeque;

use bytes::Bytes;
use stagelink_contracts::{Gap, Policy, STREAM_COUNT, ServerMessage, StreamName, encode_event_raw};

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
}

#[derive(Debug)]
struct QueuedEvent {
    /// Position in the session's enqueue order, so streams interleave as the engine produced them.
    order: u64,
    seq: u64,
    first_seq: Option<u64>,
    frame: u32,
    bytes: Bytes,
    /// `bytes` does not carry `first_seq` yet: a `latest` replacement, re-encoded when popped
    /// so the publishing thread never pays for it.
    stale: bool,
}

#[derive(Debug, Default)]
struct StreamQueue {
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
}

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
        }
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
        self.streams.iter().map(|q| q.events.len()).sum()
    }

    /// Queues one event of `stream` according to the stream's policy.
    pub fn push_event(&mut self, stream: StreamName, seq: u64, frame: u32, bytes: Bytes) {
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
            bytes,
            stale: false,
        };
        match stream.policy() {
            Policy::Latest => {
                // Only the newest unsent item matters; it stands for the seqs it replaced.
                if let Some(old) = queue.events.pop_front() {
                    queue.events.clear();
                    event.first_seq = Some(old.first_seq.unwrap_or(old.seq));
                    event.stale = true;
                }
                queue.events.push_back(event);
            }
            Policy::Coalesce => {
                queue.events.push_back(event);
                if queue.events.len() > capacity {
                    let merged = merge_coalesced(stream, &mut queue.events);
                    queue.events.push_back(merged);
                }
            }
            Policy::Fifo => {
                queue.events.push_back(event);
                while queue.events.len() > capacity {
                    if let Some(dropped) = queue.events.pop_front() {
                        let from = dropped.first_seq.unwrap_or(dropped.seq);
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
    }

    /// Drops everything queued for `stream` (on unsubscribe; for `pixels`, the rest of a pixel
    /// frame not yet sent).
    pub fn clear_stream(&mut self, stream: StreamName) {
        let q = &mut self.streams[stream.index()];
        q.events.clear();
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
            .filter_map(|(i, q)| q.events.front().map(|e| (e.order, i)))
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
            if let Some(mut event) = queue.events.pop_front() {
                if event.stale
                    && let Some(first) = event.first_seq
                {
                    event = reencode_with_first_seq(stream, &event, first);
                }
                self.count_out(Some(stream), event.bytes.len());
                return Some(Outgoing::Text(event.bytes));
            }
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

/// The same event re-encoded to say it also stands for seqs from `first`.
fn reencode_with_first_seq(stream: StreamName, event: &QueuedEvent, first: u64) -> QueuedEvent {
    let items = parse_items(&event.bytes);
    let raw: Vec<Vec<u8>> = items
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap_or_default())
        .collect();
    QueuedEvent {
        order: event.order,
        seq: event.seq,
        first_seq: Some(first),
        frame: event.frame,
        stale: false,
        bytes: encode_event_raw(
            stream,
            event.seq,
            Some(first),
            event.frame,
            raw.iter().map(Vec::as_slice),
        ),
    }
}

fn parse_items(bytes: &[u8]) -> Vec<serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Items {
        items: Vec<serde_json::Value>,
    }
    serde_json::from_slice::<Items>(bytes)
        .map(|i| i.items)
        .unwrap_or_default()
}

/// The coalescing key of an item of a `coalesce` stream, read from its JSON.
fn coalesce_key(stream: StreamName, item: &serde_json::Value) -> String {
    let fields: &[&str] = match stream {
        StreamName::Sprites => &["sprite_num", "begin_frame"],
        StreamName::MemberProps => &["cast_lib", "member_num", "prop"],
        _ => &["prop"],
    };
    fields
        .iter()
        .map(|f| item.get(f).map(|v| v.to_string()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Merges every queued event of a coalesce stream into one: items with the same key merge
/// field by field, newer fields winning; the result carries the newest seq and the oldest
/// `first_seq`, and sits at the newest event's position in the order.
fn merge_coalesced(stream: StreamName, events: &mut VecDeque<QueuedEvent>) -> QueuedEvent {
    let first = events
        .front()
        .map(|e| e.first_seq.unwrap_or(e.seq))
        .unwrap_or(0);
    let (mut order, mut seq, mut frame) = (0, 0, 0);
    let mut keys: Vec<String> = Vec::new();
    let mut merged: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    for event in events.drain(..) {
        (order, seq, frame) = (event.order, event.seq, event.frame);
        for item in parse_items(&event.bytes) {
            let key = coalesce_key(stream, &item);
            let serde_json::Value::Object(fields) = item else {
                continue;
            };
            match keys.iter().position(|k| *k == key) {
                Some(i) => merged[i].extend(fields),
                None => {
                    keys.push(key);
                    merged.push(fields);
                }
            }
        }
    }
    let raw: Vec<Vec<u8>> = merged
        .iter()
        .map(|m| serde_json::to_vec(m).unwrap_or_default())
        .collect();
    QueuedEvent {
        order,
        seq,
        first_seq: Some(first),
        frame,
        stale: false,
        bytes: encode_event_raw(
            stream,
            seq,
            Some(first),
            frame,
            raw.iter().map(Vec::as_slice),
        ),
    }
}
