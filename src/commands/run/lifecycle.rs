//! A run's lifecycle, in one place: the new login's credentials and variables, the run's
//! directory and journal created with them, the flows it keeps, what a recorded run is read back
//! as, how it finishes, and the credentials it prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::credentials::{self, SecurityAnswer};
use crate::error;
use crate::flow::{self, Flow, Vars};
use crate::journal::{self, Journal, Status};
use crate::progress;
use crate::secrets::{self, Secret};
use crate::settings::NewLogin;

/// What `existing`, `register` and `activate` print and write to `--out`.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub flow: String,
    pub run_id: String,
    pub tin: String,
    pub email: String,
    pub user_id: String,
    pub password: String,
    pub security_questions: Vec<SecurityAnswer>,
    pub status: String,
    pub finished_at: String,
    #[serde(skip)]
    pub run_dir: PathBuf,
}

impl Credentials {
    /// Prints them (JSON with `json`), writes `credentials.json` in the run and `out` (0600).
    pub fn deliver(&self, json: bool, out: Option<&Path>) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        journal::write_atomic(&self.run_dir.join("credentials.json"), &bytes, 0o600)?;
        if let Some(out) = out {
            journal::write_atomic(out, &bytes, 0o600)
                .with_context(|| format!("cannot write --out {}", out.display()))?;
        }
        if json {
            println!("{}", String::from_utf8_lossy(&bytes));
        } else {
            self.print_human();
        }
        Ok(())
    }

    fn print_human(&self) {
        // The point of the command: the credentials go to stdout, unredacted, for the person
        // who ran it.
        println!("Cigna for HCP login ({}):", self.status.replace('_', " "));
        println!("  TIN:       {}", self.tin);
        println!("  Email:     {}", self.email);
        println!("  User ID:   {}", self.user_id);
        println!("  Password:  {}", self.password);
        for (i, q) in self.security_questions.iter().enumerate() {
            println!(
                "  Security question {}: {} → {}",
                i + 1,
                q.question,
                q.answer
            );
        }
        println!("  Run:       {} ({})", self.run_id, self.run_dir.display());
    }
}

/// The built-in flow, or the file given instead.
pub fn load_flow(name: &str, file: Option<&Path>) -> Result<Flow> {
    match file {
        Some(path) => flow::from_file(path),
        None => flow::builtin(name),
    }
}

/// Keeps `flow` in the run's directory as `<name>.flow.toml`: a run's later commands (`resume`,
/// `step`, `activate`) run the flow it started with, not whatever the built-in one or the file
/// has become since.
pub fn record_flow(journal: &Journal, flow: &Flow) -> Result<()> {
    let path = journal.dir.join(format!("{}.flow.toml", flow.name));
    journal::write_atomic(&path, flow.source.as_bytes(), 0o600)
        .with_context(|| format!("cannot keep the run's flow in {}", path.display()))
}

/// `--flow FILE` on a command that goes on with a run. The run keeps the flow it started with,
/// so another file is refused unless `force` says to replace the kept one; then FILE (a flow of
/// the same name) is kept instead, for this command and every later one.
pub fn replace_recorded_flow(
    journal: &Journal,
    name: &str,
    file: Option<&Path>,
    force: bool,
) -> Result<()> {
    let Some(file) = file else {
        return Ok(());
    };
    let kept = journal.dir.join(format!("{name}.flow.toml"));
    if !force {
        return Err(error::bad_input(format!(
            "run {} goes on with the flow it started with ({}), not --flow {}: add \
             --force-flow to replace the run's flow with that file, or leave --flow out",
            journal.run_id,
            kept.display(),
            file.display()
        )));
    }
    let flow = flow::from_file(file)?;
    if flow.name != name {
        return Err(error::bad_input(format!(
            "{} is a `{}` flow, and run {} goes on with its `{name}` flow: pass a flow file \
             that says flow = \"{name}\"",
            file.display(),
            flow.name,
            journal.run_id
        )));
    }
    // Not under a running command's feet: the run's lock is free, or this is refused.
    let _lock = crate::run_lock::RunLock::take(&journal.dir, &journal.run_id)?;
    record_flow(journal, &flow)?;
    progress::note(&format!(
        "run {} now goes on with the flow in {} (kept as {})",
        journal.run_id,
        file.display(),
        kept.display()
    ));
    Ok(())
}

