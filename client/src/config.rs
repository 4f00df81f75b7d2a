//! [`ClientConfig`]: where to connect, who the client is, what it subscribes to, and its timers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stagelink_contracts::{Role, StreamName};

use crate::backoff::ReconnectPolicy;

/// TLS settings for `wss://`. The default trusts the Mozilla roots (webpki-roots).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Extra PEM certificates to trust besides the built-in roots (a private CA, or a host's
    /// self-signed certificate).
    pub extra_roots_pem: Vec<PathBuf>,
    /// A complete rustls configuration, used as is (takes precedence over everything above).
    pub rustls: Option<Arc<rustls::ClientConfig>>,
}

/// Everything a [`crate::Client`] needs. Build one with [`ClientConfig::new`] or a struct
/// literal with `..ClientConfig::default()`.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://`, `wss://`, `pipe://` (see [`crate::endpoint`]). May carry `?token=` and
    /// `?project=`.
    pub url: String,
    /// The token for `hello`; wins over a `?token=` in the URL. Not needed on local sockets.
    pub token: Option<String>,
    /// The project for `hello` (required by a relay); wins over a `?project=` in the URL.
    pub project: Option<String>,
    /// `observer` (streams and requests) or `controller` (also commands).
    pub role: Role,
    /// `hello.client.id`. The same id connecting again replaces the older session, which is
    /// what a reconnect wants; `None` picks a random id once per client.
    pub client_id: Option<String>,
    /// `hello.client.name`.
    pub client_name: String,
    /// `hello.client.version`.
    pub client_version: String,
    /// Streams to subscribe to (`"*"` for all, pixels included). The default is every stream
    /// but `pixels`, which only a client that draws the stage needs.
    pub subscribe: Vec<String>,
    /// Ask for a snapshot with the first `hello` (reconnects always ask for one).
    pub snapshot: bool,
    /// How long [`crate::Client::command`] waits for the ack.
    pub command_timeout: Duration,
    /// How long [`crate::Client::request`] waits for the response.
    pub request_timeout: Duration,
    /// How long one connection attempt may take, up to `welcome` (and the first snapshot).
    pub connect_timeout: Duration,
    /// Our own ping interval when we have sent nothing; `None` follows `welcome.heartbeat_ms`.
    pub heartbeat: Option<Duration>,
    /// Silence after which the connection counts as dead and is dropped (then reconnected);
    /// `None` follows `welcome.idle_timeout_ms`.
    pub idle_timeout: Option<Duration>,
    /// Reconnect behaviour.
    pub reconnect: ReconnectPolicy,
    /// Capacity of each local broadcast channel (events, pixel frames). A consumer that falls
    /// further behind sees a `Lagged` notice, never a silent hole.
    pub channel_capacity: usize,
    /// Largest accepted inbound message.
    pub max_message: usize,
    /// TLS for `wss://`.
    pub tls: TlsOptions,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            url: "ws://127.0.0.1:61699/ws".into(),
            token: None,
            project: None,
            role: Role::Controller,
            client_id: None,
            client_name: "stagelink-client".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            subscribe: ClientConfig::all_but_pixels(),
            snapshot: true,
            command_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            heartbeat: None,
            idle_timeout: None,
            reconnect: ReconnectPolicy::default(),
            channel_capacity: 1024,
            max_message: stagelink_contracts::DEFAULT_MAX_FRAME,
            tls: TlsOptions::default(),
        }
    }
}

impl ClientConfig {
    /// The defaults, for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Every stream of the catalogue except `pixels`.
    pub fn all_but_pixels() -> Vec<String> {
        StreamName::ALL
            .iter()
            .filter(|s| **s != StreamName::Pixels)
            .map(|s| s.as_str().to_owned())
            .collect()
    }

    /// Sets the token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the project.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Sets the role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Sets the streams to subscribe to.
    pub fn subscribe<S: Into<String>>(mut self, streams: impl IntoIterator<Item = S>) -> Self {
        self.subscribe = streams.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the client id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }
}
