//! The existing-account flow end to end: the binary drives real headless Chromium through the
//! fixture portal and reads the code from a real Dovecot.

use std::os::unix::fs::PermissionsExt;

use cigna_fixture::Skin;
use serde_json::Value;

use crate::support::dovecot::DovecotMailbox as _;
use crate::support::run::{processes_mentioning, Cli, Output};
use crate::support::world::{World, MAILBOX_PASSWORD, OFFICE_PASSWORD, TIN};

fn assert_no_secret(out: &Output, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !out.stderr.contains(s),
            "stderr shows a secret value:\n{}",
            out.stderr
        );
    }
}

on_each_skin!(existing_flow_creates_one_active_user_with_the_tin_and_default_entitlements);
async fn existing_flow_creates_one_active_user_with_the_tin_and_default_entitlements(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    let out_file = world.runs.path().join("creds.json");
    let email = "cigna.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .path_flag("--out", &out_file)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let creds = out.json();

    assert_eq!(creds["flow"], "existing");
    assert_eq!(creds["status"], "active");
    assert_eq!(creds["tin"], TIN);
    assert_eq!(creds["email"], email);
    let user_id = creds["user_id"].as_str().unwrap();
    let password = creds["password"].as_str().unwrap();
    assert!(user_id.len() >= 6 && password.len() >= 8, "{creds}");
    // Three different questions, each one the portal's page offered.
    let mut questions: Vec<&str> = creds["security_questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["question"].as_str().unwrap())
        .collect();
    assert!(
        questions
            .iter()
            .all(|q| cigna_fixture::rules::SECURITY_QUESTIONS.contains(q)),
        "{questions:?}"
    );
    questions.sort();
    questions.dedup();
    assert_eq!(questions.len(), 3, "{creds}");
    assert!(creds["run_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(creds["finished_at"]
        .as_str()
        .is_some_and(|r| r.ends_with('Z')));

    let saved: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(saved, creds, "--out holds what stdout printed");
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "--out must be created 0600");

    // One progress line per step, with its duration.
    for step in [
        "office-login",
        "assign-by-tin",
        "enter-verification-code",
        "accept-agreement",
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(step) && l.contains(" ok ")),
            "no progress line for {step}:\n{}",
            out.stderr
        );
    }
    assert_no_secret(&out, &[OFFICE_PASSWORD, MAILBOX_PASSWORD, password]);
    assert!(
        out.stderr.contains("; no settings file"),
        "the first progress line says which settings file was read:\n{}",
        out.stderr
    );

    // Finished for good: the browser profile, with the portal's session cookie, is gone; the
    // run's directory is private.
    let run = world.only_run_dir(&out);
    assert!(
        !run.join("browser").exists(),
        "the profile of a finished run is kept"
    );
    let mode = std::fs::metadata(&run).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", run.display());

    let users = world.users();
    assert_eq!(users.len(), 1, "exactly one user: {users:?}");
    let user = &users[0];
    assert_eq!(user["email"], email);
    assert_eq!(user["tins"], serde_json::json!([TIN]));
    assert_eq!(user["status"], "active");
    assert_eq!(user["user_id"], user_id);
    let mut ents: Vec<&str> = user["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ents.sort();
    assert_eq!(
        ents,
        [
            "Claim Status",
            "Fee Schedules",
            "Patient Eligibility & Benefits",
            "Precertification",
            "Remittance Reports"
        ]
    );
    let state = world.portal.state_json();
    assert_eq!(state["duplicate_creations"], 0);
    assert_eq!(state["codes_sent"], 1);

    // The run directory keeps the journal (no secrets) and the secrets file (0600).
    let run_dir = world.runs.path().join(creds["run_id"].as_str().unwrap());
    let journal = std::fs::read_to_string(run_dir.join("journal.json")).unwrap();
    assert!(journal.contains("\"status\": \"done\""), "{journal}");
    assert!(!journal.contains(password) && !journal.contains(OFFICE_PASSWORD));
    let secrets_mode = std::fs::metadata(run_dir.join("secrets.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(secrets_mode, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_code_is_used_among_decoys_already_in_the_mailbox() {
    let world = World::start(None).await;
    let email = "decoys.123456789@codes.zuub.test";
    // Codes the tool must not take: one for the same address that came before the click, and
    // one for another address. Both dated now, so that only the mailbox mark and the
    // recipient tell them from the real one (an old date would let the 24-hour rule alone
    // reject them). The portal adds its own decoys on every send as well.
    let mailbox = world.dovecot.mailbox("codes");
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    for (to, code) in [
        (email, "111111"),
        ("other.office@codes.zuub.test", "222222"),
    ] {
        let raw = format!(
            "From: Cigna for HCP <no-reply@cignaforhcp.cigna.com>\r\nTo: {to}\r\n\
             Subject: Your Cigna for HCP verification code\r\n\
             Date: {now}\r\nMessage-ID: <{code}@decoy>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Your verification code is {code}. It expires in 24 hours.\r\n"
        );
        let mb = mailbox.clone();
        tokio::task::spawn_blocking(move || cigna_setup::mail::append(&mb, raw.as_bytes()))
            .await
            .unwrap()
            .unwrap();
    }
    let out = world.existing(email).arg("--json").run().await;
    out.assert_code(0);
    // The portal only activates a user whose latest code was entered, and no decoy was ever
    // tried first (a refused code would be retried with a newer one, hiding the mistake).
    let users = world.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["status"], "active");
    assert_eq!(world.portal.state_json()["codes_refused"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_that_matches_nothing_fails_the_step_naming_step_and_locator() {
    let world = World::start(None).await;
    let flow = cigna_setup::flow::BUILTIN[0]
        .1
        .replace("{ fill = \"First name\"", "{ fill = \"Given name\"");
    assert!(flow.contains("Given name"));
    let flow_file = world.runs.path().join("renamed.toml");
    std::fs::write(&flow_file, flow).unwrap();
    let out = world
        .existing("label.123456789@codes.zuub.test")
        .path_flag("--flow", &flow_file)
        .flag("--action-timeout", "2s")
        .run()
        .await;
    out.assert_code(3);
    assert!(out.stderr.contains("fill-user-info"), "{}", out.stderr);
    assert!(out.stderr.contains("Given name"), "{}", out.stderr);
    // What it did see, so a support engineer can fix the flow.
    assert!(out.stderr.contains("First name"), "{}", out.stderr);
    assert!(world.users().is_empty());
}

#[tokio::test]
async fn a_tin_of_eight_digits_is_refused_before_anything_runs() {
    let out = Cli::new("existing")
        .flag("--tin", "12345678")
        .flag("--email", "a@codes.zuub.test")
        .flag("--phone", "5551234567")
        .flag("--office-user", "office.manager")
        .flag("--imap-url", "imaps://codes@127.0.0.1:1/INBOX")
        .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("--tin"), "{}", out.stderr);
    assert!(out.stderr.contains("9 digits"), "{}", out.stderr);
}

#[tokio::test]
async fn a_missing_office_password_says_how_to_give_it() {
    let out = Cli::new("existing")
        .flag("--tin", TIN)
        .flag("--email", "a@codes.zuub.test")
        .flag("--phone", "5551234567")
        .flag("--office-user", "office.manager")
        .flag("--imap-url", "imaps://codes@127.0.0.1:1/INBOX")
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .run()
        .await;
    out.assert_code(2);
    assert!(
        out.stderr.contains("CIGNA_OFFICE_PASSWORD"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--office-password-file"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_mailbox_is_an_environment_error_before_the_portal_is_touched() {
    let world = World::start(None).await;
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = world
        .existing_with_mailbox(
            "nomail.123456789@codes.zuub.test",
            &format!("imaps://codes@127.0.0.1:{port}/INBOX"),
        )
        .run()
        .await;
    out.assert_code(5);
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(MAILBOX_PASSWORD));
    assert!(
        world.users().is_empty(),
        "nothing was created on the portal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_flow_exits_130_closes_the_browser_and_keeps_the_run() {
    stopped_mid_flow("INT", 130).await;
}

/// What `kill PID`, `timeout`, systemd and a CI cancel send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_flow_exits_143_closes_the_browser_and_keeps_the_run() {
    stopped_mid_flow("TERM", 143).await;
}

/// What a closing terminal sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_mid_flow_exits_129_closes_the_browser_and_keeps_the_run() {
    stopped_mid_flow("HUP", 129).await;
}

/// Sends `signal` to a run inside the portal: it exits with `code`, saying it was interrupted,
/// with no browser left and the run kept.
async fn stopped_mid_flow(signal: &str, code: i32) {
    let world = World::start(None).await;
    let child = world.existing("ctrlc.123456789@codes.zuub.test").spawn();
    let pid = child.id().unwrap();
    // Interrupt once the flow is inside the portal: a step after the login has started.
    let journal = world
        .journal_once_running(&["open-add-user", "fill-user-info"])
        .await;
    // The browser's profile lives in the run, so its processes can be recognised.
    let profile = journal.parent().unwrap().join("browser");
    let runs_path = profile.to_string_lossy().to_string();
    assert!(
        !processes_mentioning(&runs_path).is_empty(),
        "the browser should be running with its profile in the run"
    );
    std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        processes_mentioning(&runs_path).is_empty(),
        "the browser outlived the run: {:?}",
        processes_mentioning(&runs_path)
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\"status\": \"failed\""), "{text}");
    assert!(journal.parent().unwrap().join("secrets.json").exists());
}

on_each_skin!(an_office_code_given_on_stdin_lets_the_run_finish);
/// The office's own sign-in asks to verify its identity: the code goes to the office, and the
/// person running the tool gives it on stdin (`--office-code-stdin`). The run ends active.
async fn an_office_code_given_on_stdin_lets_the_run_finish(skin: Skin) {
    use tokio::io::AsyncWriteExt;

    let world = World::builder().office_2fa().skin(skin).start().await;
    let email = "office2fa.123456789@codes.zuub.test";
    let mut child = world
        .existing(email)
        .arg("--office-code-stdin")
        .spawn_with_stdin();
    // The office reads its email: the code shows up once the portal sent it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let code = loop {
        if let Some(code) = world.portal.state_json()["office_code"].as_str() {
            break code.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the portal never sent the office a code"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{code}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("office-verification ok"), "{stderr}");
    assert!(
        !stderr.contains(&code),
        "the office's code is shown:\n{stderr}"
    );
    assert_eq!(world.portal.state_json()["office_codes_sent"], 1);
    let users = world.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["status"], "active");
}

/// Without a terminal and without --office-code-file/--office-code-stdin, a portal asking for
/// the office's code stops the run with exit 4 and says how to give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_code_with_no_way_to_ask_stops_saying_how() {
    let world = World::start_with_office_2fa().await;
    let out = world
        .existing("office2fa.123456789@codes.zuub.test")
        .run()
        .await;
    out.assert_code(4);
    for part in [
        "office-verification FAILED",
        "--office-code-file FILE",
        "--office-code-stdin",
    ] {
        assert!(
            out.stderr.contains(part),
            "{part:?} not in:\n{}",
            out.stderr
        );
    }
    assert!(world.users().is_empty(), "nothing was created");
}

