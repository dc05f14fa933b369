//! `cigna-setup resume RUN` and `cigna-setup step RUN STEP_ID`: continue a recorded run, or
//! run one of its steps again, from what its journal and secrets kept.

use anyhow::Result;

use super::run::{self, Target};
use crate::cli::{ContinueArgs, ResumeArgs, StepArgs};
use crate::error::bad_input;
use crate::flow::{self, Flow, Vars};
use crate::journal::{Journal, Status, StepRecord};
use crate::mail::MailboxConfig;
use crate::progress;
use crate::secrets::Secret;
use crate::settings::{self, Tin};

/// A recorded run, ready to go on.
struct Reopened {
    journal: Journal,
    flow: Flow,
    vars: Vars,
    mailbox: Option<MailboxConfig>,
    portal_url: url::Url,
    tin: Tin,
    email: String,
    creds: crate::credentials::Credentials,
}

fn reopen(
    run_id: &str,
    with: &ContinueArgs,
    office_password_file: Option<&std::path::Path>,
) -> Result<Reopened> {
    let runs_dir = with
        .runs_dir
        .clone()
        .unwrap_or_else(settings::default_runs_dir);
    let mut journal = Journal::open(&runs_dir, run_id)?;
    let login = run::RecordedLogin::of(&journal)?;
    run::replace_recorded_flow(
        &journal,
        journal.flow(),
        with.flow.as_deref(),
        with.force_flow,
    )?;
    let flow = flow::recorded(&journal.dir, journal.flow())?;
    // A replaced flow may have steps the journal has never heard of.
    let ids: Vec<String> = flow.steps.iter().map(|s| s.id.clone()).collect();
    journal.add_steps(&ids)?;
    let mut vars = login.vars();
    // What earlier steps captured (temporary credentials…), as they captured it: a secret as a
    // secret.
    for action in flow.steps.iter().flat_map(|s| &s.actions) {
        let Some(name) = action.output() else {
            continue;
        };
        match journal.secret(&name) {
            Some(value) if action.output_is_secret() => vars.set_secret(&name, Secret::new(value)),
            Some(value) => vars.set(&name, value),
            None => {}
        }
    }
    let needs_mailbox = flow.steps.iter().any(|s| {
        s.actions
            .iter()
            .any(|a| matches!(a, flow::Action::NoteMailbox))
    });
    let mailbox = if needs_mailbox {
        Some(run::remembered_mailbox(&with.mailbox, &journal)?)
    } else {
        None
    };
    // The existing-account flow signs in as the office, whose password is never stored.
    if flow.needs("office_password") {
        let office_user = journal.input_text("office_user")?;
        vars.set("office_user", &office_user);
        let password = settings::read_secret_or_ask(
            "CIGNA_OFFICE_PASSWORD",
            office_password_file,
            "--office-password-file",
            &format!("Portal password of the office user {office_user}: "),
        )?
        .ok_or_else(|| {
            bad_input(
                "the office's portal password is needed again: set CIGNA_OFFICE_PASSWORD or \
                 pass --office-password-file FILE",
            )
        })?;
        vars.set_secret("office_password", password);
        let entitlements: Vec<String> = journal
            .input("entitlements")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(|| flow.default_entitlements.clone());
        vars.set_list("entitlements", entitlements);
    }
    Ok(Reopened {
        journal,
        flow,
        vars,
        mailbox,
        portal_url: login.portal_url,
        tin: login.tin,
        email: login.email,
        creds: login.creds,
    })
}

/// Runs `range` of the run's flow and records what the run became.
async fn go_on(r: &mut Reopened, range: std::ops::Range<usize>, with: &ContinueArgs) -> Result<()> {
    let timing = settings::timing(&with.timing)?;
    // A given User ID the portal refuses fails with its words; a generated one is replaced.
    let generated = r
        .journal
        .input("user_id_generated")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mut retry = run::UserIdRetry {
        generated,
        tin: r.tin.digits().to_string(),
        tries: 1,
    };
    let outcome = run::run_flow_steps(
        &r.flow,
        range,
        &mut r.journal,
        r.vars.clone(),
        Target {
            portal_url: &r.portal_url,
            browser: with.browser.as_deref(),
            mailbox: r.mailbox.clone(),
            timing: &timing,
            office_code: crate::office_code::OfficeCode::from_args(
                with.office_code.office_code_file.as_deref(),
                with.office_code.office_code_stdin,
            )?,
        },
        &mut |err, _step, vars, journal| retry.mend(err, vars, journal, &mut r.creds),
    )
    .await;
    match outcome {
        Ok(_) => Ok(()),
        // Still no access manager: the run says so again, not a plain failure.
        Err(err) if crate::error::outcome(&err) == Some(flow::NOT_ACCESS_MANAGER) => {
            run::finish(&mut r.journal, Status::NotAccessManager)?;
            Err(crate::error::named_outcome(
                flow::NOT_ACCESS_MANAGER,
                format!(
                    "the office login still cannot add users (it is not a website access \
                     manager): register a new account instead: {}",
                    crate::report::register_command(&r.journal)
                ),
            ))
        }
        Err(err) => Err(err),
    }
}

