//! Runs a flow's steps in order against the portal's page and the mailbox, recording each in
//! the run's journal and printing one progress line per step.
//!
//! The engine knows flows, variables and the two small traits below it ([`Page`],
//! [`CodeMailbox`]); it never knows how an element is found or how a code is fetched, so its
//! logic is tested against in-memory fakes (`fake`) as well as the real browser.

mod ports;
pub use ports::{CodeMailbox, Page};

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::browser::Spent;
use crate::error::{Exit, Failure};
use crate::flow::{Action, Flow, Step, Vars};
use crate::journal::{now_rfc3339, Journal, Status};
use crate::mail::{Mark, VerificationCode};
use crate::office_code::OfficeCode;
use crate::progress::{self, human, Outcome};
use crate::secrets::{self, Secret};

/// A failed step the caller may mend and retry: it gets the error, the step, the variables
/// and the journal, and says whether to run the step again.
pub type Mend<'m> = dyn FnMut(&anyhow::Error, &Step, &mut Vars, &mut Journal) -> Result<bool> + 'm;

/// How often one run signs in again after the portal expired its session.
const MAX_REENTRIES: u32 = 2;

pub struct Engine<'a, P, M> {
    pub page: &'a P,
    /// The mailbox codes arrive in; flows without a code step run without one.
    pub mailbox: Option<&'a M>,
    pub journal: &'a mut Journal,
    pub vars: Vars,
    pub action_timeout: Duration,
    pub code_timeout: Duration,
    mark: Option<Mark>,
    /// The index of the step that failed last, for callers that retry it.
    pub failed_step: Option<usize>,
    /// How often an action that met the portal's error page reloads and tries again.
    pub retries: u32,
    /// Save the page of every step, not only of a failed one.
    pub trace: bool,
    /// What the current step did, for its artifacts.
    step_log: Vec<String>,
    /// How long the current step waited for code emails.
    mailbox_wait: Duration,
    /// The flow's login-page text: outside the steps that open the portal, meeting it ends a
    /// wait at once (the session expired).
    pub login_page: Option<String>,
    /// The flow's "still loading" texts: one-time looks wait until none shows.
    pub loading: Vec<String>,
    /// What ends the current step's waits at once, besides what an action names.
    signed_out: Vec<String>,
    /// Codes this run has entered: never entered again.
    used_codes: Vec<VerificationCode>,
    /// Where a code sent to the office comes from.
    pub office_code: OfficeCode,
    /// What the current step's picks chose: a later pick chooses another option.
    picked: Vec<String>,
    /// When the current step started (a code the office was sent is newer).
    step_started: std::time::SystemTime,
}

impl<'a, P: Page, M: CodeMailbox> Engine<'a, P, M> {
    pub fn new(
        page: &'a P,
        mailbox: Option<&'a M>,
        journal: &'a mut Journal,
        vars: Vars,
        action_timeout: Duration,
        code_timeout: Duration,
    ) -> Self {
        Engine {
            page,
            mailbox,
            journal,
            vars,
            action_timeout,
            code_timeout,
            mark: None,
            failed_step: None,
            retries: 2,
            trace: false,
            step_log: Vec::new(),
            mailbox_wait: Duration::ZERO,
            login_page: None,
            loading: Vec::new(),
            signed_out: Vec::new(),
            used_codes: Vec::new(),
            office_code: OfficeCode::Unavailable,
            picked: Vec::new(),
            step_started: std::time::SystemTime::now(),
        }
    }

    /// Runs the steps in `range` as a person would go on: a step that failed on the flow's
    /// login page (the portal expired the session) runs again from the nearest entry step, at
    /// most `MAX_REENTRIES` times; any other failed step runs again when `mend` says so.
    pub async fn run(
        &mut self,
        flow: &Flow,
        range: std::ops::Range<usize>,
        mend: &mut Mend<'_>,
    ) -> Result<()> {
        let mut start = range.start;
        let mut reentries = 0;
        loop {
            let Err(err) = self.run_steps(flow, start..range.end).await else {
                return Ok(());
            };
            let Some(i) = self.failed_step else {
                return Err(err);
            };
            let entry = flow.entry_before(i);
            if reentries < MAX_REENTRIES && entry < i && self.shows_login_page(flow).await {
                reentries += 1;
                progress::note(&format!(
                    "      the portal signed the session out; signing in again from step {}",
                    flow.steps[entry].id
                ));
                start = entry;
                continue;
            }
            if !mend(&err, &flow.steps[i], &mut self.vars, self.journal)? {
                return Err(err);
            }
            start = i;
        }
    }

