//! [`Settings`]: what the terminal remembers between runs — the last URLs it connected to, the
//! transport the user prefers, and the panel layout — as JSON in the user's config directory
//! (`~/.config/stagelink/terminal.json` on Linux, via the `dirs` crate).
//!
//! Tokens are never written there: a URL's `?token=` is stripped before it is remembered, so the
//! token comes from `--token`/`STAGELINK_TOKEN` (or a pasted URL) each time.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::layout::{LayoutPreset, Panel};

/// How many URLs are remembered.
pub const MAX_RECENT: usize = 8;

/// The file name inside `<config dir>/stagelink/`.
pub const SETTINGS_FILE: &str = "terminal.json";

/// What went wrong reading or writing the settings file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// No config directory on this system and no `--config` given.
    #[error("no config directory found (set --config or STAGELINK_TERM_CONFIG)")]
    NoConfigDir,
    /// Reading or writing the file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// `reading` / `writing`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not settings JSON.
    #[error("{path} is not valid settings JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde's explanation.
        source: serde_json::Error,
    },
}

/// A transport family, to order the choices offered when no URL is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// `ws://` to a player host.
    Ws,
    /// `wss://`.
    Wss,
    /// A local socket (`pipe://`).
    Pipe,
    /// A relay (a WebSocket URL with a project).
    Relay,
}

impl Transport {
    /// The family of a URL (with the project it is used with).
    pub fn of(url: &str, project: Option<&str>) -> Transport {
        let lower = url.trim().to_ascii_lowercase();
        if lower.starts_with("pipe://") {
            Transport::Pipe
        } else if project.is_some() || lower.contains("project=") {
            Transport::Relay
        } else if lower.starts_with("wss://") || lower.starts_with("https://") {
            Transport::Wss
        } else {
            Transport::Ws
        }
    }
}

/// A URL connected to before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentUrl {
    /// The URL, without its token.
    pub url: String,
    /// The project it was used with (relays need one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// The panel arrangement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PanelLayout {
    /// Which arrangement.
    pub preset: LayoutPreset,
    /// The panel that had the focus.
    pub focus: Panel,
}

/// Everything remembered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Newest first.
    pub recent: Vec<RecentUrl>,
    /// The transport of the last successful connection.
    pub preferred_transport: Option<Transport>,
    /// The panel layout.
    pub layout: PanelLayout,
}

impl Settings {
    /// The default settings file: `<config dir>/stagelink/terminal.json`.
    ///
    /// # Errors
    /// [`SettingsError::NoConfigDir`] when the system has no config directory.
    pub fn default_path() -> Result<PathBuf, SettingsError> {
        dirs::config_dir()
            .map(|d| d.join("stagelink").join(SETTINGS_FILE))
            .ok_or(SettingsError::NoConfigDir)
    }

    /// Reads the settings; a missing file gives the defaults.
    ///
    /// # Errors
    /// When the file exists but cannot be read or is not settings JSON.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Json {
                path: path.to_owned(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(SettingsError::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the settings (through a temporary file, so a crash never leaves half a file).
    ///
    /// # Errors
    /// When the directory or the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let io = |source| SettingsError::Io {
            action: "writing",
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut json = serde_json::to_vec_pretty(self).map_err(|source| SettingsError::Json {
            path: path.to_owned(),
            source,
        })?;
        json.push(b'\n');
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Remembers a URL that connected (newest first, without its token, no duplicates).
    pub fn remember(&mut self, url: &str, project: Option<&str>) {
        let entry = RecentUrl {
            url: strip_token(url),
            project: project.map(str::to_owned),
        };
        self.recent.retain(|r| r != &entry);
        self.recent.insert(0, entry);
        self.recent.truncate(MAX_RECENT);
        self.preferred_transport = Some(Transport::of(url, project));
    }
}

/// The URL without a `token` query parameter (other parameters are kept as written).
pub fn strip_token(url: &str) -> String {
    let url = url.trim();
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"))
        .collect();
    let mut out = base.to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_never_remembered() {
        assert_eq!(strip_token("ws://h:1/ws?token=abc"), "ws://h:1/ws");
        assert_eq!(
            strip_token("ws://relay/ws?project=demo&token=abc&x=1"),
            "ws://relay/ws?project=demo&x=1"
        );
        assert_eq!(strip_token("pipe://demo"), "pipe://demo");
    }

    #[test]
    fn remembers_newest_first_without_duplicates() {
        let mut s = Settings::default();
        s.remember("ws://a/ws?token=1", None);
        s.remember("pipe:///tmp/x.sock", None);
        s.remember("ws://a/ws?token=2", None);
        let urls: Vec<_> = s.recent.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, ["ws://a/ws", "pipe:///tmp/x.sock"]);
        assert_eq!(s.preferred_transport, Some(Transport::Ws));
        s.remember("ws://relay/ws", Some("demo"));
        assert_eq!(s.preferred_transport, Some(Transport::Relay));
        for i in 0..20 {
            s.remember(&format!("ws://h{i}/ws"), None);
        }
        assert_eq!(s.recent.len(), MAX_RECENT);
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(SETTINGS_FILE);
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        let mut s = Settings::default();
        s.remember("ws://a/ws", None);
        s.layout.preset = LayoutPreset::Stage;
        s.layout.focus = Panel::Inspector;
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path).unwrap(), s);
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            Settings::load(&path),
            Err(SettingsError::Json { .. })
        ));
        // Unknown and missing fields are fine (older or newer versions).
        std::fs::write(&path, r#"{"recent":[],"future":1}"#).unwrap();
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
    }
}