/// Sets the run's status from its steps and, when it is complete, prints the credentials.
fn conclude(r: &mut Reopened, with: &ContinueArgs) -> Result<()> {
    let all_done = r.flow.steps.iter().all(|s| {
        r.journal
            .steps
            .iter()
            .any(|rec| rec.id == s.id && matches!(rec.status, Status::Done | Status::Skipped))
    });
    if !all_done {
        run::finish(&mut r.journal, Status::Failed)?;
        progress::note(&format!(
            "the run is not complete: cigna-setup resume {}",
            r.journal.run_id
        ));
        return Ok(());
    }
    let status = run::ended_as(&r.flow);
    run::finish(&mut r.journal, status)?;
    let creds = run::credentials_of(&r.journal, r.tin.digits(), &r.email, &r.creds);
    creds.deliver(with.json, with.out.as_deref())
}

/// The first step of `flow` the run has neither done nor skipped.
fn first_open(flow: &Flow, records: &[StepRecord]) -> Option<usize> {
    flow.steps.iter().position(|s| {
        !records
            .iter()
            .any(|rec| rec.id == s.id && matches!(rec.status, Status::Done | Status::Skipped))
    })
}

/// Whether the run reached a step whose effect may stand though it never finished
/// (`on-resume = "probe"`): the step before it was done (or skipped), or it is the first.
fn reached_a_probe(flow: &Flow, records: &[StepRecord]) -> bool {
    let done = |id: &str| {
        records
            .iter()
            .any(|s| s.id == id && matches!(s.status, Status::Done | Status::Skipped))
    };
    flow.steps
        .iter()
        .enumerate()
        .any(|(i, s)| s.probe_on_resume && (i == 0 || done(&flow.steps[i - 1].id)))
}

/// Whether an interrupted registration was submitted after all: signing in with its User ID
/// then meets "pending approval" (or the code page, once approved) instead of a refusal. A
/// registration is never submitted twice.
async fn registration_exists(r: &mut Reopened, with: &ContinueArgs) -> Result<bool> {
    let Some(then) = r.flow.then.clone() else {
        return Ok(false);
    };
    if !reached_a_probe(&r.flow, &r.journal.steps) {
        return Ok(false);
    }
    let probe = flow::recorded(&r.journal.dir, &then)?;
    let sign_in = probe.steps[..1].to_vec();
    let probe = Flow {
        steps: sign_in,
        ..probe
    };
    let timing = settings::timing(&with.timing)?;
    let outcome = run::run_flow(
        &probe,
        &mut r.journal,
        r.vars.clone(),
        Target {
            portal_url: &r.portal_url,
            browser: with.browser.as_deref(),
            mailbox: None,
            timing: &timing,
            office_code: crate::office_code::OfficeCode::Unavailable,
        },
        &mut run::no_mending,
    )
    .await;
    // Only the portal's own answer decides: a sign-in it refused means nothing was submitted;
    // anything else (a browser that died, a page that never came) is no answer, and guessing
    // "not submitted" would submit the registration twice.
    match outcome {
        Ok(_) => Ok(true),
        Err(err) => match crate::error::page_said(&err) {
            Some(s) => Ok(probe.outcome_of(&s.text) == Some(flow::PENDING_APPROVAL)),
            None => Err(err.context(
                "could not tell whether the registration was submitted before the run stopped",
            )),
        },
    }
}

