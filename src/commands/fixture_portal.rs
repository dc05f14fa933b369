//! `cigna-setup fixture-portal`: the fixture portal as a standalone server.

use std::io::Write;

use anyhow::Result;

use crate::cli::{FixturePortalArgs, MailboxArgs};
use crate::error::{bad_input, environment};
use crate::fixture::{self, Fault, PortalConfig};
use crate::secrets;
use crate::settings::{self, Tin};

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
    let mailbox = match &args.imap_url {
        Some(url) => {
            let config = settings::mailbox(&MailboxArgs {
                imap_url: Some(url.clone()),
                imap_password_file: args.imap_password_file.clone(),
                imap_ca: args.imap_ca.clone(),
                ..MailboxArgs::default()
            })?;
            secrets::global().register(config.password.expose());
            Some(config)
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
        office_password,
        office_tins,
        office_name: args.office_name.clone(),
        mailbox,
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
    fixture::serve(listener, config, shutdown).await
}
