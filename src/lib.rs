//! cigna-setup: drives the Cigna provider portal through its setup flows and reads the emailed
//! verification code from a mailbox, so nobody clicks through the portal by hand.

pub mod browser;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod dovecot;
pub mod engine;
pub mod error;
pub mod fixture;
pub mod flow;
pub mod journal;
pub mod logging;
pub mod mail;
pub mod secrets;
pub mod settings;

use anyhow::Result;

use crate::error::{Exit, Failure};

/// Runs one command line; Ctrl-C ends it (dropping the browser and mailbox) with exit 130.
pub async fn run(cli: cli::Cli) -> Result<()> {
    tokio::select! {
        result = commands::dispatch(cli.command) => result,
        _ = tokio::signal::ctrl_c() => Err(Failure::error(Exit::Interrupted, "interrupted")),
    }
}
