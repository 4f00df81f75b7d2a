//! The `stagelink-player` binary, run for real on `127.0.0.1:0` and a temporary socket path:
//! the startup lines, `/healthz`, SIGTERM → exit 0, and the refusals.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn player() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stagelink-player"));
    cmd.env_remove("STAGELINK_TOKEN")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn it_starts_prints_its_addresses_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("sock").join("demo.sock");
    let mut child = player()
        .args([
            "--ws",
            "127.0.0.1:0",
            "--renderer",
            "off",
            "--token",
            "s3cr3t",
            "--pipe",
        ])
        .arg(&socket)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let viewer = next();
    let websocket = next();
    let socket_line = next();
    let renderer = next();
    let ready = next();
    assert!(viewer.starts_with("viewer: http://127.0.0.1:"), "{viewer}");
    assert!(viewer.ends_with("/?token=s3cr3t"), "{viewer}");
    let addr = viewer
        .trim_start_matches("viewer: http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(websocket, format!("websocket: ws://{addr}/ws"));
    assert_eq!(socket_line, format!("socket: {}", socket.display()));
    assert_eq!(renderer, "renderer: off");
    assert_eq!(ready, "ready");
    assert!(socket.exists());

    let mut http = TcpStream::connect(&addr).unwrap();
    write!(http, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    http.read_to_string(&mut response).unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let health: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["project"], "demo");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!socket.exists(), "the socket file is removed on shutdown");
}

#[test]
fn no_auth_off_loopback_is_refused() {
    let out = player()
        .args([
            "--no-auth",
            "--ws",
            "0.0.0.0:0",
            "--no-pipe",
            "--renderer",
            "off",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to run without authentication"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_movie_file_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    let mut doc = stagelink_player::file::to_document(&stagelink_player::demo::demo_movie());
    doc["score"]["sprites"][0]["blend"] = "opaque".into();
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = player()
        .args([
            "--ws",
            "127.0.0.1:0",
            "--no-pipe",
            "--renderer",
            "off",
            "--movie",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json: score.sprites[0].blend"), "{err}");
}
