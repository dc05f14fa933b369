//! The `cigna-setup` binary: parse, set up logging, run, map the error to an exit code.

use clap::Parser;

fn main() {
    let cli = cigna_setup::cli::Cli::parse();
    cigna_setup::logging::init(cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let result = runtime.block_on(cigna_setup::run(cli));
    // Blocking mailbox and Dovecot work must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    if let Err(err) = result {
        let message = cigna_setup::secrets::global().redact(&format!("{err:#}"));
        eprintln!("error: {message}");
        std::process::exit(cigna_setup::error::exit_code(&err));
    }
}