/// The new login's credentials: given or generated, saved to the run before any step.
pub fn new_credentials(login: &NewLogin) -> credentials::Credentials {
    credentials::make(
        login.tin.digits(),
        login.user_id.as_deref(),
        login.user_password.as_ref(),
        login.security.as_deref(),
    )
}

/// A new run directory for `flow`, with the login's inputs (no secrets) and its credentials
/// saved before the first step.
pub fn create_journal(
    login: &NewLogin,
    flow: &Flow,
    creds: &credentials::Credentials,
    extra_inputs: impl IntoIterator<Item = (&'static str, Value)>,
) -> Result<Journal> {
    let mut inputs: BTreeMap<String, Value> = [
        ("portal_url", json!(login.portal_url.as_str())),
        ("tin", json!(login.tin.digits())),
        ("email", json!(login.email)),
        ("phone", json!(login.phone)),
        ("profile", login.profile.to_json()),
    ]
    .into_iter()
    .chain(extra_inputs)
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    inputs.insert("user_id".into(), json!(creds.user_id));
    // A resumed run may replace a generated User ID the portal refuses, never a given one.
    inputs.insert("user_id_generated".into(), json!(login.user_id.is_none()));
    let step_ids: Vec<String> = flow.steps.iter().map(|s| s.id.clone()).collect();
    let mut journal = Journal::create(&login.runs_dir, &flow.name, &step_ids, inputs)?;
    record_flow(&journal, flow)?;
    save_credentials(&mut journal, creds)?;
    let settings = match crate::config::loaded().file {
        Some(file) => format!("settings from {}", file.display()),
        None => "no settings file".to_string(),
    };
    progress::note(&format!(
        "run {} ({} steps), kept in {}; {settings}",
        journal.run_id,
        flow.steps.len(),
        journal.dir.display()
    ));
    Ok(journal)
}

/// Writes the login's credentials to the run's secrets file (0600).
pub fn save_credentials(journal: &mut Journal, creds: &credentials::Credentials) -> Result<()> {
    journal.save_secret("generated.user_id", &creds.user_id)?;
    journal.save_secret("generated.password", creds.password.expose())?;
    for (i, q) in creds.security.iter().enumerate() {
        journal.save_secret(&format!("generated.question{}", i + 1), &q.question)?;
        journal.save_secret(&format!("generated.answer{}", i + 1), &q.answer)?;
    }
    Ok(())
}

/// The new login an earlier run recorded: its inputs and saved credentials.
pub struct RecordedLogin {
    pub tin: crate::settings::Tin,
    pub email: String,
    pub phone: String,
    pub portal_url: url::Url,
    pub profile: crate::settings::Profile,
    pub creds: credentials::Credentials,
}

impl RecordedLogin {
    pub fn of(journal: &Journal) -> Result<RecordedLogin> {
        Ok(RecordedLogin {
            tin: crate::settings::Tin::parse(&journal.input_text("tin")?)?,
            email: journal.input_text("email")?,
            phone: journal.input_text("phone")?,
            portal_url: crate::settings::portal_url(&journal.input_text("portal_url")?)?,
            profile: crate::settings::Profile::from_json(journal.input("profile")),
            creds: saved_credentials(journal)?,
        })
    }

    /// The run's variables again (recorded profile and inputs, saved credentials).
    pub fn vars(&self) -> Vars {
        login_vars(
            self.portal_url.as_str(),
            &self.tin,
            &self.email,
            &self.phone,
            &self.profile,
            &self.creds,
        )
    }
}

/// The credentials an earlier run saved.
pub fn saved_credentials(journal: &Journal) -> Result<credentials::Credentials> {
    let missing = |what: &str| {
        error::bad_input(format!(
            "run {} has no saved {what} ({}/secrets.json): it cannot be continued",
            journal.run_id,
            journal.dir.display()
        ))
    };
    let user_id = journal
        .secret("generated.user_id")
        .ok_or_else(|| missing("User ID"))?
        .to_string();
    let password = Secret::new(
        journal
            .secret("generated.password")
            .ok_or_else(|| missing("password"))?,
    );
    let mut security = Vec::new();
    for i in 1..=3 {
        let question = journal.secret(&format!("generated.question{i}"));
        let answer = journal.secret(&format!("generated.answer{i}"));
        if let (Some(q), Some(a)) = (question, answer) {
            security.push(SecurityAnswer {
                question: q.to_string(),
                answer: a.to_string(),
            });
        }
    }
    Ok(credentials::Credentials {
        user_id,
        password,
        security,
    })
}

/// The variables of a run for a new login: inputs, profile, credentials. Secret values are
/// registered for redaction as they are set.
pub fn login_vars(
    portal_url: &str,
    tin: &crate::settings::Tin,
    email: &str,
    phone: &str,
    profile: &crate::settings::Profile,
    creds: &credentials::Credentials,
) -> Vars {
    let mut vars = Vars::new(secrets::global().clone());
    vars.set("portal_url", portal_url);
    vars.set("tin", tin.digits());
    vars.set("tin_dashed", tin.dashed());
    vars.set("email", email);
    vars.set("phone", phone);
    vars.set("profile.first_name", &profile.first_name);
    vars.set("profile.last_name", &profile.last_name);
    vars.set("profile.job_role_option", &profile.job_role_option);
    vars.set("profile.job_role", &profile.job_role);
    vars.set("profile.address", &profile.address);
    vars.set("profile.date_of_birth", &profile.date_of_birth);
    set_credential_vars(&mut vars, creds);
    vars
}

/// The variables of a new run for `login`.
pub fn new_login_vars(login: &NewLogin, creds: &credentials::Credentials) -> Vars {
    login_vars(
        login.portal_url.as_str(),
        &login.tin,
        &login.email,
        &login.phone,
        &login.profile,
        creds,
    )
}

pub fn set_credential_vars(vars: &mut Vars, creds: &credentials::Credentials) {
    vars.set("generated.user_id", &creds.user_id);
    vars.set_secret("generated.password", creds.password.clone());
    for (i, q) in creds.security.iter().enumerate() {
        vars.set(&format!("generated.question{}", i + 1), &q.question);
        vars.set_secret(
            &format!("generated.answer{}", i + 1),
            Secret::new(q.answer.clone()),
        );
    }
}

/// What a run of `flow` is once its every step is done (the flow's `ends`).
pub fn ended_as(flow: &Flow) -> Status {
    match flow.ends {
        flow::Ends::PendingApproval => Status::PendingApproval,
        flow::Ends::Active => Status::Active,
    }
}

/// Records what the run became and rewrites its report.
/// A run that ended active can never be resumed: its browser profile, with the portal's
/// session cookie and storage, is deleted then.
pub fn finish(journal: &mut Journal, status: Status) -> Result<()> {
    let ended = status == Status::Active;
    journal.set_status(status)?;
    if ended {
        let profile = journal.dir.join("browser");
        if let Err(e) = std::fs::remove_dir_all(&profile) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(
                    "could not delete the finished run's browser profile {}: {e}",
                    profile.display()
                );
            }
        }
    }
    crate::report::write(journal)
}

