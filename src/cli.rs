//! The command line: subcommands, flags and the environment variables behind them.
//!
//! Secrets never come from argv: passwords are read from `CIGNA_*_PASSWORD` variables or from
//! files named by `--…-file`. Raw values here are checked and turned into settings
//! (`settings.rs`) before any I/O.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::bad_input;

/// Parses `args` with `defaults` (a settings file's values, keyed by the environment variable
/// of the flag each feeds) standing in for the flags' own defaults: a flag beats its variable,
/// which beats the file, which beats the built-in default, and clap's matches say which of
/// them each value came from. Nothing is written to the environment.
pub fn parse_with(
    args: &[OsString],
    defaults: &BTreeMap<&'static str, String>,
) -> Result<(Cli, clap::ArgMatches), clap::Error> {
    let matches = with_defaults(Cli::command(), defaults).try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok((cli, matches))
}

/// `cmd` and every subcommand, each flag read from a variable in `defaults` defaulting to it.
fn with_defaults(
    mut cmd: clap::Command,
    defaults: &BTreeMap<&'static str, String>,
) -> clap::Command {
    let given: Vec<(clap::Id, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str()?;
            Some((a.get_id().clone(), defaults.get(env)?.clone()))
        })
        .collect();
    for (id, value) in given {
        cmd = cmd.mut_arg(id, |a| a.default_value(value));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sc| with_defaults(sc, defaults));
    }
    cmd
}

/// The subcommand's name: the first argument that is not a global option or its value.
pub fn subcommand(args: &[OsString]) -> Option<String> {
    let mut it = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" | "--log-format" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            a => return Some(a.to_string()),
        }
    }
    None
}

/// A password on the command line is visible to every user (`ps`) and kept in shell history:
/// refused, naming the way that is safe. The value itself is never repeated.
pub fn refuse_secrets(args: &[OsString]) -> anyhow::Result<()> {
    for arg in args.iter().skip(1) {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        let Some(name) = arg.strip_prefix("--") else {
            continue;
        };
        let name = name.split('=').next().unwrap_or(name).to_ascii_lowercase();
        let secret_like = ["password", "passwd", "secret", "token"]
            .iter()
            .any(|w| name.contains(w));
        // A token command names a program that prints the token, not the token.
        if !secret_like || name.ends_with("-file") || name == "imap-token-command" {
            continue;
        }
        let safe = if name.contains("token") {
            "set CIGNA_IMAP_TOKEN, pass --imap-token-file FILE (mode 0600), or \
             --imap-token-command PROGRAM that prints it"
        } else if name.contains("office") {
            "set CIGNA_OFFICE_PASSWORD, pass --office-password-file FILE (mode 0600), or leave \
             it out to be asked on a terminal"
        } else if name.contains("imap") || name.contains("mail") {
            "set CIGNA_IMAP_PASSWORD, pass --imap-password-file FILE (mode 0600), or leave it \
             out to be asked on a terminal"
        } else if name.contains("user") || name == "password" {
            "set CIGNA_USER_PASSWORD for the new login's password, or leave it out to have one \
             generated"
        } else {
            "secrets come from CIGNA_* environment variables or --…-file options (mode 0600)"
        };
        return Err(bad_input(format!(
            "`--{name}` would put a secret on the command line, where other users can see it \
             (ps) and shell history keeps it; {safe}"
        )));
    }
    Ok(())
}

