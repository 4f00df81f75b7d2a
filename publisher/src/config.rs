//! Hub configuration: identity, tokens, limits and timers.

use std::time::Duration;

use stagelink_contracts::Role;
use subtle::ConstantTimeEq;

/// Who may connect and with which role.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Grants `controller` (and `observer`).
    pub controller_token: Option<String>,
    /// Grants `observer` only.
    pub observer_token: Option<String>,
    /// Grants `host` (relay only).
    pub host_token: Option<String>,
    /// No token needed for observer/controller (loopback-only `--no-auth`, local sockets,
    /// relay `--dev`).
    pub open: bool,
    /// Whether `role: host` sessions are accepted at all (only the relay accepts them).
    pub accept_hosts: bool,
}

/// Compares two tokens in constant time (for equal lengths; length itself is not secret).
pub fn tokens_match(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

impl AuthConfig {
    /// A config that needs no token (local sockets, tests).
    pub fn open() -> Self {
        Self {
            open: true,
            ..Self::default()
        }
    }

    /// A config with a controller token.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            controller_token: Some(token.into()),
            ..Self::default()
        }
    }

    /// The role a `hello` may have, given its token; `None` when the token does not allow it.
    pub fn authorize(&self, requested: Role, token: Option<&str>) -> Option<Role> {
        let matches = |expected: &Option<String>| match (expected, token) {
            (Some(e), Some(t)) => tokens_match(t, e),
            _ => false,
        };
        match requested {
            Role::Host => {
                if !self.accept_hosts {
                    return None;
                }
                (self.open || matches(&self.host_token)).then_some(Role::Host)
            }
            Role::Controller => {
                if self.open || matches(&self.controller_token) {
                    Some(Role::Controller)
                } else {
                    None
                }
            }
            Role::Observer => {
                (self.open || matches(&self.controller_token) || matches(&self.observer_token))
                    .then_some(Role::Observer)
            }
        }
    }
}

/// Everything a [`crate::Hub`] needs to know.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The project this hub publishes (`welcome.project`; a `hello.project` must match it).
    pub project: String,
    /// `welcome.server.name`.
    pub server_name: String,
    /// `welcome.server.version`.
    pub server_version: String,
    pub auth: AuthConfig,
    /// How often the server pings an otherwise quiet session.
    pub heartbeat: Duration,
    /// A session that sends nothing for this long is closed with `idle_timeout`.
    pub idle_timeout: Duration,
    /// Queued events per stream per session before the stream's policy kicks in.
    pub stream_queue: usize,
    /// Commands waiting for the engine, across all sessions; beyond it commands get `busy`.
    pub command_lane: usize,
    /// Requests waiting for the engine per session.
    pub max_requests_in_flight: usize,
    /// Largest accepted inbound message.
    pub max_message: usize,
    /// Inbound messages per second per session before `rate_limited`.
    pub rate_limit_per_sec: u32,
    /// Unacknowledged pixel frames a client may hold.
    pub pixel_window: u32,
    /// Capabilities announced in `welcome`.
    pub capabilities: Vec<String>,
    /// Sessions whose transport may let the publishing thread write to them directly while they
    /// are caught up (see [`crate::direct`]); later ones wait for their session's task as
    /// usual. Each costs the publishing thread one non-blocking write per tick. 0: never.
    pub direct_write_sessions: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            project: "demo".into(),
            server_name: "stagelink".into(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            auth: AuthConfig::open(),
            heartbeat: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            stream_queue: 64,
            command_lane: 256,
            max_requests_in_flight: 64,
            max_message: stagelink_contracts::DEFAULT_MAX_FRAME,
            rate_limit_per_sec: 1000,
            pixel_window: 2,
            capabilities: ["commands", "snapshots", "pixels", "custom"]
                .into_iter()
                .map(String::from)
                .collect(),
            direct_write_sessions: 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_tokens() {
        let auth = AuthConfig {
            controller_token: Some("c".into()),
            observer_token: Some("o".into()),
            ..AuthConfig::default()
        };
        assert_eq!(
            auth.authorize(Role::Controller, Some("c")),
            Some(Role::Controller)
        );
        assert_eq!(auth.authorize(Role::Controller, Some("o")), None);
        assert_eq!(
            auth.authorize(Role::Observer, Some("o")),
            Some(Role::Observer)
        );
        assert_eq!(
            auth.authorize(Role::Observer, Some("c")),
            Some(Role::Observer)
        );
        assert_eq!(auth.authorize(Role::Observer, None), None);
        assert_eq!(auth.authorize(Role::Host, Some("c")), None);
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "abcd"));
    }
}
