//! Decoders that never panic and name the problem.
//!
//! The fast path is one `serde_json::from_slice`. Only when it fails does the slow path parse
//! again to say *what* is wrong, with the error codes of the protocol: `bad_json` (with line and
//! column), `unknown_type`, `missing_field` (naming the field), `invalid_field`.

use serde::de::DeserializeOwned;

use crate::error::ErrorCode;
use crate::message::{ClientMessage, ServerMessage};

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    /// `bad_json`, `unknown_type`, `missing_field` or `invalid_field`.
    pub code: ErrorCode,
    /// Human-readable, naming the field or position.
    pub message: String,
    /// The message's `type`, when it could be read.
    pub message_type: Option<String>,
    /// The message's `id`, when it could be read — so a malformed `command` still gets its
    /// `rejected` ack and a malformed `request` its failed `response`.
    pub id: Option<u64>,
}

impl DecodeError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            message_type: None,
            id: None,
        }
    }
}

/// Decodes a client → server JSON message.
///
/// # Errors
/// A [`DecodeError`] naming the problem; never panics, whatever the bytes.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMessage, DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(m) => Ok(m),
        Err(e) => Err(diagnose::<ClientMessage>(bytes, ClientMessage::TYPES, &e)),
    }
}

/// Decodes a server → client JSON message.
///
/// # Errors
/// A [`DecodeError`] naming the problem; never panics, whatever the bytes.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMessage, DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(m) => Ok(m),
        Err(e) => Err(diagnose::<ServerMessage>(bytes, ServerMessage::TYPES, &e)),
    }
}

/// The slow path: find out why `bytes` is not a `T` (`first` is the fast path's error).
fn diagnose<T: DeserializeOwned>(
    bytes: &[u8],
    types: &[&str],
    first: &serde_json::Error,
) -> DecodeError {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return DecodeError::new(ErrorCode::BadJson, e.to_string()),
    };
    let Some(object) = value.as_object() else {
        return DecodeError::new(ErrorCode::InvalidField, "a message must be a JSON object");
    };
    let id = object.get("id").and_then(serde_json::Value::as_u64);
    let ty = match object.get("type") {
        None => {
            let mut e = DecodeError::new(ErrorCode::MissingField, "missing field `type`");
            e.id = id;
            return e;
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => {
            let mut e = DecodeError::new(ErrorCode::InvalidField, "field `type` must be a string");
            e.id = id;
            return e;
        }
    };
    let mut error = if !types.contains(&ty.as_str()) {
        DecodeError::new(
            ErrorCode::UnknownType,
            format!("unknown message type `{ty}`"),
        )
    } else if let Some(kind) = unknown_command_kind(&ty, &value) {
        DecodeError::new(
            ErrorCode::UnknownCommand,
            format!(
                "unknown command kind `{kind}`; known: {}",
                crate::Command::KINDS.join(", ")
            ),
        )
    } else if let Err((path, e)) = body::check(&ty, &value) {
        field_error(&ty, &path, &e)
    } else {
        match serde_path_to_error::deserialize::<_, T>(&value) {
            Err(e) => field_error(&ty, &e.path().to_string(), e.inner()),
            // Only the byte-level parse fails (a duplicate field, say): its message says why.
            Ok(_) => DecodeError::new(ErrorCode::InvalidField, format!("invalid `{ty}`: {first}")),
        }
    };
    error.message_type = Some(ty);
    error.id = id;
    error
}

/// A `command` whose `command.kind` is a string naming no command (nested batches included):
/// that is `unknown_command`, not a malformed field.
fn unknown_command_kind(ty: &str, value: &serde_json::Value) -> Option<String> {
    fn find(command: &serde_json::Value) -> Option<String> {
        let kind = command.get("kind")?.as_str()?;
        if !crate::Command::KINDS.contains(&kind) {
            return Some(kind.to_owned());
        }
        command.get("commands")?.as_array()?.iter().find_map(find)
    }
    if ty != "command" {
        return None;
    }
    find(value.get("command")?)
}

/// Deserializes a message's body as its own struct, so that the error carries the path of the
/// offending field: through the `type`-tagged enum, serde buffers the body and the path is lost.
mod body {
    use serde::Deserialize;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use crate::command::Command;
    use crate::message::*;

    /// The path of the offending field (`.` for the message itself) and what is wrong there.
    type FieldError = (String, serde_json::Error);

    /// How many nested `batch` levels the search for the failing inner command descends
    /// (each level re-reads the failing subtree, so the slow path stays bounded).
    const MAX_BATCH_DEPTH: usize = 8;

    fn check_as<T: DeserializeOwned>(value: &Value) -> Result<(), FieldError> {
        serde_path_to_error::deserialize::<_, T>(value)
            .map(drop)
            .map_err(|e| (e.path().to_string(), e.into_inner()))
    }

    /// The body's error, with its path, or `Ok` when the body struct accepts it.
    pub(super) fn check(ty: &str, value: &Value) -> Result<(), FieldError> {
        match ty {
            "hello" => check_as::<Hello>(value),
            "subscribe" => check_as::<Subscribe>(value),
            "unsubscribe" => check_as::<Unsubscribe>(value),
            "request" => check_as::<Request>(value),
            "command" => check_command(value),
            "ping" | "pong" => check_as::<Ping>(value),
            "bye" => check_as::<Bye>(value),
            "pixels_ack" => check_as::<PixelsAck>(value),
            "welcome" => check_as::<Welcome>(value),
            "event" => check_as::<Event>(value),
            "snapshot" => check_as::<StageSnapshot>(value),
            "response" => check_as::<Response>(value),
            "ack" => check_as::<Ack>(value),
            "gap" => check_as::<Gap>(value),
            "notice" => check_as::<Notice>(value),
            "error" => check_as::<ErrorMessage>(value),
            _ => Ok(()),
        }
    }

    /// A `command`'s error. [`Command`] is tagged by `kind`, so its own errors come back with
    /// the path `command`; inside a `batch`, point at the first failing inner command instead.
    fn check_command(value: &Value) -> Result<(), FieldError> {
        let (path, error) = match check_as::<CommandMessage>(value) {
            Ok(()) => return Ok(()),
            Err((path, e)) if path != "command" => return Err((path, e)),
            Err(e) => e,
        };
        let mut at = path;
        let mut error = error;
        let mut command = &value["command"];
        for _ in 0..MAX_BATCH_DEPTH {
            if command.get("kind").and_then(Value::as_str) != Some("batch") {
                break;
            }
            let Some(inner) = command.get("commands").and_then(Value::as_array) else {
                break;
            };
            let Some((i, bad, e)) = inner
                .iter()
                .enumerate()
                .find_map(|(i, c)| Command::deserialize(c).err().map(|e| (i, c, e)))
            else {
                break;
            };
            at = format!("{at}.commands[{i}]");
            error = e;
            command = bad;
        }
        Err((at, error))
    }
}

fn field_error(ty: &str, path: &str, inner: &serde_json::Error) -> DecodeError {
    let inner = inner.to_string();
    let prefix = if path == "." || path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return DecodeError::new(
            ErrorCode::MissingField,
            format!("`{ty}` is missing field `{prefix}{field}`"),
        );
    }
    let location = if prefix.is_empty() {
        String::new()
    } else {
        format!(" at `{path}`")
    };
    DecodeError::new(
        ErrorCode::InvalidField,
        format!("invalid `{ty}`{location}: {inner}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_hello() {
        let m = decode_client(br#"{"type":"hello","protocol":1,"role":"controller"}"#).unwrap();
        assert!(matches!(m, ClientMessage::Hello(h) if h.protocol == 1));
    }
}
