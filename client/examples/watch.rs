//! Prints one line per `frames` event (and a line for every resync, gap, notice or reconnect).
//!
//! ```text
//! cargo run -p stagelink-client --example watch -- ws://127.0.0.1:61699/ws --token TOKEN
//! cargo run -p stagelink-client --example watch -- pipe://demo
//! ```

use anyhow::Context;
use clap::Parser;
use futures_util::StreamExt;
use stagelink_client::{Client, ClientConfig, ClientEvent};
use stagelink_contracts::{Role, StageFrame};

#[derive(Parser)]
#[command(about = "Print a line per frame of a Stagelink session")]
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
    /// Stop after this many frames.
    #[arg(long)]
    count: Option<u64>,
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
        client_name: "stagelink-watch".into(),
        subscribe: vec!["frames".into()],
        ..ClientConfig::new(&args.url)
    })
    .await
    .with_context(|| format!("connecting to {}", args.url))?;
    let mut events = client.events();
    let mut printed = 0;
    while let Some(event) = events.next().await {
        match event {
            ClientEvent::Event(e) if e.stream == "frames" => {
                for f in e.items_as::<StageFrame>().context("a frames item")? {
                    println!(
                        "seq {:>6}  frame {:>4}/{:<4} tempo {:>3}  {}  {}x{}  t={}ms",
                        e.seq,
                        f.frame,
                        f.frame_count,
                        f.tempo,
                        if f.playing { "playing" } else { "paused " },
                        f.width,
                        f.height,
                        f.time_ms
                    );
                    printed += 1;
                }
                if args.count.is_some_and(|n| printed >= n) {
                    break;
                }
            }
            ClientEvent::Resynced(s) => println!("resynced (frame {:?})", s.movie.map(|m| m.frame)),
            ClientEvent::Gap(g) => println!("gap in {} ({}..={})", g.stream, g.from_seq, g.to_seq),
            ClientEvent::Notice(n) => println!("notice {}: {}", n.code, n.message),
            ClientEvent::Disconnected(why) => println!("disconnected: {why}; reconnecting"),
            ClientEvent::Lagged(n) => println!("(missed {n} events)"),
            _ => {}
        }
    }
    client.close().await;
    if let stagelink_client::ConnectionState::Closed(reason) = client.connection_state()
        && reason != stagelink_client::CloseReason::Requested
    {
        anyhow::bail!("session ended: {reason}");
    }
    Ok(())
}
