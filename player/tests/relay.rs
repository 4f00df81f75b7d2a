//! `stagelink-player --relay URL`, the real binary, against an in-process relay on
//! `127.0.0.1:0`: it says `ready` once the relay accepted the project, a client attached to the
//! relay sees the movie and controls it; a wrong host token ends the player with `auth_failed`.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::StreamExt;
use stagelink_client::{Client, ClientConfig};
use stagelink_contracts::{AckStatus, Role, StageFrame};
use stagelink_relay::{ProjectTokens, RelayConfig, RelayServer};

const WAIT: Duration = Duration::from_secs(20);

async fn relay(config: RelayConfig) -> (RelayServer, String) {
    let server = RelayServer::start(RelayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config
    })
    .await
    .expect("the relay starts");
    let url = format!("ws://{}/ws", server.local_addr());
    (server, url)
}

/// The player process; killed if a test ends without stopping it.
struct Player {
    child: Child,
    /// Its stdout, line by line, read on a thread of its own.
    lines: mpsc::Receiver<String>,
}

impl Player {
    fn spawn(args: &[&str]) -> Player {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stagelink-player"))
            .args(args)
            .env_remove("STAGELINK_TOKEN")
            .env_remove("STAGELINK_HOST_TOKEN")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the player starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Player { child, lines }
    }

    /// Reads stdout up to and including `ready`; `None` when the player ended (or said
    /// nothing) first.
    async fn until_ready(&mut self) -> Option<Vec<String>> {
        let (lines, rx) = tokio::task::block_in_place(|| {
            let mut lines = Vec::new();
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(line) => {
                        let done = line == "ready";
                        lines.push(line);
                        if done {
                            return (lines, true);
                        }
                    }
                    Err(_) => return (lines, false),
                }
            }
        });
        rx.then_some(lines)
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the exit, at most [`WAIT`]; returns the status and everything on stderr.
    async fn exit(mut self) -> (std::process::ExitStatus, String) {
        let deadline = std::time::Instant::now() + WAIT;
        let status = tokio::task::block_in_place(|| {
            loop {
                if let Some(status) = self.child.try_wait().expect("the player can be waited on") {
                    return status;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the player did not exit in time"
                );
                std::thread::park_timeout(Duration::from_millis(20));
            }
        });
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_publishes_its_movie_through_a_dev_relay() {
    let (relay, url) = relay(RelayConfig {
        dev: true,
        ..RelayConfig::default()
    })
    .await;
    let mut player = Player::spawn(&[
        "--relay",
        &url,
        "--project",
        "demo",
        "--no-pipe",
        "--ws",
        "127.0.0.1:0",
        "--renderer",
        "off",
    ]);
    let lines = player.until_ready().await.expect("the player says ready");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("viewer: http://127.0.0.1:")),
        "{lines:?}"
    );
    assert!(lines.contains(&"socket: off".to_owned()), "{lines:?}");
    assert!(lines.contains(&"renderer: off".to_owned()), "{lines:?}");
    assert_eq!(
        lines[lines.len() - 2],
        format!("relay: {url} project demo"),
        "{lines:?}"
    );

    // A client of the relay sees the player's movie and controls it.
    let client = Client::connect(ClientConfig {
        project: Some("demo".into()),
        role: Role::Controller,
        command_timeout: WAIT,
        connect_timeout: WAIT,
        request_timeout: WAIT,
        ..ClientConfig::new(url.clone())
    })
    .await
    .expect("a client attaches to the relay");
    let state = client.current_state();
    assert!(state.has_snapshot(), "the attach came with a snapshot");
    let movie = state.movie.expect("the snapshot has the movie state");
    assert_eq!(movie.frame_count, stagelink_player::demo::FRAMES);
    assert!(!state.sprites.is_empty(), "the demo's sprites are on stage");

    let mut frames = client.stream::<StageFrame>();
    let first = tokio::time::timeout(WAIT, frames.next())
        .await
        .expect("a frames event in time")
        .expect("the client is open")
        .expect("a frames event decodes");
    assert_eq!(
        first.items.last().unwrap().frame_count,
        stagelink_player::demo::FRAMES
    );

    let ack = client
        .command(stagelink_contracts::Command::Pause)
        .await
        .expect("the pause is acked");
    assert_eq!(ack.status, AckStatus::Applied, "{ack:?}");
    let paused_on = ack.frame.expect("an applied ack names its frame");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, frames.next())
            .await
            .expect("a paused frame in time")
            .expect("the client is open")
            .expect("a frames event decodes");
        let frame = event.items.last().unwrap();
        if !frame.playing {
            assert_eq!(frame.frame, paused_on);
            break;
        }
    }

    // A mirror player follows the project through the relay too.
    let mut mirror = Player::spawn(&["--mirror", &url, "--project", "demo", "--renderer", "off"]);
    let lines = mirror.until_ready().await.expect("the mirror says ready");
    assert_eq!(
        lines[lines.len() - 2],
        format!("mirror: {url}"),
        "{lines:?}"
    );
    assert!(lines.contains(&"websocket: off".to_owned()), "{lines:?}");
    mirror.terminate();
    let (status, stderr) = mirror.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("mirroring the stage only"),
        "the relay passed the project document on: {stderr}"
    );

    client.close().await;
    player.terminate();
    let (status, stderr) = player.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_token_ends_the_player_with_auth_failed() {
    let mut config = RelayConfig::default();
    config.projects.insert(
        "demo".into(),
        ProjectTokens {
            host_token: Some("the-right-one".into()),
            client_token: Some("client".into()),
            observer_token: None,
        },
    );
    let (relay, url) = relay(config).await;
    let mut player = Player::spawn(&[
        "--relay",
        &url,
        "--project",
        "demo",
        "--host-token",
        "a-wrong-one",
        "--no-pipe",
        "--no-ws",
        "--renderer",
        "off",
    ]);
    let ready = player.until_ready().await;
    assert_eq!(ready, None, "a refused player never says ready");
    let (status, stderr) = player.exit().await;
    assert!(!status.success(), "{status:?}");
    assert!(stderr.contains("auth_failed"), "{stderr}");
    relay.shutdown().await;
}
