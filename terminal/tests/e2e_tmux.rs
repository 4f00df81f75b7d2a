//! End to end: the real `stagelink-term` binary, in a real terminal (tmux), against a real
//! `stagelink-player`. It reads the screen with `tmux capture-pane`, pauses the movie with the
//! space bar (checked through the player's `GET /healthz`), and quits with `q`, checking the
//! process exits 0 and the terminal is given back (alternate screen left, the shell visible).
//!
//! Binaries: `STAGELINK_PLAYER` (default `<repo>/target/debug/stagelink-player`) and
//! `STAGELINK_TERM` (default the one Cargo built for this test). No fixed sleeps: every wait
//! polls for what it expects, with a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cr3t";
const SHELL_PROMPT: &str = "e2e-shell$ ";
const POLL: Duration = Duration::from_millis(100);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_owned()
}

fn player_binary() -> PathBuf {
    std::env::var_os("STAGELINK_PLAYER")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/stagelink-player"))
}

fn term_binary() -> PathBuf {
    std::env::var_os("STAGELINK_TERM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_stagelink-term")))
}

/// Polls `probe` until it returns `Some`, or panics after `timeout` describing what was awaited
/// and what was seen last.
fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// A running player, killed when dropped.
struct Player {
    child: Child,
    /// `ws://127.0.0.1:PORT/ws`.
    ws_url: String,
    /// Where `/healthz` answers.
    http: SocketAddr,
}

