//! What can go wrong: [`ClientError`] for calls, [`CloseReason`] for why a client stopped for good.

use std::time::Duration;

use stagelink_contracts::{ErrorBody, ErrorCode};

/// Why a [`crate::Client`] stopped and will not reconnect by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// [`crate::Client::close`] was called, or every handle was dropped.
    Requested,
    /// The server ended the session with an error that retrying cannot fix (`session_replaced`,
    /// `auth_failed`, `protocol_version`, `unknown_project`, `project_taken`).
    Fatal {
        /// The server's error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The first connection could not be made (and `retry_first_connect` was off).
    ConnectFailed(String),
    /// Reconnecting gave up after the policy's `max_attempts`.
    GaveUp {
        /// Attempts made since the connection was lost.
        attempts: u32,
        /// The last attempt's failure.
        last_error: String,
    },
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::Requested => f.write_str("closed by the client"),
            CloseReason::Fatal { code, message } => write!(f, "{code}: {message}"),
            CloseReason::ConnectFailed(e) => write!(f, "could not connect: {e}"),
            CloseReason::GaveUp {
                attempts,
                last_error,
            } => write!(
                f,
                "gave up after {attempts} reconnect attempts: {last_error}"
            ),
        }
    }
}

impl CloseReason {
    /// The server's error code, for a fatal close.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            CloseReason::Fatal { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A failed client call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be used.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The client stopped (or never started) and will not reconnect.
    #[error("client closed: {0}")]
    Closed(CloseReason),
    /// The connection dropped (or was not up) while the call was in flight; the client may be
    /// reconnecting. The command may or may not have been applied.
    #[error("disconnected before an answer arrived")]
    Disconnected,
    /// No answer within the configured time.
    #[error("no answer to {what} within {after:?}")]
    Timeout {
        /// What was waited for (`command 7`, `request stage`).
        what: String,
        /// How long.
        after: Duration,
    },
    /// The server answered with an error (a failed `response`, or a rejected/busy `ack` for
    /// [`crate::Client::command_applied`]).
    #[error("server error {0}")]
    Server(ErrorBody),
    /// The server's answer does not have the expected shape.
    #[error("unexpected {what} data: {message}")]
    Decode {
        /// What was decoded.
        what: String,
        /// serde's explanation.
        message: String,
    },
}

impl From<CloseReason> for ClientError {
    fn from(reason: CloseReason) -> Self {
        ClientError::Closed(reason)
    }
}

/// Why a typed stream could not yield an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// This receiver fell behind and missed `n` events (the local channel is bounded). Call
    /// [`crate::Client::resync`] or use [`crate::Client::subscribe_state`] to get back to an
    /// exact state.
    #[error("missed {0} events: the consumer fell behind")]
    Lagged(u64),
    /// An event's items did not decode as the stream's item type.
    #[error("event of `{stream}` seq {seq} did not decode: {message}")]
    Decode {
        /// The stream.
        stream: String,
        /// The event's seq.
        seq: u64,
        /// serde's explanation.
        message: String,
    },
}
