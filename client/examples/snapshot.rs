//! Dumps the stage snapshot (`stage` request) as pretty JSON.
//!
//! ```text
//! cargo run -p stagelink-client --example snapshot -- ws://127.0.0.1:61699/ws --token T > stage.json
//! ```

use anyhow::Context;
use clap::Parser;
use stagelink_client::{Client, ClientConfig};
use stagelink_contracts::Role;

#[derive(Parser)]
#[command(about = "Print the stage snapshot of a Stagelink session as JSON")]
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
    /// Print the whole project document (`project` request) instead.
    #[arg(long)]
    project_document: bool,
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
        client_name: "stagelink-snapshot".into(),
        subscribe: Vec::new(),
        snapshot: false,
        ..ClientConfig::new(&args.url)
    })
    .await
    .with_context(|| format!("connecting to {}", args.url))?;
    let what = if args.project_document {
        "project"
    } else {
        "stage"
    };
    let data = client
        .request_raw(what)
        .await
        .with_context(|| format!("requesting `{what}`"))?;
    println!("{}", serde_json::to_string_pretty(&data)?);
    client.close().await;
    Ok(())
}
