//! The engine's logic against the in-memory page and mailbox (`fake`): what a run does with
//! each kind of step and each way the portal answers, without a browser or a mail server.

use std::time::Duration;

use super::fake::{FakeMailbox, FakePage, Screen};
use super::Engine;
use crate::error::exit_code;
use crate::flow::{Flow, Step, Vars};
use crate::journal::{Journal, Status};
use crate::secrets::{self, Secret};

const PORTAL: &str = "http://127.0.0.1:9/";
const EMAIL: &str = "new.user@office.example";

/// A flow of the given steps, with the portal-wide texts the built-in flows have.
fn flow(steps: &str) -> Flow {
    let text = format!(
        "flow = \"test\"\ntitle = \"A test flow\"\nlogin-page = \"Log in to the portal\"\n\
         error-pages = [\"Something went wrong\"]\n{steps}"
    );
    crate::flow::parse(&text, "the test flow").unwrap()
}

/// A run's directory and journal for `flow`; the directory goes with the first.
fn journal(flow: &Flow) -> (tempfile::TempDir, Journal) {
    // The progress lines would only clutter the test output.
    crate::progress::init(true, false);
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = flow.steps.iter().map(|s| s.id.clone()).collect();
    let journal = Journal::create(dir.path(), &flow.name, &ids, Default::default()).unwrap();
    (dir, journal)
}

/// The run's variables; secrets go to the process's redactor, as a real run's do.
fn vars() -> Vars {
    let mut vars = Vars::new(secrets::global().clone());
    vars.set("portal_url", PORTAL);
    vars.set("email", EMAIL);
    vars.set("generated.user_id", "first-choice");
    vars
}

fn engine<'a>(
    flow: &Flow,
    page: &'a FakePage,
    mailbox: Option<&'a FakeMailbox>,
    journal: &'a mut Journal,
    vars: Vars,
) -> Engine<'a, FakePage, FakeMailbox> {
    let mut engine = Engine::new(
        page,
        mailbox,
        journal,
        vars,
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    engine.login_page = flow.login_page.clone();
    engine.loading = flow.loading.clone();
    engine
}

fn statuses(journal: &Journal) -> Vec<Status> {
    journal.steps.iter().map(|s| s.status.clone()).collect()
}

fn no_mending(_: &anyhow::Error, _: &Step, _: &mut Vars, _: &mut Journal) -> anyhow::Result<bool> {
    Ok(false)
}

const SIGN_IN: &str = r#"
[[step]]
id = "sign-in"
title = "Sign in"
actions = [
  { goto = "{portal_url}" },
  { expect = "Log in to the portal" },
  { fill = "User ID", with = "{generated.user_id}" },
  { click = "Log In" },
  { expect = "Welcome", or = ["Verify Your Identity"] },
]
"#;

fn login_screen(to: &str) -> Screen {
    Screen::new()
        .text("Log in to the portal")
        .field("User ID")
        .click("Log In", to)
}

#[tokio::test]
async fn steps_run_in_order_and_each_is_recorded_done() {
    let flow = flow(&format!(
        r#"{SIGN_IN}
[[step]]
id = "open-reports"
title = "Open the reports"
actions = [{{ click = "Reports" }}, {{ expect = "Report list" }}]

[[step]]
id = "read-number"
title = "Read the report number"
actions = [{{ capture = "Report number", into = "report" }}]
"#
    ));
    let page = FakePage::new("login")
        .screen("login", login_screen("home"))
        .screen(
            "home",
            Screen::new().text("Welcome").click("Reports", "reports"),
        )
        .screen(
            "reports",
            Screen::new()
                .text("Report list")
                .shows("Report number", "R-42"),
        );
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    engine.run_steps(&flow, 0..3).await.unwrap();
    assert_eq!(engine.vars.get("captured.report"), Some("R-42"));
    assert_eq!(engine.failed_step, None);
    assert_eq!(
        *page.log().borrow(),
        [
            format!("goto {PORTAL}"),
            "expect Log in to the portal".into(),
            "fill User ID=first-choice".into(),
            "click Log In".into(),
            "expect Welcome".into(),
            "click Reports".into(),
            "expect Report list".into(),
            "read Report number".into(),
        ]
    );
    assert_eq!(statuses(&journal), vec![Status::Done; 3]);
    assert!(journal.steps.iter().all(|s| s.attempts == 1));
    assert_eq!(journal.steps[2].outputs, ["captured.report"]);
    assert_eq!(journal.secret("captured.report"), Some("R-42"));
}

