//! `mail check` and `mail wait-code` against a real Dovecot.

use crate::support::dovecot::{rfc2822_now as now, DovecotMailbox as _};
use crate::support::run::Cli;
use crate::support::world::{World, MAILBOX_PASSWORD};

fn code_email(to: &str, code: &str, date: &str) -> String {
    format!(
        "From: Cigna for HCP <no-reply@cignaforhcp.cigna.com>\r\nTo: {to}\r\n\
         Subject: Your Cigna for HCP verification code\r\nDate: {date}\r\n\
         Message-ID: <{code}.{to}@test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your verification code is {code}. It expires in 24 hours.\r\n"
    )
}

async fn append(world: &World, raw: String) {
    append_to(world, "INBOX", raw).await
}

async fn append_to(world: &World, folder: &str, raw: String) {
    let mut mb = world.dovecot.mailbox("codes");
    mb.url.mailbox = folder.to_string();
    tokio::task::spawn_blocking(move || cigna_setup::mail::append(&mb, raw.as_bytes()))
        .await
        .unwrap()
        .unwrap();
}

fn mail(world: &World, sub: &str) -> Cli {
    Cli::new("mail")
        .arg(sub)
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--imap-ca", world.dovecot.ca_file())
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_check_reports_folders_idle_and_the_portals_messages() {
    let world = World::start(None).await;
    append(&world, code_email("a@codes.zuub.test", "123456", &now())).await;
    append(&world, code_email("b@codes.zuub.test", "654321", &now())).await;
    let out = mail(&world, "check").arg("--json").run().await;
    out.assert_code(0);
    let report = out.json();
    assert!(
        report["folders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "INBOX"),
        "{report}"
    );
    assert_eq!(report["idle"], true);
    assert_eq!(report["messages"], 2);
    assert_eq!(report["from_portal"], 2);
    assert!(!out.stdout.contains(MAILBOX_PASSWORD) && !out.stderr.contains(MAILBOX_PASSWORD));

    let out = mail(&world, "check").run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("IDLE: offered"), "{}", out.stdout);
    // The sender is the built-in flow's unless --from names another; a quote could end the
    // SEARCH's quoted string, so it is refused.
    let out = mail(&world, "check")
        .flag("--from", "alerts@other-portal.example")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(out.json()["from_portal"], 0);
    let out = mail(&world, "check")
        .flag("--from", "x\" OR ALL \"@a.example")
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("--from"), "{}", out.stderr);

    let wrong = Cli::new("mail")
        .arg("check")
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--imap-ca", world.dovecot.ca_file())
        .env("CIGNA_IMAP_PASSWORD", "not-the-password")
        .run()
        .await;
    wrong.assert_code(5);
    assert!(
        !wrong.stderr.contains("not-the-password"),
        "{}",
        wrong.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_wait_code_prints_the_newest_code_for_the_address() {
    let world = World::start(None).await;
    let to = "waiter@codes.zuub.test";
    append(&world, code_email(to, "111111", &now())).await;
    append(
        &world,
        code_email("other@codes.zuub.test", "222222", &now()),
    )
    .await;
    append(&world, code_email(to, "333333", &now())).await;
    let out = mail(&world, "wait-code")
        .flag("--to", to)
        .flag("--timeout", "5s")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let found = out.json();
    assert_eq!(found["code"], "333333");
    assert_eq!(found["subject"], "Your Cigna for HCP verification code");
    assert!(found["uid"].as_u64().is_some_and(|u| u >= 3), "{found}");

    // Nothing for this address: exit 4, saying what was seen.
    let out = mail(&world, "wait-code")
        .flag("--to", "nobody@codes.zuub.test")
        .flag("--timeout", "2s")
        .run()
        .await;
    out.assert_code(4);
    let out = mail(&world, "wait-code")
        .flag("--to", to)
        .flag("--after", "yesterday")
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("--after"), "{}", out.stderr);
}

/// Codes filed into another folder by the office's mail rules: `--imap-mailbox` (repeatable)
/// watches it, over AUTHENTICATE PLAIN (`--imap-auth plain`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_wait_code_watches_the_folders_given() {
    let world = World::start(None).await;
    let to = "filed@codes.zuub.test";
    append_to(&world, "Cigna", code_email(to, "464646", &now())).await;
    append(
        &world,
        code_email("other@codes.zuub.test", "222222", &now()),
    )
    .await;
    let out = mail(&world, "wait-code")
        .flag("--to", to)
        .flag("--imap-mailbox", "INBOX")
        .flag("--imap-mailbox", "Cigna")
        .flag("--imap-auth", "plain")
        .flag("--timeout", "5s")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let found = out.json();
    assert_eq!(
        (found["code"].as_str(), found["folder"].as_str()),
        (Some("464646"), Some("Cigna"))
    );

    // INBOX alone does not have it.
    let out = mail(&world, "wait-code")
        .flag("--to", to)
        .flag("--timeout", "1s")
        .run()
        .await;
    out.assert_code(4);
}
