//! A world for one test: a real Dovecot mailbox and the fixture portal, with builders for the
//! commands a person would run against them.

use std::time::Duration;

use cigna_fixture::dovecot::{Dovecot, DovecotOptions};
use cigna_fixture::{
    Fault, OfficeRole, PortalConfig, RunningPortal, Skin, DEFAULT_LATE_RENDER_MAX_MS,
};
use serde_json::Value;

use cigna_fixture::dovecot::OAuth2Options;

use super::dovecot::{append_to, master_mailbox, DovecotMailbox as _};
use super::oauth2::Introspection;
use super::run::{Cli, Output};

pub const OFFICE_PASSWORD: &str = "Office#Pass2026";
pub const MAILBOX_PASSWORD: &str = "mailbox-secret-4711";
/// The password of the master user a token-only Dovecot delivers through.
pub const MASTER_PASSWORD: &str = "postmaster-secret-5122";
pub const TIN: &str = "123456789";

/// A fixture portal and a mailbox, started for one test and stopped with it.
pub struct World {
    pub dovecot: Dovecot,
    pub portal: RunningPortal,
    pub runs: tempfile::TempDir,
    /// With `oauth2()`: the endpoint that says which of the mailbox's tokens are active.
    pub introspection: Option<Introspection>,
}

/// How to start a `World`'s portal; `World::builder()…start()`.
#[derive(Default)]
pub struct WorldBuilder {
    auto_approve_after: Option<Duration>,
    faults: Vec<Fault>,
    office_2fa: bool,
    skin: Option<Skin>,
    office_tins: Option<Vec<String>>,
    office_role: OfficeRole,
    oauth2: bool,
}

impl WorldBuilder {
    /// The mailbox `codes` signs in with OAuth2 tokens only (XOAUTH2, OAUTHBEARER), checked
    /// by `World::introspection`; none is active until the test activates one. The portal
    /// delivers through a master user, as a mail system would.
    pub fn oauth2(mut self) -> Self {
        self.oauth2 = true;
        self
    }

    /// Registrations approve themselves that long after submission.
    pub fn auto_approve_after(mut self, after: Option<Duration>) -> Self {
        self.auto_approve_after = after;
        self
    }

    /// The portal misbehaves in these ways.
    pub fn faults(mut self, faults: Vec<Fault>) -> Self {
        self.faults = faults;
        self
    }

    /// The office's sign-in asks for a code sent to the office (`--office-2fa`).
    pub fn office_2fa(mut self) -> Self {
        self.office_2fa = true;
        self
    }

    /// What the office login may do (`--office-role`): a standard user cannot add users.
    pub fn office_role(mut self, role: OfficeRole) -> Self {
        self.office_role = role;
        self
    }

    /// The office's TINs (9 digits each) instead of the default two.
    pub fn office_tins(mut self, tins: Vec<String>) -> Self {
        self.office_tins = Some(tins);
        self
    }

    /// The portal's look. Without it: `CIGNA_FIXTURE_SKIN` when set (so a whole suite can run
    /// against another skin), else classic.
    pub fn skin(mut self, skin: Skin) -> Self {
        self.skin = Some(skin);
        self
    }

    pub async fn start(self) -> World {
        let skin = self
            .skin
            .unwrap_or_else(|| match std::env::var("CIGNA_FIXTURE_SKIN") {
                Ok(name) if !name.trim().is_empty() => name
                    .parse()
                    .unwrap_or_else(|e| panic!("CIGNA_FIXTURE_SKIN: {e}")),
                _ => Skin::Classic,
            });
        World::start_full(self, skin).await
    }
}