#[tokio::test]
async fn a_failing_step_stops_the_run_and_the_journal_names_it() {
    let flow = flow(&format!(
        r#"{SIGN_IN}
[[step]]
id = "open-reports"
title = "Open the reports"
actions = [{{ expect = "Welcome" }}, {{ click = "Reports" }}, {{ expect = "Report list" }}]

[[step]]
id = "never"
title = "Never reached"
actions = [{{ click = "Anything" }}]
"#
    ));
    // The home page has no "Reports" to click.
    let page = FakePage::new("login")
        .screen("login", login_screen("home"))
        .screen("home", Screen::new().text("Welcome"));
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    let err = engine.run_steps(&flow, 0..3).await.unwrap_err();
    assert_eq!(engine.failed_step, Some(1));
    assert_eq!(exit_code(&err), 3);
    let message = format!("{err:#}");
    assert!(
        message.contains("step \"open-reports\" (Open the reports) stopped at action 2 of 3"),
        "{message}"
    );
    assert_eq!(
        statuses(&journal),
        [Status::Done, Status::Failed, Status::Pending]
    );
    assert!(journal.steps[1]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("click the button or link \"Reports\"")));
    assert!(page.calls("click Anything").is_empty());
    let log = std::fs::read_to_string(journal.dir.join("artifacts/open-reports/log.txt")).unwrap();
    assert!(log.contains("FAILED: step \"open-reports\""), "{log}");
    assert!(journal
        .dir
        .join("artifacts/open-reports/page.html")
        .is_file());
}

#[tokio::test]
async fn a_when_step_runs_only_when_the_page_shows_its_text() {
    let flow = flow(&format!(
        r#"{SIGN_IN}
[[step]]
id = "verify-office"
title = "Verify the office, if asked"
when = "Verify Your Identity"
actions = [{{ click = "Verify" }}, {{ expect = "Welcome" }}]

[[step]]
id = "home"
title = "Home"
actions = [{{ expect = "Welcome" }}]
"#
    ));
    let home = || Screen::new().text("Welcome");
    // Straight to the home page: the check is not asked for.
    let page = FakePage::new("login")
        .screen("login", login_screen("home"))
        .screen("home", home());
    let (_dir, mut journal) = journal(&flow);
    engine(&flow, &page, None, &mut journal, vars())
        .run_steps(&flow, 0..3)
        .await
        .unwrap();
    assert_eq!(
        statuses(&journal),
        [Status::Done, Status::Skipped, Status::Done]
    );
    assert_eq!(journal.steps[1].attempts, 0);
    assert!(page.calls("click Verify").is_empty());

    // Asked for: it runs.
    let page = FakePage::new("login")
        .screen("login", login_screen("verify"))
        .screen(
            "verify",
            Screen::new()
                .text("Verify Your Identity")
                .click("Verify", "home"),
        )
        .screen("home", home());
    let (_dir, mut journal) = self::journal(&flow);
    engine(&flow, &page, None, &mut journal, vars())
        .run_steps(&flow, 0..3)
        .await
        .unwrap();
    assert_eq!(statuses(&journal), vec![Status::Done; 3]);
    assert_eq!(page.calls("click Verify").len(), 1);
}

const LOOK_UP: &str = r#"
[[step]]
id = "look-up"
title = "Look the user up"
actions = [
  { goto = "{portal_url}" },
  { expect = "Users" },
  { already-created = "{email}", next-page = "Next page", skip-to = "use-it", needs = "captured.temp_user_id" },
]

[[step]]
id = "create"
title = "Create the user"
actions = [
  { click = "Add User" },
  { capture = "Temporary User ID", into = "temp_user_id", secret = true },
]

[[step]]
id = "note-it"
title = "Note it"
actions = [{ click = "Note" }]

[[step]]
id = "use-it"
title = "Use the temporary ID"
actions = [{ fill = "Temporary ID", with = "{captured.temp_user_id}" }]
"#;

/// A users table of two pages; the new user is on the second.
fn users_table() -> FakePage {
    FakePage::new("users-1")
        .screen(
            "users-1",
            Screen::new()
                .text("Users")
                .text("someone.else@office.example")
                .click("Next page", "users-2")
                .click("Add User", "added"),
        )
        .screen(
            "users-2",
            Screen::new()
                .text("Users")
                .text(EMAIL)
                .field("Temporary ID")
                .click("Add User", "added"),
        )
}

