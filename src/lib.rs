//! cigna-setup: drives the Cigna provider portal through its setup flows and reads the emailed
//! verification code from a mailbox, so nobody clicks through the portal by hand.

pub mod browser;
pub mod cli;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod flow;
pub mod html;
pub mod journal;
pub mod logging;
pub mod mail;
pub mod office_code;
pub mod owner;
pub mod progress;
pub mod report;
pub mod run_lock;
pub mod secrets;
pub mod settings;
pub mod signals;
pub mod terminal;

#[cfg(test)]
mod hostile_input;

use anyhow::Result;

/// Runs one command line. Long-running commands handle Ctrl-C themselves, so that they can
/// close the browser and stop their servers before exiting with 130.
pub async fn run(cli: cli::Cli) -> Result<()> {
    commands::dispatch(cli.command).await
}
