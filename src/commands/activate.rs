//! `cigna-setup activate`: the first sign-in of a registration once its access manager has
//! approved it — verification code from the mailbox, then the agreement.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::run::{self, Credentials, Target};
use crate::cli::ActivateArgs;
use crate::error::{self, page_said};
use crate::flow::{self, Flow};
use crate::journal::{Journal, Status};
use crate::mail::MailboxConfig;
use crate::progress;
use crate::settings::{self, Timing};

/// What `activate` needs besides the run itself.
pub struct Activation {
    pub runs_dir: PathBuf,
    pub run_id: String,
    /// The mailbox; `None` takes the one `register` was given (with CIGNA_IMAP_PASSWORD).
    pub mailbox: Option<MailboxConfig>,
    pub browser: Option<PathBuf>,
    /// Keep signing in while pending approval, this long at most, every `every`.
    pub wait: Option<Duration>,
    pub every: Duration,
    pub timing: Timing,
}

pub async fn command(args: Box<ActivateArgs>) -> Result<()> {
    let runs_dir = args
        .with
        .runs_dir
        .clone()
        .unwrap_or_else(settings::default_runs_dir);
    let journal = Journal::open(&runs_dir, &args.run)?;
    let then = finishing_flow(&journal)?;
    run::replace_recorded_flow(
        &journal,
        &then,
        args.with.flow.as_deref(),
        args.with.force_flow,
    )?;
    let mailbox = run::remembered_mailbox(&args.with.mailbox, &journal)?;
    let activation = Activation {
        runs_dir,
        run_id: args.run.clone(),
        mailbox: Some(mailbox),
        browser: args.with.browser.clone(),
        wait: args
            .wait
            .as_deref()
            .map(|w| settings::parse_duration(w, "--wait"))
            .transpose()?,
        every: settings::parse_duration(&args.every, "--every")?,
        timing: settings::timing(&args.with.timing)?,
    };
    let creds = run_activate(&activation).await?;
    creds.deliver(args.with.json, args.with.out.as_deref())
}

/// Whether the portal refused a sign-in because the registration awaits approval.
fn is_pending(err: &anyhow::Error, flow: &Flow) -> bool {
    page_said(err).is_some_and(|s| flow.outcome_of(&s.text) == Some(flow::PENDING_APPROVAL))
}

/// The flow that finishes this run (its flow's `then`): only a registration has one.
fn finishing_flow(journal: &Journal) -> Result<String> {
    flow::recorded(&journal.dir, journal.flow())?
        .then
        .ok_or_else(|| {
            error::bad_input(format!(
                "run {} is a `{}` run: activate continues runs of `cigna-setup register`",
                journal.run_id,
                journal.flow()
            ))
        })
}

pub async fn run_activate(a: &Activation) -> Result<Credentials> {
    let mut journal = Journal::open(&a.runs_dir, &a.run_id)?;
    let then = finishing_flow(&journal)?;
    let login = run::RecordedLogin::of(&journal)?;
    let (tin, email, portal_url, creds) =
        (&login.tin, &login.email, &login.portal_url, &login.creds);
    if journal.status() == &Status::Active {
        progress::note(&format!("run {} is already active", a.run_id));
        return Ok(run::credentials_of(&journal, tin.digits(), email, creds));
    }
    let flow = flow::recorded(&journal.dir, &then)?;
    let ids: Vec<String> = flow.steps.iter().map(|s| s.id.clone()).collect();
    journal.add_steps(&ids)?;
    let vars = login.vars();
    if a.wait.is_some() {
        settings::approval_every(a.every, portal_url)?;
    }
    let until = a.wait.map(|w| tokio::time::Instant::now() + w);
    let mut stop = crate::signals::StopSignals::listen();
    loop {
        let outcome = run::run_flow(
            &flow,
            &mut journal,
            vars.clone(),
            Target {
                portal_url,
                browser: a.browser.as_deref(),
                mailbox: a.mailbox.clone(),
                timing: &a.timing,
                office_code: crate::office_code::OfficeCode::Unavailable,
            },
            &mut run::no_mending,
        )
        .await;
        match outcome {
            Ok(_) => break,
            Err(err) if is_pending(&err, &flow) => {
                run::finish(&mut journal, Status::PendingApproval)?;
                let next = tokio::time::Instant::now() + a.every;
                if until.is_some_and(|u| next <= u) {
                    progress::note(&format!(
                        "the registration is still pending approval; signing in again in {}s",
                        a.every.as_secs()
                    ));
                    // A schedule, not a wait for a condition: the portal offers no notice.
                    tokio::select! {
                        _ = tokio::time::sleep_until(next) => continue,
                        stop = stop.failure("while waiting for approval") => return Err(stop),
                    }
                }
                let said = page_said(&err).map(|s| s.text.clone()).unwrap_or_default();
                return Err(pending_failure(
                    &a.run_id,
                    &journal.dir,
                    &said,
                    a.wait.is_some(),
                ));
            }
            Err(err) => return Err(err),
        }
    }
    run::finish(&mut journal, run::ended_as(&flow))?;
    Ok(run::credentials_of(&journal, tin.digits(), email, creds))
}

fn pending_failure(run_id: &str, dir: &Path, said: &str, waited: bool) -> anyhow::Error {
    let waited = if waited { " (still, after --wait)" } else { "" };
    error::portal_step(format!(
        "the registration is pending approval by the organization's website access \
         manager{waited}: the portal said \"{said}\" Nothing is lost ({}): run `cigna-setup \
         activate {run_id}` again once it is approved, or add --wait 4h to keep trying",
        dir.display()
    ))
}