#[tokio::test]
async fn a_user_listed_already_skips_to_the_step_that_uses_it_when_the_run_holds_its_id() {
    let flow = flow(LOOK_UP);
    let page = users_table();
    let (_dir, mut journal) = journal(&flow);
    let mut vars = vars();
    vars.set_secret("captured.temp_user_id", Secret::new("TMP-0042"));
    engine(&flow, &page, None, &mut journal, vars)
        .run_steps(&flow, 0..4)
        .await
        .unwrap();
    assert_eq!(
        statuses(&journal),
        [Status::Done, Status::Skipped, Status::Skipped, Status::Done]
    );
    // Found on the table's second page, and never added again.
    assert_eq!(page.calls("turn the page"), ["turn the page to users-2"]);
    assert!(page.calls("click").is_empty());
    assert_eq!(page.calls("fill"), ["fill Temporary ID=TMP-0042"]);
}

#[tokio::test]
async fn a_user_listed_already_stops_the_run_with_exit_3_when_the_run_lacks_its_id() {
    let flow = flow(LOOK_UP);
    let page = users_table();
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    let err = engine.run_steps(&flow, 0..4).await.unwrap_err();
    assert_eq!(exit_code(&err), 3);
    assert!(format!("{err:#}").contains("this run does not hold {captured.temp_user_id}"));
    assert_eq!(engine.failed_step, Some(0));
    assert_eq!(
        statuses(&journal),
        [
            Status::Failed,
            Status::Pending,
            Status::Pending,
            Status::Pending
        ]
    );
    assert!(page.calls("click Add User").is_empty());
}

const BROKEN: &str = r#"
[[step]]
id = "open"
title = "Open the report"
actions = [{ click = "Go" }, { expect = "Report" }]
"#;

