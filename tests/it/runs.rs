//! Runs that survive failure: artifacts without secrets, the report, `runs`, `show`,
//! `resume` and `step`, against the fixture portal, real Chromium and a real Dovecot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cigna_setup::browser::{find_executable, Browser, BrowserOptions};

use crate::support::run::{processes_mentioning, Cli};
use crate::support::world::{World, MAILBOX_PASSWORD, OFFICE_PASSWORD};

/// `resume`/`step` of a run in this world, with the secrets it needs again.
fn continuing(world: &World, command: &str) -> Cli {
    Cli::new(command)
        .path_flag("--runs-dir", world.runs.path())
        .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
}

fn run_id(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every secret value the run knows, from its own secrets file, plus the inputs' secrets.
pub(crate) fn secret_values(dir: &Path) -> Vec<String> {
    let secrets: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("secrets.json")).unwrap()).unwrap();
    let mut values: Vec<String> = secrets
        .iter()
        // A security question is the portal's, shown on its page: not a secret; its answer is.
        .filter(|(k, _)| {
            k.contains("password")
                || k.contains("answer")
                || (k.starts_with("captured.") && !k.starts_with("captured.question"))
        })
        .map(|(_, v)| v.as_str().unwrap().to_string())
        .collect();
    values.push(OFFICE_PASSWORD.into());
    values.push(MAILBOX_PASSWORD.into());
    values
}

/// The run's files, the browser profile left out.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    crate::support::run::files_under(dir, &["browser"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_keeps_artifacts_without_secrets_and_resume_finishes_it() {
    let world = World::start(None).await;
    // A flow file with a label the portal does not show: the run fails at fill-user-info.
    let flow = cigna_setup::flow::BUILTIN[0]
        .1
        .replace("{ fill = \"First name\"", "{ fill = \"Given name\"");
    let flow_file = world.runs.path().join("renamed.toml");
    std::fs::write(&flow_file, flow).unwrap();
    let email = "resume.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .path_flag("--flow", &flow_file)
        .flag("--action-timeout", "2s")
        .run()
        .await;
    out.assert_code(3);
    let dir = world.only_run_dir(&out);
    let id = run_id(&dir);

    // The failed step's evidence, and the report.
    let artifacts = dir.join("artifacts").join("fill-user-info");
    for f in ["screenshot.png", "page.html", "log.txt"] {
        assert!(artifacts.join(f).is_file(), "missing {f}");
    }
    let log = std::fs::read_to_string(artifacts.join("log.txt")).unwrap();
    assert!(log.contains("Given name"), "{log}");
    assert!(dir.join("report.html").is_file());
    let secrets = secret_values(&dir);
    assert!(secrets.len() >= 5, "{secrets:?}");
    for file in files_under(&dir) {
        if file.ends_with("secrets.json") || file.ends_with("credentials.json") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a secret",
                file.display()
            );
        }
    }

    // The report opens offline in headless Chromium and shows the steps and the failure.
    let browser = Browser::launch(BrowserOptions {
        executable: find_executable(None).unwrap(),
        profile_dir: None,
        loopback_only: true,
    })
    .await
    .unwrap();
    browser
        .goto(&format!("file://{}", dir.join("report.html").display()))
        .await
        .unwrap();
    let t = Duration::from_secs(5);
    for text in ["office-login", "fill-user-info", "failed", "Given name"] {
        browser.expect_text(text, &[], t).await.unwrap();
    }
    browser
        .expect_text(&format!("cigna-setup resume {id}"), &[], t)
        .await
        .unwrap();
    let shot = world.runs.path().join("report-shot");
    browser
        .save_evidence(&shot, &cigna_setup::secrets::Redactor::new(), &[])
        .await
        .unwrap();
    assert!(
        std::fs::metadata(shot.join("screenshot.png"))
            .unwrap()
            .len()
            > 10_000
    );
    browser.close().await;

    // `runs` and `show` tell a support engineer where it stands.
    let listed = world.runs_listed().await;
    assert_eq!(listed[0]["run_id"], id.as_str());
    assert_eq!(listed[0]["status"], "failed");
    assert_eq!(listed[0]["failed_step"], "fill-user-info");
    let shown = Cli::new("show")
        .arg(&id)
        .path_flag("--runs-dir", world.runs.path())
        .run()
        .await;
    shown.assert_code(0);
    assert!(shown.stdout.contains("fill-user-info"), "{}", shown.stdout);
    assert!(
        shown
            .stdout
            .contains(&format!("next: cigna-setup resume {id}")),
        "{}",
        shown.stdout
    );

    // Fixed where the run keeps its flow (resume runs the recorded flow, not the built-in one),
    // the run resumes and ends active, with one user.
    std::fs::write(
        dir.join("existing.flow.toml"),
        cigna_setup::flow::BUILTIN[0].1,
    )
    .unwrap();
    let out = continuing(&world, "resume")
        .arg(&id)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let creds = out.json();
    assert_eq!(creds["status"], "active");
    assert_eq!(creds["run_id"], id.as_str());
    let users = world.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["status"], "active");
    assert_eq!(users[0]["email"], email);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_send_verification_code_after_a_code_timeout_resends_and_the_run_finishes() {
    let world = World::start(None).await;
    // The codes go to the "codes" mailbox; this run watches "spare", where none arrives.
    let spare = world.dovecot.imaps_url("spare");
    let out = world
        .existing_with_mailbox("timeout.123456789@codes.zuub.test", &spare)
        .flag("--code-timeout", "2s")
        .run()
        .await;
    out.assert_code(4);
    let dir = world.only_run_dir(&out);
    let id = run_id(&dir);
    assert!(
        out.stderr.contains("enter-verification-code"),
        "{}",
        out.stderr
    );
    // Sent, and resent once at half the code timeout.
    assert_eq!(world.portal.state_json()["codes_sent"], 2);

    let codes = world.dovecot.imaps_url("codes");
    let out = continuing(&world, "step")
        .arg(&id)
        .arg("send-verification-code")
        .flag("--imap-url", &codes)
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(
        world.portal.state_json()["codes_sent"],
        3,
        "the code was sent again"
    );

    let out = continuing(&world, "resume")
        .arg(&id)
        .flag("--imap-url", &codes)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(out.json()["status"], "active");
    let users = world.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["status"], "active");
}