/// Sets up Cigna provider-portal credentials for dental offices.
///
/// Drives headless Chromium through the portal's setup flows by what a person sees (labels,
/// buttons, texts) and reads the emailed verification code from a mailbox over IMAP.
#[derive(Debug, Parser)]
#[command(name = "cigna-setup", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr: no progress lines or spinner.
    #[arg(short, long, global = true, env = "CIGNA_QUIET")]
    pub quiet: bool,

    /// Log and progress lines as plain text, or as one JSON object per line (for CI).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "CIGNA_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    /// Let the browser protocol's own log lines (chromiumoxide, tungstenite) through at the
    /// level RUST_LOG asks for. They carry what pages return, passwords among them, before the
    /// tool knows them as secrets: without this flag they are capped at warnings.
    #[arg(long, global = true)]
    pub log_cdp: bool,

    /// The settings file (default: ~/.config/cigna-setup/cigna-setup.toml; one in the working
    /// directory is read only when named here). It must be yours and not writable by others.
    /// Flags and environment variables override it.
    #[arg(long, global = true, env = "CIGNA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an "Insurance Admin" login through an office's existing portal account.
    ///
    /// Logs in with the office's credentials, adds a user with access to one TIN, registers it
    /// with the temporary ID, signs in, enters the emailed verification code and accepts the
    /// agreement. Prints the new credentials.
    ///
    /// Example:
    ///   CIGNA_OFFICE_PASSWORD=… CIGNA_IMAP_PASSWORD=… cigna-setup existing \
    ///     --tin 123456789 --email cigna.123456789@codes.example.com --phone 5551234567 \
    ///     --office-user office.manager --imap-url imaps://codes@imap.example.com/INBOX --json
    #[command(verbatim_doc_comment)]
    Existing(Box<ExistingArgs>),

    /// Register a new portal account for an office; it then waits for the approval of the
    /// organization's website access manager.
    ///
    /// Register → Dental Provider → Tax ID → profile → terms → Submit. Prints the credentials
    /// with status "pending_approval" and the run id to give `activate` once approved.
    ///
    /// Example:
    ///   cigna-setup register --tin 123456789 --email cigna.123456789@codes.example.com \
    ///     --phone 5551234567 --imap-url imaps://codes@imap.example.com/INBOX --json
    #[command(verbatim_doc_comment)]
    Register(Box<RegisterArgs>),

    /// First sign-in of an approved registration: verification code and agreement.
    ///
    /// While the portal says the registration is pending approval, exits 3 and keeps the run,
    /// so it can be run again later (or use --wait).
    ///
    /// Example: CIGNA_IMAP_PASSWORD=… cigna-setup activate register-20261128-101500-1a2b --wait 4h
    #[command(verbatim_doc_comment)]
    Activate(Box<ActivateArgs>),

    /// List the runs: id, flow, TIN, status, failed step, age.
    ///
    /// Example: cigna-setup runs --json
    Runs(RunsArgs),

    /// One run in detail: steps with status and timings, artifacts, the command to run next.
    ///
    /// Also (re)writes the run's report.html. Example: cigna-setup show existing-20261128-101500-1a2b
    Show(ShowArgs),

    /// Continue a failed run from its first step not done (re-entering the portal from the
    /// nearest step that opens it), in the run's own browser profile.
    ///
    /// Example: CIGNA_OFFICE_PASSWORD=… CIGNA_IMAP_PASSWORD=… cigna-setup resume existing-20261128-101500-1a2b
    Resume(Box<ResumeArgs>),

    /// Re-run one step of a recorded run (re-entering the portal from the nearest step that
    /// opens it), and record it; refused when the step's inputs were never produced.
    ///
    /// Example: cigna-setup step existing-20261128-101500-1a2b send-verification-code
    Step(Box<StepArgs>),

    /// Look at the mailbox the codes reach: check it, or wait for a code.
    #[command(subcommand)]
    Mail(MailCommand),

    /// List a flow's steps: id, title, what each needs and what it produces.
    ///
    /// Example: cigna-setup steps existing
    Steps(StepsArgs),

    /// Serve the fixture portal (a local stand-in for the real portal) on 127.0.0.1.
    ///
    /// The office password comes from CIGNA_OFFICE_PASSWORD, the mailbox password from
    /// CIGNA_IMAP_PASSWORD. The first line on stdout is
    /// `fixture portal listening on http://127.0.0.1:PORT`.
    ///
    /// Example: CIGNA_OFFICE_PASSWORD=… CIGNA_IMAP_PASSWORD=… cigna-setup fixture-portal \
    ///   --imap-url imaps://codes@127.0.0.1:9993/INBOX --imap-ca ca.pem
    #[cfg(feature = "fixture")]
    #[command(verbatim_doc_comment)]
    FixturePortal(FixturePortalArgs),

    /// Run the whole existing-account flow against the bundled fixture portal and a throwaway
    /// local Dovecot mailbox, and print the credentials.
    ///
    /// Needs chromium and dovecot-imapd installed. Example: cigna-setup demo
    #[cfg(feature = "fixture")]
    Demo(DemoArgs),

    /// The settings file: show the effective settings and where each came from.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Check this machine: browser, mailbox, portal, runs dir. One line each, with the fix.
    ///
    /// Exits 0 only when every check passes (else 5).
    ///
    /// Example: CIGNA_IMAP_PASSWORD=… cigna-setup doctor --imap-url imaps://codes@imap.example.com/INBOX
    Doctor(DoctorArgs),

    /// See a page as the tool sees it, to tell why a target is not found.
    #[command(subcommand)]
    Page(PageCommand),

    /// Print a shell completion script.
    ///
    /// Example: cigna-setup completions bash > ~/.local/share/bash-completion/completions/cigna-setup
    Completions(CompletionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum PageCommand {
    /// Print what the tool sees on a page: each visible control, heading and text with its
    /// role, accessible name, label, state (checked, disabled, expanded, busy) and value;
    /// passwords and secret-looking values masked.
    ///
    /// Give a URL to open it in a fresh headless browser (no login), or a run id and a step to
    /// see the page that step left when it failed.
    ///
    /// Examples:
    ///   cigna-setup page snapshot https://cignaforhcp.cigna.com/
    ///   cigna-setup page snapshot existing-20261128-101500-1a2b open-add-user --json
    #[command(verbatim_doc_comment)]
    Snapshot(PageSnapshotArgs),
}

#[derive(Debug, Args)]
pub struct PageSnapshotArgs {
    /// A URL (http://, https://, file://), or a run id followed by STEP.
    pub target: String,

    /// With a run id: the step whose saved page to show.
    pub step: Option<String>,

    /// Print JSON: {"url", "title", "nodes": [{"role", "name", "label", "value", "state",
    /// "children"}]}.
    #[arg(long)]
    pub json: bool,

    /// Where runs are kept (default: ~/.local/state/cigna-setup/runs).
    #[arg(long, env = "CIGNA_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// The Chromium to drive (default: chromium, chromium-browser or google-chrome on PATH).
    #[arg(long, env = "CIGNA_BROWSER", value_name = "PATH")]
    pub browser: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting's effective value (secrets masked) and where it came from: the
    /// environment, the settings file (with its line) or the default.
    ///
    /// Example: cigna-setup config show --config ./cigna-setup.toml
    Show(ConfigShowArgs),
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub portal: PortalArgs,

    #[command(flatten)]
    pub mailbox: MailboxArgs,

    /// Where runs are kept (default: ~/.local/state/cigna-setup/runs).
    #[arg(long, env = "CIGNA_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
pub struct ExistingArgs {
    #[command(flatten)]
    pub login: LoginArgs,

    /// The office's own portal User ID (its password: CIGNA_OFFICE_PASSWORD or
    /// --office-password-file).
    #[arg(long, env = "CIGNA_OFFICE_USER")]
    pub office_user: Option<String>,

    /// File holding the office's portal password (instead of CIGNA_OFFICE_PASSWORD).
    #[arg(long, env = "CIGNA_OFFICE_PASSWORD_FILE", value_name = "FILE")]
    pub office_password_file: Option<PathBuf>,

    #[command(flatten)]
    pub mailbox: MailboxArgs,

    #[command(flatten)]
    pub office_code: OfficeCodeArgs,

    /// An entitlement to grant (repeatable). Default: the flow's default-entitlements (the
    /// guide's: Patient Eligibility & Benefits, Claim Status, Remittance Reports,
    /// Precertification, Fee Schedules).
    #[arg(
        long = "entitlement",
        env = "CIGNA_ENTITLEMENTS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub entitlements: Vec<String>,

    /// When the office login turns out not to be a website access manager (it cannot add
    /// users), go on in the same run with a new registration for this TIN, email and phone,
    /// up to "pending approval" (then `cigna-setup activate RUN`), instead of stopping (exit 6).
    #[arg(long)]
    pub or_register: bool,
}

/// Where the code comes from when the office's own sign-in asks to verify its identity (the
/// portal emails it to the office, not to the new login's mailbox). On a terminal, the tool
/// asks for it.
#[derive(Debug, Args, Clone, Default)]
pub struct OfficeCodeArgs {
    /// Read the office's code from this file (one line), written once the email arrives.
    #[arg(long, env = "CIGNA_OFFICE_CODE_FILE", value_name = "FILE")]
    pub office_code_file: Option<PathBuf>,

    /// Read the office's code as one line from stdin.
    #[arg(long)]
    pub office_code_stdin: bool,
}

/// The new login: who it is for and where its run is kept.
#[derive(Debug, Args, Clone)]
pub struct LoginArgs {
    /// The office's TIN: 9 digits, with or without the dash (12-3456789).
    #[arg(long, env = "CIGNA_TIN")]
    pub tin: Option<String>,

    /// Email address of the new login; its verification codes must reach the --imap-url mailbox.
    #[arg(long, env = "CIGNA_EMAIL")]
    pub email: Option<String>,

    /// The office's phone number, 10 digits (punctuation allowed).
    #[arg(long, env = "CIGNA_PHONE")]
    pub phone: Option<String>,

    #[command(flatten)]
    pub portal: PortalArgs,

    /// The new login's User ID (default: generated from the TIN to the portal's rules).
    /// Its password: CIGNA_USER_PASSWORD, else generated.
    #[arg(long, env = "CIGNA_USER_ID")]
    pub user_id: Option<String>,

    /// The new login's three security questions and answers (else answers generated, questions
    /// chosen from the page's list): a file (mode 0600) of three lines `question = answer`.
    #[arg(long, env = "CIGNA_SECURITY_ANSWERS_FILE", value_name = "FILE")]
    pub security_answers_file: Option<PathBuf>,

    /// Also write the credentials JSON to this file (created with mode 0600).
    #[arg(long, env = "CIGNA_OUT", value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Where runs keep their journal and secrets (default: ~/.local/state/cigna-setup/runs).
    #[arg(long, env = "CIGNA_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Run this flow file instead of the built-in one.
    #[arg(long, env = "CIGNA_FLOW", value_name = "FILE")]
    pub flow: Option<PathBuf>,

    /// Print the credentials JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub timing: TimingArgs,

    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// Who the new login is, as its profile says (default: the setup guide's "Insurance Admin").
#[derive(Debug, Args, Clone, Default)]
pub struct ProfileArgs {
    /// The new login's first name (default: Insurance).
    #[arg(long, env = "CIGNA_FIRST_NAME", value_name = "NAME")]
    pub first_name: Option<String>,

    /// The new login's last name (default: Admin).
    #[arg(long, env = "CIGNA_LAST_NAME", value_name = "NAME")]
    pub last_name: Option<String>,

    /// The job role, as the portal's "Job role" list names it (default: Administration
    /// support).
    #[arg(long, env = "CIGNA_JOB_ROLE", value_name = "ROLE")]
    pub job_role: Option<String>,

    /// The office's address (default: 123 Zuub Street, Zuub, CA, 60515).
    #[arg(long, env = "CIGNA_ADDRESS", value_name = "ADDRESS")]
    pub address: Option<String>,

    /// Date of birth for the profile, MM/DD/YYYY (default: 01/01/1980).
    #[arg(long, env = "CIGNA_DATE_OF_BIRTH", value_name = "MM/DD/YYYY")]
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub login: LoginArgs,

    /// The mailbox the new login's codes will reach, kept with the run for `activate`.
    #[arg(long, env = "CIGNA_IMAP_URL", value_name = "URL")]
    pub imap_url: Option<String>,

    /// A CA certificate (PEM) for that mailbox, kept with the run for `activate`.
    #[arg(long, env = "CIGNA_IMAP_CA", value_name = "FILE")]
    pub imap_ca: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ActivateArgs {
    /// The run id `register` (or `existing --or-register`) printed.
    pub run: String,

    #[command(flatten)]
    pub with: ContinueArgs,

    /// Keep trying while the registration is pending approval, up to this long (e.g. 4h).
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,

    /// With --wait: how often to sign in again (at least 1m, unless the portal is on this
    /// machine).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub every: String,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Connect, log in, list the folders, say whether IDLE is offered and count the messages
    /// from the portal's sender.
    ///
    /// Example: CIGNA_IMAP_PASSWORD=… cigna-setup mail check --imap-url imaps://codes@imap.example.com/INBOX
    Check(MailCheckArgs),

    /// Print the newest verification code sent to an address (waiting for one if none is
    /// there yet), with the message's date, subject and UID.
    ///
    /// Example: CIGNA_IMAP_PASSWORD=… cigna-setup mail wait-code --to cigna.123456789@codes.example.com --imap-url …
    WaitCode(MailWaitArgs),
}

#[derive(Debug, Args)]
pub struct MailCheckArgs {
    #[command(flatten)]
    pub mailbox: MailboxArgs,

    /// The portal's sender (default: the one the built-in existing flow reads codes from).
    #[arg(long, value_name = "EMAIL")]
    pub from: Option<String>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MailWaitArgs {
    #[command(flatten)]
    pub mailbox: MailboxArgs,

    /// The address the code was sent to.
    #[arg(long, value_name = "EMAIL")]
    pub to: String,

    /// The portal's sender (default: the one the built-in existing flow reads codes from).
    #[arg(long, value_name = "EMAIL")]
    pub from: Option<String>,

    /// Only messages that arrived after this moment (RFC 3339; default: the last 24 hours,
    /// how long a code is valid).
    #[arg(long, value_name = "RFC3339")]
    pub after: Option<String>,

    /// How long to wait for one.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: String,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Where runs are kept (default: ~/.local/state/cigna-setup/runs).
    #[arg(long, env = "CIGNA_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run id.
    pub run: String,

    /// Where runs are kept (default: ~/.local/state/cigna-setup/runs).
    #[arg(long, env = "CIGNA_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// What continuing a recorded run needs again: the secrets it never stored.
#[derive(Debug, Args, Clone)]
pub struct ContinueArgs {
    /// Where runs are kept (default: ~/.local/state/cigna-setup/runs).
    #[arg(long, env = "CIGNA_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// The mailbox, if not the run's; password from CIGNA_IMAP_PASSWORD or
    /// --imap-password-file.
    #[command(flatten)]
    pub mailbox: MailboxArgs,

    /// The Chromium to drive (default: chromium, chromium-browser or google-chrome on PATH).
    #[arg(long, env = "CIGNA_BROWSER", value_name = "PATH")]
    pub browser: Option<PathBuf>,

    #[command(flatten)]
    pub office_code: OfficeCodeArgs,

    /// Also write the credentials JSON to this file (created with mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Print the credentials JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Go on with this flow file instead of the one the run kept (needs --force-flow).
    #[arg(long, value_name = "FILE")]
    pub flow: Option<PathBuf>,

    /// With --flow: replace the run's kept flow with FILE, for this and every later command.
    #[arg(long, requires = "flow")]
    pub force_flow: bool,

    #[command(flatten)]
    pub timing: TimingArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ResumeArgs {
    /// The run id.
    pub run: String,

    /// File holding the office's portal password (instead of CIGNA_OFFICE_PASSWORD).
    #[arg(long, env = "CIGNA_OFFICE_PASSWORD_FILE", value_name = "FILE")]
    pub office_password_file: Option<PathBuf>,

    #[command(flatten)]
    pub with: ContinueArgs,
}

#[derive(Debug, Args, Clone)]
pub struct StepArgs {
    /// The run id.
    pub run: String,

    /// The step to run again (`cigna-setup show RUN` lists them).
    pub step: String,

    /// File holding the office's portal password (instead of CIGNA_OFFICE_PASSWORD).
    #[arg(long, env = "CIGNA_OFFICE_PASSWORD_FILE", value_name = "FILE")]
    pub office_password_file: Option<PathBuf>,

    #[command(flatten)]
    pub with: ContinueArgs,
}

/// The real portal's entry URL.
pub const DEFAULT_PORTAL_URL: &str = "https://cignaforhcp.cigna.com/";

#[derive(Debug, Args, Clone)]
pub struct PortalArgs {
    /// The portal's entry URL; everything after it is reached by clicking.
    #[arg(long, env = "CIGNA_PORTAL_URL", default_value = DEFAULT_PORTAL_URL)]
    pub portal_url: String,

    /// The Chromium to drive (default: chromium, chromium-browser or google-chrome on PATH).
    #[arg(long, env = "CIGNA_BROWSER", value_name = "PATH")]
    pub browser: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct MailboxArgs {
    /// The mailbox the codes reach: imaps://USER@HOST[:PORT][/MAILBOX] (TLS) or imap://…
    /// (STARTTLS; plaintext only to loopback). Its password: CIGNA_IMAP_PASSWORD or
    /// --imap-password-file.
    #[arg(long, env = "CIGNA_IMAP_URL", value_name = "URL")]
    pub imap_url: Option<String>,

    /// File holding the mailbox password (instead of CIGNA_IMAP_PASSWORD).
    #[arg(long, env = "CIGNA_IMAP_PASSWORD_FILE", value_name = "FILE")]
    pub imap_password_file: Option<PathBuf>,

    /// A CA certificate (PEM) to trust for the mailbox's TLS, besides the system's.
    #[arg(long, env = "CIGNA_IMAP_CA", value_name = "FILE")]
    pub imap_ca: Option<PathBuf>,

    /// A folder to watch for the code instead of the URL's (repeatable: `--imap-mailbox INBOX
    /// --imap-mailbox Cigna` for an office whose mail rules file the portal's email away).
    #[arg(
        long = "imap-mailbox",
        env = "CIGNA_IMAP_MAILBOX",
        value_name = "FOLDER",
        value_delimiter = ','
    )]
    pub imap_mailboxes: Vec<String>,

    /// How to log in: `login` (the IMAP LOGIN command), `plain` (AUTHENTICATE PLAIN), or with
    /// an OAuth2 access token, `xoauth2` or `oauthbearer` (Google Workspace, Microsoft 365).
    /// The token: CIGNA_IMAP_TOKEN, --imap-token-file or --imap-token-command (exactly one).
    #[arg(long, env = "CIGNA_IMAP_AUTH", value_enum, default_value = "login")]
    pub imap_auth: ImapAuthArg,

    /// A file (mode 0600) holding the mailbox's OAuth2 access token, kept fresh by another
    /// program; read at every login, so a refused token is read again.
    #[arg(long, env = "CIGNA_IMAP_TOKEN_FILE", value_name = "FILE")]
    pub imap_token_file: Option<PathBuf>,

    /// A program that prints a fresh OAuth2 access token on its standard output, run without a
    /// shell at every login and reconnect. Its arguments only come from the settings file:
    /// imap-token-command = ["PROGRAM", "ARG", …].
    #[arg(long, env = "CIGNA_IMAP_TOKEN_COMMAND", value_name = "PROGRAM")]
    pub imap_token_command: Option<PathBuf>,

    /// With a server that offers no IDLE, how often to look for the code email (e.g. 2s).
    #[arg(
        long,
        env = "CIGNA_POLL_EVERY",
        default_value = POLL_EVERY,
        value_name = "DURATION"
    )]
    pub poll_every: String,
}

/// `--poll-every`'s default, also where a mailbox is built from recorded values.
const POLL_EVERY: &str = "2s";

impl Default for MailboxArgs {
    /// What the flags default to, for commands that build a mailbox from recorded values.
    fn default() -> Self {
        MailboxArgs {
            imap_url: None,
            imap_password_file: None,
            imap_ca: None,
            imap_mailboxes: Vec::new(),
            imap_auth: ImapAuthArg::Login,
            imap_token_file: None,
            imap_token_command: None,
            poll_every: POLL_EVERY.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImapAuthArg {
    /// The IMAP LOGIN command.
    Login,
    /// SASL AUTHENTICATE PLAIN.
    Plain,
    /// SASL XOAUTH2 with an OAuth2 access token (Google's and Microsoft's).
    #[value(name = "xoauth2")]
    XOAuth2,
    /// SASL OAUTHBEARER (RFC 7628) with an OAuth2 access token.
    #[value(name = "oauthbearer")]
    OAuthBearer,
}

#[derive(Debug, Args, Clone)]
pub struct TimingArgs {
    /// How long to wait for the verification code email (e.g. 90s, 5m).
    #[arg(
        long,
        env = "CIGNA_CODE_TIMEOUT",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub code_timeout: String,

    /// How long one action may wait for its element (e.g. 30s).
    #[arg(
        long,
        env = "CIGNA_ACTION_TIMEOUT",
        default_value = "30s",
        value_name = "DURATION"
    )]
    pub action_timeout: String,

    /// How often a step that meets the portal's error page ("Something went wrong", HTTP
    /// 5xx) reloads and tries again, with growing pauses.
    #[arg(long, env = "CIGNA_RETRIES", default_value_t = 2, value_name = "N")]
    pub retries: u32,

    /// Keep every step's screenshot, page and log in the run's artifacts, not only a failed
    /// step's.
    #[arg(long, env = "CIGNA_TRACE")]
    pub trace: bool,
}

#[derive(Debug, Args)]
pub struct StepsArgs {
    /// The flow: existing, register or activate.
    #[arg(default_value = "existing")]
    pub flow: String,

    /// List the steps of this flow file instead.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The fixture portal's skins and its late-render default, as its crate names them (the
/// fixture_portal command's tests hold them to it: the command line knows no fixture type).
#[cfg(feature = "fixture")]
pub const FIXTURE_SKINS: [&str; 2] = ["classic", "material"];
#[cfg(feature = "fixture")]
pub const FIXTURE_LATE_RENDER_MAX_MS: u32 = 120;
#[cfg(feature = "fixture")]
pub const FIXTURE_OFFICE_ROLES: [&str; 2] = ["access-manager", "standard"];

#[cfg(feature = "fixture")]
#[derive(Debug, Args)]
pub struct FixturePortalArgs {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, env = "CIGNA_FIXTURE_PORT", default_value_t = 0)]
    pub port: u16,

    /// Where code emails are delivered (IMAP APPEND); password from CIGNA_IMAP_PASSWORD.
    #[arg(long, env = "CIGNA_IMAP_URL", value_name = "URL")]
    pub imap_url: Option<String>,

    /// A CA certificate (PEM) to trust for the mailbox's TLS.
    #[arg(long, env = "CIGNA_IMAP_CA", value_name = "FILE")]
    pub imap_ca: Option<PathBuf>,

    /// File holding the mailbox password (instead of CIGNA_IMAP_PASSWORD).
    #[arg(long, env = "CIGNA_IMAP_PASSWORD_FILE", value_name = "FILE")]
    pub imap_password_file: Option<PathBuf>,

    /// The office's portal User ID.
    #[arg(long, env = "CIGNA_OFFICE_USER", default_value = "office.manager")]
    pub office_user: String,

    /// An office TIN the portal knows (repeatable; default 123456789).
    #[arg(long = "office-tin", value_name = "TIN")]
    pub office_tins: Vec<String>,

    /// The office's name, shown next to its TINs.
    #[arg(long, default_value = "Zuub Family Dental")]
    pub office_name: String,

    /// Render late content (as real portals do) after a random delay of up to this many
    /// milliseconds; 0 renders it at once.
    #[arg(long, default_value_t = FIXTURE_LATE_RENDER_MAX_MS, value_name = "MS")]
    pub late_render_max_ms: u32,

    /// Approve each submitted registration this long after it was submitted (like 30s, 5m);
    /// without it, approve with `curl -d user_id=ID http://127.0.0.1:PORT/__approve`.
    #[arg(
        long,
        env = "CIGNA_FIXTURE_AUTO_APPROVE_AFTER",
        value_name = "DURATION"
    )]
    pub auto_approve_after: Option<String>,

    /// Misbehave like a real portal on a bad day (repeatable): `slow` (pages answer 1–3 s late),
    /// `flaky500` (each review page answers HTTP 500 "Something went wrong" once per session),
    /// `session-expire` (once, a session expires mid-flow), `drop-first-email` (an account's
    /// first code email is lost), `late-email` (code emails arrive 20 s late), `stale-code` (the
    /// first code entered was superseded: "incorrect", and a newer code email follows),
    /// `taken-user-id` (the first User ID on Create Your Profile is reported taken).
    #[arg(long = "fault", value_name = "MODE")]
    pub faults: Vec<String>,

    /// The office's own sign-in asks it to verify its identity with a code sent to the
    /// office's email (shown in `/__state` as `office_code`; the tool asks for it).
    #[arg(long)]
    pub office_2fa: bool,

    /// What the office login may do: `access-manager` (add users) or `standard` (its menu has
    /// no Manage User Access, as the guide's note on access managers describes).
    #[arg(
        long,
        default_value = "access-manager",
        value_name = "ROLE",
        value_parser = clap::builder::PossibleValuesParser::new(FIXTURE_OFFICE_ROLES)
    )]
    pub office_role: String,

    #[command(flatten)]
    pub skin: SkinArg,
}