#[tokio::test(start_paused = true)]
async fn an_error_page_is_reloaded_and_the_wait_tried_again() {
    let flow = flow(BROKEN);
    let page = FakePage::new("home")
        .at("home")
        .error_pages(&flow.error_pages)
        .screen("home", Screen::new().click("Go", "broken"))
        .screen(
            "broken",
            Screen::new()
                .text("Something went wrong")
                .reloads_to("report"),
        )
        .screen("report", Screen::new().text("Report"));
    let (_dir, mut journal) = journal(&flow);
    engine(&flow, &page, None, &mut journal, vars())
        .run_steps(&flow, 0..1)
        .await
        .unwrap();
    assert_eq!(page.calls("reload").len(), 1);
    assert_eq!(page.calls("expect Report").len(), 2);
    assert_eq!(statuses(&journal), [Status::Done]);
    assert_eq!(journal.steps[0].attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn an_error_page_that_stays_fails_the_step_after_its_retries() {
    let flow = flow(BROKEN);
    let page = FakePage::new("home")
        .at("home")
        .error_pages(&flow.error_pages)
        .screen("home", Screen::new().click("Go", "broken"))
        .screen("broken", Screen::new().text("Something went wrong"));
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    engine.retries = 3;
    let started = tokio::time::Instant::now();
    let err = engine.run_steps(&flow, 0..1).await.unwrap_err();
    assert_eq!(page.calls("reload").len(), 3);
    // A person's pauses before each reload: 1 s, 2 s, 4 s.
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    let said = crate::error::page_said(&err).unwrap();
    assert!(said.transient && said.text == "Something went wrong");
    assert_eq!(statuses(&journal), [Status::Failed]);
}

const WORK: &str = r#"
[[step]]
id = "open-reports"
title = "Open the reports"
actions = [{ click = "Reports" }, { expect = "Report list" }]
"#;

#[tokio::test]
async fn a_login_page_mid_flow_signs_in_again_from_the_entry_step() {
    let flow = flow(&format!("{SIGN_IN}{WORK}"));
    // The session expires the first time Reports is clicked.
    let page = FakePage::new("login")
        .screen("login", login_screen("home"))
        .screen(
            "home",
            Screen::new()
                .text("Welcome")
                .click_times("Reports", "login", 1)
                .click("Reports", "reports"),
        )
        .screen("reports", Screen::new().text("Report list"));
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    engine.run(&flow, 0..2, &mut no_mending).await.unwrap();
    assert_eq!(page.calls("goto").len(), 2);
    assert_eq!(page.current(), "reports");
    assert_eq!(statuses(&journal), vec![Status::Done; 2]);
    assert_eq!(journal.steps[0].attempts, 2);
    assert_eq!(journal.steps[1].attempts, 2);
}

#[tokio::test]
async fn signing_in_again_gives_up_after_two_expired_sessions() {
    let flow = flow(&format!("{SIGN_IN}{WORK}"));
    let page = FakePage::new("login")
        .screen("login", login_screen("home"))
        .screen(
            "home",
            Screen::new().text("Welcome").click("Reports", "login"),
        );
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    let err = engine.run(&flow, 0..2, &mut no_mending).await.unwrap_err();
    // Met where the report list was expected, the login page ends the wait with its words.
    assert_eq!(
        crate::error::page_said(&err).map(|s| s.text.as_str()),
        Some("Log in to the portal")
    );
    assert_eq!(page.calls("goto").len(), 3);
    assert_eq!(statuses(&journal), [Status::Done, Status::Failed]);
    assert_eq!(journal.steps[1].attempts, 3);
}

#[tokio::test]
async fn a_failed_step_the_caller_mends_runs_again_with_what_it_changed() {
    let flow = flow(
        r#"
[[step]]
id = "choose-id"
title = "Choose a User ID"
actions = [
  { fill = "User ID", with = "{generated.user_id}" },
  { click = "Next" },
  { expect = "Profile saved" },
]
"#,
    );
    let form = || {
        Screen::new()
            .field("User ID")
            .click_if("Next", "User ID", "second-choice", "saved")
            .click("Next", "taken")
    };
    let page = FakePage::new("form")
        .at("form")
        .screen("form", form())
        .screen(
            "taken",
            form().refuses(Some("User ID"), "That User ID is taken"),
        )
        .screen("saved", Screen::new().text("Profile saved"));
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    let mut mended = Vec::new();
    let mut mend = |err: &anyhow::Error, step: &Step, vars: &mut Vars, _: &mut Journal| {
        let said = crate::error::page_said(err).cloned().unwrap();
        mended.push((step.id.clone(), said.field, said.text));
        vars.set("generated.user_id", "second-choice");
        Ok::<_, anyhow::Error>(true)
    };
    engine.run(&flow, 0..1, &mut mend).await.unwrap();
    assert_eq!(
        mended,
        [(
            "choose-id".to_string(),
            Some("User ID".to_string()),
            "That User ID is taken".to_string()
        )]
    );
    assert_eq!(
        page.calls("fill"),
        ["fill User ID=first-choice", "fill User ID=second-choice"]
    );
    assert_eq!(statuses(&journal), [Status::Done]);
    assert_eq!(journal.steps[0].attempts, 2);
}

const CODE: &str = r#"
[[step]]
id = "send-code"
title = "Send the code"
actions = [{ note-mailbox = true }, { click = "Send code" }]

[[step]]
id = "enter-code"
title = "Enter the code"
actions = [
  { wait-for-code = "{email}", from = "no-reply@portal.example", into = "code", resend = "Resend code", refused = ["code you entered is incorrect"] },
  { fill = "Code", with = "{captured.code}" },
  { click = "Next" },
  { expect = "Signed in", unless = ["code you entered is incorrect"] },
]
"#;

/// The code page: `good` signs in, any other code is refused.
fn code_page(good: &str) -> FakePage {
    let form = |s: Screen| {
        s.field("Code")
            .click("Send code", "verify")
            .click("Resend code", "verify")
            .click_if("Next", "Code", good, "in")
            .click("Next", "wrong")
    };
    FakePage::new("verify")
        .at("verify")
        .screen("verify", form(Screen::new().text("Verify")))
        .screen(
            "wrong",
            form(Screen::new().text("The code you entered is incorrect.")),
        )
        .screen("in", Screen::new().text("Signed in"))
}

#[tokio::test]
async fn no_code_by_half_the_timeout_clicks_resend_once_and_waits_the_rest() {
    let flow = flow(CODE);
    let page = code_page("246810");
    let mailbox = FakeMailbox::new(page.log(), &[None, Some("246810")]);
    let (_dir, mut journal) = journal(&flow);
    engine(&flow, &page, Some(&mailbox), &mut journal, vars())
        .run_steps(&flow, 0..2)
        .await
        .unwrap();
    assert_eq!(
        *page.log().borrow(),
        [
            "mark",
            "click Send code",
            "wait 5s",
            "click Resend code",
            "wait 5s",
            "fill Code=246810",
            "click Next",
            "expect Signed in",
        ]
    );
    assert_eq!(statuses(&journal), vec![Status::Done; 2]);
    assert!(journal.steps[1].mailbox_wait_ms.is_some());
}

#[tokio::test]
async fn a_code_in_the_first_half_is_entered_without_a_resend() {
    let flow = flow(CODE);
    let page = code_page("135790");
    let mailbox = FakeMailbox::new(page.log(), &[Some("135790")]);
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, Some(&mailbox), &mut journal, vars());
    engine.run_steps(&flow, 0..2).await.unwrap();
    assert!(page.calls("click Resend code").is_empty());
    assert_eq!(page.calls("wait"), ["wait 5s"]);
    // Entered, so a secret from then on: never shown in a message.
    assert!(engine.vars.is_secret("captured.code"));
    assert_eq!(secrets::global().redact("code 135790"), "code [redacted]");
}

#[tokio::test]
async fn no_code_at_all_fails_the_step_with_exit_4() {
    let flow = flow(&CODE.replace(", resend = \"Resend code\"", ""));
    let page = code_page("135790");
    let mailbox = FakeMailbox::new(page.log(), &[None]);
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, Some(&mailbox), &mut journal, vars());
    let err = engine.run_steps(&flow, 0..2).await.unwrap_err();
    assert_eq!(exit_code(&err), 4);
    assert_eq!(page.calls("wait"), ["wait 10s"]);
    assert!(page.calls("fill").is_empty());
    assert_eq!(statuses(&journal), [Status::Done, Status::Failed]);
}

