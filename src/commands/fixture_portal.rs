//! `cigna-setup fixture-portal`: the fixture portal as a standalone server; its arguments, and
//! the `--skin` both it and `demo` take. With `demo.rs`, the only product code that uses the
//! `cigna-fixture` crate (the `fixture` feature).

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use cigna_fixture::{Deliver, ErrorKind, Fault, PortalConfig, Skin};

use crate::cli::{FixturePortalArgs, MailboxArgs, SkinArg};
use crate::error::{bad_input, environment};
use crate::secrets;
use crate::settings::{self, Tin};

/// The skin `--skin` names (clap allows only `cli::FIXTURE_SKINS`).
pub(super) fn skin(arg: &SkinArg) -> Result<Skin> {
    arg.skin
        .parse::<Skin>()
        .map_err(|e| bad_input(format!("--skin: {e}")))
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
        skin: skin(&args.skin)?,
        office_role: args
            .office_role
            .parse()
            .map_err(|e| bad_input(format!("--office-role: {e}")))?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_the_fixtures_skins_and_default_as_its_crate_does() {
        assert_eq!(crate::cli::FIXTURE_SKINS, Skin::ALL.map(|s| s.name()));
        assert_eq!(
            crate::cli::FIXTURE_OFFICE_ROLES,
            cigna_fixture::OfficeRole::ALL.map(|r| r.name())
        );
        assert_eq!(
            crate::cli::FIXTURE_LATE_RENDER_MAX_MS,
            cigna_fixture::DEFAULT_LATE_RENDER_MAX_MS
        );
        for name in crate::cli::FIXTURE_SKINS {
            let arg = SkinArg {
                skin: name.to_string(),
            };
            assert_eq!(skin(&arg).unwrap().name(), name);
        }
    }
}