on_each_skin!(no_secret_leaks_into_logs_journal_or_artifacts);
/// Every secret the run knows (the office's and the mailbox's passwords, the new login's
/// password, the temporary password, the verification code) stays out of stderr with `-vv`
/// and JSON logs, out of the journal, report and artifacts; the files holding them are 0600.
async fn no_secret_leaks_into_logs_journal_or_artifacts(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    let email = "secrets.123456789@codes.zuub.test";
    let user_password = "Zq7#mLp2vR9x";
    let out_file = world.runs.path().join("creds.json");
    let answers_file = world.runs.path().join("answers.txt");
    std::fs::write(
        &answers_file,
        "What street did you grow up on? = Maple Answer 4471\n\
         In what city were you born? = Answer Town 8813\n\
         What is your favorite food? = Answer Pie 5520\n",
    )
    .unwrap();
    std::fs::set_permissions(&answers_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = world
        .existing(email)
        .env("CIGNA_USER_PASSWORD", user_password)
        .path_flag("--security-answers-file", &answers_file)
        .arg("-vv")
        // Everything RUST_LOG can ask for: the browser protocol's lines stay capped anyway
        // (they would show the temporary password before it is known as a secret).
        .env(
            "RUST_LOG",
            "trace,chromiumoxide::conn=trace,tungstenite=trace",
        )
        .flag("--log-format", "json")
        .arg("--trace")
        .path_flag("--out", &out_file)
        .run()
        .await;
    out.assert_code(0);
    for line in out.stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
    }

    let run_dir = std::fs::read_dir(world.runs.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the run's directory");
    let secrets_file = run_dir.join("secrets.json");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&secrets_file).unwrap()).unwrap();
    let temp_password = saved["captured.temp_password"]
        .as_str()
        .unwrap_or_else(|| panic!("no temporary password in {saved}"))
        .to_string();
    let code = Cli::new("mail")
        .arg("wait-code")
        .flag("--to", email)
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--imap-ca", world.dovecot.ca_file())
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .arg("--json")
        .run()
        .await;
    code.assert_code(0);
    let code = code.json()["code"].as_str().unwrap().to_string();

    let creds: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(
        creds["security_questions"][1],
        serde_json::json!({"question": "In what city were you born?", "answer": "Answer Town 8813"})
    );
    let secrets = [
        OFFICE_PASSWORD,
        MAILBOX_PASSWORD,
        user_password,
        temp_password.as_str(),
        code.as_str(),
        "Maple Answer 4471",
        "Answer Town 8813",
        "Answer Pie 5520",
    ];
    for s in secrets {
        assert!(
            !out.stderr.contains(s),
            "stderr shows {s:?}:\n{}",
            out.stderr
        );
    }
    let mut checked = 0;
    let mut stack = vec![run_dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "browser") {
                    continue; // Chromium's own profile.
                }
                stack.push(path);
                continue;
            }
            if path == secrets_file || path == run_dir.join("credentials.json") {
                continue; // The files that hold secrets on purpose (0600, checked below).
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for s in secrets {
                assert!(!text.contains(s), "{} holds {s:?}", path.display());
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "journal, report and every step's artifacts: {checked} files"
    );
    for file in [&secrets_file, &run_dir.join("credentials.json"), &out_file] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

on_each_skin!(an_office_with_forty_tins_gives_the_user_exactly_its_one);
/// Dental service organizations have dozens of TINs: all listed, some ticked by the portal,
/// and exactly the run's one must end up ticked.
async fn an_office_with_forty_tins_gives_the_user_exactly_its_one(skin: Skin) {
    let mut tins: Vec<String> = (0..39)
        .map(|i| format!("{:09}", 500_000_000 + i * 1_234_567))
        .collect();
    // Beside it, one that shares all but its last digit.
    tins[7] = "123456780".into();
    tins.insert(23, TIN.into());
    let world = World::builder().office_tins(tins).skin(skin).start().await;
    let email = "forty.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    let users = world.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["tins"], serde_json::json!([TIN]));
    assert_eq!(users[0]["status"], "active");
}

on_each_skin!(a_rerun_for_an_email_already_added_stops_without_adding_it_twice);
/// The duplicate guard reads the users table only once it has settled (on the material skin
/// its rows arrive by script after the header, marked busy): a second run for the same email,
/// which does not hold the first run's temporary credentials, stops and adds nobody.
async fn a_rerun_for_an_email_already_added_stops_without_adding_it_twice(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    let email = "twice.123456789@codes.zuub.test";
    world.existing(email).run().await.assert_code(0);
    let out = world.existing(email).run().await;
    out.assert_code(3);
    assert!(
        out.stderr.contains("is already in the portal"),
        "{}",
        out.stderr
    );
    assert_eq!(world.users().len(), 1);
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);
}