pub async fn resume(args: ResumeArgs) -> Result<()> {
    let mut r = reopen(&args.run, &args.with, args.office_password_file.as_deref())?;
    let Some(first_open) = first_open(&r.flow, &r.journal.steps) else {
        progress::note(&format!("run {} has no step left to do", args.run));
        // Killed after its last step: its browser may still run on the profile.
        crate::browser::release_profile(&r.journal.dir.join("browser"));
        return conclude(&mut r, &args.with);
    };
    if registration_exists(&mut r, &args.with).await? {
        progress::note(&format!(
            "the portal already holds this registration (it says it is pending approval): \
             nothing is submitted again; once approved: cigna-setup activate {}",
            args.run
        ));
        for s in &r.flow.steps {
            if let Some(rec) = r.journal.step_mut(&s.id) {
                if rec.status != Status::Done {
                    rec.status = Status::Skipped;
                }
            }
        }
        return conclude(&mut r, &args.with);
    }
    let start = r.flow.entry_before(first_open);
    progress::note(&format!(
        "resuming run {} at step {} (entering the portal at {})",
        args.run, r.flow.steps[first_open].id, r.flow.steps[start].id
    ));
    let end = r.flow.steps.len();
    go_on(&mut r, start..end, &args.with).await?;
    conclude(&mut r, &args.with)
}

pub async fn step(args: StepArgs) -> Result<()> {
    let mut r = reopen(&args.run, &args.with, args.office_password_file.as_deref())?;
    let Some(index) = r.flow.steps.iter().position(|s| s.id == args.step) else {
        let ids: Vec<&str> = r.flow.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(bad_input(format!(
            "run {} (flow {}) has no step \"{}\": its steps are {}",
            args.run,
            r.journal.flow(),
            args.step,
            ids.join(", ")
        )));
    };
    let start = r.flow.entry_before(index);
    // Every input of the steps to run must exist: inputs of the run, or what an earlier step
    // of the run captured.
    for s in &r.flow.steps[start..=index] {
        for name in s.inputs() {
            if !r.vars.contains(&name) {
                let maker = r
                    .flow
                    .steps
                    .iter()
                    .find(|m| m.outputs().contains(&name))
                    .map_or("an earlier step".to_string(), |m| format!("step {}", m.id));
                return Err(bad_input(format!(
                    "step {} needs {{{name}}}, which {maker} never produced in run {}: run \
                     `cigna-setup resume {}` instead",
                    s.id, args.run, args.run
                )));
            }
        }
    }
    if start < index {
        progress::note(&format!(
            "entering the portal at step {} to reach step {}",
            r.flow.steps[start].id, args.step
        ));
    }
    go_on(&mut r, start..index + 1, &args.with).await?;
    conclude(&mut r, &args.with)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(done: &[&str], skipped: &[&str], failed: &[&str]) -> Vec<StepRecord> {
        let mut out = Vec::new();
        for (ids, status) in [
            (done, Status::Done),
            (skipped, Status::Skipped),
            (failed, Status::Failed),
        ] {
            for id in ids {
                let mut r = StepRecord::pending(id);
                r.status = status.clone();
                out.push(r);
            }
        }
        out
    }

    #[test]
    fn a_run_goes_on_at_its_first_step_neither_done_nor_skipped() {
        let flow = crate::flow::builtin("existing").unwrap();
        let at = first_open(
            &flow,
            &records(
                &["office-login", "check-existing-user"],
                &["office-verification"],
                &["open-add-user"],
            ),
        );
        assert_eq!(at.map(|i| flow.steps[i].id.as_str()), Some("open-add-user"));
        // The entry step before it is where a fresh browser re-enters the portal.
        assert_eq!(
            flow.steps[flow.entry_before(at.unwrap())].id,
            "office-login"
        );
        let all: Vec<&str> = flow.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(first_open(&flow, &records(&all, &[], &[])), None);
        assert_eq!(first_open(&flow, &[]), Some(0));
    }

    #[test]
    fn a_registration_is_probed_only_once_it_reached_its_submit() {
        let flow = crate::flow::builtin("register").unwrap();
        let before_submit: Vec<&str> = flow
            .steps
            .iter()
            .take_while(|s| !s.probe_on_resume)
            .map(|s| s.id.as_str())
            .collect();
        let (last, earlier) = before_submit.split_last().unwrap();
        assert!(reached_a_probe(&flow, &records(&before_submit, &[], &[])));
        assert!(!reached_a_probe(&flow, &records(earlier, &[], &[last])));
        assert!(!reached_a_probe(&flow, &[]));
        assert!(!reached_a_probe(
            &crate::flow::builtin("existing").unwrap(),
            &records(&["office-login"], &[], &[])
        ));
    }
}
