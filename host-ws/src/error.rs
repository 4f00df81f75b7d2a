//! [`HostError`]: why the WebSocket host could not start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why [`crate::serve`] or [`crate::check_no_auth`] refused.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The address could not be bound (in use, not ours, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate or key file could not be read or used.
    #[error("TLS {what} {}: {message}", path.display())]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    /// The certificate and key do not make a usable TLS configuration (a key that does not
    /// match the certificate, an unsupported key type).
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// Running without tokens was asked for on an address other machines can reach.
    #[error(
        "refusing to run without authentication on {addr}: it is reachable from other machines; \
         bind a loopback address (127.0.0.1 or ::1) or use a token"
    )]
    NoAuthOffLoopback { addr: SocketAddr },
    /// [`crate::serve`] was called outside a Tokio runtime.
    #[error("the WebSocket host must be started from within a Tokio runtime")]
    NoRuntime,
}
