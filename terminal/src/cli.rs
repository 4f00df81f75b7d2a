//! The command line: [`Args`] (clap), and the [`ClientConfig`] it makes for a chosen URL.

use std::path::PathBuf;

use clap::Parser;
use stagelink_client::ClientConfig;
use stagelink_contracts::Role;

/// `stagelink-term` — inspect and steer a running Stagelink player from a terminal.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "stagelink-term",
    version,
    about = "Inspect and steer a running Stagelink player: score, stage, inspector, movie and log",
    after_help = "Examples:\n  \
        stagelink-term ws://127.0.0.1:61699/ws --token s3cr3t\n  \
        stagelink-term 'http://127.0.0.1:61699/?token=s3cr3t'   (the viewer URL a player prints)\n  \
        stagelink-term pipe://demo                               (the local socket of project demo)\n  \
        stagelink-term ws://relay.example:61700/ws --project demo --token T\n  \
        stagelink-term                                           (offers the last URL and local sockets)\n\n\
        Press ? inside for the keys."
)]
pub struct Args {
    /// Where to connect: ws://HOST:PORT/ws, wss://…, pipe:///path.sock, pipe://PROJECT, a relay
    /// URL (with ?project= or --project), or a player's viewer URL. Without it, the terminal
    /// offers the last URL used and the local sockets it finds.
    #[arg(env = "STAGELINK_URL")]
    pub url: Option<String>,

    /// The session token (wins over a ?token= in the URL; local sockets need none).
    #[arg(long, env = "STAGELINK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The project to ask for (a relay needs one; a player checks it).
    #[arg(long, env = "STAGELINK_PROJECT")]
    pub project: Option<String>,

    /// Watch only: connect as an observer, which cannot send commands.
    #[arg(long)]
    pub observer: bool,

    /// The settings file (last URLs, preferred transport, panel layout).
    /// Default: terminal.json in the stagelink folder of the config directory.
    #[arg(long, env = "STAGELINK_TERM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Write diagnostics to this file (RUST_LOG filters them; the screen belongs to the UI).
    #[arg(long, env = "STAGELINK_TERM_LOG", value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Leave the mouse to the terminal (text selection) instead of clicking in panels.
    #[arg(long)]
    pub no_mouse: bool,
}

impl Args {
    /// The role to ask for.
    pub fn role(&self) -> Role {
        if self.observer {
            Role::Observer
        } else {
            Role::Controller
        }
    }

    /// The client configuration for `url` (and `project`, which wins over `--project`).
    pub fn client_config(&self, url: &str, project: Option<&str>) -> ClientConfig {
        ClientConfig {
            token: self.token.clone(),
            project: project.map(str::to_owned).or_else(|| self.project.clone()),
            role: self.role(),
            client_name: "stagelink-term".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            // Every stream but pixels (the stage is drawn from sprites), and a snapshot first.
            subscribe: ClientConfig::all_but_pixels(),
            snapshot: true,
            ..ClientConfig::new(url)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_urls() {
        let args = Args::try_parse_from([
            "stagelink-term",
            "ws://h:1/ws?token=fromurl",
            "--token",
            "flag",
            "--observer",
        ])
        .unwrap();
        let config = args.client_config(args.url.as_deref().unwrap(), None);
        assert_eq!(config.token.as_deref(), Some("flag"));
        assert_eq!(config.role, Role::Observer);
        assert_eq!(config.client_name, "stagelink-term");
        assert!(!config.subscribe.iter().any(|s| s == "pixels"));
        let args = Args::try_parse_from(["stagelink-term", "--project", "demo"]).unwrap();
        assert_eq!(args.role(), Role::Controller);
        let config = args.client_config("ws://relay/ws", Some("other"));
        assert_eq!(config.project.as_deref(), Some("other"));
    }
}