#[tokio::test]
async fn a_refused_code_waits_for_a_newer_one_and_enters_that() {
    let flow = flow(CODE);
    let page = code_page("222222");
    let mailbox = FakeMailbox::new(page.log(), &[Some("111111"), Some("222222")]);
    let (_dir, mut journal) = journal(&flow);
    engine(&flow, &page, Some(&mailbox), &mut journal, vars())
        .run_steps(&flow, 0..2)
        .await
        .unwrap();
    assert_eq!(page.calls("fill"), ["fill Code=111111", "fill Code=222222"]);
    // The refused code is never the answer again.
    assert_eq!(mailbox.used(), [vec![], vec!["111111".to_string()]]);
    assert_eq!(statuses(&journal), vec![Status::Done; 2]);
    assert_eq!(journal.steps[1].attempts, 1);
}

#[tokio::test]
async fn a_second_refused_code_fails_the_step() {
    let flow = flow(CODE);
    let page = code_page("222222");
    let mailbox = FakeMailbox::new(
        page.log(),
        &[Some("111111"), Some("333333"), Some("222222")],
    );
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, Some(&mailbox), &mut journal, vars());
    let err = engine.run_steps(&flow, 0..2).await.unwrap_err();
    assert_eq!(
        crate::error::page_said(&err).map(|s| s.text.as_str()),
        Some("The code you entered is incorrect.")
    );
    assert_eq!(page.calls("fill"), ["fill Code=111111", "fill Code=333333"]);
    assert_eq!(statuses(&journal), [Status::Done, Status::Failed]);
}

#[tokio::test]
async fn picks_choose_an_option_no_earlier_pick_of_the_step_took() {
    let flow = flow(
        r#"
[[step]]
id = "questions"
title = "Security questions"
actions = [
  { pick = "Question 1", prefer = "{generated.question1}", into = "question1" },
  { pick = "Question 2", prefer = "{generated.question2}", into = "question2" },
  { pick = "Question 3", prefer = "{generated.question3}", into = "question3" },
]

[[step]]
id = "again"
title = "A question on the next page"
actions = [{ pick = "Question 1", into = "later" }]
"#,
    );
    let options = ["City of birth?", "First pet?", "Favourite teacher?"];
    let page = FakePage::new("form").at("form").screen(
        "form",
        Screen::new()
            .list("Question 1", &options)
            .list("Question 2", &options)
            .list("Question 3", &options),
    );
    let (_dir, mut journal) = journal(&flow);
    let mut vars = vars();
    vars.set("generated.question1", "");
    vars.set("generated.question2", " ");
    vars.set("generated.question3", "Favourite teacher?");
    let mut engine = engine(&flow, &page, None, &mut journal, vars);
    engine.run_steps(&flow, 0..2).await.unwrap();
    let got = |name: &str| engine.vars.get(name).map(str::to_string);
    assert_eq!(got("captured.question1").as_deref(), Some("City of birth?"));
    assert_eq!(got("captured.question2").as_deref(), Some("First pet?"));
    assert_eq!(
        got("captured.question3").as_deref(),
        Some("Favourite teacher?")
    );
    // Another step's pick starts afresh.
    assert_eq!(got("captured.later").as_deref(), Some("City of birth?"));
    assert_eq!(journal.secret("captured.question2"), Some("First pet?"));
}