/// Deletes the run's browser profile (its cookies and storage): the next browser of the run
/// starts signed out.
pub fn forget_browser_session(journal: &Journal) -> Result<()> {
    let profile = journal.dir.join("browser");
    match std::fs::remove_dir_all(&profile) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(error::environment(format!(
            "cannot delete the run's browser profile {}: {e}",
            profile.display()
        ))),
    }
}

/// The credentials of a run, with the status its journal says it reached.
pub fn credentials_of(
    journal: &Journal,
    tin: &str,
    email: &str,
    creds: &credentials::Credentials,
) -> Credentials {
    Credentials {
        flow: journal.flow().to_string(),
        run_id: journal.run_id.clone(),
        tin: tin.to_string(),
        email: email.to_string(),
        user_id: creds.user_id.clone(),
        password: creds.password.expose().to_string(),
        // A question the flow chose on the portal's page is the run's, not the generated blank.
        security_questions: creds
            .security
            .iter()
            .enumerate()
            .map(|(i, s)| SecurityAnswer {
                question: journal
                    .secret(&format!("captured.question{}", i + 1))
                    .unwrap_or(&s.question)
                    .to_string(),
                answer: s.answer.clone(),
            })
            .collect(),
        status: journal.status().name().to_string(),
        finished_at: journal::now_rfc3339(),
        run_dir: journal.dir.clone(),
    }
}
