//! The Node.js baseline: `bench/node/server.mjs` on the `ws` package, fed the exact bytes a
//! Stagelink session receives from the demo movie ([`capture`]).
//!
//! `npm ci` runs in `bench/node/` when `node_modules` is missing (package.json and
//! package-lock.json are committed); without `node`/`npm`, or when the install fails, the
//! baseline rows say `skipped: …` and the rest of the run goes on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::FutureExt;
use stagelink_publisher::{ConnectionInfo, Hub, Outgoing, Publisher, Session};

use crate::child::{Child, on_path};
use crate::host::{demo_tick, hub_config};

/// The stamp placeholder in the captured bytes, which the Node server replaces with the time.
pub const SENTINEL: i64 = 999_999_999_999_999;

/// `bench/node`.
pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Makes sure the Node baseline can run: `node` and `npm` on PATH, `npm ci` done.
///
/// # Errors
/// Says why it cannot (the row is then skipped with that reason).
pub fn ensure_installed() -> Result<()> {
    if !on_path("node") {
        bail!("node not found on PATH");
    }
    let dir = node_dir();
    if dir.join("node_modules/ws/package.json").is_file() {
        return Ok(());
    }
    if !on_path("npm") {
        bail!("npm not found on PATH (needed once for `npm ci` in bench/node)");
    }
    eprintln!(
        "bench: installing the Node baseline (npm ci in {})",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&dir)
        .status()
        .context("running npm ci")?;
    if !status.success() {
        bail!("`npm ci` in {} failed ({status})", dir.display());
    }
    Ok(())
}

/// Starts the Node server: `fanout` with a capture file and a tick rate, or `idle`.
///
/// # Errors
/// When it does not start.
pub fn start(mode: &str, capture: Option<&Path>, fps: u32) -> Result<Child> {
    let mut command = Command::new("node");
    command.arg(node_dir().join("server.mjs")).arg(mode);
    if let Some(path) = capture {
        command.arg(path).arg(fps.to_string());
    }
    Child::start("node baseline", command, Duration::from_secs(20))
}

/// The demo movie's bytes, as a session subscribed to every stream received them.
#[derive(Debug)]
pub struct Capture {
    pub welcome: String,
    /// Per tick, the messages in the order the session sent them.
    pub ticks: Vec<Vec<String>>,
}

impl Capture {
    /// Average messages per tick.
    pub fn messages_per_tick(&self) -> f64 {
        self.ticks.iter().map(Vec::len).sum::<usize>() as f64 / self.ticks.len().max(1) as f64
    }

    /// Average bytes per tick.
    pub fn bytes_per_tick(&self) -> f64 {
        self.ticks
            .iter()
            .flat_map(|t| t.iter().map(String::len))
            .sum::<usize>() as f64
            / self.ticks.len().max(1) as f64
    }

    /// Writes the file `server.mjs fanout` reads.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        let doc = serde_json::json!({
            "welcome": self.welcome,
            "sentinel": SENTINEL.to_string(),
            "ticks": self.ticks,
        });
        std::fs::write(path, serde_json::to_vec(&doc)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Ticks the demo movie `ticks` times through a real publisher (the host's own
/// [`demo_tick`], stamped with [`SENTINEL`]) and records what one session subscribed to every
/// stream is sent.
///
/// # Errors
/// When the session does not welcome the capture client.
pub fn capture(ticks: usize) -> Result<Capture> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let hub = Hub::new(hub_config());
        let mut publisher = Publisher::new(hub.clone());
        let mut session = Session::new(
            &hub,
            ConnectionInfo {
                peer: "capture".into(),
                trusted: true,
            },
        );
        session.handle_message(&crate::conn::hello("observer", 0, &["*"]));
        let drain = |session: &mut Session| -> Vec<String> {
            let mut out = Vec::new();
            while let Some(Outgoing::Text(bytes)) = session.next_outgoing().now_or_never() {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            out
        };
        let welcome = drain(&mut session)
            .into_iter()
            .find(|m| m.starts_with(r#"{"type":"welcome""#))
            .context("the capture session was not welcomed")?;
        let mut engine = stagelink_player::demo::demo_engine();
        let mut captured = Vec::with_capacity(ticks);
        for _ in 0..ticks {
            demo_tick(&mut engine, &mut publisher, || SENTINEL);
            captured.push(drain(&mut session));
        }
        Ok(Capture {
            welcome,
            ticks: captured,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capture_holds_every_tick_with_its_stamp() {
        let c = capture(5).unwrap();
        assert_eq!(c.ticks.len(), 5);
        assert!(c.welcome.contains(r#""type":"welcome""#));
        for tick in &c.ticks {
            assert!(
                tick.iter().any(|m| m.contains(&SENTINEL.to_string())),
                "every tick carries the stamp: {tick:?}"
            );
        }
    }
}
