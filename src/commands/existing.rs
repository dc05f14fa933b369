//! `cigna-setup existing`: the existing-account flow, from settings to printed credentials.

use anyhow::Result;
use serde_json::json;

use super::run::{self, Credentials, Target};
use crate::cli::ExistingArgs;
use crate::journal::Status;
use crate::progress;
use crate::secrets::{self, Secret};
use crate::settings::ExistingSettings;

pub async fn command(args: Box<ExistingArgs>) -> Result<()> {
    let settings = ExistingSettings::from_args(&args)?;
    let creds = run_existing(&settings).await?;
    creds.deliver(settings.login.json, settings.login.out.as_deref())
}

/// Runs the flow and returns the new credentials. Everything generated or captured is in the
/// run's secrets.json before the step that needs it, so a failure loses nothing.
pub async fn run_existing(settings: &ExistingSettings) -> Result<Credentials> {
    let login = &settings.login;
    let flow = run::load_flow("existing", login.flow_file.as_deref())?;
    for s in [
        settings.office_password.expose(),
        settings.mailbox.password.expose(),
    ] {
        secrets::global().register(s);
    }
    let mut creds = run::new_credentials(login);
    let mut vars = run::new_login_vars(login, &creds);
    vars.set("office_user", &settings.office_user);
    vars.set_secret(
        "office_password",
        Secret::new(settings.office_password.expose()),
    );
    let entitlements = flow.choose_entitlements(&settings.entitlements)?;
    vars.set_list("entitlements", entitlements.clone());

    let mut journal = run::create_journal(
        login,
        &flow,
        &creds,
        [
            ("office_user", json!(settings.office_user)),
            ("imap_url", json!(settings.mailbox.url.to_string())),
            ("imap_ca", json!(settings.mailbox.ca_file)),
            ("imap_mailboxes", json!(settings.mailbox.folders)),
            ("imap_auth", json!(settings.mailbox.auth.name())),
            ("entitlements", json!(entitlements)),
        ],
    )?;
    let mut retry = run::UserIdRetry::new(login);
    let started = std::time::Instant::now();
    let outcome = run::run_flow(
        &flow,
        &mut journal,
        vars.clone(),
        Target {
            office_code: settings.office_code.clone(),
            ..Target::of(login, Some(settings.mailbox.clone()))
        },
        &mut |err, _step, vars, journal| retry.mend(err, vars, journal, &mut creds),
    )
    .await;
    if let Err(err) = outcome {
        if crate::error::outcome(&err) != Some(crate::flow::NOT_ACCESS_MANAGER) {
            return Err(err);
        }
        if settings.or_register {
            return register_instead(settings, journal, vars, &mut creds).await;
        }
        run::finish(&mut journal, Status::NotAccessManager)?;
        return Err(crate::error::named_outcome(
            crate::flow::NOT_ACCESS_MANAGER,
            format!(
                "the office user {} is not a website access manager of this organization: its \
                 portal menu offers no way to add users (seen after {}, before anything was \
                 created). Register a new account instead: {} — or contact Cigna Support to \
                 identify the organization's access manager. Run {} is kept.",
                settings.office_user,
                crate::progress::human(started.elapsed()),
                crate::report::register_command(&journal),
                journal.run_id
            ),
        ));
    }
    run::finish(&mut journal, run::ended_as(&flow))?;
    Ok(run::credentials_of(
        &journal,
        login.tin.digits(),
        &login.email,
        &creds,
    ))
}

/// `--or-register`: the office login cannot add users, so the same run registers a new account
/// for its TIN, email and phone, up to "pending approval". The run is a registration from here
/// on (its flow `register`, both flows kept in it), so `resume` and `activate` treat it as one.
async fn register_instead(
    settings: &ExistingSettings,
    mut journal: crate::journal::Journal,
    vars: crate::flow::Vars,
    creds: &mut crate::credentials::Credentials,
) -> Result<Credentials> {
    let login = &settings.login;
    progress::note(&format!(
        "the office user {} is not a website access manager of this organization: registering \
         a new account instead (--or-register)",
        settings.office_user
    ));
    let register = crate::flow::builtin("register")?;
    let ids: Vec<String> = register.steps.iter().map(|s| s.id.clone()).collect();
    journal.switch_flow(&register.name, &ids)?;
    run::record_flow(&journal, &register)?;
    // The office's portal session must not carry into the new account's registration.
    run::forget_browser_session(&journal)?;
    let creds = super::register::register_in(&mut journal, &register, login, vars, creds).await?;
    super::register::note_activate_later(&journal.run_id);
    Ok(creds)
}
