//! Encoders for the hot path: an `event` is written straight from its items, once per flush.

use bytes::Bytes;
use serde::Serialize;

use crate::stream::StreamName;

/// Encodes `{"type":"event","stream":…,"seq":…,["first_seq":…,]"frame":…,"items":[…]}` from
/// already-serialized items (each a JSON value), without building a message value first.
pub fn encode_event_raw<'a>(
    stream: StreamName,
    seq: u64,
    first_seq: Option<u64>,
    frame: u32,
    items: impl IntoIterator<Item = &'a [u8]>,
) -> Bytes {
    let mut out = Vec::with_capacity(128);
    write_event_head(&mut out, stream, seq, first_seq, frame);
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

/// Encodes an `event` from typed items.
pub fn encode_event<T: Serialize>(
    stream: StreamName,
    seq: u64,
    first_seq: Option<u64>,
    frame: u32,
    items: &[T],
) -> Bytes {
    let mut out = Vec::with_capacity(64 + items.len() * 64);
    write_event_head(&mut out, stream, seq, first_seq, frame);
    // Serializing our own DTOs into a Vec cannot fail (no maps with non-string keys).
    if serde_json::to_writer(&mut out, items).is_err() {
        out.extend_from_slice(b"[]");
    }
    out.push(b'}');
    Bytes::from(out)
}

fn write_event_head(
    out: &mut Vec<u8>,
    stream: StreamName,
    seq: u64,
    first_seq: Option<u64>,
    frame: u32,
) {
    use std::io::Write;
    let _ = write!(
        out,
        r#"{{"type":"event","stream":"{}","seq":{seq},"#,
        stream.as_str()
    );
    if let Some(first) = first_seq {
        let _ = write!(out, r#""first_seq":{first},"#);
    }
    let _ = write!(out, r#""frame":{frame},"items":"#);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_server;
    use crate::items::MovieProp;
    use crate::message::ServerMessage;

    #[test]
    fn encoded_event_decodes() {
        let items = [MovieProp {
            prop: "title".into(),
            value: "Demo".into(),
        }];
        let b = encode_event(StreamName::MovieProps, 7, Some(5), 3, &items);
        let ServerMessage::Event(e) = decode_server(&b).unwrap() else {
            panic!("not an event")
        };
        assert_eq!((e.seq, e.first_seq, e.frame), (7, Some(5), 3));
        assert_eq!(e.items_as::<MovieProp>().unwrap(), items);
        let raw = serde_json::to_vec(&items[0]).unwrap();
        let b2 = encode_event_raw(StreamName::MovieProps, 7, Some(5), 3, [raw.as_slice()]);
        assert_eq!(b, b2);
    }
}
