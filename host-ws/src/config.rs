//! [`WsConfig`]: where the host listens, which browser origins may connect, TLS, the viewer.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The port a player host listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 61699;

/// `127.0.0.1:61699`: loopback only, so nothing off the machine can reach a fresh host.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT);

/// How the WebSocket host is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// The address to bind. Port 0 picks a free port ([`crate::WsServer::local_addr`] tells
    /// which). Defaults to [`DEFAULT_ADDR`]; anything off loopback should come with tokens and
    /// TLS.
    pub addr: SocketAddr,
    /// Extra browser origins allowed to open `/ws` (exact match, such as
    /// `https://tools.example.com`), besides the host's own. Pages from any other origin are
    /// refused with 403, so a web page the user happens to visit cannot steer the player.
    pub allow_origins: Vec<String>,
    /// Serve `https://` and `wss://` with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Whether `/` serves the built-in browser viewer (`/viewer.js`, `/viewer.css` with it).
    pub viewer: bool,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            allow_origins: Vec::new(),
            tls: None,
            viewer: true,
        }
    }
}

/// PEM files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM, one or more `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}