on_each_skin!(the_duplicate_guard_reads_every_page_of_the_users_table);
/// Twelve users (the office manager and eleven added): on the material skin the table shows
/// ten a page, so the one this run asks for is on page 2, and a page-1 look would add it twice.
async fn the_duplicate_guard_reads_every_page_of_the_users_table(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    // Added over HTTP, as the portal's forms post them: the pages' look does not matter here.
    let mut portal = crate::support::portal::Client::new(world.portal.url());
    let moved = |r: &crate::support::portal::HttpResponse, to: &str| {
        assert_eq!(r.status, 303, "expected a redirect to {to}: {}", r.body);
    };
    portal.get("/").await;
    let r = portal
        .post(
            "/login",
            &[("userId", "office.manager"), ("password", OFFICE_PASSWORD)],
        )
        .await;
    moved(&r, "/home");
    for i in 0..11 {
        let email = format!("paged{i:02}.123456789@codes.zuub.test");
        let steps: [(&str, Vec<(&str, &str)>); 4] = [
            (
                "/access/users/new",
                vec![
                    ("firstName", "Insurance"),
                    ("lastName", "Admin"),
                    ("jobRole", "Administration support"),
                    ("phone", "(555) 123-4567"),
                    ("email", &email),
                ],
            ),
            (
                "/access/users/new/access",
                vec![("access", "individual"), ("tin", TIN)],
            ),
            (
                "/access/users/new/entitlements",
                vec![("entitlement", "Claim Status")],
            ),
            ("/access/users/new/review", vec![]),
        ];
        for (path, fields) in steps {
            portal.get(path).await;
            let r = portal.post(path, &fields).await;
            moved(&r, path);
        }
    }
    assert_eq!(world.users().len(), 11);
    let out = world
        .existing("paged10.123456789@codes.zuub.test")
        .run()
        .await;
    out.assert_code(3);
    assert!(
        out.stderr.contains("is already in the portal"),
        "{}",
        out.stderr
    );
    assert_eq!(world.users().len(), 11);
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);
}

