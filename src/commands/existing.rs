//! `cigna-setup existing`: the existing-account flow, from settings to printed credentials.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;

use crate::browser::{self, Browser, BrowserOptions};
use crate::cli::ExistingArgs;
use crate::credentials::{self, SecurityAnswer};
use crate::engine::{progress, Engine};
use crate::error::{Exit, Failure};
use crate::flow::{self, Vars};
use crate::journal::{self, Journal};
use crate::mail::Mailbox;
use crate::secrets;
use crate::settings::ExistingSettings;

/// What `existing` prints and writes to `--out`.
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

pub async fn command(args: Box<ExistingArgs>) -> Result<()> {
    let settings = ExistingSettings::from_args(&args)?;
    let json = settings.json;
    let creds = run_existing(settings).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&creds)?);
    } else {
        print_human(&creds);
    }
    Ok(())
}

pub fn print_human(c: &Credentials) {
    // The point of the command: the credentials go to stdout, unredacted, on request of the
    // person who ran it.
    println!("Cigna for HCP login created ({}):", c.status);
    println!("  TIN:       {}", c.tin);
    println!("  Email:     {}", c.email);
    println!("  User ID:   {}", c.user_id);
    println!("  Password:  {}", c.password);
    for (i, q) in c.security_questions.iter().enumerate() {
        println!(
            "  Security question {}: {} → {}",
            i + 1,
            q.question,
            q.answer
        );
    }
    println!("  Run:       {} ({})", c.run_id, c.run_dir.display());
}

/// Runs the flow and returns the new credentials. Everything generated or captured is in the
/// run's secrets.json before the step that needs it, so a failure loses nothing.
pub async fn run_existing(settings: ExistingSettings) -> Result<Credentials> {
    let flow = match &settings.flow_file {
        Some(path) => flow::from_file(path)?,
        None => flow::builtin("existing")?,
    };
    let creds = credentials::make(
        settings.tin.digits(),
        settings.user_id.as_deref(),
        settings.user_password.as_ref(),
    );
    let redactor = secrets::global().clone();
    for s in [
        settings.office_password.expose(),
        settings.mailbox.password.expose(),
    ] {
        redactor.register(s);
    }

    let mut vars = Vars::new(redactor);
    vars.set("portal_url", settings.portal_url.as_str());
    vars.set("tin", settings.tin.digits());
    vars.set("tin_dashed", settings.tin.dashed());
    vars.set("email", &settings.email);
    vars.set("phone", &settings.phone);
    vars.set("office_user", &settings.office_user);
    vars.set_secret("office_password", settings.office_password.clone());
    vars.set_list("entitlements", settings.entitlements.clone());
    let p = &settings.profile;
    vars.set("profile.first_name", &p.first_name);
    vars.set("profile.last_name", &p.last_name);
    vars.set("profile.job_role_option", &p.job_role_option);
    vars.set("profile.job_role", &p.job_role);
    vars.set("profile.address", &p.address);
    vars.set("profile.date_of_birth", &p.date_of_birth);
    vars.set("generated.user_id", &creds.user_id);
    vars.set_secret("generated.password", creds.password.clone());
    for (i, q) in creds.security.iter().enumerate() {
        vars.set(&format!("generated.question{}", i + 1), &q.question);
        vars.set_secret(
            &format!("generated.answer{}", i + 1),
            secrets::Secret::new(q.answer.clone()),
        );
    }

    let inputs: BTreeMap<String, serde_json::Value> = [
        ("portal_url", json!(settings.portal_url.as_str())),
        ("tin", json!(settings.tin.digits())),
        ("email", json!(settings.email)),
        ("phone", json!(settings.phone)),
        ("office_user", json!(settings.office_user)),
        ("imap_url", json!(settings.mailbox.url.to_string())),
        ("entitlements", json!(settings.entitlements)),
        ("user_id", json!(creds.user_id)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let step_ids: Vec<String> = flow.steps.iter().map(|s| s.id.clone()).collect();
    let mut journal = Journal::create(&settings.runs_dir, &flow.name, &step_ids, inputs)?;
    journal.save_secret("generated.user_id", &creds.user_id)?;
    journal.save_secret("generated.password", creds.password.expose())?;
    for (i, q) in creds.security.iter().enumerate() {
        journal.save_secret(
            &format!("generated.security{}", i + 1),
            &format!("{} → {}", q.question, q.answer),
        )?;
    }
    progress(&format!(
        "run {} ({} steps), kept in {}",
        journal.run_id,
        flow.steps.len(),
        journal.dir.display()
    ));

    // The mailbox logs in on its own thread while Chromium starts.
    let mailbox = Mailbox::open(settings.mailbox.clone());
    let executable = browser::find_executable(settings.browser.as_deref())?;
    let loopback_only = settings
        .portal_url
        .host_str()
        .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]");
    let (browser, ready) = tokio::join!(
        Browser::launch(BrowserOptions {
            executable,
            profile_dir: None,
            loopback_only,
        }),
        mailbox.ready()
    );
    let mut browser = match (browser, ready) {
        (Ok(b), Ok(())) => b,
        (Ok(b), Err(e)) => {
            b.close().await;
            journal.finish(false)?;
            return Err(e);
        }
        (Err(e), _) => {
            journal.finish(false)?;
            return Err(e);
        }
    };
    browser.set_dismiss(flow.dismiss.clone());

    let outcome = {
        let mut engine = Engine::new(
            &browser,
            &mailbox,
            &mut journal,
            vars,
            settings.timing.action_timeout,
            settings.timing.code_timeout,
        );
        // Ctrl-C stops the flow here, so the browser is still closed and reaped below.
        tokio::select! {
            outcome = engine.run(&flow) => outcome,
            _ = tokio::signal::ctrl_c() => Err(Failure::error(
                Exit::Interrupted,
                "interrupted: the run is kept, with its journal and secrets",
            )),
        }
    };
    browser.close().await;
    if let Err(err) = outcome {
        journal.finish(false)?;
        progress(&format!(
            "the run's journal and credentials are kept in {}",
            journal.dir.display()
        ));
        return Err(err);
    }

    let result = Credentials {
        flow: flow.name.clone(),
        run_id: journal.run_id.clone(),
        tin: settings.tin.digits().to_string(),
        email: settings.email.clone(),
        user_id: creds.user_id.clone(),
        password: creds.password.expose().to_string(),
        security_questions: creds.security.clone(),
        status: "active".into(),
        finished_at: journal::now_rfc3339(),
        run_dir: journal.dir.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&result)?;
    journal::write_atomic(&journal.dir.join("credentials.json"), &bytes, 0o600)?;
    if let Some(out) = &settings.out {
        journal::write_atomic(out, &bytes, 0o600)
            .with_context(|| format!("cannot write --out {}", out.display()))?;
    }
    journal.finish(true)?;
    Ok(result)
}
