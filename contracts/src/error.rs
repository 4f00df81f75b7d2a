//! Protocol error codes (§8 of the brief, extended in `docs/protocol.md`), with fatal flags
//! and WebSocket close codes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($variant:ident = $n:literal, $name:literal, $fatal:literal, $doc:literal;)*) => {
        /// An error code. Fatal codes end the session; the WebSocket close code is `4000 + n`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $(#[doc = $doc] $variant,)* }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// The code's number `n` (close code `4000 + n`).
            pub const fn number(self) -> u16 {
                match self { $(ErrorCode::$variant => $n,)* }
            }

            /// Whether the session ends after this error.
            pub const fn is_fatal(self) -> bool {
                match self { $(ErrorCode::$variant => $fatal,)* }
            }

            /// Looks a code up by its wire name.
            pub fn parse(name: &str) -> Option<ErrorCode> {
                match name { $($name => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    BadJson = 1, "bad_json", false, "The message is not valid JSON.";
    UnknownType = 2, "unknown_type", false, "The message's `type` is not one this side knows.";
    MissingField = 3, "missing_field", false, "A required field is missing.";
    InvalidField = 4, "invalid_field", false, "A field has the wrong type or an invalid value.";
    NotIdentified = 5, "not_identified", true, "A message arrived before `hello`.";
    AlreadyIdentified = 6, "already_identified", false, "A second `hello`.";
    AuthFailed = 7, "auth_failed", true, "Missing or wrong token.";
    ProtocolVersion = 8, "protocol_version", true, "Unsupported protocol version.";
    UnknownProject = 9, "unknown_project", true, "No such project here.";
    UnknownStream = 10, "unknown_stream", false, "Subscribe to a stream that does not exist.";
    Forbidden = 11, "forbidden", false, "The role may not do this (an observer's command).";
    FrameTooLarge = 12, "frame_too_large", true, "A message over the size limit.";
    RateLimited = 13, "rate_limited", false, "Too many messages per second.";
    IdleTimeout = 14, "idle_timeout", true, "Silence past `idle_timeout_ms`.";
    SessionReplaced = 15, "session_replaced", true, "The same client id connected again; do not reconnect.";
    HostLeft = 16, "host_left", false, "Relay notice: the project's host went away.";
    HostJoined = 17, "host_joined", false, "Relay notice: the project's host is back.";
    Busy = 18, "busy", false, "The command queue is full.";
    UnknownRequest = 19, "unknown_request", false, "A request `what` this host does not answer.";
    UnknownSprite = 20, "unknown_sprite", false, "No such sprite span.";
    UnknownMember = 21, "unknown_member", false, "No such cast member.";
    UnknownProperty = 22, "unknown_property", false, "No such property on that object.";
    InvalidValue = 23, "invalid_value", false, "A value of the wrong kind for the property.";
    OutOfRange = 24, "out_of_range", false, "A value outside the property's range.";
    UnknownCommand = 25, "unknown_command", false, "A `custom` command with no registered handler.";
    NoHost = 26, "no_host", false, "Relay: the project has no host right now.";
    Timeout = 27, "timeout", false, "The host did not answer in time.";
    Shutdown = 28, "shutdown", true, "The server is shutting down.";
    Internal = 29, "internal", false, "A bug or internal failure; the session goes on.";
    ProjectTaken = 30, "project_taken", true, "Relay: the project already has a live host.";
}

impl ErrorCode {
    /// The WebSocket close code for this error (`4000 + n`).
    pub const fn close_code(self) -> u16 {
        4000 + self.number()
    }

    /// The code for a WebSocket close code, if it is one of ours.
    pub fn from_close_code(code: u16) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.close_code() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"code": …, "message": …}` inside `ack` and `response`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    /// An error body.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_dense_and_close_codes_map_back() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.number() as usize, i + 1);
            assert_eq!(ErrorCode::from_close_code(c.close_code()), Some(*c));
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_string(c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }

    #[test]
    fn fatal_codes_match_the_brief() {
        let fatal: Vec<_> = ErrorCode::ALL
            .iter()
            .filter(|c| c.is_fatal())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            fatal,
            [
                "not_identified",
                "auth_failed",
                "protocol_version",
                "unknown_project",
                "frame_too_large",
                "idle_timeout",
                "session_replaced",
                "shutdown",
                "project_taken"
            ]
        );
    }
}