#[tokio::test]
async fn secrets_reach_no_file_of_the_run_but_its_secrets_file() {
    let flow = flow(
        r#"
[[step]]
id = "read-temporary"
title = "Read the temporary password"
actions = [{ capture = "Temporary Password", into = "temp_password", secret = true }]

[[step]]
id = "sign-in"
title = "Sign in with it"
actions = [
  { fill = "User ID", with = "{generated.user_id}" },
  { fill = "Password", with = "{captured.temp_password}" },
  { click = "Log In" },
  { expect = "Welcome" },
]
"#,
    );
    let secret = "Tmp-7Qx!vR2w";
    // The portal echoes the password it refuses.
    let page = FakePage::new("shown")
        .at("shown")
        .screen(
            "shown",
            Screen::new()
                .shows("Temporary Password", secret)
                .field("User ID")
                .field("Password")
                .click("Log In", "refused"),
        )
        .screen(
            "refused",
            Screen::new().refuses(
                Some("Password"),
                &format!("The password {secret} has expired"),
            ),
        );
    let (_dir, mut journal) = journal(&flow);
    let mut engine = engine(&flow, &page, None, &mut journal, vars());
    engine.trace = true;
    let err = engine.run_steps(&flow, 0..2).await.unwrap_err();
    assert!(format!("{err:#}").contains(secret), "the page said it");
    assert_eq!(
        page.secret_fills(),
        [
            ("User ID".to_string(), false),
            ("Password".to_string(), true)
        ]
    );
    assert!(journal.steps[1]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("The password [redacted] has expired")));
    let mut files = 0;
    for entry in walk(&journal.dir) {
        if entry.file_name().is_some_and(|n| n == "secrets.json") {
            assert!(std::fs::read_to_string(&entry).unwrap().contains(secret));
            continue;
        }
        files += 1;
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(
            !text.contains(secret),
            "{} holds the secret",
            entry.display()
        );
    }
    // journal.json, and a page and a log for each step.
    assert!(files >= 5, "{files} files");
    let log = std::fs::read_to_string(journal.dir.join("artifacts/sign-in/log.txt")).unwrap();
    assert!(
        log.contains("FAILED: ") && log.contains("[redacted]"),
        "{log}"
    );
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_required_control_that_is_missing_stops_the_run_with_its_named_outcome() {
    let flow = flow(&format!(
        r#"{SIGN_IN}
[[step]]
id = "open-users"
title = "Open user access"
actions = [
  {{ click = "Menu" }},
  {{ require = "Manage User Access", outcome = "not_access_manager" }},
  {{ click = "Manage User Access" }},
  {{ expect = "Users" }},
]
"#
    ));
    let menu = |manages: bool| {
        let screen = Screen::new().text("Menu open").click("Other", "home");
        if manages {
            screen.click("Manage User Access", "users")
        } else {
            screen
        }
    };
    for manages in [true, false] {
        let page = FakePage::new("login")
            .screen("login", login_screen("home"))
            .screen("home", Screen::new().text("Welcome").click("Menu", "menu"))
            .screen("menu", menu(manages))
            .screen("users", Screen::new().text("Users"));
        let (_dir, mut journal) = journal(&flow);
        let mut engine = engine(&flow, &page, None, &mut journal, vars());
        let result = engine.run_steps(&flow, 0..2).await;
        if manages {
            result.unwrap();
            continue;
        }
        let err = result.unwrap_err();
        assert_eq!(exit_code(&err), 6, "{err:#}");
        assert_eq!(
            crate::error::outcome(&err),
            Some(crate::flow::NOT_ACCESS_MANAGER)
        );
        // It stopped at the look: nothing after it was tried.
        assert!(!page
            .log()
            .borrow()
            .iter()
            .any(|l| l == "click Manage User Access"));
        assert_eq!(engine.failed_step, Some(1));
    }
}
