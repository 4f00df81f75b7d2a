//! Sends one command and prints its ack as JSON.
//!
//! ```text
//! cargo run -p stagelink-client --example command -- --token T --go-to-frame 42
//! cargo run -p stagelink-client --example command -- --token T --json '{"kind":"set_tempo","tempo":24}'
//! cargo run -p stagelink-client --example command -- pipe://demo --movie-prop 'loop=false'
//! ```
//!
//! Exits 1 when the command is rejected or busy.

use anyhow::{Context, bail};
use clap::Parser;
use stagelink_client::{Client, ClientConfig};
use stagelink_contracts::{AckStatus, Command, PropValue, Role};

#[derive(Parser)]
#[command(about = "Send a command to a Stagelink session and print its ack")]
struct Args {
    /// ws://HOST:PORT/ws, wss://…, pipe:///path.sock, pipe://PROJECT, or a relay URL with ?project=
    #[arg(env = "STAGELINK_URL", default_value = "ws://127.0.0.1:61699/ws")]
    url: String,
    /// The controller token (not needed on local sockets).
    #[arg(long, env = "STAGELINK_TOKEN")]
    token: Option<String>,
    /// The project (required by a relay).
    #[arg(long, env = "STAGELINK_PROJECT")]
    project: Option<String>,
    /// The command as JSON, e.g. '{"kind":"go_to_frame","frame":42}'.
    #[arg(long, conflicts_with_all = ["go_to_frame", "pause", "resume", "rewind", "step", "tempo", "movie_prop", "stage_prop"])]
    json: Option<String>,
    /// Jump to a frame.
    #[arg(long)]
    go_to_frame: Option<u32>,
    /// Pause.
    #[arg(long)]
    pause: bool,
    /// Resume.
    #[arg(long)]
    resume: bool,
    /// Go to frame 1.
    #[arg(long)]
    rewind: bool,
    /// Pause and move by this many frames.
    #[arg(long, allow_negative_numbers = true)]
    step: Option<i32>,
    /// Set the tempo (frames per second).
    #[arg(long)]
    tempo: Option<u32>,
    /// Set a movie property: PROP=VALUE, VALUE as JSON (a bare word is a string).
    #[arg(long)]
    movie_prop: Option<String>,
    /// Set a stage property: PROP=VALUE, VALUE as JSON (a bare word is a string).
    #[arg(long)]
    stage_prop: Option<String>,
    /// Seconds to wait for the ack.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

fn prop(arg: &str) -> anyhow::Result<(String, PropValue)> {
    let (prop, value) = arg
        .split_once('=')
        .with_context(|| format!("`{arg}` is not PROP=VALUE"))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| PropValue::Text(value.to_owned()));
    Ok((prop.to_owned(), value))
}

fn command(args: &Args) -> anyhow::Result<Command> {
    if let Some(json) = &args.json {
        return serde_json::from_str(json).context("--json is not a command");
    }
    let mut commands = Vec::new();
    if let Some(frame) = args.go_to_frame {
        commands.push(Command::GoToFrame { frame });
    }
    if args.pause {
        commands.push(Command::Pause);
    }
    if args.resume {
        commands.push(Command::Resume);
    }
    if args.rewind {
        commands.push(Command::Rewind);
    }
    if let Some(delta) = args.step {
        commands.push(Command::Step { delta });
    }
    if let Some(tempo) = args.tempo {
        commands.push(Command::SetTempo { tempo });
    }
    if let Some(p) = &args.movie_prop {
        let (prop, value) = prop(p)?;
        commands.push(Command::SetMovieProp { prop, value });
    }
    if let Some(p) = &args.stage_prop {
        let (prop, value) = prop(p)?;
        commands.push(Command::SetStageProp { prop, value });
    }
    match commands.len() {
        0 => bail!("no command given; try --pause, --go-to-frame N or --json '{{…}}'"),
        // Several flags go together, all or none.
        1 => Ok(commands.remove(0)),
        _ => Ok(Command::Batch { commands }),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let command = command(&args)?;
    let client = Client::connect(ClientConfig {
        token: args.token.clone(),
        project: args.project.clone(),
        role: Role::Controller,
        client_name: "stagelink-command".into(),
        subscribe: Vec::new(),
        snapshot: false,
        ..ClientConfig::new(&args.url)
    })
    .await
    .with_context(|| format!("connecting to {}", args.url))?;
    let ack = client
        .command_with_timeout(command, std::time::Duration::from_secs(args.timeout))
        .await
        .context("sending the command")?;
    println!("{}", serde_json::to_string(&ack)?);
    client.close().await;
    if ack.status != AckStatus::Applied {
        std::process::exit(1);
    }
    Ok(())
}