/// `--skin`: how the fixture portal's pages look (the back end is the same for every skin).
#[cfg(feature = "fixture")]
#[derive(Debug, Args, Clone)]
pub struct SkinArg {
    /// The fixture portal's look: `classic` (its original pages) or `material` (an
    /// Angular-Material-like one); the routes, rules and flow are the same.
    #[arg(
        long = "skin",
        env = "CIGNA_FIXTURE_SKIN",
        value_name = "SKIN",
        default_value = "classic",
        value_parser = clap::builder::PossibleValuesParser::new(FIXTURE_SKINS)
    )]
    pub skin: String,
}

#[cfg(feature = "fixture")]
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DemoFlow {
    /// The existing-account flow.
    Existing,
    /// Register, approve (as the access manager would), activate.
    Register,
}

#[cfg(feature = "fixture")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which flow to show.
    #[arg(long, value_enum, default_value = "existing")]
    pub flow: DemoFlow,

    /// The TIN to set up.
    #[arg(long, default_value = "123456789")]
    pub tin: String,

    #[arg(long, env = "CIGNA_BROWSER", value_name = "PATH")]
    /// The Chromium to drive (default: chromium on PATH).
    pub browser: Option<PathBuf>,

    /// Where the demo's run is kept (default: cigna-setup-demo-runs in the temp directory, apart
    /// from real runs).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Print the credentials JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub skin: SkinArg,
}
