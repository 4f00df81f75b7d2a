//! What a client tells its consumers: [`ClientEvent`]s, typed [`TypedEvent`]s, and the
//! [`ConnectionState`] it is in.

use std::sync::Arc;

use stagelink_contracts::{
    ErrorMessage, Event, Gap, Notice, StageSnapshot, StreamItem, StreamName, Welcome,
};

use crate::error::CloseReason;

/// Where the connection stands. Watch it with [`crate::Client::state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first connection is being made.
    Connecting,
    /// Welcomed (and, when a snapshot was asked for, synchronised).
    Connected,
    /// The connection dropped; reconnect attempt `attempt` (1-based) is pending or under way.
    Reconnecting {
        /// The attempt number since the connection was lost.
        attempt: u32,
    },
    /// Stopped for good; the reason says why.
    Closed(CloseReason),
}

impl ConnectionState {
    /// Whether the client stopped for good.
    pub fn is_closed(&self) -> bool {
        matches!(self, ConnectionState::Closed(_))
    }
}

/// Everything that happens on a session, in the order it happened. Cheap to clone: large
/// payloads are shared.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// The server welcomed this client (after every (re)connect).
    Welcome(Arc<Welcome>),
    /// A snapshot the client asked for: the first one after connecting, or one requested with
    /// [`crate::Client::subscribe`]. Replace the local state with it.
    Snapshot(Arc<StageSnapshot>),
    /// A snapshot that repairs the local state after a reconnect, a `gap`, a relay host change
    /// or [`crate::Client::resync`]. Replace the local state with it; every event that follows
    /// continues from it, and events it already includes are not delivered.
    Resynced(Arc<StageSnapshot>),
    /// One stream event, in seq order per stream.
    Event(Arc<Event>),
    /// The server dropped fifo events for this client. A resync follows at once (a
    /// [`ClientEvent::Resynced`]), so the loss is repaired for every stream the snapshot covers.
    Gap(Gap),
    /// A relay notice (`host_left`, `host_joined`).
    Notice(Notice),
    /// A non-fatal error from the server (`unknown_stream`, `rate_limited`, …).
    Error(ErrorMessage),
    /// The connection dropped; the client reconnects (see [`crate::Client::state`]).
    Disconnected(String),
    /// This receiver fell behind the local channel and missed this many events: its view is no
    /// longer exact until the next `Snapshot`/`Resynced` (call [`crate::Client::resync`]).
    Lagged(u64),
}

/// The envelope of a stream event, without its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta {
    /// The stream.
    pub stream: StreamName,
    /// Its seq.
    pub seq: u64,
    /// On a merged event, the oldest seq it stands for.
    pub first_seq: Option<u64>,
    /// The score frame of the tick that produced it.
    pub frame: u32,
}

/// One event of a stream, its items decoded as the stream's type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedEvent<T> {
    /// Stream, seq and frame.
    pub meta: EventMeta,
    /// The items of the tick, in order.
    pub items: Vec<T>,
}

impl<T: StreamItem> TypedEvent<T> {
    /// Decodes `event` as a `T` event; `None` when it belongs to another stream.
    ///
    /// # Errors
    /// When an item does not have the shape of `T`.
    pub fn decode(event: &Event) -> Option<Result<TypedEvent<T>, serde_json::Error>> {
        if event.stream != T::STREAM.as_str() {
            return None;
        }
        Some(event.items_as::<T>().map(|items| TypedEvent {
            meta: EventMeta {
                stream: T::STREAM,
                seq: event.seq,
                first_seq: event.first_seq,
                frame: event.frame,
            },
            items,
        }))
    }
}
