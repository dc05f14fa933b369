//! One function per subcommand, composing the layers below.

mod activate;
mod config;
#[cfg(feature = "fixture")]
mod demo;
mod doctor;
mod existing;
#[cfg(feature = "fixture")]
mod fixture_portal;
mod mail;
mod page;
mod register;
mod resume;
mod run;
mod runs;
mod steps;

#[cfg(feature = "fixture")]
pub use demo::dovecot_mailbox;
#[cfg(feature = "fixture")]
pub use existing::run_existing;
#[cfg(feature = "fixture")]
pub use run::Credentials;

use anyhow::Result;

use crate::cli::Command;

pub async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Existing(args) => existing::command(args).await,
        Command::Register(args) => register::command(args).await,
        Command::Activate(args) => activate::command(args).await,
        Command::Steps(args) => steps::command(args),
        Command::Mail(command) => mail::command(command).await,
        Command::Runs(args) => runs::runs(args),
        Command::Show(args) => runs::show(args),
        Command::Resume(args) => resume::resume(*args).await,
        Command::Step(args) => resume::step(*args).await,
        #[cfg(feature = "fixture")]
        Command::FixturePortal(args) => fixture_portal::command(args).await,
        #[cfg(feature = "fixture")]
        Command::Demo(args) => demo::command(args).await,
        Command::Config(crate::cli::ConfigCommand::Show(args)) => config::show(args),
        Command::Doctor(args) => doctor::command(args).await,
        Command::Page(crate::cli::PageCommand::Snapshot(args)) => page::snapshot(args).await,
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut command = crate::cli::Cli::command();
            clap_complete::generate(
                args.shell,
                &mut command,
                "cigna-setup",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}
