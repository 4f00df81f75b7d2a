//! What relay nodes say to each other over a shared backplane: channel and key names, the
//! binary envelope of a project's `out` channel, and the JSON messages of a node's `in` channel.
//!
//! - `stagelink:out:<project>` — everything the host's node receives from the host, published
//!   once: event bytes exactly as the host sent them (behind a small binary header that carries
//!   the stream, seq and frame so receivers need not parse the JSON), pixel tiles as the host's
//!   binary messages, and [`Marker`]s (`host_joined`, `host_left`, `resync`).
//! - `stagelink:in:<node>` — [`InMessage`]s for one node: commands and requests for the host it
//!   holds (with the origin node and a correlation id), the answers coming back, and the claim
//!   handshake a host uses to take a project over from another node.
//! - `stagelink:project:<name>` — the registry: a JSON [`RegistryEntry`] naming the node that holds
//!   the project's host, with a short TTL its node keeps refreshing.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use stagelink_contracts::{Ack, Command, ErrorBody, StreamName};

/// The channel a project's host node publishes on.
pub fn out_channel(project: &str) -> String {
    format!("{OUT_PREFIX}{project}")
}

/// The channel a node receives its commands, requests and answers on.
pub fn in_channel(node: &str) -> String {
    format!("{IN_PREFIX}{node}")
}

/// The registry key of a project.
pub fn project_key(project: &str) -> String {
    format!("{KEY_PREFIX}{project}")
}

pub const OUT_PREFIX: &str = "stagelink:out:";
pub const IN_PREFIX: &str = "stagelink:in:";
pub const KEY_PREFIX: &str = "stagelink:project:";

const KIND_EVENT: u8 = b'E';
const KIND_TILE: u8 = b'T';
const KIND_MARKER: u8 = b'M';

/// A registry row: which node holds a project's host, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub node: String,
    pub host_version: String,
    /// Seconds since the Unix epoch when the host connected.
    pub since: u64,
}

/// A change of the host, told to every node on the project's `out` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "marker", rename_all = "snake_case")]
pub enum Marker {
    /// The sending node now holds the host: a new seq history, so receivers resync.
    HostJoined { host_version: String, since: u64 },
    /// The sending node's host went away.
    HostLeft,
    /// The sending node lost events on the way (a gap from its host, or a full backplane queue):
    /// receivers resync their clients.
    Resync,
}

/// One decoded message of an `out` channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    /// The node that published it (receivers follow only the node holding the host).
    pub node: String,
    pub body: OutBody,
}

/// What an `out` message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum OutBody {
    /// The host's event JSON, unchanged.
    Event {
        stream: StreamName,
        seq: u64,
        frame: u32,
        bytes: Bytes,
    },
    /// The host's binary tile message, unchanged.
    Tile(Bytes),
    Marker(Marker),
}

/// The header that precedes an event's bytes: kind, node, stream, seq, frame.
pub fn event_header(node: &str, stream: StreamName, seq: u64, frame: u32) -> Vec<u8> {
    let mut head = node_header(KIND_EVENT, node, 13);
    head.push(stream.index() as u8);
    head.extend_from_slice(&seq.to_le_bytes());
    head.extend_from_slice(&frame.to_le_bytes());
    head
}

/// The header that precedes a tile's bytes.
pub fn tile_header(node: &str) -> Vec<u8> {
    node_header(KIND_TILE, node, 0)
}

/// A whole marker message.
pub fn marker_message(node: &str, marker: &Marker) -> Vec<u8> {
    let mut msg = node_header(KIND_MARKER, node, 64);
    // Serializing a plain enum of strings and integers cannot fail.
    msg.extend_from_slice(&serde_json::to_vec(marker).unwrap_or_default());
    msg
}

fn node_header(kind: u8, node: &str, extra: usize) -> Vec<u8> {
    // Node ids are short names; a longer one is cut at 255 bytes on a char boundary.
    let mut end = node.len().min(255);
    while !node.is_char_boundary(end) {
        end -= 1;
    }
    let mut head = Vec::with_capacity(2 + end + extra);
    head.push(kind);
    head.push(end as u8);
    head.extend_from_slice(&node.as_bytes()[..end]);
    head
}

/// Why an `out` message could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("backplane message too short ({0} bytes)")]
    Short(usize),
    #[error("unknown backplane message kind {0:#04x}")]
    Kind(u8),
    #[error("node id is not UTF-8")]
    Node,
    #[error("unknown stream index {0}")]
    Stream(u8),
    #[error("bad marker: {0}")]
    Marker(String),
}