/// Chromium itself, the fallback where the headless shell is not installed, runs the whole flow
/// too (the other tests run whichever browser the tool prefers, or `CIGNA_BROWSER`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_runs_on_chromium_as_well_as_on_the_headless_shell() {
    let chromium = crate::support::browser::chromium_on_path();
    let world = World::start(None).await;
    let email = "fallback.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .path_flag("--browser", &chromium)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(out.json()["status"], "active");
    let users = world.users();
    assert_eq!(users.len(), 1, "exactly one user: {users:?}");
    assert_eq!(users[0]["email"], email);
}

/// A portal whose office login is a standard user: no Manage User Access in its menu.
async fn standard_office(skin: Skin) -> World {
    World::builder()
        .skin(skin)
        .office_role(cigna_fixture::OfficeRole::Standard)
        .start()
        .await
}

on_each_skin!(an_office_login_that_cannot_add_users_stops_with_the_register_command);
/// The guide's note: "Only Access Managers can add new users." A standard office login's menu
/// has no Manage User Access: the run stops at once with exit 6 and the registration to run
/// instead, having created nothing.
async fn an_office_login_that_cannot_add_users_stops_with_the_register_command(skin: Skin) {
    let world = standard_office(skin).await;
    let email = "standard.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(6);
    let said = out.stderr.as_str();
    assert!(
        said.contains("is not a website access manager of this organization"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "cigna-setup register --tin {TIN} --email {email} --phone 5551234567 \
             --portal-url {}",
            world.portal.url()
        )),
        "{said}"
    );
    assert!(said.contains("contact Cigna Support"), "{said}");
    // How long it took is said, not asserted: a look once the menu settled, not a timeout.
    let took = said
        .split("seen after ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("the time it took");
    eprintln!("not an access manager: seen after {took}");
    assert!(world.users().is_empty(), "nothing was created");
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);

    let listed = world.runs_listed().await;
    assert_eq!(listed[0]["status"], "not_access_manager", "{listed}");
    // Resumed, it says so again (exit 6), and stays what it is.
    let run_id = listed[0]["run_id"].as_str().unwrap().to_string();
    let again = Cli::new("resume")
        .arg(&run_id)
        .path_flag("--runs-dir", world.runs.path())
        .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .run()
        .await;
    again.assert_code(6);
    assert!(
        again.stderr.contains("register a new account instead"),
        "{}",
        again.stderr
    );
    let listed = world.runs_listed().await;
    assert_eq!(listed[0]["status"], "not_access_manager", "{listed}");
    assert!(
        listed[0]["next"]
            .as_str()
            .is_some_and(|n| n.starts_with("cigna-setup register --tin")),
        "{listed}"
    );
}

