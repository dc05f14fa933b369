//! `cigna-setup doctor`: is this machine ready for a run? Each check is one line, ok or FAIL
//! with the fix; exit 0 only when all pass.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::browser::{self, Browser, BrowserOptions};
use crate::cli::DoctorArgs;
use crate::error::environment;
use crate::mail::{self, MailboxDiagnosis};
use crate::settings;

/// One check's result.
#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    ok: bool,
    detail: String,
    /// What to do about a FAIL, when the detail does not say it already.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(check: &'static str, detail: impl Into<String>) -> Check {
        Check {
            check,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A FAIL whose error message says the fix already.
    fn failed(check: &'static str, err: &anyhow::Error) -> Check {
        Check {
            check,
            ok: false,
            detail: format!("{err:#}"),
            fix: None,
        }
    }
}

pub async fn command(args: DoctorArgs) -> Result<()> {
    let mut checks = Vec::new();
    browser_checks(&args, &mut checks).await;
    mailbox_checks(&args, &mut checks).await;
    checks.push(runs_dir_check(&args));

    let failed = checks.iter().filter(|c| !c.ok).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            let status = if c.ok { "ok  " } else { "FAIL" };
            println!("{status}  {:<22} {}", c.check, c.detail);
            if let Some(fix) = &c.fix {
                println!("      {:<22} fix: {fix}", "");
            }
        }
    }
    if failed > 0 {
        return Err(environment(format!(
            "{failed} of {} checks failed (see above)",
            checks.len()
        )));
    }
    Ok(())
}

async fn browser_checks(args: &DoctorArgs, checks: &mut Vec<Check>) {
    let executable = match browser::find_executable(args.portal.browser.as_deref()) {
        Ok(path) => path,
        Err(e) => {
            checks.push(Check::fail(
                "browser found",
                format!("{e:#}"),
                "sudo apt-get install -y chromium-headless-shell (or chromium), or pass --browser \
                 PATH (CIGNA_BROWSER)",
            ));
            checks.push(Check::fail(
                "browser starts",
                "not tried: no browser",
                "install a browser first (above)",
            ));
            checks.push(Check::fail(
                "portal reachable",
                "not tried: no browser",
                "install a browser first (above)",
            ));
            return;
        }
    };
    let version =
        browser::version(&executable).unwrap_or_else(|e| format!("version unknown: {e:#}"));
    // Any Chromium works; the headless shell is quicker, so a run without it says how to get it.
    let hint = if browser::is_headless_shell(&executable) {
        ""
    } else {
        "; runs start faster with the headless shell: sudo apt-get install -y \
         chromium-headless-shell"
    };
    checks.push(Check::ok(
        "browser found",
        format!("{} ({version}){hint}", executable.display()),
    ));

    let started = Instant::now();
    let launched = Browser::launch(BrowserOptions {
        executable,
        profile_dir: None,
        loopback_only: false,
    })
    .await;
    let browser = match launched {
        Ok(b) => {
            checks.push(Check::ok(
                "browser starts",
                format!("headless, in {} ms", started.elapsed().as_millis()),
            ));
            b
        }
        Err(e) => {
            checks.push(Check::failed("browser starts", &e));
            checks.push(Check::fail(
                "portal reachable",
                "not tried: the browser did not start",
                "make the browser start first (above)",
            ));
            return;
        }
    };
    let url = &args.portal.portal_url;
    match settings::portal_url(url) {
        Err(e) => checks.push(Check::failed("portal reachable", &e)),
        Ok(parsed) => {
            let started = Instant::now();
            let reached =
                tokio::time::timeout(Duration::from_secs(30), browser.goto(parsed.as_str())).await;
            match reached {
                Ok(Ok(())) => checks.push(Check::ok(
                    "portal reachable",
                    format!("{url} loaded in {} ms", started.elapsed().as_millis()),
                )),
                Ok(Err(e)) => checks.push(Check::fail(
                    "portal reachable",
                    format!("{e:#}"),
                    "check --portal-url (CIGNA_PORTAL_URL) and this machine's network and proxy",
                )),
                Err(_) => checks.push(Check::fail(
                    "portal reachable",
                    format!("{url} did not load within 30 s"),
                    "check --portal-url (CIGNA_PORTAL_URL) and this machine's network and proxy",
                )),
            }
        }
    }
    browser.close().await;
}

async fn mailbox_checks(args: &DoctorArgs, checks: &mut Vec<Check>) {
    let config = match settings::mailbox(&args.mailbox) {
        Ok(config) => config,
        Err(e) => {
            checks.push(Check::failed("mailbox settings", &e));
            return;
        }
    };
    crate::secrets::global().register(config.password.expose());
    let url = config.url.to_string();
    let diagnosis = tokio::task::spawn_blocking(move || mail::diagnose(&config)).await;
    let MailboxDiagnosis {
        reachable,
        mechanisms,
        login,
        idle,
        poll_every,
    } = match diagnosis {
        Ok(d) => d,
        Err(e) => {
            checks.push(Check::fail(
                "mailbox reachable",
                format!("the check itself failed: {e}"),
                "run again",
            ));
            return;
        }
    };
    match reachable {
        Ok(()) => checks.push(Check::ok(
            "mailbox reachable",
            format!(
                "{url}; login mechanisms offered: {}",
                if mechanisms.is_empty() {
                    "none listed (LOGIN only)".to_string()
                } else {
                    mechanisms.join(", ")
                }
            ),
        )),
        Err(e) => {
            checks.push(Check::failed("mailbox reachable", &e));
            checks.push(Check::fail(
                "mailbox login",
                "not tried: the mailbox is not reachable",
                "reach the mailbox first (above)",
            ));
            return;
        }
    }
    match login {
        Some(Ok(folders)) => checks.push(Check::ok(
            "mailbox login",
            format!("logged in; watching {}", folders.join(", ")),
        )),
        Some(Err(e)) => {
            checks.push(Check::failed("mailbox login", &e));
            return;
        }
        None => return,
    }
    checks.push(Check::ok(
        "mailbox IDLE",
        if idle {
            "offered: codes arrive within milliseconds of the server's notice".to_string()
        } else {
            format!(
                "not offered: codes are polled for every {}s (--poll-every)",
                poll_every.as_secs_f32()
            )
        },
    ));
}

fn runs_dir_check(args: &DoctorArgs) -> Check {
    let dir = args
        .runs_dir
        .clone()
        .unwrap_or_else(settings::default_runs_dir);
    // Created (or tightened) private, as a run would: a runs dir holds credentials.
    let writable = crate::journal::open_runs_dir(&dir).and_then(|()| {
        tempfile::NamedTempFile::new_in(&dir)
            .map(drop)
            .map_err(anyhow::Error::from)
    });
    match writable {
        Ok(()) => Check::ok("runs dir writable", dir.display().to_string()),
        Err(e) => Check::fail(
            "runs dir writable",
            format!("{}: {e:#}", dir.display()),
            "pass --runs-dir DIR (CIGNA_RUNS_DIR) naming a directory this user can write",
        ),
    }
}
