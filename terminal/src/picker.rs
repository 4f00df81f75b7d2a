//! What to connect to when no URL was given: [`Picker`] offers the URLs used before and the
//! local sockets found on this machine (plus the default player address, and a URL to type).
//!
//! Local sockets live where players put them: `$XDG_RUNTIME_DIR/stagelink/<project>.sock`, else
//! `/tmp/stagelink-<uid>/<project>.sock` (the client library's [`default_socket_path`]); every
//! socket in that directory is offered.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use stagelink_client::default_socket_path;

use crate::settings::{Settings, Transport};

/// The player's default WebSocket address.
pub const DEFAULT_WS_URL: &str = "ws://127.0.0.1:61699/ws";

/// Where a choice comes from (its label says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceSource {
    /// Connected to before.
    Recent,
    /// A socket file found on this machine.
    LocalSocket,
    /// The player's default address.
    Default,
    /// Typed by the user.
    Typed,
}

/// Something to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The URL.
    pub url: String,
    /// The project to ask for (relays need one).
    pub project: Option<String>,
    /// Where it comes from.
    pub source: ChoiceSource,
}

impl Choice {
    /// What the list says about it.
    pub fn note(&self) -> String {
        match self.source {
            ChoiceSource::Recent => match &self.project {
                Some(p) => format!("used before · project {p}"),
                None => "used before".into(),
            },
            ChoiceSource::LocalSocket => "local socket found".into(),
            ChoiceSource::Default => "default player address".into(),
            ChoiceSource::Typed => "typed".into(),
        }
    }
}

/// The sockets in the directory where players put theirs, `project`'s first.
pub fn local_sockets(project: Option<&str>) -> Vec<PathBuf> {
    let default = default_socket_path(project.unwrap_or("demo"));
    let mut found = match default.parent() {
        Some(dir) => sockets_in(dir),
        None => Vec::new(),
    };
    found.sort();
    if let Some(i) = found.iter().position(|p| *p == default) {
        let first = found.remove(i);
        found.insert(0, first);
    }
    found
}

#[cfg(unix)]
fn sockets_in(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .collect()
}

#[cfg(not(unix))]
fn sockets_in(_dir: &Path) -> Vec<PathBuf> {
    // Named pipes cannot be listed portably; offer the project's default pipe instead.
    Vec::new()
}

/// The URL of a local socket.
pub fn socket_url(path: &Path) -> String {
    let s = path.to_string_lossy().replace(' ', "%20");
    if s.starts_with('/') {
        format!("pipe://{s}")
    } else {
        format!("pipe:///{s}")
    }
}

/// Everything to offer, in order: the preferred transport's first, duplicates removed.
pub fn choices(settings: &Settings, project: Option<&str>, sockets: &[PathBuf]) -> Vec<Choice> {
    let recent = settings.recent.iter().map(|r| Choice {
        url: r.url.clone(),
        project: r.project.clone().or_else(|| project.map(str::to_owned)),
        source: ChoiceSource::Recent,
    });
    let local = sockets.iter().map(|p| Choice {
        url: socket_url(p),
        project: project.map(str::to_owned),
        source: ChoiceSource::LocalSocket,
    });
    let mut all: Vec<Choice> = if settings.preferred_transport == Some(Transport::Pipe) {
        local.chain(recent).collect()
    } else {
        recent.chain(local).collect()
    };
    all.push(Choice {
        url: DEFAULT_WS_URL.into(),
        project: project.map(str::to_owned),
        source: ChoiceSource::Default,
    });
    let mut seen = std::collections::HashSet::new();
    all.retain(|c| seen.insert(c.url.clone()));
    all
}

/// What a key did in the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerAction {
    /// Nothing to do yet.
    None,
    /// Connect to this.
    Connect(Choice),
    /// Leave without connecting.
    Quit,
}

/// The picker's state.
#[derive(Debug, Clone)]
pub struct Picker {
    /// What is offered.
    pub choices: Vec<Choice>,
    /// The highlighted row (`choices.len()` is the "type a URL" row).
    pub selected: usize,
    /// The URL being typed, when typing.
    pub typing: Option<String>,
    /// The project to use with a typed URL.
    pub project: Option<String>,
    /// A line under the list: the last connection error, or "connecting…".
    pub message: Option<(String, bool)>,
}

