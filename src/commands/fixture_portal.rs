//! `cigna-setup fixture-portal`: the fixture portal as a standalone server; its arguments, and
//! the `--skin` both it and `demo` take. With `demo.rs`, the only product code that uses the
//! `cigna-fixture` crate (the `fixture` feature).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use cigna_fixture::{Deliver, ErrorKind, Fault, PortalConfig, Skin, DEFAULT_LATE_RENDER_MAX_MS};
use clap::Args;

use crate::cli::MailboxArgs;
use crate::error::{bad_input, environment};
use crate::secrets;
use crate::settings::{self, Tin};

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
    #[arg(long, default_value_t = DEFAULT_LATE_RENDER_MAX_MS, value_name = "MS")]
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

    #[command(flatten)]
    pub skin: SkinArg,
}

/// `--skin`: how the fixture portal's pages look (the back end is the same for every skin).
#[derive(Debug, Args, Clone, Copy)]
pub struct SkinArg {
    /// The fixture portal's look: `classic` (its original pages) or `material` (an
    /// Angular-Material-like one); the routes, rules and flow are the same.
    #[arg(
        long = "skin",
        env = "CIGNA_FIXTURE_SKIN",
        value_name = "SKIN",
        default_value = "classic",
        value_parser = skin_parser()
    )]
    pub skin: Skin,
}

fn skin_parser() -> impl clap::builder::TypedValueParser<Value = Skin> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Skin::ALL.map(|s| s.name()))
        .try_map(|name| name.parse::<Skin>())
}

/// A fixture error with the exit code the tool gives its kind (a configuration it cannot use:
/// bad input, 2; the machine: environment, 5), its message unchanged; any other error as it is.
pub(super) fn with_exit_code(err: anyhow::Error) -> anyhow::Error {
    match cigna_fixture::error::kind(&err) {
        Some(ErrorKind::BadConfig) => bad_input(format!("{err:#}")),
        Some(ErrorKind::Environment) => environment(format!("{err:#}")),
        None => err,
    }
}

pub async fn command(args: FixturePortalArgs) -> Result<()> {
    let faults = args
        .faults
        .iter()
        .map(|m| m.parse::<Fault>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_input(format!("--fault: {e}")))?;
    let office_password =
        settings::read_secret("CIGNA_OFFICE_PASSWORD", None, "")?.ok_or_else(|| {
            bad_input(
                "set CIGNA_OFFICE_PASSWORD: the fixture portal accepts the office user with that \
                 password",
            )
        })?;
    secrets::global().register(office_password.expose());
    let mut office_tins = Vec::new();
    for t in &args.office_tins {
        office_tins.push(Tin::parse(t)?.digits().to_string());
    }
    if office_tins.is_empty() {
        office_tins.push("123456789".to_string());
    }
    let deliver = match &args.imap_url {
        Some(url) => {
            let config = settings::mailbox(&MailboxArgs {
                imap_url: Some(url.clone()),
                imap_password_file: args.imap_password_file.clone(),
                imap_ca: args.imap_ca.clone(),
                ..MailboxArgs::default()
            })?;
            secrets::global().register(config.password.expose());
            let deliver: Arc<dyn Deliver> =
                Arc::new(move |raw: &[u8]| crate::mail::append(&config, raw));
            Some(deliver)
        }
        None => {
            eprintln!("no --imap-url: verification codes will not be emailed");
            None
        }
    };
    let auto_approve_after = args
        .auto_approve_after
        .as_deref()
        .map(|s| settings::parse_duration(s, "--auto-approve-after"))
        .transpose()?;
    let config = PortalConfig {
        office_user: args.office_user.clone(),
        office_password: office_password.expose().to_string(),
        office_tins,
        office_name: args.office_name.clone(),
        deliver,
        late_render_max_ms: args.late_render_max_ms,
        auto_approve_after,
        faults,
        office_2fa: args.office_2fa,
        skin: args.skin.skin,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| {
            environment(format!(
                "cannot listen on 127.0.0.1:{}: {e}; pick another --port (0 = any free one)",
                args.port
            ))
        })?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "fixture portal listening on http://{addr}")?;
        out.flush()?;
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    cigna_fixture::serve(listener, config, shutdown)
        .await
        .map_err(with_exit_code)
}
