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
        Err(_) => Err(diagnose::<ClientMessage>(bytes, ClientMessage::TYPES)),
    }
}

/// Decodes a server → client JSON message.
///
/// # Errors
/// A [`DecodeError`] naming the problem; never panics, whatever the bytes.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMessage, DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(m) => Ok(m),
        Err(_) => Err(diagnose::<ServerMessage>(bytes, ServerMessage::TYPES)),
    }
}

/// The slow path: find out why `bytes` is not a `T`.
fn diagnose<T: DeserializeOwned>(bytes: &[u8], types: &[&str]) -> DecodeError {
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
        DecodeError::new(ErrorCode::UnknownType, format!("unknown message type `{ty}`"))
    } else {
        match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(_) => DecodeError::new(ErrorCode::InvalidField, "message could not be decoded"),
            Err(e) => field_error(&ty, e),
        }
    };
    error.message_type = Some(ty);
    error.id = id;
    error
}

fn field_error(ty: &str, e: serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
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
