//! Who may connect: [`check_no_auth`] keeps token-less hosts on loopback, and
//! [`OriginPolicy`] keeps other web pages from opening `/ws` in a user's browser.
//!
//! Browsers let any page open a WebSocket to any address, `127.0.0.1` included, and send the
//! page's origin in the `Origin` header; so the upgrade is refused unless that origin is the
//! host's own page or one the user allowed. Programs that are not browsers send no `Origin` and
//! authenticate with their token.

use std::net::{IpAddr, SocketAddr};

use crate::HostError;

/// Whether `ip` can only be reached from this machine (`127.0.0.0/8`, `::1`, or an IPv4-mapped
/// loopback address).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Refuses to run without tokens (`--no-auth`) unless every listener is on loopback.
///
/// # Errors
/// [`HostError::NoAuthOffLoopback`] naming the first address other machines could reach
/// (`0.0.0.0` and `::` included).
pub fn check_no_auth(addrs: &[SocketAddr]) -> Result<(), HostError> {
    match addrs.iter().find(|a| !is_loopback(a.ip())) {
        Some(addr) => Err(HostError::NoAuthOffLoopback { addr: *addr }),
        None => Ok(()),
    }
}

/// Which browser origins may open a WebSocket.
///
/// Allowed: no `Origin` at all (not a browser); an origin in the allow list (exact match, case
/// and a trailing `/` aside); or the host's own origin, `http://` (`https://` with TLS) plus the
/// request's `Host`. On a loopback listener the own origin counts only when `Host` names
/// loopback (`localhost`, `127.x.y.z`, `[::1]`): otherwise a page on `evil.example` whose name
/// was re-pointed at `127.0.0.1` (DNS rebinding) would pass as "own".
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// The allow list, normalized (lowercase, no trailing `/`).
    allow: Vec<String>,
    /// `https` when the host serves TLS, else `http`: the scheme of its own pages.
    scheme: &'static str,
    /// Whether the listener is on loopback, where only loopback host names are trusted.
    loopback: bool,
}

impl OriginPolicy {
    /// A policy for a listener on `addr`, serving TLS or not, with extra allowed origins.
    pub fn new(allow_origins: &[String], tls: bool, addr: SocketAddr) -> Self {
        Self {
            allow: allow_origins.iter().map(|o| normalize(o)).collect(),
            scheme: if tls { "https" } else { "http" },
            loopback: is_loopback(addr.ip()),
        }
    }

    /// Whether a request with these `Origin` and `Host` header values may upgrade.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let origin = normalize(origin);
        if self.allow.contains(&origin) {
            return true;
        }
        let Some(host) = host else {
            return false;
        };
        let host = host.trim().to_ascii_lowercase();
        if self.loopback && !names_loopback(&host) {
            return false;
        }
        origin
            .strip_prefix(self.scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|authority| authority == host)
    }
}

fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Whether a `Host` value (`name[:port]`, `[v6][:port]`) names this machine.
fn names_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(is_loopback)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_auth_only_on_loopback() {
        assert!(
            check_no_auth(&[addr("127.0.0.1:1"), addr("[::1]:2"), addr("127.5.0.1:3")]).is_ok()
        );
        assert!(check_no_auth(&[addr("[::ffff:127.0.0.1]:1")]).is_ok());
        assert!(check_no_auth(&[]).is_ok());
        for bad in ["0.0.0.0:1", "[::]:1", "192.168.1.2:1", "[2001:db8::1]:1"] {
            let err = check_no_auth(&[addr("127.0.0.1:1"), addr(bad)]).unwrap_err();
            assert!(
                matches!(err, HostError::NoAuthOffLoopback { addr: a } if a == addr(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn origins_on_a_loopback_listener() {
        let p = OriginPolicy::new(
            &["https://Tools.Example.com/".into()],
            false,
            addr("127.0.0.1:61699"),
        );
        assert!(p.allows(None, Some("127.0.0.1:61699")));
        assert!(p.allows(None, None));
        assert!(p.allows(Some("http://127.0.0.1:61699"), Some("127.0.0.1:61699")));
        assert!(p.allows(Some("http://localhost:61699"), Some("localhost:61699")));
        assert!(p.allows(Some("http://[::1]:61699"), Some("[::1]:61699")));
        assert!(p.allows(Some("https://tools.example.com"), Some("127.0.0.1:61699")));
        // Another page, the wrong scheme, a missing Host, `null`, a look-alike prefix.
        assert!(!p.allows(Some("http://evil.example"), Some("127.0.0.1:61699")));
        assert!(!p.allows(Some("https://127.0.0.1:61699"), Some("127.0.0.1:61699")));
        assert!(!p.allows(Some("http://127.0.0.1:61699"), None));
        assert!(!p.allows(Some("null"), Some("127.0.0.1:61699")));
        assert!(!p.allows(Some("http://127.0.0.1:616999"), Some("127.0.0.1:61699")));
        // DNS rebinding: Origin and Host agree, but the name is not loopback.
        assert!(!p.allows(
            Some("http://evil.example:61699"),
            Some("evil.example:61699")
        ));
    }

    #[test]
    fn origins_on_a_public_listener_with_tls() {
        let p = OriginPolicy::new(&[], true, addr("0.0.0.0:443"));
        assert!(p.allows(Some("https://stage.example.com"), Some("stage.example.com")));
        assert!(!p.allows(Some("http://stage.example.com"), Some("stage.example.com")));
        assert!(!p.allows(Some("https://other.example.com"), Some("stage.example.com")));
    }
}
