//! A relay node in a child process (`stagelink-bench relay-node`): [`RelayServer`] in `--dev`
//! mode on a free loopback port, optionally sharing projects through Redis.

use anyhow::Result;
use clap::Args;
use stagelink_relay::{RelayConfig, RelayServer};

/// `stagelink-bench relay-node`.
#[derive(Debug, Args)]
pub struct RelayNodeArgs {
    /// `redis://…` backplane; none = in-memory (a single node).
    #[arg(long)]
    pub redis: Option<String>,
    /// This node's id in the registry.
    #[arg(long)]
    pub node_id: Option<String>,
}

/// Runs the node until stdin closes; prints `ws: ADDR` and `ready`.
///
/// # Errors
/// When the node cannot start.
pub fn relay_node(args: RelayNodeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = RelayServer::start(RelayConfig {
            listen: "127.0.0.1:0".parse()?,
            dev: true,
            backplane: args.redis,
            node_id: args.node_id,
            ..RelayConfig::default()
        })
        .await?;
        println!("ws: {}", server.local_addr());
        println!("backplane: {}", server.relay.backplane.health().as_str());
        println!("ready");
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(crate::child::wait_for_stdin_eof).await?;
        anyhow::Ok(())
    })?;
    std::process::exit(0)
}
