//! The Rust end of the C++ display-driver test (cpp-client/tests/e2e_relay.sh): attaches to a
//! relay project published by `display_driver`, checks that its pixel tiles decode to the
//! moving gradient exactly, then sends it a `custom` command and expects the C++ publisher's ack.
//!
//! The gradient for frame `f`, pixel `(x, y)`: `r = (x + f) % 256`, `g = (y * 2 + f) % 256`,
//! `b = (x + y) % 256`, `a = 255` (256×192 stage, 64×64 tiles, raw and LZ4 frames).
//!
//! ```text
//! gradient_check ws://127.0.0.1:61700/ws --project gradient [--frames 3]
//! ```

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::Parser;
use futures_util::StreamExt;
use stagelink_client::{Client, ClientConfig};
use stagelink_contracts::{AckStatus, Command, Role};

#[derive(Parser)]
#[command(about = "Verify the C++ display_driver's gradient through a relay")]
struct Args {
    /// The relay's WebSocket URL.
    url: String,
    /// The project display_driver publishes.
    #[arg(long, default_value = "gradient")]
    project: String,
    /// Token (none needed on a `--dev` relay).
    #[arg(long, env = "STAGELINK_TOKEN")]
    token: Option<String>,
    /// How many whole frames to verify.
    #[arg(long, default_value_t = 3)]
    frames: usize,
    /// Seconds to wait for everything.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
}

fn expected(f: u32, x: u32, y: u32) -> [u8; 4] {
    [
        ((x + f) % 256) as u8,
        ((y * 2 + f) % 256) as u8,
        ((x + y) % 256) as u8,
        255,
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::time::timeout(Duration::from_secs(args.timeout), run(args))
        .await
        .context("gradient_check timed out")?
}

async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::connect(ClientConfig {
        token: args.token.clone(),
        project: Some(args.project.clone()),
        role: Role::Controller,
        client_name: "gradient_check".into(),
        subscribe: vec!["pixels".into(), "frames".into()],
        snapshot: false,
        ..ClientConfig::new(&args.url)
    })
    .await
    .with_context(|| format!("connecting to {} project {}", args.url, args.project))?;
    let mut frames = client.pixel_frames();
    let mut verified = 0;
    while verified < args.frames {
        let Some(frame) = frames.next().await else {
            bail!("the session ended after {verified} verified frames");
        };
        ensure!(
            (frame.width, frame.height) == (256, 192),
            "stage is {}x{}, expected 256x192",
            frame.width,
            frame.height
        );
        for y in 0..frame.height {
            for x in 0..frame.width {
                let got = frame.pixel(x, y).context("pixel inside the frame")?;
                let want = expected(frame.frame, x, y);
                ensure!(
                    got == want,
                    "frame {} pixel ({x},{y}) is {got:?}, expected {want:?}",
                    frame.frame
                );
            }
        }
        println!(
            "frame {}: all {}x{} pixels exact",
            frame.frame, frame.width, frame.height
        );
        verified += 1;
    }
    let ack = client
        .command(Command::Custom {
            name: "ping_driver".into(),
            payload: serde_json::json!({"from": "gradient_check"}),
        })
        .await
        .context("sending ping_driver")?;
    ensure!(
        ack.status == AckStatus::Applied,
        "ping_driver was not applied: {ack:?}"
    );
    ensure!(
        ack.result == Some(serde_json::json!({"pong": true})),
        "unexpected ping_driver result: {:?}",
        ack.result
    );
    println!("gradient_check: {verified} frames verified exactly; ping_driver acked applied");
    client.close().await;
    Ok(())
}
