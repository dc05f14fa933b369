//! `cigna-setup demo`: the whole existing-account flow against the bundled fixture portal and
//! a throwaway local Dovecot, end to end on one machine.

use anyhow::Result;
use rand::distr::{Alphanumeric, SampleString};

use crate::cli::DemoArgs;
use crate::commands::existing::{print_human, run_existing};
use crate::dovecot::{Dovecot, DovecotOptions};
use crate::engine::progress;
use crate::fixture::{PortalConfig, RunningPortal};
use crate::secrets::{self, Secret};
use crate::settings::{self, ExistingSettings, Profile, Timing, Tin};

pub async fn command(args: DemoArgs) -> Result<()> {
    let tin = Tin::parse(&args.tin)?;
    let browser = args.browser.clone();
    let mailbox_password = Alphanumeric.sample_string(&mut rand::rng(), 20);
    let office_password = Secret::new(format!(
        "Of{}!7",
        Alphanumeric.sample_string(&mut rand::rng(), 12)
    ));
    secrets::global().register(&mailbox_password);
    secrets::global().register(office_password.expose());

    progress("starting a throwaway Dovecot mailbox…");
    let users = vec![("codes".to_string(), mailbox_password.clone())];
    let dovecot =
        tokio::task::spawn_blocking(move || Dovecot::start(DovecotOptions { users, idle: true }))
            .await??;
    let mailbox = dovecot.mailbox("codes");

    let portal = RunningPortal::start(PortalConfig {
        office_user: "office.manager".into(),
        office_password: office_password.clone(),
        office_tins: vec![tin.digits().to_string(), "987654321".to_string()],
        office_name: "Zuub Family Dental".into(),
        mailbox: Some(mailbox.clone()),
        late_render_max_ms: crate::fixture::DEFAULT_LATE_RENDER_MAX_MS,
    })
    .await?;
    progress(&format!(
        "fixture portal at {}, mailbox at {}",
        portal.url(),
        mailbox.url
    ));

    let settings = ExistingSettings {
        email: format!("cigna.{}@codes.zuub.test", tin.digits()),
        tin,
        phone: "5551234567".into(),
        portal_url: settings::portal_url(portal.url())?,
        browser,
        office_user: "office.manager".into(),
        office_password,
        mailbox,
        entitlements: settings::DEFAULT_ENTITLEMENTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        user_id: None,
        user_password: None,
        out: None,
        runs_dir: args
            .runs_dir
            .clone()
            .unwrap_or_else(settings::default_runs_dir),
        flow_file: None,
        json: args.json,
        timing: Timing {
            code_timeout: std::time::Duration::from_secs(60),
            action_timeout: std::time::Duration::from_secs(20),
        },
        profile: Profile::default(),
    };
    let outcome = run_existing(settings).await;
    let stopped = portal.stop().await;
    drop(dovecot);
    let creds = outcome?;
    stopped?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&creds)?);
    } else {
        print_human(&creds);
    }
    Ok(())
}