on_each_skin!(or_register_turns_a_login_that_cannot_add_users_into_a_registration);
/// `--or-register`: the same run goes on with a new registration for the TIN, email and phone,
/// ends pending approval, and `activate` finishes it like any registration.
async fn or_register_turns_a_login_that_cannot_add_users_into_a_registration(skin: Skin) {
    let world = standard_office(skin).await;
    let email = "instead.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .arg("--or-register")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let pending = out.json();
    assert_eq!(pending["status"], "pending_approval", "{pending}");
    assert_eq!(pending["flow"], "register", "{pending}");
    let run_id = pending["run_id"].as_str().unwrap().to_string();
    assert!(
        out.stderr.contains("registering a new account instead"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("cigna-setup activate {run_id}")),
        "{}",
        out.stderr
    );
    assert!(world.users().is_empty(), "no user was added");
    let registrations = world.registrations();
    assert_eq!(registrations.len(), 1, "{registrations:?}");
    assert_eq!(registrations[0]["email"], email);
    // Both flows, and the one that finishes it, are kept in the run.
    let dir = world.runs.path().join(&run_id);
    for kept in ["existing", "register", "activate"] {
        assert!(dir.join(format!("{kept}.flow.toml")).is_file(), "{kept}");
    }

    let out = world.approve_and_activate(&pending).await;
    out.assert_code(0);
    assert_eq!(out.json()["status"], "active");
    let listed = world.runs_listed().await;
    assert_eq!(listed[0]["flow"], "register", "{listed}");
    assert_eq!(listed[0]["status"], "active", "{listed}");
}

