//! Running a flow's steps: the run's lock, the browser and the mailbox started side by side,
//! the engine driven through them, stop signals and a dead browser handled.

use std::path::Path;

use anyhow::{Context, Result};

use crate::browser::{self, Browser, BrowserOptions};
use crate::engine::Engine;
use crate::flow::{Flow, Step, Vars};
use crate::journal::{Journal, Status};
use crate::mail::{Mailbox, MailboxConfig};
use crate::progress;
use crate::settings::{self, NewLogin, Timing};

use super::lifecycle::finish;

/// Where a flow runs: the portal, the browser to drive, the mailbox if the flow reads codes.
pub struct Target<'a> {
    pub portal_url: &'a url::Url,
    pub browser: Option<&'a Path>,
    pub mailbox: Option<MailboxConfig>,
    pub timing: &'a Timing,
    /// Where a code sent to the office comes from, if its sign-in asks for one.
    pub office_code: crate::office_code::OfficeCode,
}

impl<'a> Target<'a> {
    /// Where a new login's flow runs.
    pub fn of(login: &'a NewLogin, mailbox: Option<MailboxConfig>) -> Target<'a> {
        Target {
            portal_url: &login.portal_url,
            browser: login.browser.as_deref(),
            mailbox,
            timing: &login.timing,
            office_code: crate::office_code::OfficeCode::from_args(None, false)
                .unwrap_or(crate::office_code::OfficeCode::Unavailable),
        }
    }
}

pub use crate::engine::Mend;

/// Runs `flow` from its first step. The mailbox logs in on its own thread while Chromium
/// starts; Ctrl-C stops the flow and still closes the browser. The journal's status is set to
/// `failed` on error; on success the caller sets what the run became.
pub async fn run_flow(
    flow: &Flow,
    journal: &mut Journal,
    vars: Vars,
    target: Target<'_>,
    mend: &mut Mend<'_>,
) -> Result<Vars> {
    run_flow_steps(flow, 0..flow.steps.len(), journal, vars, target, mend).await
}

/// Runs the steps of `flow` in `range` (see `run_flow`).
pub async fn run_flow_steps(
    flow: &Flow,
    range: std::ops::Range<usize>,
    journal: &mut Journal,
    vars: Vars,
    target: Target<'_>,
    mend: &mut Mend<'_>,
) -> Result<Vars> {
    // Before the browser: a browser still on this run's profile then belongs to no live run.
    let _lock = crate::run_lock::RunLock::take(&journal.dir, &journal.run_id)?;
    // From before the browser starts: a signal while it starts still closes it.
    let mut stop = crate::signals::StopSignals::listen();
    let mailbox = target.mailbox.map(Mailbox::open);
    let executable = browser::find_executable(target.browser)?;
    let profile_dir = journal.dir.join("browser");
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&profile_dir)
            .with_context(|| format!("cannot create {}", profile_dir.display()))?;
    }
    let loopback_only = settings::is_loopback(target.portal_url);
    let ready = async {
        match &mailbox {
            Some(m) => m.ready().await,
            None => Ok(()),
        }
    };
    let launching = std::time::Instant::now();
    let (browser, ready) = tokio::join!(
        Browser::launch(BrowserOptions {
            executable,
            // In the run, so cookies survive a crash and `resume` continues the same session.
            profile_dir: Some(profile_dir),
            loopback_only,
        }),
        ready
    );
    let mut browser = match (browser, ready) {
        (Ok(b), Ok(())) => b,
        (Ok(b), Err(e)) => {
            b.close().await;
            journal.set_status(Status::Failed)?;
            return Err(e);
        }
        (Err(e), _) => {
            journal.set_status(Status::Failed)?;
            return Err(e);
        }
    };
    tracing::debug!(
        elapsed_us = launching.elapsed().as_micros() as u64,
        "browser started and mailbox ready"
    );
    browser.set_dismiss(flow.dismiss.clone());
    browser.set_error_pages(flow.error_pages.clone());

    let mut engine = Engine::new(
        &browser,
        mailbox.as_ref(),
        journal,
        vars,
        target.timing.action_timeout,
        target.timing.code_timeout,
    );
    engine.retries = target.timing.retries;
    engine.login_page = flow.login_page.clone();
    engine.loading = flow.loading.clone();
    engine.trace = target.timing.trace;
    engine.office_code = target.office_code.clone();
    let outcome = engine.run(flow, range, mend);
    // A stop signal stops the flow here, so the browser is still closed and reaped below.
    let outcome = tokio::select! {
        outcome = outcome => outcome,
        stop = stop.failure("during the flow: the run is kept, with its journal and secrets") => Err(stop),
    };
    let vars = engine.vars;
    let closing = std::time::Instant::now();
    browser.close().await;
    tracing::debug!(
        elapsed_us = closing.elapsed().as_micros() as u64,
        "browser closed"
    );
    if let Err(err) = outcome {
        finish(journal, Status::Failed)?;
        progress::note(&format!(
            "the run's journal and credentials are kept in {}",
            journal.dir.display()
        ));
        return Err(err);
    }
    Ok(vars)
}

/// No step is ever mended: the first failure ends the run.
pub fn no_mending(_: &anyhow::Error, _: &Step, _: &mut Vars, _: &mut Journal) -> Result<bool> {
    Ok(false)
}
