//! Where to connect: `ws://`, `wss://`, `pipe://` URLs (and a pasted viewer `http://` URL), with the
//! `token` and `project` a URL may carry.
//!
//! | URL | endpoint |
//! |---|---|
//! | `ws://127.0.0.1:61699/ws` | WebSocket |
//! | `wss://stage.example/ws` | WebSocket over TLS |
//! | `ws://relay:61700/ws?project=demo&token=T` | relay: project and token go into `hello` |
//! | `http://127.0.0.1:61699/?token=T` | the player's viewer URL: its `/ws`, with the token |
//! | `pipe:///run/user/1000/stagelink/demo.sock` | Unix socket at that absolute path |
//! | `pipe://demo` | the default local socket (or Windows named pipe) of project `demo` |
//!
//! The token and project are taken out of the URL the client dials: the protocol carries them in
//! `hello` only, so they do not end up in a server's request log.

use std::path::PathBuf;

use url::Url;

use crate::error::ClientError;

/// A transport address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A WebSocket URL (`ws://` or `wss://`), without `token`/`project` in its query.
    WebSocket(Url),
    /// A local socket: a Unix socket path, or on Windows a named pipe path (`\\.\pipe\…`).
    LocalSocket(PathBuf),
}

impl Endpoint {
    /// Whether the connection is encrypted (`wss://`).
    pub fn is_tls(&self) -> bool {
        matches!(self, Endpoint::WebSocket(u) if u.scheme() == "wss")
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::WebSocket(u) => write!(f, "{u}"),
            Endpoint::LocalSocket(p) => write!(f, "pipe://{}", p.display()),
        }
    }
}

/// A parsed URL: where to connect, and what the URL said about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// `?token=` from the URL.
    pub token: Option<String>,
    /// `?project=` from the URL (relay URLs name their project this way).
    pub project: Option<String>,
}

impl Target {
    /// Parses a client URL.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] naming what is wrong: an unknown scheme, no host, a relative
    /// socket path.
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        if let Some(rest) = strip_prefix_ignore_case(trimmed, "pipe://") {
            return parse_pipe(rest).map_err(|r| invalid(&r));
        }
        let mut parsed = Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        let (ws_scheme, viewer) = match scheme.as_str() {
            "ws" => ("ws", false),
            "wss" => ("wss", false),
            "http" => ("ws", true),
            "https" => ("wss", true),
            other => {
                return Err(invalid(&format!(
                    "unknown scheme `{other}`; use ws://, wss:// or pipe://"
                )));
            }
        };
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        let (token, project, rest) = split_query(parsed.query());
        parsed.set_query(rest.as_deref());
        if viewer {
            // A pasted viewer URL: the WebSocket lives at `/ws` on the same listener.
            if parsed.set_scheme(ws_scheme).is_err() {
                return Err(invalid("cannot turn this http URL into a WebSocket URL"));
            }
            if parsed.path() == "/" || parsed.path().is_empty() {
                parsed.set_path("/ws");
            }
        }
        parsed.set_fragment(None);
        Ok(Target {
            endpoint: Endpoint::WebSocket(parsed),
            token,
            project,
        })
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// `rest` is what follows `pipe://`: `/abs/path.sock[?query]` or `project[?query]`.
fn parse_pipe(rest: &str) -> Result<Target, String> {
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    let (token, query_project, _) = split_query(query);
    let location = percent_decode(location)?;
    if location.starts_with('/') {
        return Ok(Target {
            endpoint: Endpoint::LocalSocket(PathBuf::from(location)),
            token,
            project: query_project,
        });
    }
    if location.is_empty() {
        return Err(
            "a pipe URL needs a path (pipe:///abs/path.sock) or a project (pipe://demo)".into(),
        );
    }
    if location.contains(['/', '\\']) {
        return Err(format!(
            "`{location}` is neither an absolute socket path (pipe:///abs/path.sock) nor a project name (pipe://demo)"
        ));
    }
    Ok(Target {
        endpoint: Endpoint::LocalSocket(default_socket_path(&location)),
        token,
        project: Some(query_project.unwrap_or(location)),
    })
}

/// Takes `token` and `project` out of a query string; the rest is kept for the URL dialled.
fn split_query(query: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
    let Some(query) = query else {
        return (None, None, None);
    };
    let mut token = None;
    let mut project = None;
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    let mut kept = 0;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "token" if !value.is_empty() => token = Some(value.into_owned()),
            "project" if !value.is_empty() => project = Some(value.into_owned()),
            "token" | "project" => {}
            _ => {
                rest.append_pair(&key, &value);
                kept += 1;
            }
        }
    }
    let rest = (kept > 0).then(|| rest.finish());
    (token, project, rest)
}

