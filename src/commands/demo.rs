//! `cigna-setup demo`: a whole flow against the bundled fixture portal and a throwaway local
//! Dovecot, end to end on one machine; its arguments. With `fixture_portal.rs`, the only product
//! code that uses the `cigna-fixture` crate (the `fixture` feature).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use cigna_fixture::dovecot::{Dovecot, DovecotOptions};
use cigna_fixture::{PortalConfig, RunningPortal, DEFAULT_LATE_RENDER_MAX_MS};
use rand::distr::{Alphanumeric, SampleString};

use super::activate::{run_activate, Activation};
use super::fixture_portal::with_exit_code;
use super::register::run_register;
use super::run::Credentials;
use crate::cli::{DemoArgs, DemoFlow};
use crate::commands::existing::run_existing;
use crate::mail::{MailboxConfig, MailboxUrl, Security};
use crate::progress;
use crate::secrets::{self, Secret};
use crate::settings::{self, ExistingSettings, NewLogin, Profile, RegisterSettings, Timing, Tin};

const OFFICE_USER: &str = "office.manager";

/// The settings to read `user`'s mailbox on the throwaway Dovecot (imaps, or STARTTLS on its
/// imap port), its CA trusted: the Dovecot tells these as plain data, knowing nothing of the
/// tool. The demo, the tests and the benches read it so.
pub fn dovecot_mailbox(dovecot: &Dovecot, user: &str, security: Security) -> MailboxConfig {
    let port = match security {
        Security::Tls => dovecot.imaps_port(),
        Security::StartTls => dovecot.imap_port(),
    };
    let url = MailboxUrl {
        security,
        host: dovecot.host().into(),
        port,
        user: user.into(),
        mailbox: "INBOX".into(),
    };
    let mut config = MailboxConfig::new(url, Secret::new(dovecot.password(user)));
    config.ca_file = Some(dovecot.ca_file().to_path_buf());
    config.connect_timeout = Duration::from_secs(5);
    config
}

pub async fn command(args: DemoArgs) -> Result<()> {
    let tin = Tin::parse(&args.tin)?;
    let mailbox_password = Alphanumeric.sample_string(&mut rand::rng(), 20);
    let office_password = Secret::new(format!(
        "Of{}!7",
        Alphanumeric.sample_string(&mut rand::rng(), 12)
    ));
    secrets::global().register(&mailbox_password);
    secrets::global().register(office_password.expose());

    progress::note("starting a throwaway Dovecot mailbox…");
    let users = vec![("codes".to_string(), mailbox_password.clone())];
    let dovecot = tokio::task::spawn_blocking(move || {
        Dovecot::start(DovecotOptions {
            users,
            ..DovecotOptions::default()
        })
    })
    .await?
    .map_err(with_exit_code)?;
    let mailbox = dovecot_mailbox(&dovecot, "codes", Security::Tls);

    let delivery = mailbox.clone();
    let portal = RunningPortal::start(PortalConfig {
        office_user: OFFICE_USER.into(),
        office_password: office_password.expose().to_string(),
        office_tins: vec![tin.digits().to_string(), "987654321".to_string()],
        office_name: "Zuub Family Dental".into(),
        deliver: Some(Arc::new(move |raw: &[u8]| {
            crate::mail::append(&delivery, raw)
        })),
        late_render_max_ms: DEFAULT_LATE_RENDER_MAX_MS,
        auto_approve_after: None,
        faults: Vec::new(),
        office_2fa: false,
        skin: super::fixture_portal::skin(&args.skin)?,
        office_role: cigna_fixture::OfficeRole::AccessManager,
    })
    .await
    .map_err(with_exit_code)?;
    progress::note(&format!(
        "fixture portal at {}, mailbox at {}",
        portal.url(),
        mailbox.url
    ));

    let timing = Timing {
        code_timeout: Duration::from_secs(60),
        action_timeout: Duration::from_secs(20),
        retries: 2,
        trace: false,
    };
    let login = NewLogin {
        email: format!("cigna.{}@codes.zuub.test", tin.digits()),
        tin,
        phone: "5551234567".into(),
        portal_url: settings::portal_url(portal.url())?,
        browser: args.browser.clone(),
        user_id: None,
        user_password: None,
        security: None,
        out: None,
        runs_dir: args
            .runs_dir
            .clone()
            // Not the real runs dir: `cigna-setup runs` should not list fixture runs.
            .unwrap_or_else(|| std::env::temp_dir().join("cigna-setup-demo-runs")),
        flow_file: None,
        json: args.json,
        timing: timing.clone(),
        profile: Profile::default(),
    };
    let outcome = match args.flow {
        DemoFlow::Existing => {
            run_existing(&ExistingSettings {
                login,
                office_user: OFFICE_USER.into(),
                office_password,
                mailbox,
                entitlements: Vec::new(),
                // The bundled portal does not ask the office for a code.
                office_code: crate::office_code::OfficeCode::Unavailable,
                or_register: false,
            })
            .await
        }
        DemoFlow::Register => register_approve_activate(login, mailbox, &portal).await,
    };
    let stopped = portal.stop().await;
    // Dovecot's stop blocks for about a second: off the async threads.
    let _ = tokio::task::spawn_blocking(move || drop(dovecot)).await;
    let creds = outcome?;
    stopped?;
    creds.deliver(args.json, None)
}

/// The two-phase flow: register (pending approval), the access manager approves (here, the
/// fixture portal's approval hook), then the first sign-in with 2FA.
async fn register_approve_activate(
    login: NewLogin,
    mailbox: MailboxConfig,
    portal: &RunningPortal,
) -> Result<Credentials> {
    let runs_dir = login.runs_dir.clone();
    let browser = login.browser.clone();
    let timing = login.timing.clone();
    let pending = run_register(&RegisterSettings {
        login,
        imap_url: Some(mailbox.url.clone()),
        imap_ca: mailbox.ca_file.clone(),
    })
    .await?;
    progress::note(&format!(
        "registration {} is pending approval; approving it as the office's access manager would",
        pending.user_id
    ));
    portal.approve(&pending.user_id)?;
    run_activate(&Activation {
        runs_dir,
        run_id: pending.run_id.clone(),
        mailbox: Some(mailbox),
        browser,
        wait: None,
        every: Duration::from_secs(300),
        timing,
    })
    .await
}