#[tokio::test]
async fn step_refuses_a_step_whose_inputs_were_never_produced() {
    let world = World::start(None).await;
    // A run that failed at its first step has captured nothing.
    let out = world
        .existing("early.123456789@codes.zuub.test")
        .env("CIGNA_OFFICE_PASSWORD", "Wrong#Pass2026")
        .flag("--action-timeout", "2s")
        .run()
        .await;
    assert_ne!(out.code, 0);
    let dir = world.only_run_dir(&out);
    let id = run_id(&dir);
    let out = continuing(&world, "step")
        .arg(&id)
        .arg("temp-id-login")
        .run()
        .await;
    out.assert_code(2);
    assert!(
        out.stderr.contains("captured.temp_user_id"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("review-submit"), "{}", out.stderr);
}

/// Runs `existing` with the built-in flow changed by `edit`, expecting it to fail (exit 3).
async fn failing_run(world: &World, email: &str, edit: (&str, &str)) -> String {
    let flow = cigna_setup::flow::BUILTIN[0].1.replace(edit.0, edit.1);
    assert!(flow.contains(edit.1));
    let flow_file = world.runs.path().join("edited.toml");
    std::fs::write(&flow_file, flow).unwrap();
    let out = world
        .existing(email)
        .path_flag("--flow", &flow_file)
        .flag("--action-timeout", "2s")
        .run()
        .await;
    out.assert_code(3);
    run_id(&world.only_run_dir(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_by_an_earlier_attempt_is_not_created_again() {
    let world = World::start(None).await;
    let email = "twice.123456789@codes.zuub.test";
    // The run fails after the user was created and its temporary credentials captured.
    let id = failing_run(
        &world,
        email,
        ("{ click = \"Log Out\" }", "{ click = \"Sign Off\" }"),
    )
    .await;
    assert_eq!(world.users().len(), 1);
    let out = continuing(&world, "resume")
        .arg(&id)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert!(
        out.stderr.contains("is already in the portal"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("skipped"), "{}", out.stderr);
    assert_eq!(out.json()["status"], "active");
    let users = world.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["status"], "active");
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_for_an_email_already_in_the_portal_stops_and_says_what_to_do() {
    let world = World::start(None).await;
    let email = "again.123456789@codes.zuub.test";
    world.existing(email).run().await.assert_code(0);
    let out = world.existing(email).run().await;
    out.assert_code(3);
    assert!(
        out.stderr.contains("already in the portal"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Remove User"), "{}", out.stderr);
    assert_eq!(world.users().len(), 1);
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);
}

/// The number of steps the journal records as done.
fn steps_done(journal: &Path) -> usize {
    steps_with(journal, &["done"])
}

/// The number of steps the journal records as over: done, or skipped.
fn steps_ended(journal: &Path) -> usize {
    steps_with(journal, &["done", "skipped"])
}

/// The number of steps whose status is one of `statuses`, read as the journal it is.
fn steps_with(journal: &Path, statuses: &[&str]) -> usize {
    crate::support::world::read_journal(journal)["steps"]
        .as_array()
        .map_or(0, |steps| {
            steps
                .iter()
                .filter(|s| statuses.iter().any(|st| s["status"] == *st))
                .count()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_step_boundary_a_run_resumes_to_one_active_user() {
    let world = World::start(None).await;
    let steps = cigna_setup::flow::builtin("existing").unwrap().steps.len();
    // After k steps have ended (done or skipped, as the journal says), the process is killed
    // with SIGKILL: no chance to clean up. Then `resume` must finish the run. Every boundary
    // is hit: a kill that lands a step late (the next step was quicker than the kill) still
    // gets its resume checked, and the boundary is tried again, three times at most.
    for k in 1..steps {
        let mut tries = 0;
        loop {
            tries += 1;
            let killed_after = kill_after_and_resume(&world, k, tries).await;
            if killed_after == k {
                break;
            }
            assert!(
                tries < 3,
                "boundary {k} missed three times (the last kill landed after {killed_after} steps)"
            );
        }
    }
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);
}

/// Starts a run, kills it once `k` steps have ended, resumes it to the end and checks the
/// outcome; how many steps had ended when the kill landed.
async fn kill_after_and_resume(world: &World, k: usize, attempt: usize) -> usize {
    let email = format!("kill{k}.{attempt}.123456789@codes.zuub.test");
    let runs_before: Vec<PathBuf> = std::fs::read_dir(world.runs.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut child = world.existing(&email).spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let journal = loop {
        let new_run = std::fs::read_dir(world.runs.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| !runs_before.contains(p) && p.join("journal.json").exists());
        if let Some(dir) = new_run {
            let journal = dir.join("journal.json");
            if steps_ended(&journal) >= k {
                break journal;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "step {k} never finished"
        );
        // Polling the file: the run gives no other sign of where it is.
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let killed_after = steps_ended(&journal);
    let id = run_id(journal.parent().unwrap());
    let out = continuing(world, "resume")
        .arg(&id)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(
        out.json()["status"],
        "active",
        "killed after {killed_after} steps"
    );
    let mine: Vec<_> = world
        .users()
        .into_iter()
        .filter(|u| u["email"] == email.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "killed after {killed_after} steps: {mine:?}");
    assert_eq!(mine[0]["status"], "active");
    // No browser is left on the run's profile, not even the killed run's own.
    let profile = journal.parent().unwrap().join("browser");
    let gone_by = std::time::Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&profile.to_string_lossy()).is_empty() {
        assert!(
            std::time::Instant::now() < gone_by,
            "killed after {killed_after} steps: a browser still runs on {}",
            profile.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killed_after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_dies_mid_run_is_reported_and_resume_starts_a_new_one() {
    let world = World::start(None).await;
    let email = "crash.123456789@codes.zuub.test";
    let child = world.existing(email).spawn();
    // Once the run is inside the portal, its browser is killed from outside.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let journal = loop {
        let found = std::fs::read_dir(world.runs.path())
            .unwrap()
            .flatten()
            .map(|e| e.path().join("journal.json"))
            .find(|p| steps_done(p) >= 2);
        if let Some(p) = found {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let profile = journal.parent().unwrap().join("browser");
    let browser_pids: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c).replace('\0', " ");
                    c.contains(&*profile.to_string_lossy()) && !c.contains("--type=")
                })
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!browser_pids.is_empty(), "the run's browser is running");
    for pid in &browser_pids {
        std::process::Command::new("kill")
            .args(["-9", pid])
            .status()
            .unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("browser exited"), "{stderr}");
    let id = run_id(journal.parent().unwrap());
    let out = continuing(&world, "resume")
        .arg(&id)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(out.json()["status"], "active");
    assert_eq!(world.users().len(), 1);
}

/// A run being worked on is not taken up a second time at once: a `resume` of it is refused
/// (exit 2, naming the process that has it), and the first goes on undisturbed to the end (its
/// browser was not stopped as an orphan).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_being_worked_on_is_not_resumed_twice_at_once() {
    let world = World::start(None).await;
    let first = world.existing("twice.123456789@codes.zuub.test").spawn();
    let pid = first.id().unwrap();
    let journal = world
        .journal_once_running(&["open-add-user", "fill-user-info"])
        .await;
    let id = run_id(journal.parent().unwrap());
    let second = continuing(&world, "resume").arg(&id).run().await;
    second.assert_code(2);
    assert!(
        second
            .stderr
            .contains(&format!("being worked on by process {pid}")),
        "{}",
        second.stderr
    );
    let first = first.wait_with_output().await.unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let users = world.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["status"], "active");
}

/// A run started with `--flow FILE` keeps that flow: `resume` runs its steps even once the file
/// is gone (or, as after an upgrade, the built-in flow differs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_resumes_with_the_flow_it_started_with_unless_told_to_replace_it() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::start(None).await;
    let text = cigna_setup::flow::builtin("existing")
        .unwrap()
        .source
        .replace("id = \"accept-agreement\"", "id = \"accept-the-agreement\"");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my-existing.toml");
    std::fs::write(&file, &text).unwrap();
    let email = "ownflow.123456789@codes.zuub.test";
    // No code ever reaches this mailbox: the run stops at the code, exit 4.
    let out = world
        .existing_with_mailbox(email, &world.dovecot.imaps_url("spare"))
        .path_flag("--flow", &file)
        .flag("--code-timeout", "3s")
        .run()
        .await;
    out.assert_code(4);
    let run = world.only_run_dir(&out);
    let recorded = run.join("existing.flow.toml");
    assert_eq!(std::fs::read_to_string(&recorded).unwrap(), text);
    let mode = std::fs::metadata(&recorded).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(dir);

    // Another flow file is refused unless --force-flow says to replace the kept one, and a
    // flow of another name is refused even then; neither touches the kept flow.
    let replacement = tempfile::tempdir().unwrap();
    let again = text.replace("id = \"user-login\"", "id = \"user-login-again\"");
    let other = replacement.path().join("changed.toml");
    std::fs::write(&other, &again).unwrap();
    let out = continuing(&world, "resume")
        .arg(run_id(&run))
        .path_flag("--flow", &other)
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("--force-flow"), "{}", out.stderr);
    let register = replacement.path().join("register.toml");
    std::fs::write(
        &register,
        cigna_setup::flow::builtin("register").unwrap().source,
    )
    .unwrap();
    let out = continuing(&world, "resume")
        .arg(run_id(&run))
        .path_flag("--flow", &register)
        .arg("--force-flow")
        .run()
        .await;
    out.assert_code(2);
    assert!(
        out.stderr.contains("is a `register` flow"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&recorded).unwrap(), text);

    // Forced, the file replaces the kept flow: its renamed sign-in step runs (the code still
    // never comes to "spare"), and it is the run's flow from then on.
    let out = continuing(&world, "resume")
        .arg(run_id(&run))
        .path_flag("--flow", &other)
        .arg("--force-flow")
        .flag("--imap-url", world.dovecot.imaps_url("spare"))
        .flag("--code-timeout", "3s")
        .run()
        .await;
    out.assert_code(4);
    assert!(out.stderr.contains("user-login-again ok"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&recorded).unwrap(), again);
    drop(replacement);

    let out = continuing(&world, "resume")
        .arg(run_id(&run))
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert!(
        out.stderr.contains("accept-the-agreement ok"),
        "resume ran the recorded flow's steps:\n{}",
        out.stderr
    );
    assert_eq!(out.json()["status"], "active");
}
