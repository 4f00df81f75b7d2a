//! # stagelink-contracts — protocol v1 as Rust types
//!
//! Every message, stream item, command, property value, error code and stream policy of the
//! Stagelink wire protocol, with codecs that never panic. Pure: no I/O and no runtime. Every
//! other crate (publisher, hosts, relay, client, player) speaks through these types; the
//! authoritative prose spec is `docs/protocol.md`, and `docs/schema/` holds the JSON Schema
//! generated from these types (a test fails when they drift).
//!
//! ## Layout
//! - [`message`] — [`ClientMessage`] and [`ServerMessage`], tagged by `type`, and their bodies.
//! - [`items`] — one DTO per stream ([`StreamItem`] ties each to its stream and coalescing key).
//! - [`stream`] — the catalogue: [`StreamName`], [`Policy`], [`StreamInfo`].
//! - [`command`] — [`Command`] kinds and [`AckStatus`].
//! - [`value`] — typed property values ([`PropValue`], [`Color`]).
//! - [`error`] — [`ErrorCode`] with fatal flags and close codes, [`ErrorBody`].
//! - [`decode`] — [`decode_client`] / [`decode_server`], naming what is wrong.
//! - [`encode`] — the hot-path `event` encoder used once per flush.
//! - [`framing`] — the local socket's u32-LE length framing ([`FrameCodec`]).
//! - [`pixels`] — the binary pixel-tile message.
//! - [`schema`] — JSON Schema generation.
//!
//! ## Example
//! ```
//! use stagelink_contracts::{decode_client, ClientMessage, Command, ErrorCode};
//!
//! let msg = decode_client(br#"{"type":"command","id":9,"command":{"kind":"go_to_frame","frame":42}}"#).unwrap();
//! let ClientMessage::Command(c) = msg else { unreachable!() };
//! assert_eq!(c.command, Command::GoToFrame { frame: 42 });
//!
//! let err = decode_client(br#"{"type":"command","id":10,"command":{"kind":"go_to_frame"}}"#).unwrap_err();
//! assert_eq!(err.code, ErrorCode::MissingField);
//! assert_eq!(err.id, Some(10)); // so the command still gets its `rejected` ack
//! ```

pub mod command;
pub mod decode;
pub mod encode;
pub mod error;
pub mod framing;
pub mod items;
pub mod message;
pub mod pixels;
pub mod schema;
pub mod stream;
pub mod value;

pub use command::{AckStatus, Command};
pub use decode::{DecodeError, decode_client, decode_server};
pub use encode::{encode_event, encode_event_raw};
pub use error::{ErrorBody, ErrorCode};
pub use framing::{DEFAULT_MAX_FRAME, FrameCodec, FrameError};
pub use items::*;
pub use message::*;
pub use stream::{Policy, STREAM_COUNT, StreamInfo, StreamName};
pub use value::{Color, PropValue};