/// Decodes `%XX` escapes (a path is not form data: `+` stays `+`).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i} of `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` does not decode to UTF-8"))
}

/// The default local socket of a project, where a player listens unless told otherwise
/// (the same rule as `stagelink-host-pipe`): `$XDG_RUNTIME_DIR/stagelink/<project>.sock` when
/// that variable is an absolute path, else `/tmp/stagelink-<uid>/<project>.sock`; on Windows the
/// named pipe `\\.\pipe\stagelink-<project>`. Characters other than ASCII letters, digits,
/// `-`, `_` and `.` in the project become `_` (and a leading `.` gets a `_` in front).
pub fn default_socket_path(project: &str) -> PathBuf {
    let file = file_safe(project);
    #[cfg(windows)]
    {
        PathBuf::from(format!(r"\\.\pipe\stagelink-{file}"))
    }
    #[cfg(not(windows))]
    {
        match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
            Some(dir) if dir.is_absolute() => dir.join("stagelink").join(format!("{file}.sock")),
            _ => PathBuf::from(format!("/tmp/stagelink-{}", current_uid()))
                .join(format!("{file}.sock")),
        }
    }
}

fn file_safe(project: &str) -> String {
    let mut out: String = project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(all(not(unix), not(windows)))]
fn current_uid() -> u32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(url: &str) -> (String, Option<String>, Option<String>) {
        let t = Target::parse(url).unwrap();
        let Endpoint::WebSocket(u) = t.endpoint else {
            panic!("not a websocket: {url}")
        };
        (u.to_string(), t.token, t.project)
    }

    #[test]
    fn plain_websocket_urls() {
        assert_eq!(
            ws("ws://127.0.0.1:61699/ws"),
            ("ws://127.0.0.1:61699/ws".into(), None, None)
        );
        let t = Target::parse("wss://stage.example/ws").unwrap();
        assert!(t.endpoint.is_tls());
        assert!(!Target::parse("ws://a/ws").unwrap().endpoint.is_tls());
    }

    #[test]
    fn token_and_project_leave_the_dialled_url() {
        assert_eq!(
            ws("ws://relay:61700/ws?project=demo&token=s%20cr%C3%A9t&x=1"),
            (
                "ws://relay:61700/ws?x=1".into(),
                Some("s crét".into()),
                Some("demo".into())
            )
        );
        assert_eq!(
            ws("ws://relay:61700/ws?token=abc"),
            ("ws://relay:61700/ws".into(), Some("abc".into()), None)
        );
    }

    #[test]
    fn a_pasted_viewer_url_becomes_its_websocket() {
        assert_eq!(
            ws("http://127.0.0.1:61699/?token=T0k"),
            ("ws://127.0.0.1:61699/ws".into(), Some("T0k".into()), None)
        );
        assert_eq!(ws("https://h:1/").0, "wss://h:1/ws");
    }

    #[test]
    fn pipe_urls() {
        let t = Target::parse("pipe:///tmp/stage%20link/demo.sock?token=x").unwrap();
        assert_eq!(
            t.endpoint,
            Endpoint::LocalSocket(PathBuf::from("/tmp/stage link/demo.sock"))
        );
        assert_eq!(t.token.as_deref(), Some("x"));
        let t = Target::parse("pipe://demo").unwrap();
        assert_eq!(
            t.endpoint,
            Endpoint::LocalSocket(default_socket_path("demo"))
        );
        assert_eq!(t.project.as_deref(), Some("demo"));
        #[cfg(unix)]
        {
            let name = |p: &str| {
                default_socket_path(p)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            };
            assert_eq!(name("demo"), "demo.sock");
            assert_eq!(name("../x y"), "_.._x_y.sock");
            assert_eq!(name(".hidden"), "_.hidden.sock");
        }
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("ftp://x/ws", "unknown scheme"),
            ("pipe://", "needs a path"),
            ("pipe://rel/ative.sock", "neither an absolute"),
            ("pipe:///bad%zz", "percent escape"),
            ("not a url", "relative URL"),
        ] {
            match Target::parse(url) {
                Err(ClientError::InvalidUrl { reason, .. }) => {
                    assert!(reason.contains(why), "{url}: {reason}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
