//! A world for one test: a real Dovecot mailbox and the fixture portal, with builders for the
//! commands a person would run against them.

use std::time::Duration;

use cigna_setup::dovecot::{Dovecot, DovecotOptions};
use cigna_setup::fixture::{Fault, PortalConfig, RunningPortal, DEFAULT_LATE_RENDER_MAX_MS};
use cigna_setup::secrets::Secret;
use serde_json::Value;

use super::run::Cli;

pub const OFFICE_PASSWORD: &str = "Office#Pass2026";
pub const MAILBOX_PASSWORD: &str = "mailbox-secret-4711";
pub const TIN: &str = "123456789";

/// A fixture portal and a mailbox, started for one test and stopped with it.
pub struct World {
    pub dovecot: Dovecot,
    pub portal: RunningPortal,
    pub runs: tempfile::TempDir,
}

impl World {
    /// `auto_approve_after`: registrations approve themselves that long after submission.
    pub async fn start(auto_approve_after: Option<Duration>) -> World {
        World::start_full(auto_approve_after, Vec::new(), false).await
    }

    /// A portal whose office sign-in asks for a code sent to the office (`--office-2fa`).
    pub async fn start_with_office_2fa() -> World {
        World::start_full(None, Vec::new(), true).await
    }

    /// A portal that misbehaves in these ways.
    pub async fn start_with_faults(faults: Vec<Fault>) -> World {
        World::start_full(None, faults, false).await
    }

    async fn start_full(
        auto_approve_after: Option<Duration>,
        faults: Vec<Fault>,
        office_2fa: bool,
    ) -> World {
        let dovecot = tokio::task::spawn_blocking(|| {
            Dovecot::start(DovecotOptions {
                // "spare" receives nothing: a mailbox where no code ever arrives.
                users: vec![
                    ("codes".into(), MAILBOX_PASSWORD.into()),
                    ("spare".into(), MAILBOX_PASSWORD.into()),
                ],
                idle: true,
                // An office's mail rules may file the portal's email here.
                folders: vec!["Cigna".into()],
            })
        })
        .await
        .unwrap()
        .expect("Dovecot must start (install it with `apt-get install -y dovecot-imapd`)");
        let portal = RunningPortal::start(PortalConfig {
            office_user: "office.manager".into(),
            office_password: Secret::new(OFFICE_PASSWORD),
            office_tins: vec!["987654321".into(), TIN.into()],
            office_name: "Zuub Family Dental".into(),
            mailbox: Some(dovecot.mailbox("codes")),
            late_render_max_ms: DEFAULT_LATE_RENDER_MAX_MS,
            auto_approve_after,
            faults,
            office_2fa,
        })
        .await
        .expect("the fixture portal must start");
        World {
            dovecot,
            portal,
            runs: tempfile::tempdir().unwrap(),
        }
    }

    /// `existing` with everything a real run needs, pointed at this world.
    pub fn existing(&self, email: &str) -> Cli {
        self.existing_with_mailbox(email, &self.dovecot.imaps_url("codes"))
    }

    pub fn existing_with_mailbox(&self, email: &str, imap_url: &str) -> Cli {
        self.login(Cli::new("existing"), email)
            .flag("--office-user", "office.manager")
            .flag("--imap-url", imap_url)
            .path_flag("--imap-ca", self.dovecot.ca_file())
            .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
            .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
    }

    /// `register`, remembering this world's mailbox for `activate`.
    pub fn register(&self, email: &str) -> Cli {
        self.login(Cli::new("register"), email)
            .flag("--imap-url", self.dovecot.imaps_url("codes"))
            .path_flag("--imap-ca", self.dovecot.ca_file())
    }

    /// `activate RUN`, with the mailbox password in the environment.
    pub fn activate(&self, run_id: &str) -> Cli {
        Cli::new("activate")
            .arg(run_id)
            .path_flag("--runs-dir", self.runs.path())
            .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
    }

    fn login(&self, cli: Cli, email: &str) -> Cli {
        cli.flag("--tin", TIN)
            .flag("--email", email)
            .flag("--phone", "(555) 123-4567")
            .flag("--portal-url", self.portal.url())
            .path_flag("--runs-dir", self.runs.path())
    }

    pub fn users(&self) -> Vec<Value> {
        self.list("users")
    }

    pub fn registrations(&self) -> Vec<Value> {
        self.list("registrations")
    }

    fn list(&self, name: &str) -> Vec<Value> {
        self.portal.state_json()[name]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}
