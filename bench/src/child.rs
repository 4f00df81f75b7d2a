//! Child processes the bench starts — hosts (the bench itself with a hidden subcommand), relay
//! nodes, the raw floor servers, Node and redis-server — and always ends.
//!
//! A child announces itself on stdout with `key: value` lines and then `ready`. Its stdin is a
//! pipe the bench holds: the bench's own children exit when it closes, so nothing outlives the
//! bench even if it is killed; [`Child`]'s drop kills and reaps it too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A running child; killed and reaped when dropped.
#[derive(Debug)]
pub struct Child {
    name: String,
    process: std::process::Child,
    /// The `key: value` lines it printed before `ready`.
    lines: HashMap<String, String>,
}

impl Child {
    /// Starts `command` and waits up to `timeout` for its `ready` line.
    ///
    /// # Errors
    /// When it cannot start, exits, or is not ready in time.
    pub fn start(name: &str, mut command: Command, timeout: Duration) -> Result<Child> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut process = command
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;
        let stdout = process.stdout.take().context("child stdout")?;
        let (tx, rx) = mpsc::channel::<String>();
        // Reads every line for as long as the child lives, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once nobody listens any more, keep draining all the same.
                let _ = tx.send(line);
            }
        });
        let mut child = Child {
            name: name.to_owned(),
            process,
            lines: HashMap::new(),
        };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.trim() == "ready" => return Ok(child),
                Ok(line) => {
                    if let Some((k, v)) = line.split_once(": ") {
                        child.lines.insert(k.trim().to_owned(), v.trim().to_owned());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("{name} was not ready within {timeout:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.process.wait().ok();
                    bail!("{name} exited before it was ready ({status:?})")
                }
            }
        }
    }

    /// Starts this very binary with a hidden subcommand.
    ///
    /// # Errors
    /// As [`Child::start`].
    pub fn start_self(name: &str, args: &[String]) -> Result<Child> {
        let exe = std::env::current_exe().context("finding the bench binary")?;
        let mut command = Command::new(exe);
        command.args(args);
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "error");
        }
        Child::start(name, command, Duration::from_secs(30))
    }

    /// A `key: value` line the child printed before `ready`.
    ///
    /// # Errors
    /// When it did not print that key.
    pub fn line(&self, key: &str) -> Result<&str> {
        self.lines
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("{} did not print `{key}:`", self.name))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Waits until stdin closes (the bench that started us went away or is done with us).
pub fn wait_for_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
}

/// Whether `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let p = dir.join(program);
            p.is_file()
        })
    })
}

/// A free TCP port on loopback (bound and released; fine for a child that binds it at once).
///
/// # Errors
/// When nothing can be bound.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