/// A run that became a registration (`--or-register`) and stopped in it goes on, on `resume`,
/// with the registration's first unfinished step, not the existing-account flow's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_became_a_registration_resumes_as_one() {
    let world = World::builder()
        .office_role(cigna_fixture::OfficeRole::Standard)
        .faults(vec![cigna_fixture::Fault::Flaky500])
        .start()
        .await;
    let email = "resumed.123456789@codes.zuub.test";
    // The registration's review page answers 500 once; with no retries the run stops there.
    let out = world
        .existing(email)
        .arg("--or-register")
        .flag("--retries", "0")
        .run()
        .await;
    out.assert_code(3);
    assert!(
        out.stderr.contains("registering a new account instead")
            && out.stderr.contains("error page"),
        "{}",
        out.stderr
    );
    let run = world.only_run_dir(&out);
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    let out = Cli::new("resume")
        .arg(&run_id)
        .path_flag("--runs-dir", world.runs.path())
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert!(
        !out.stderr.contains("office-login"),
        "the office's steps are not run again:\n{}",
        out.stderr
    );
    let resumed = out.json();
    assert_eq!(resumed["status"], "pending_approval", "{resumed}");
    assert_eq!(resumed["flow"], "register");
    assert_eq!(world.registrations().len(), 1);
    assert!(world.users().is_empty());
}
