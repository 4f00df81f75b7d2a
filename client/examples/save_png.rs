//! Saves a rendered stage frame as a PNG: subscribes to `pixels`, assembles the tiles of the
//! first whole frame and writes it.
//!
//! ```text
//! cargo run -p stagelink-client --example save_png -- ws://127.0.0.1:61699/ws --token T --out stage.png
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures_util::StreamExt;
use stagelink_client::{Client, ClientConfig};
use stagelink_contracts::Role;

#[derive(Parser)]
#[command(about = "Save the rendered stage of a Stagelink session as a PNG")]
struct Args {
    /// ws://HOST:PORT/ws, wss://…, pipe:///path.sock, pipe://PROJECT, or a relay URL with ?project=
    #[arg(env = "STAGELINK_URL", default_value = "ws://127.0.0.1:61699/ws")]
    url: String,
    /// The token (not needed on local sockets).
    #[arg(long, env = "STAGELINK_TOKEN")]
    token: Option<String>,
    /// The project (required by a relay).
    #[arg(long, env = "STAGELINK_PROJECT")]
    project: Option<String>,
    /// Where to write the PNG.
    #[arg(long, default_value = "stage.png")]
    out: PathBuf,
    /// Skip this many frames first (the first one may be a loading screen).
    #[arg(long, default_value_t = 0)]
    skip: usize,
    /// Seconds to wait for a frame (a host with `--renderer off` never sends one).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let client = Client::connect(ClientConfig {
        token: args.token,
        project: args.project,
        role: Role::Observer,
        client_name: "stagelink-save-png".into(),
        subscribe: vec!["pixels".into()],
        snapshot: false,
        ..ClientConfig::new(&args.url)
    })
    .await
    .with_context(|| format!("connecting to {}", args.url))?;
    let mut frames = client.pixel_frames().skip(args.skip);
    let frame = tokio::time::timeout(Duration::from_secs(args.timeout), frames.next())
        .await
        .context("no pixel frame arrived (is the host rendering?)")?
        .context("the session ended before a frame arrived")?;
    let file =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), frame.width, frame.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
    let mut writer = encoder.write_header().context("writing the PNG header")?;
    writer
        .write_image_data(&frame.rgba)
        .context("writing the PNG pixels")?;
    writer.finish().context("finishing the PNG")?;
    println!(
        "{}: frame {} ({}x{})",
        args.out.display(),
        frame.frame,
        frame.width,
        frame.height
    );
    client.close().await;
    Ok(())
}