/// A run's journal as the JSON it is (null when missing or unreadable: a miss to poll again).
pub fn read_journal(path: &std::path::Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl World {
    /// The directory of the one run in this world's runs dir (`out` explains a miss).
    pub fn only_run_dir(&self, out: &Output) -> std::path::PathBuf {
        let runs: Vec<std::path::PathBuf> = std::fs::read_dir(self.runs.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("journal.json").exists())
            .collect();
        assert_eq!(runs.len(), 1, "one run: {runs:?}\n{}", out.stderr);
        runs[0].clone()
    }

    /// Waits (60 s at most) until a run of this world is inside the portal, running one of
    /// `steps`; its journal's path.
    pub async fn journal_once_running(&self, steps: &[&str]) -> std::path::PathBuf {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let found = std::fs::read_dir(self.runs.path())
                .unwrap()
                .flatten()
                .map(|e| e.path().join("journal.json"))
                .find(|p| p.exists());
            if let Some(p) = found {
                let journal = read_journal(&p);
                let running = journal["steps"].as_array().is_some_and(|all| {
                    all.iter()
                        .any(|s| s["status"] == "running" && steps.iter().any(|id| s["id"] == *id))
                });
                if running {
                    return p;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the run never got to {steps:?}"
            );
            // Polling the file: the run gives no other sign of where it is.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// `auto_approve_after`: registrations approve themselves that long after submission.
    pub async fn start(auto_approve_after: Option<Duration>) -> World {
        World::builder()
            .auto_approve_after(auto_approve_after)
            .start()
            .await
    }

    /// A portal whose office sign-in asks for a code sent to the office (`--office-2fa`).
    pub async fn start_with_office_2fa() -> World {
        World::builder().office_2fa().start().await
    }

    /// A portal that misbehaves in these ways.
    pub async fn start_with_faults(faults: Vec<Fault>) -> World {
        World::builder().faults(faults).start().await
    }

    async fn start_full(options: WorldBuilder, skin: Skin) -> World {
        let introspection = match options.oauth2 {
            true => Some(Introspection::start().await),
            false => None,
        };
        let oauth2 = introspection.as_ref().map(|i| OAuth2Options {
            introspection_url: i.url().to_string(),
            token_users: vec!["codes".into()],
            master: ("postmaster".into(), MASTER_PASSWORD.into()),
        });
        let dovecot = tokio::task::spawn_blocking(move || {
            let mut users = vec![("codes".into(), MAILBOX_PASSWORD.into())];
            if oauth2.is_some() {
                users.clear();
            }
            // "spare" receives nothing: a mailbox where no code ever arrives.
            users.push(("spare".into(), MAILBOX_PASSWORD.into()));
            Dovecot::start(DovecotOptions {
                users,
                idle: true,
                // An office's mail rules may file the portal's email here.
                folders: vec!["Cigna".into()],
                oauth2,
            })
        })
        .await
        .unwrap()
        .expect("Dovecot must start (install it with `apt-get install -y dovecot-imapd`)");
        let into_codes = match options.oauth2 {
            true => master_mailbox(&dovecot, "codes"),
            false => dovecot.mailbox("codes"),
        };
        let portal = RunningPortal::start(PortalConfig {
            office_user: "office.manager".into(),
            office_password: OFFICE_PASSWORD.into(),
            office_tins: options
                .office_tins
                .clone()
                .unwrap_or_else(|| vec!["987654321".into(), TIN.into()]),
            office_name: "Zuub Family Dental".into(),
            deliver: Some(append_to(into_codes)),
            late_render_max_ms: DEFAULT_LATE_RENDER_MAX_MS,
            auto_approve_after: options.auto_approve_after,
            faults: options.faults,
            office_2fa: options.office_2fa,
            skin,
            office_role: options.office_role,
        })
        .await
        .expect("the fixture portal must start");
        World {
            dovecot,
            portal,
            runs: tempfile::tempdir().unwrap(),
            introspection,
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

    /// The access manager approves the registration `register` printed (`pending`, its JSON),
    /// then `activate --json` runs it to the end.
    pub async fn approve_and_activate(&self, pending: &Value) -> Output {
        self.portal
            .approve(
                pending["user_id"]
                    .as_str()
                    .expect("a pending registration's User ID"),
            )
            .unwrap();
        self.activate(pending["run_id"].as_str().expect("its run id"))
            .arg("--json")
            .run()
            .await
    }

    /// `runs --json` for this world's runs, newest first.
    pub async fn runs_listed(&self) -> Value {
        let out = Cli::new("runs")
            .path_flag("--runs-dir", self.runs.path())
            .arg("--json")
            .run()
            .await;
        out.assert_code(0);
        out.json()
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
