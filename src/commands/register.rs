//! `cigna-setup register`: a new portal account for an office, up to "pending approval".

use anyhow::Result;
use serde_json::json;

use super::run::{self, Credentials, Target};
use crate::cli::RegisterArgs;
use crate::credentials;
use crate::flow::{Flow, Vars};
use crate::journal::Journal;
use crate::progress;
use crate::settings::{NewLogin, RegisterSettings};

pub async fn command(args: Box<RegisterArgs>) -> Result<()> {
    let settings = RegisterSettings::from_args(&args)?;
    let creds = run_register(&settings).await?;
    creds.deliver(settings.login.json, settings.login.out.as_deref())?;
    note_activate_later(&creds.run_id);
    Ok(())
}

/// What a registration's run leaves to do: the access manager approves, then `activate`.
pub(super) fn note_activate_later(run_id: &str) {
    progress::note(&format!(
        "once the office's website access manager approves it: cigna-setup activate {run_id}"
    ));
}

/// Registers, and returns the credentials with status `pending_approval`. A generated User ID
/// the portal says is taken is replaced by another generated one (and said so); a given one
/// fails the step with the portal's message.
pub async fn run_register(settings: &RegisterSettings) -> Result<Credentials> {
    let login = &settings.login;
    let flow = run::load_flow("register", login.flow_file.as_deref())?;
    let mut creds = run::new_credentials(login);
    let vars = run::new_login_vars(login, &creds);
    let mut journal = run::create_journal(
        login,
        &flow,
        &creds,
        [
            (
                "imap_url",
                json!(settings.imap_url.as_ref().map(|u| u.to_string())),
            ),
            ("imap_ca", json!(settings.imap_ca)),
        ],
    )?;
    register_in(&mut journal, &flow, login, vars, &mut creds).await
}

/// Runs the registration `flow` in the run `journal` (a new one, or an existing-account run
/// that turned into one): keeps the flow that finishes it later (`activate`, today's, whatever
/// an upgrade brings), replaces a taken generated User ID, and finishes pending approval.
pub(super) async fn register_in(
    journal: &mut Journal,
    flow: &Flow,
    login: &NewLogin,
    vars: Vars,
    creds: &mut credentials::Credentials,
) -> Result<Credentials> {
    if let Some(then) = &flow.then {
        run::record_flow(journal, &crate::flow::builtin(then)?)?;
    }
    let mut retry = run::UserIdRetry::new(login);
    run::run_flow(
        flow,
        journal,
        vars,
        Target::of(login, None),
        &mut |err, _step, vars, journal| retry.mend(err, vars, journal, creds),
    )
    .await?;
    run::finish(journal, run::ended_as(flow))?;
    Ok(run::credentials_of(
        journal,
        login.tin.digits(),
        &login.email,
        creds,
    ))
}