impl Player {
    fn start(stderr: &Path) -> Player {
        let bin = player_binary();
        assert!(
            bin.exists(),
            "no player binary at {} (build it with `cargo build -p stagelink-player`, or set STAGELINK_PLAYER)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args([
                "--ws",
                "127.0.0.1:0",
                "--no-pipe",
                "--token",
                TOKEN,
                "--renderer",
                "off",
            ])
            .env_remove("STAGELINK_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr).expect("player stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // Read stdout on a thread for as long as the player runs, so it never blocks on a full pipe.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut ws_url = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("websocket: ") => {
                    ws_url = Some(line["websocket: ".len()..].trim().to_owned());
                }
                Ok(line) if line.trim() == "ready" => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "the player did not print `ready` ({e}); stderr:\n{}",
                        std::fs::read_to_string(stderr).unwrap_or_default()
                    );
                }
            }
        }
        let ws_url = ws_url.expect("the player printed `websocket: ws://…` before `ready`");
        let authority = ws_url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .expect("a ws:// URL");
        let http = authority.parse().expect("HOST:PORT");
        Player {
            child,
            ws_url,
            http,
        }
    }

    /// `GET /healthz`, as JSON.
    fn healthz(&self) -> Result<serde_json::Value, String> {
        let mut stream = TcpStream::connect_timeout(&self.http, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http
        )
        .map_err(|e| format!("write: {e}"))?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| format!("read: {e}"))?;
        let body = match (response.find('{'), response.rfind('}')) {
            (Some(a), Some(b)) if a < b => &response[a..=b],
            _ => return Err(format!("no JSON in {response:?}")),
        };
        serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
    }

    fn playing(&self) -> Result<bool, String> {
        let health = self.healthz()?;
        // `null` until the engine's first tick.
        health["playing"]
            .as_bool()
            .ok_or_else(|| format!("no `playing` yet in {health}"))
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private tmux server with one window running a plain shell, killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(dir: &Path, config_home: &Path) -> Tmux {
        let socket = dir.join("tmux.sock");
        let tmux = Tmux { socket };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-s", "e2e", "-x", "150", "-y", "45"])
            .args(["bash", "--noprofile", "--norc"])
            .env("PS1", SHELL_PROMPT)
            .env("XDG_CONFIG_HOME", config_home)
            .env_remove("STAGELINK_URL")
            .env_remove("STAGELINK_TOKEN")
            .status()
            .expect("tmux runs (install it, or run scripts/test which does)");
        assert!(status.success(), "tmux new-session failed: {status}");
        wait_for("the shell prompt", Duration::from_secs(20), || {
            let screen = tmux.capture();
            if screen.contains(SHELL_PROMPT.trim_end()) {
                Ok(())
            } else {
                Err(screen)
            }
        });
        tmux
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the pane shows now.
    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "e2e", "-l", text]);
    }

    /// Presses a key by tmux name (`Enter`, `Space`, `q`).
    fn press(&self, key: &str) {
        self.run(&["send-keys", "-t", "e2e", key]);
    }

    /// Whether the pane is on the alternate screen.
    fn alternate_on(&self) -> bool {
        self.run(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim()
            == "1"
    }

    /// Waits until the pane shows every one of `texts`.
    fn wait_for_text(&self, texts: &[&str], timeout: Duration) -> String {
        wait_for(&format!("{texts:?} on screen"), timeout, || {
            let screen = self.capture();
            if texts.iter().all(|t| screen.contains(t)) {
                Ok(screen)
            } else {
                Err(screen)
            }
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
#[ignore = "needs tmux and the player binary; run scripts/test"]
fn pauses_the_player_and_quits_cleanly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let player = Player::start(&dir.path().join("player.err"));
    wait_for(
        "the demo to play",
        Duration::from_secs(30),
        || match player.playing() {
            Ok(true) => Ok(()),
            Ok(false) => Err("healthz says paused".into()),
            Err(e) => Err(e),
        },
    );

    let tmux = Tmux::start(dir.path(), &dir.path().join("config"));
    let term = term_binary();
    assert!(term.exists(), "no terminal binary at {}", term.display());
    let settings = dir.path().join("term.json");
    tmux.type_text(&format!(
        // The marker is split in the command line so only the echo's output matches it.
        "{} {} --token {TOKEN} --config {} --log-file {}; echo \"term-\"\"exit=$?\"",
        quoted(&term.to_string_lossy()),
        quoted(&player.ws_url),
        quoted(&settings.to_string_lossy()),
        quoted(&dir.path().join("term.log").to_string_lossy()),
    ));
    tmux.press("Enter");

    // Connected, the panels drawn from the live session, the movie playing.
    let screen = tmux.wait_for_text(
        &[
            "● connected",
            "Score",
            "Stage",
            "Inspector",
            "Movie",
            "▶ playing",
            "Log",
        ],
        Duration::from_secs(60),
    );
    assert!(
        screen.contains(&player.ws_url),
        "the status line names the URL:\n{screen}"
    );
    assert!(tmux.alternate_on(), "the UI runs on the alternate screen");

    // Space pauses the host.
    tmux.press("Space");
    wait_for(
        "the player to pause",
        Duration::from_secs(30),
        || match player.playing() {
            Ok(false) => Ok(()),
            Ok(true) => Err("healthz says playing".into()),
            Err(e) => Err(e),
        },
    );
    let screen = tmux.wait_for_text(&["⏸ paused", "pause applied"], Duration::from_secs(30));
    assert!(!screen.contains("▶ playing"), "{screen}");

    // q quits: exit status 0, the alternate screen left, the shell back. The shell prints its
    // prompt a moment after the exit line, so wait for the prompt to be the last line.
    tmux.press("q");
    let last_line = |screen: &str| {
        screen
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim_end()
            .to_owned()
    };
    let screen = wait_for(
        "the exit status and the shell prompt",
        Duration::from_secs(30),
        || {
            let screen = tmux.capture();
            if screen.contains("term-exit=") && last_line(&screen) == SHELL_PROMPT.trim_end() {
                Ok(screen)
            } else {
                Err(screen)
            }
        },
    );
    assert!(
        screen.contains("term-exit=0"),
        "the terminal exits 0:\n{screen}"
    );
    assert!(!tmux.alternate_on(), "the alternate screen was left");
    assert!(!screen.contains("● connected"), "the UI is gone:\n{screen}");

    // The URL was remembered (without its token) for the next run without a URL.
    let saved = std::fs::read_to_string(&settings).expect("settings written");
    assert!(saved.contains(&player.ws_url), "{saved}");
    assert!(!saved.contains(TOKEN), "tokens are never saved: {saved}");
}
