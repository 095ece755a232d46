//! The `settle-server` binary.

use std::process::ExitCode;

use clap::Parser;
use settle_server::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Configuration and start-up errors name the setting at fault; print the whole chain.
            eprintln!("settle-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