    /// Whether the page shows the flow's login page now (one look, no wait).
    async fn shows_login_page(&self, flow: &Flow) -> bool {
        match &flow.login_page {
            Some(text) => self
                .page
                .expect_any(text, &[], &[], Duration::ZERO)
                .await
                .is_ok(),
            None => false,
        }
    }

    /// Runs the steps in `range`; stops at the first that fails, with the journal saying which.
    pub async fn run_steps(&mut self, flow: &Flow, range: std::ops::Range<usize>) -> Result<()> {
        let total = flow.steps.len();
        let (start, end) = (range.start, range.end.min(total));
        let mut i = start;
        while i < end {
            let step = &flow.steps[i];
            // What the page spent from here on is this step's.
            self.page.take_spent();
            let started = Instant::now();
            if let Some(when) = &step.when {
                let when = self.vars.render(when)?;
                self.page.begin_step();
                // Decided on one look: only once the page has settled.
                let shown = self
                    .page
                    .shows_settled(&when, None, &self.loading, self.action_timeout)
                    .await?;
                if !shown {
                    let spent = self.page.take_spent();
                    step_figures(started.elapsed(), Duration::ZERO, spent, Spent::default());
                    if let Some(rec) = self.journal.step_mut(&step.id) {
                        rec.status = Status::Skipped;
                        rec.page_wait_ms = Some(spent.page.as_millis() as u64);
                        rec.round_trip_ms = Some(spent.round_trips.as_millis() as u64);
                    }
                    self.journal.save()?;
                    progress::step_finished(
                        i + 1,
                        total,
                        &step.id,
                        Outcome::Skipped,
                        Duration::ZERO,
                        Some(&format!("the page does not show \"{when}\"")),
                    );
                    i += 1;
                    continue;
                }
            }
            progress::step_started(i + 1, total, &step.id);
            if let Some(rec) = self.journal.step_mut(&step.id) {
                rec.status = Status::Running;
                rec.attempts += 1;
                rec.started_at = Some(now_rfc3339());
            }
            self.journal.save()?;
            let span = tracing::info_span!("step", id = %step.id);
            let _enter = span.enter();
            let outcome = self.run_step(step).await;
            let elapsed = started.elapsed();
            let waited = self.waited_ms();
            let spent = self.page.take_spent();
            let mut rec = self.journal.step_mut(&step.id);
            if let Some(rec) = rec.as_deref_mut() {
                rec.duration_ms = Some(elapsed.as_millis() as u64);
                rec.mailbox_wait_ms = waited;
                rec.page_wait_ms = Some(spent.page.as_millis() as u64);
                rec.round_trip_ms = Some(spent.round_trips.as_millis() as u64);
            }
            match outcome {
                Ok(skip_to) => {
                    if let Some(rec) = rec {
                        rec.status = Status::Done;
                        rec.outputs = step.outputs();
                        rec.error = None;
                    }
                    self.journal.save()?;
                    if self.trace {
                        self.save_artifacts(step).await;
                    } else {
                        self.save_thumbnail(step).await;
                    }
                    step_figures(elapsed, self.mailbox_wait, spent, self.page.take_spent());
                    progress::step_finished(i + 1, total, &step.id, Outcome::Ok, elapsed, None);
                    i += 1;
                    if let Some(target) = skip_to {
                        // Steps that would create again what exists: recorded as skipped.
                        while i < end && flow.steps[i].id != target {
                            if let Some(rec) = self.journal.step_mut(&flow.steps[i].id) {
                                rec.status = Status::Skipped;
                            }
                            progress::step_finished(
                                i + 1,
                                total,
                                &flow.steps[i].id,
                                Outcome::Skipped,
                                Duration::ZERO,
                                Some("already done in the portal"),
                            );
                            i += 1;
                        }
                        self.journal.save()?;
                    }
                }
                Err(err) => {
                    let message = secrets::global().redact(&format!("{err:#}"));
                    if let Some(rec) = rec {
                        rec.status = Status::Failed;
                        rec.error = Some(message);
                    }
                    self.journal.save()?;
                    self.step_log.push(format!(
                        "FAILED: {message_for_log}",
                        message_for_log = secrets::global().redact(&format!("{err:#}"))
                    ));
                    self.save_artifacts(step).await;
                    step_figures(elapsed, self.mailbox_wait, spent, self.page.take_spent());
                    progress::step_finished(i + 1, total, &step.id, Outcome::Failed, elapsed, None);
                    self.failed_step = Some(i);
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn waited_ms(&self) -> Option<u64> {
        (!self.mailbox_wait.is_zero()).then_some(self.mailbox_wait.as_millis() as u64)
    }

    /// A small masked picture of the page as the step left it (`artifacts/<step-id>/thumb.jpg`),
    /// for the report's strip: what each step saw, without `--trace`.
    async fn save_thumbnail(&mut self, step: &Step) {
        let dir = self.journal.dir.join("artifacts").join(&step.id);
        if let Err(e) = crate::journal::create_private_dir(&dir) {
            tracing::warn!("could not keep the picture of step {}: {e:#}", step.id);
            return;
        }
        let beside = secret_capture_labels(step, &self.vars);
        let secrets = secrets::global().values();
        match self.page.masked_thumbnail(&secrets, &beside).await {
            Ok(jpeg) => {
                if let Err(e) = crate::journal::write_atomic(&dir.join("thumb.jpg"), &jpeg, 0o600) {
                    tracing::warn!("could not keep the picture of step {}: {e:#}", step.id);
                }
            }
            Err(e) => tracing::debug!("no picture of step {}: {e:#}", step.id),
        }
    }

    /// Screenshot, page (secrets redacted) and log lines of a step, in `artifacts/<step-id>/`.
    async fn save_artifacts(&mut self, step: &Step) {
        let dir = self.journal.dir.join("artifacts").join(&step.id);
        if let Err(e) = crate::journal::create_private_dir(&dir) {
            tracing::warn!("could not keep the artifacts of step {}: {e:#}", step.id);
            return;
        }
        let redactor = secrets::global();
        let beside = secret_capture_labels(step, &self.vars);
        if let Err(e) = self.page.save_evidence(&dir, redactor, &beside).await {
            tracing::warn!("could not save the page of step {}: {e:#}", step.id);
        }
        let log = redactor.redact(&self.step_log.join("\n"));
        if let Err(e) = crate::journal::write_atomic(&dir.join("log.txt"), log.as_bytes(), 0o600) {
            tracing::warn!("could not save the log of step {}: {e:#}", step.id);
        }
    }

    /// Runs a step's actions; `Some(step id)` when the flow should go on at that step.
    async fn run_step(&mut self, step: &Step) -> Result<Option<String>> {
        let count = step.actions.len();
        self.step_log.clear();
        self.mailbox_wait = Duration::ZERO;
        self.picked.clear();
        let opens_portal = matches!(step.actions.first(), Some(Action::Goto(_)));
        self.signed_out = match &self.login_page {
            Some(text) if !opens_portal => vec![text.clone()],
            _ => Vec::new(),
        };
        self.step_started = std::time::SystemTime::now();
        self.page.begin_step();
        // Where the step's code wait is, once it ran: a refused code goes back there, once.
        let mut code_wait: Option<usize> = None;
        let mut refusal_retried = false;
        let mut k = 0;
        while k < count {
            let action = &step.actions[k];
            let started = Instant::now();
            let outcome = self.run_action_retrying(action).await;
            if matches!(action, Action::WaitForCode { .. }) {
                self.mailbox_wait += started.elapsed();
            }
            tracing::debug!(
                action = %action.describe(),
                elapsed_us = started.elapsed().as_micros() as u64,
                "action"
            );
            self.step_log.push(format!(
                "{} {:<60} {}",
                now_rfc3339(),
                action.describe(),
                match &outcome {
                    Ok(_) => format!("ok {}", human(started.elapsed())),
                    Err(_) => format!("failed after {}", human(started.elapsed())),
                }
            ));
            if let (Err(err), Some(at), false) = (&outcome, code_wait, refusal_retried) {
                if let Some(said) = refused_code(err, &step.actions[at]) {
                    refusal_retried = true;
                    progress::note(&format!(
                        "      the portal refused the code (\"{said}\"); waiting for a newer code \
                         email and entering that one"
                    ));
                    self.step_log
                        .push(format!("code refused ({said}); waiting for a newer one"));
                    k = at;
                    continue;
                }
            }
            let skip_to = outcome.map_err(|err| {
                let has_exit = err.chain().any(|e| e.downcast_ref::<Failure>().is_some());
                let err = if has_exit {
                    err
                } else {
                    // Anything unclassified that stops a step is the portal step failing.
                    err.context(Failure {
                        exit: Exit::PortalStep,
                        message: "the browser could not carry out the action".into(),
                        page: None,
                        outcome: None,
                    })
                };
                err.context(format!(
                    "step \"{}\" ({}) stopped at action {} of {count}, {}",
                    step.id,
                    step.title,
                    k + 1,
                    action.describe()
                ))
            })?;
            if skip_to.is_some() {
                return Ok(skip_to);
            }
            if matches!(action, Action::WaitForCode { .. }) {
                code_wait = Some(k);
            }
            k += 1;
        }
        Ok(None)
    }

    /// Runs an action; when a wait meets the portal's error page, reloads and tries again
    /// with growing pauses, as a person would.
    async fn run_action_retrying(&mut self, action: &Action) -> Result<Option<String>> {
        let mut attempt = 0;
        loop {
            let outcome = self.run_action(action).await;
            let transient = outcome
                .as_ref()
                .err()
                .and_then(crate::error::page_said)
                .is_some_and(|said| said.transient);
            if !transient || attempt >= self.retries {
                return outcome;
            }
            attempt += 1;
            let pause = retry_pause(attempt);
            progress::note(&format!(
                "      the portal showed an error page; reloading in {} (retry {attempt} of {})",
                human(pause),
                self.retries
            ));
            self.step_log
                .push(format!("error page; reload and retry {attempt}"));
            // A deliberate pause before asking again, not a wait for a condition.
            tokio::time::sleep(pause).await;
            self.page.reload().await?;
        }
    }

    async fn run_action(&mut self, action: &Action) -> Result<Option<String>> {
        if let Action::AlreadyCreated {
            text,
            skip_to,
            needs,
            next_page,
        } = action
        {
            let text = self.vars.render(text)?;
            let next_page = next_page
                .as_ref()
                .map(|l| self.render_locator(l))
                .transpose()?;
            // Adding the user twice is what this guards against: look only once the table
            // has settled, and on every page of it.
            let listed = self
                .page
                .shows_settled(
                    &text,
                    next_page.as_ref(),
                    &self.loading,
                    self.action_timeout,
                )
                .await?;
            if !listed {
                return Ok(None);
            }
            if self.vars.contains(needs) {
                progress::note(&format!(
                    "      \"{text}\" is already in the portal and this run holds {{{needs}}}: \
                     going on at step {skip_to}"
                ));
                return Ok(Some(skip_to.clone()));
            }
            return Err(crate::error::portal_step(format!(
                "\"{text}\" is already in the portal, but this run does not hold {{{needs}}} \
                 (a temporary ID is shown only once): remove that user under Working with Cigna \
                 → Manage User Access → Remove User, then run again; or finish its registration \
                 by hand with the temporary ID that was given out"
            )));
        }
        self.run_plain_action(action).await.map(|()| None)
    }

    async fn run_plain_action(&mut self, action: &Action) -> Result<()> {
        let t = self.action_timeout;
        let b = self.page;
        match action {
            Action::Goto(url) => {
                let url = self.vars.render(url)?;
                same_origin_as_portal(&url, &self.vars.render("{portal_url}")?)?;
                b.goto(&url).await
            }
            Action::Require { target, outcome } => {
                let target = self.render_locator(target)?;
                if b.shows_element_settled(&target, &self.loading, t).await? {
                    return Ok(());
                }
                Err(crate::error::named_outcome(
                    outcome,
                    format!("the page, once settled, shows no {target} ({outcome})"),
                ))
            }
            Action::Expect { text, unless, or } => {
                let mut unless: Vec<String> = unless
                    .iter()
                    .map(|u| self.vars.render(u))
                    .collect::<Result<_>>()?;
                let text = self.vars.render(text)?;
                unless.extend(
                    self.signed_out
                        .iter()
                        .filter(|s| !s.eq_ignore_ascii_case(&text))
                        .cloned(),
                );
                let or: Vec<String> = or
                    .iter()
                    .map(|o| self.vars.render(o))
                    .collect::<Result<_>>()?;
                b.expect_any(&text, &or, &unless, t).await
            }
            Action::ExpectElement(target) => {
                b.expect_element(&self.render_locator(target)?, &self.signed_out, t)
                    .await
            }
            Action::Click(target) => b.click(&self.render_locator(target)?, t).await,
            Action::Fill { target, value } => {
                let secret = self.vars.template_is_secret(value);
                let value = self.vars.render(value)?;
                b.fill(&self.render_locator(target)?, &value, secret, t)
                    .await
            }
            Action::Select { target, option } => {
                b.select(&self.render_locator(target)?, &self.vars.render(option)?, t)
                    .await
            }
            Action::Check(target) => b.set_checked(&self.render_locator(target)?, true, t).await,
            Action::Uncheck(target) => b.set_checked(&self.render_locator(target)?, false, t).await,
            Action::CheckExactly { among, checked } => {
                let want = self.vars.render_list(checked)?;
                b.check_exactly(among, &want, t).await
            }
            Action::ScrollAgreement => b.scroll_agreement(t).await,
            Action::Capture {
                label,
                into,
                secret,
                reveal,
            } => {
                let reveal = reveal
                    .as_ref()
                    .map(|r| self.render_locator(r))
                    .transpose()?;
                let value = b
                    .read_next_to(&self.vars.render(label)?, reveal.as_ref(), t)
                    .await?;
                let name = format!("captured.{into}");
                // Kept with the run's secrets either way: `resume` and `step` need it again.
                self.journal.save_secret(&name, &value)?;
                if *secret {
                    self.vars.set_secret(&name, Secret::new(value));
                } else {
                    self.vars.set(&name, value);
                }
                Ok(())
            }
            Action::Pick {
                target,
                prefer,
                into,
            } => {
                let target = self.render_locator(target)?;
                let prefer = self.vars.render(prefer)?;
                let chosen = if prefer.trim().is_empty() {
                    b.select_any(&target, &self.picked, t).await?
                } else {
                    b.select(&target, &prefer, t).await?;
                    prefer
                };
                self.picked.push(chosen.clone());
                let name = format!("captured.{into}");
                self.journal.save_secret(&name, &chosen)?;
                self.vars.set(&name, chosen);
                Ok(())
            }
            Action::NoteMailbox => {
                self.mark = Some(self.mailbox()?.mark().await?);
                Ok(())
            }
            Action::AlreadyCreated { .. } => unreachable!("handled by run_action"),
            Action::WaitForCode {
                to,
                from,
                into,
                resend,
                ..
            } => {
                let mark = self
                    .mark
                    .clone()
                    .context("wait-for-code without an earlier note-mailbox")?;
                let to = self.vars.render(to)?;
                let resend = resend
                    .as_ref()
                    .map(|r| self.render_locator(r))
                    .transpose()?;
                let code = self.wait_for_code(&mark, &to, from, resend).await?;
                let name = format!("captured.{into}");
                // A secret before anything logs it: the subject may carry the code too.
                self.vars.set_secret(&name, Secret::new(code.code.clone()));
                tracing::info!(uid = code.uid, folder = %code.folder, subject = %code.subject, "verification code received");
                // Entered next: never again in this run.
                self.used_codes.push(code);
                Ok(())
            }
            Action::AskCode { prompt, into } => {
                let prompt = self.vars.render(prompt)?;
                let code = self
                    .office_code
                    .read(&prompt, self.step_started, self.code_timeout)
                    .await?;
                self.vars.set_secret(&format!("captured.{into}"), code);
                Ok(())
            }
        }
    }

    /// The code emailed to `to` since the mark and not entered before. With `resend`, no code
    /// by half the code timeout clicks it once and waits out the rest; a late first email still
    /// counts (the newest code wins, and a refused one is retried by the step).
    async fn wait_for_code(
        &self,
        mark: &Mark,
        to: &str,
        from: &str,
        resend: Option<crate::browser::Locator>,
    ) -> Result<VerificationCode> {
        let mailbox = self.mailbox()?;
        let watching = mailbox.watching().await?;
        progress::note(&format!(
            "      waiting up to {} for the code email to {to} ({watching})",
            human(self.code_timeout)
        ));
        let Some(resend) = resend else {
            return mailbox
                .wait_newer_code(mark, to, from, self.code_timeout, &self.used_codes)
                .await;
        };
        let half = self.code_timeout / 2;
        match mailbox
            .wait_newer_code(mark, to, from, half, &self.used_codes)
            .await
        {
            Err(e) if crate::error::exit_code(&e) == Exit::VerificationCode.code() => {
                progress::note(&format!(
                    "      no code email after {}; clicking {resend} once and waiting {} more",
                    human(half),
                    human(self.code_timeout - half)
                ));
                self.page.click(&resend, self.action_timeout).await?;
                mailbox
                    .wait_newer_code(mark, to, from, self.code_timeout - half, &self.used_codes)
                    .await
                    .with_context(|| format!("{resend} was clicked after {}", human(half)))
            }
            other => other,
        }
    }

    fn mailbox(&self) -> Result<&'a M> {
        self.mailbox.ok_or_else(|| {
            crate::error::bad_input(
                "this flow reads a verification code but no mailbox was given: pass --imap-url \
                 (and CIGNA_IMAP_PASSWORD)",
            )
        })
    }

    fn render_locator(&self, l: &crate::browser::Locator) -> Result<crate::browser::Locator> {
        l.map_texts(|s| self.vars.render(s))
    }
}

/// The portal's words when a failed action means it refused the code the step's
/// `wait-for-code` entered (one of its `refused` texts).
fn refused_code(err: &anyhow::Error, wait: &Action) -> Option<String> {
    let Action::WaitForCode { refused, .. } = wait else {
        return None;
    };
    let said = crate::error::page_said(err).map(|p| p.text.clone())?;
    let lower = said.to_lowercase();
    refused
        .iter()
        .any(|r| lower.contains(&r.to_lowercase()))
        .then_some(said)
}

/// The longest pause before reloading the portal's error page.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// The pause before the `attempt`th reload of an error page: doubling from 1 s, at most
/// `MAX_RETRY_PAUSE` however many retries `--retries` allows.
fn retry_pause(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(8)).min(MAX_RETRY_PAUSE)
}

/// Where a step's time went, for `cargo bench --bench existing_flow`: waiting on the page, our
/// own round trips, the code email, the rest (the engine's own work: journal, templates), and
/// the picture taken after it.
fn step_figures(elapsed: Duration, mailbox: Duration, spent: Spent, after: Spent) {
    let us = |d: Duration| d.as_micros() as u64;
    tracing::debug!(
        duration_us = us(elapsed),
        page_wait_us = us(spent.page),
        round_trip_us = us(spent.round_trips),
        mailbox_us = us(mailbox),
        other_us = us(elapsed.saturating_sub(spent.page + spent.round_trips + mailbox)),
        picture_us = us(spent.pictures + after.pictures),
        "step figures"
    );
}

/// The labels whose values `step` captures as secrets: a screenshot covers the area beside
/// them, so a value whose capture went wrong is covered too.
fn secret_capture_labels(step: &Step, vars: &Vars) -> Vec<String> {
    step.actions
        .iter()
        .filter_map(|a| match a {
            Action::Capture {
                label,
                secret: true,
                ..
            } => vars.render(label).ok(),
            _ => None,
        })
        .collect()
}

/// A flow goes only where the portal is: the loader allows `{portal_url}` and a path, and this
/// checks what that rendered to (a portal URL without a trailing slash could otherwise run into
/// a host name: `https://portal` + `.evil.example`).
fn same_origin_as_portal(url: &str, portal: &str) -> Result<()> {
    let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
    match (origin(url), origin(portal)) {
        (Some(a), Some(b)) if a == b && a.is_tuple() => Ok(()),
        _ => Err(crate::error::bad_input(format!(
            "the flow's goto leads to {}, outside the portal at {portal}: a flow goes only to the \
             portal",
            crate::error::shown(url)
        ))),
    }
}

#[cfg(test)]
mod goto_tests {
    use super::same_origin_as_portal;

    #[test]
    fn a_goto_stays_at_the_portals_origin() {
        let portal = "https://portal.example";
        same_origin_as_portal("https://portal.example/login", portal).unwrap();
        same_origin_as_portal("https://portal.example:443/x", "https://portal.example/").unwrap();
        for away in [
            "https://portal.example.evil.example/",
            "http://portal.example/",
            "https://portal.example:8443/",
            "https://evil.example/?pw=x",
            "javascript:alert(1)",
            "not a url",
        ] {
            let err = same_origin_as_portal(away, portal).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{away}");
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::{retry_pause, Duration, MAX_RETRY_PAUSE};

    #[test]
    fn error_page_reloads_back_off_to_at_most_five_seconds() {
        assert_eq!(retry_pause(1), Duration::from_secs(1));
        assert_eq!(retry_pause(2), Duration::from_secs(2));
        assert_eq!(retry_pause(3), Duration::from_secs(4));
        for many in [4, 10, 63, 64, u32::MAX] {
            assert_eq!(retry_pause(many), MAX_RETRY_PAUSE, "attempt {many}");
        }
    }
}