/// Decodes an `out` message; event and tile bytes are slices of `msg`, not copies.
///
/// # Errors
/// A message that no node of this version wrote.
pub fn decode_out(msg: &Bytes) -> Result<OutMessage, WireError> {
    let short = || WireError::Short(msg.len());
    let (&kind, rest) = msg.split_first().ok_or_else(short)?;
    let (&len, rest) = rest.split_first().ok_or_else(short)?;
    let node = rest.get(..len as usize).ok_or_else(short)?;
    let node = std::str::from_utf8(node)
        .map_err(|_| WireError::Node)?
        .to_owned();
    let start = 2 + len as usize;
    let body = match kind {
        KIND_EVENT => {
            let head = msg.get(start..start + 13).ok_or_else(short)?;
            let stream = *StreamName::ALL
                .get(head[0] as usize)
                .ok_or(WireError::Stream(head[0]))?;
            let seq = u64::from_le_bytes(head[1..9].try_into().map_err(|_| short())?);
            let frame = u32::from_le_bytes(head[9..13].try_into().map_err(|_| short())?);
            OutBody::Event {
                stream,
                seq,
                frame,
                bytes: msg.slice(start + 13..),
            }
        }
        KIND_TILE => OutBody::Tile(msg.slice(start..)),
        KIND_MARKER => OutBody::Marker(
            serde_json::from_slice(&msg[start..]).map_err(|e| WireError::Marker(e.to_string()))?,
        ),
        other => return Err(WireError::Kind(other)),
    };
    Ok(OutMessage { node, body })
}

/// A message on a node's `in` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InMessage {
    /// A client's command for the host this node holds.
    Command {
        project: String,
        origin: String,
        corr: u64,
        command: Command,
    },
    /// A client's request (`stage` for snapshots) for the host this node holds.
    Request {
        project: String,
        origin: String,
        corr: u64,
        what: String,
    },
    /// The host's ack, back to the node that forwarded the command.
    Ack { corr: u64, ack: Ack },
    /// The host's response, back to the node that forwarded the request.
    Response {
        corr: u64,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// A host connecting to `origin` wants the project: does this node still hold its host
    /// (and, with `takeover`, will it let it go)?
    Claim {
        project: String,
        origin: String,
        corr: u64,
        takeover: bool,
    },
    /// The answer to a claim: `held` means the project stays here.
    Claimed { corr: u64, held: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_messages_round_trip_without_copying_the_payload() {
        let json = br#"{"type":"event","stream":"frames","seq":7,"frame":3,"data":{}}"#;
        let mut msg = event_header("node-a", StreamName::Frames, 7, 3);
        msg.extend_from_slice(json);
        let msg = Bytes::from(msg);
        let decoded = decode_out(&msg).unwrap();
        assert_eq!(decoded.node, "node-a");
        let OutBody::Event {
            stream,
            seq,
            frame,
            bytes,
        } = decoded.body
        else {
            panic!("not an event: {decoded:?}");
        };
        assert_eq!((stream, seq, frame), (StreamName::Frames, 7, 3));
        assert_eq!(&bytes[..], &json[..]);
        assert_eq!(bytes.as_ptr(), msg[msg.len() - json.len()..].as_ptr());

        let mut tile = tile_header("n");
        tile.extend_from_slice(&[1, 2, 3]);
        let decoded = decode_out(&Bytes::from(tile)).unwrap();
        assert_eq!(decoded.body, OutBody::Tile(Bytes::from_static(&[1, 2, 3])));

        let marker = Marker::HostJoined {
            host_version: "1.0".into(),
            since: 42,
        };
        let decoded = decode_out(&Bytes::from(marker_message("n", &marker))).unwrap();
        assert_eq!(decoded.body, OutBody::Marker(marker));
    }

    #[test]
    fn bad_out_messages_are_errors_not_panics() {
        assert_eq!(decode_out(&Bytes::new()), Err(WireError::Short(0)));
        assert_eq!(
            decode_out(&Bytes::from_static(b"E\x05ab")),
            Err(WireError::Short(4))
        );
        assert_eq!(
            decode_out(&Bytes::from_static(b"X\x00")),
            Err(WireError::Kind(b'X'))
        );
        let mut head = event_header("n", StreamName::Frames, 1, 1);
        head[3] = 200;
        assert_eq!(decode_out(&Bytes::from(head)), Err(WireError::Stream(200)));
    }

    #[test]
    fn in_messages_are_tagged_json() {
        let msg = InMessage::Request {
            project: "demo".into(),
            origin: "node-b".into(),
            corr: 9,
            what: "stage".into(),
        };
        let json = serde_json::to_string(&msg).unwrap();
        assert!(json.starts_with(r#"{"kind":"request""#), "{json}");
        assert_eq!(serde_json::from_str::<InMessage>(&json).unwrap(), msg);
    }
}
