//! The `cigna-setup` binary: parse (with the settings file), set up logging, run, map the error
//! to an exit code.

fn main() {
    let cli = match cigna_setup::config::command_line() {
        Ok(cli) => cli,
        Err(err) => fail(err),
    };
    let json = cli.log_format == cigna_setup::cli::LogFormat::Json;
    cigna_setup::logging::init(cli.verbose, cli.quiet, json, cli.log_cdp);
    cigna_setup::progress::init(cli.quiet, json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let result = runtime.block_on(cigna_setup::run(cli));
    // Blocking mailbox and Dovecot work must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    if let Err(err) = result {
        fail(err);
    }
}

/// Prints the error once (redacted) and exits with its code.
fn fail(err: anyhow::Error) -> ! {
    cigna_setup::progress::error(&err);
    std::process::exit(cigna_setup::error::exit_code(&err));
}
