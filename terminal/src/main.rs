//! `stagelink-term`: the terminal inspector. Everything but argument parsing and logging setup
//! lives in the library (`stagelink_terminal::runtime::launch`).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use stagelink_terminal::cli::Args;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = init_logging(&args) {
        eprintln!("stagelink-term: {e:#}");
        return ExitCode::FAILURE;
    }
    match stagelink_terminal::runtime::launch(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stagelink-term: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Diagnostics go to `--log-file` only: the terminal itself is the user interface.
fn init_logging(args: &Args) -> anyhow::Result<()> {
    let Some(path) = &args.log_file else {
        return Ok(());
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .init();
    Ok(())
}