impl Picker {
    /// A picker over `choices`.
    pub fn new(choices: Vec<Choice>, project: Option<String>) -> Self {
        Self {
            choices,
            selected: 0,
            typing: None,
            project,
            message: None,
        }
    }

    /// Handles a key.
    pub fn handle_key(&mut self, key: KeyEvent) -> PickerAction {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return PickerAction::Quit;
        }
        if let Some(input) = &mut self.typing {
            match key.code {
                KeyCode::Esc => self.typing = None,
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Char(c) => input.push(c),
                KeyCode::Enter if !input.trim().is_empty() => {
                    return PickerAction::Connect(Choice {
                        url: input.trim().to_owned(),
                        project: self.project.clone(),
                        source: ChoiceSource::Typed,
                    });
                }
                _ => {}
            }
            return PickerAction::None;
        }
        let rows = self.choices.len() + 1;
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return PickerAction::Quit,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(rows - 1),
            KeyCode::Char('u') | KeyCode::Char('/') => self.typing = Some(String::new()),
            KeyCode::Char(c @ '1'..='9') => {
                let i = usize::from(c as u8 - b'1');
                if let Some(choice) = self.choices.get(i) {
                    return PickerAction::Connect(choice.clone());
                }
            }
            KeyCode::Enter => match self.choices.get(self.selected) {
                Some(choice) => return PickerAction::Connect(choice.clone()),
                None => self.typing = Some(String::new()),
            },
            _ => {}
        }
        PickerAction::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::RecentUrl;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::from(code)
    }

    #[test]
    fn offers_the_last_url_then_local_sockets_then_the_default() {
        let mut settings = Settings::default();
        settings.recent.push(RecentUrl {
            url: "ws://10.0.0.5:61699/ws".into(),
            project: None,
        });
        let sockets = vec![PathBuf::from("/run/user/1000/stagelink/demo.sock")];
        let c = choices(&settings, None, &sockets);
        let urls: Vec<_> = c.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "ws://10.0.0.5:61699/ws",
                "pipe:///run/user/1000/stagelink/demo.sock",
                DEFAULT_WS_URL
            ]
        );
        settings.preferred_transport = Some(Transport::Pipe);
        let c = choices(&settings, Some("demo"), &sockets);
        assert_eq!(c[0].source, ChoiceSource::LocalSocket);
        assert_eq!(c[0].project.as_deref(), Some("demo"));
    }

    #[test]
    fn keys_pick_type_and_quit() {
        let c = choices(&Settings::default(), None, &[]);
        let mut p = Picker::new(c, None);
        assert_eq!(p.handle_key(key(KeyCode::Down)), PickerAction::None);
        // Row 1 is "type a URL".
        assert_eq!(p.handle_key(key(KeyCode::Enter)), PickerAction::None);
        assert_eq!(p.typing.as_deref(), Some(""));
        for ch in "pipe://demo".chars() {
            p.handle_key(key(KeyCode::Char(ch)));
        }
        match p.handle_key(key(KeyCode::Enter)) {
            PickerAction::Connect(c) => assert_eq!(c.url, "pipe://demo"),
            other => panic!("{other:?}"),
        }
        p.typing = None;
        match p.handle_key(key(KeyCode::Char('1'))) {
            PickerAction::Connect(c) => assert_eq!(c.url, DEFAULT_WS_URL),
            other => panic!("{other:?}"),
        }
        assert_eq!(p.handle_key(key(KeyCode::Char('q'))), PickerAction::Quit);
    }

    #[cfg(unix)]
    #[test]
    fn finds_socket_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("demo.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::fs::write(dir.path().join("notes.sock"), "not a socket").unwrap();
        assert_eq!(sockets_in(dir.path()), vec![sock.clone()]);
        assert_eq!(socket_url(&sock), format!("pipe://{}", sock.display()));
    }
}
