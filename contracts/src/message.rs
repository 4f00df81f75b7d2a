//! Every JSON message of protocol v1: [`ClientMessage`] (client → server) and
//! [`ServerMessage`] (server → client), tagged by `type`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::command::{AckStatus, Command};
use crate::error::{ErrorBody, ErrorCode};
use crate::items::{MemberRef, SpriteDelta};
use crate::stream::StreamInfo;
use crate::value::PropValue;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A session's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Streams and requests.
    #[default]
    Observer,
    /// Observer plus commands.
    Controller,
    /// Relay only: the session publishes the project and receives its commands.
    Host,
}

impl Role {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Observer => "observer",
            Role::Controller => "controller",
            Role::Host => "host",
        }
    }
}

/// Who a peer is (`hello.client`, `welcome.server`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PeerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `hello` — the client's first message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hello {
    pub protocol: u32,
    /// Relay: which project; a host checks it against its own when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default)]
    pub client: PeerInfo,
    #[serde(default)]
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Stream names or `["*"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Vec<String>>,
    #[serde(default)]
    pub snapshot: bool,
    /// Relay hosts only: replace the project's live host (needs the host token).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub takeover: bool,
}

impl Hello {
    /// A hello for protocol v1 with the given role and nothing else.
    pub fn new(role: Role) -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            project: None,
            client: PeerInfo::default(),
            role,
            token: None,
            subscribe: None,
            snapshot: false,
            takeover: false,
        }
    }
}

/// `subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Subscribe {
    pub streams: Vec<String>,
    #[serde(default)]
    pub snapshot: bool,
}

/// `unsubscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Unsubscribe {
    pub streams: Vec<String>,
}

/// `request` — `what` is `movie_state`, `stage`, `project` or `stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Request {
    pub id: u64,
    pub what: String,
}

/// `command`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandMessage {
    pub id: u64,
    pub command: Command,
}

/// `ping` / `pong`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Ping {
    #[serde(default)]
    pub t: u64,
}

/// `bye`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Bye {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `pixels_ack` — the client has drawn pixel frame `frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PixelsAck {
    pub frame: u32,
}

/// A message from a client to a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello(Hello),
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    Request(Request),
    Command(CommandMessage),
    Ping(Ping),
    Pong(Ping),
    Bye(Bye),
    PixelsAck(PixelsAck),
}

impl ClientMessage {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "subscribe",
        "unsubscribe",
        "request",
        "command",
        "ping",
        "pong",
        "bye",
        "pixels_ack",
    ];

    /// Encodes to JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Welcome {
    pub protocol: u32,
    pub session: String,
    pub server: PeerInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub role: Role,
    pub streams: Vec<StreamInfo>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub heartbeat_ms: u64,
    pub idle_timeout_ms: u64,
}

/// `event` — all the items one tick produced for one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub stream: String,
    pub seq: u64,
    /// On a merged `latest`/`coalesce` event: the oldest seq it merges (nothing was lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    pub frame: u32,
    pub items: Vec<serde_json::Value>,
}

impl Event {
    /// Decodes the items as the stream's item type.
    ///
    /// # Errors
    /// When an item does not have the shape of `T`.
    pub fn items_as<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, serde_json::Error> {
        self.items.iter().map(|v| T::deserialize(v)).collect()
    }
}

/// `movie_state` — the playhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MovieState {
    pub frame: u32,
    pub frame_count: u32,
    pub tempo: u32,
    pub playing: bool,
}

/// A member as the `stage` snapshot lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberInfo {
    pub cast_lib: u32,
    pub member_num: u32,
    pub name: String,
    /// `bitmap`, `shape`, `text`, `sound` or `film_loop`.
    pub kind: String,
    #[serde(default)]
    pub props: BTreeMap<String, PropValue>,
}

impl MemberInfo {
    /// The member's reference.
    pub fn member_ref(&self) -> MemberRef {
        MemberRef {
            cast_lib: self.cast_lib,
            member_num: self.member_num,
        }
    }
}

/// The `stage` request's data and the body of a `snapshot` message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct StageSnapshot {
    /// Per stream, the last seq this snapshot includes.
    #[serde(default)]
    pub seqs: BTreeMap<String, u64>,
    pub movie: Option<MovieState>,
    #[serde(default)]
    pub stage_props: BTreeMap<String, PropValue>,
    #[serde(default)]
    pub movie_props: BTreeMap<String, PropValue>,
    /// Full sprite states.
    #[serde(default)]
    pub sprites: Vec<SpriteDelta>,
    #[serde(default)]
    pub members: Vec<MemberInfo>,
}

/// `response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Response {
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ack {
    pub id: u64,
    pub status: AckStatus,
    /// The frame the command took effect on (`applied`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Ack {
    /// An `applied` ack.
    pub fn applied(id: u64, frame: u32, result: Option<serde_json::Value>) -> Self {
        Self {
            id,
            status: AckStatus::Applied,
            frame: Some(frame),
            result,
            error: None,
        }
    }

    /// A `rejected` ack.
    pub fn rejected(id: u64, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            id,
            status: AckStatus::Rejected,
            frame: None,
            result: None,
            error: Some(ErrorBody::new(code, message)),
        }
    }

    /// A `busy` ack.
    pub fn busy(id: u64) -> Self {
        Self {
            id,
            status: AckStatus::Busy,
            frame: None,
            result: None,
            error: Some(ErrorBody::new(ErrorCode::Busy, "command queue full")),
        }
    }
}

/// `gap` — fifo seqs `from_seq..=to_seq` of `stream` were dropped for this client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Gap {
    pub stream: String,
    pub from_seq: u64,
    pub to_seq: u64,
}

/// `notice` — informational (`host_left`, `host_joined`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notice {
    pub code: ErrorCode,
    #[serde(default)]
    pub message: String,
}

/// `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    pub message: String,
    pub fatal: bool,
    /// The request or command id this error answers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

impl ErrorMessage {
    /// An error with the code's own fatal flag.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fatal: code.is_fatal(),
            id: None,
        }
    }
}

/// A message from a server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome(Welcome),
    Event(Event),
    Snapshot(StageSnapshot),
    Response(Response),
    Ack(Ack),
    Gap(Gap),
    Notice(Notice),
    Error(ErrorMessage),
    Ping(Ping),
    Pong(Ping),
    Bye(Bye),
}

impl ServerMessage {
    /// Every `type` a server may send.
    pub const TYPES: &'static [&'static str] = &[
        "welcome", "event", "snapshot", "response", "ack", "gap", "notice", "error", "ping",
        "pong", "bye",
    ];

    /// Encodes to JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

macro_rules! from_variant {
    ($enum:ident: $($ty:ty => $v:ident),*) => {$(
        impl From<$ty> for $enum { fn from(m: $ty) -> Self { $enum::$v(m) } }
    )*};
}
from_variant!(ClientMessage: Hello => Hello, Subscribe => Subscribe, Unsubscribe => Unsubscribe,
    Request => Request, CommandMessage => Command, Bye => Bye, PixelsAck => PixelsAck);
from_variant!(ServerMessage: Welcome => Welcome, Event => Event, StageSnapshot => Snapshot,
    Response => Response, Ack => Ack, Gap => Gap, Notice => Notice, ErrorMessage => Error);
