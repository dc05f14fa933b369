//! The existing-account flow against a misbehaving portal (fixture fault modes), on each
//! fixture skin: every run ends active, by itself or after `resume`, with exactly one user and
//! no duplicate.

use cigna_fixture::{Fault, Skin};

use crate::support::run::{Cli, Output};
use crate::support::world::{World, MAILBOX_PASSWORD, OFFICE_PASSWORD};

fn assert_one_active_user(world: &World, email: &str) {
    let users = world.users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["email"], email);
    assert_eq!(users[0]["status"], "active");
    assert_eq!(world.portal.state_json()["duplicate_creations"], 0);
}

fn run_id(out: &Output) -> String {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("run ")?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in:\n{}", out.stderr))
        .to_string()
}

on_each_skin!(error_pages_on_the_review_pages_are_reloaded_away);
async fn error_pages_on_the_review_pages_are_reloaded_away(skin: Skin) {
    let world = World::builder()
        .faults(vec![Fault::Flaky500])
        .skin(skin)
        .start()
        .await;
    let email = "flaky.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert!(
        out.stderr.contains("error page; reloading"),
        "{}",
        out.stderr
    );
    assert_eq!(world.portal.state_json()["server_errors"], 2);
    assert_one_active_user(&world, email);
}

on_each_skin!(an_expired_session_is_signed_in_again_and_the_run_goes_on);
async fn an_expired_session_is_signed_in_again_and_the_run_goes_on(skin: Skin) {
    let world = World::builder()
        .faults(vec![Fault::SessionExpire])
        .skin(skin)
        .start()
        .await;
    let email = "expire.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert!(out.stderr.contains("signing in again"), "{}", out.stderr);
    assert_eq!(world.portal.state_json()["sessions_expired"], 1);
    assert_one_active_user(&world, email);
}

on_each_skin!(a_dropped_code_email_is_resent_and_the_run_ends_active);
/// The first code email is lost: at half the code timeout the run clicks "Resend code" once,
/// and the resent code finishes it.
async fn a_dropped_code_email_is_resent_and_the_run_ends_active(skin: Skin) {
    let world = World::builder()
        .faults(vec![Fault::DropFirstEmail])
        .skin(skin)
        .start()
        .await;
    let email = "dropped.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .flag("--code-timeout", "8s")
        .run()
        .await;
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("no code email after 4.0s; clicking the button or link \"Resend code\" once"),
        "{}",
        out.stderr
    );
    assert_eq!(world.portal.state_json()["codes_sent"], 2);
    assert_one_active_user(&world, email);
}

on_each_skin!(a_refused_code_is_retried_with_a_newer_one);
/// The portal refuses the first code (superseded by a newer one): the run waits for the newer
/// email, enters that code, and ends active; the refused code is never entered again.
async fn a_refused_code_is_retried_with_a_newer_one(skin: Skin) {
    let world = World::builder()
        .faults(vec![Fault::StaleCode])
        .skin(skin)
        .start()
        .await;
    let email = "stale.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("the portal refused the code (\"The verification code you entered is incorrect. Please try again.\")"),
        "{}",
        out.stderr
    );
    assert_eq!(world.portal.state_json()["codes_superseded"], 1);
    assert_one_active_user(&world, email);
}

on_each_skin!(a_code_that_never_comes_stops_the_run_and_resume_finishes_it);
/// Both code emails lost (the resend's too): the run stops with exit 4 after the whole code
/// timeout, having resent once, and `resume` finishes it.
async fn a_code_that_never_comes_stops_the_run_and_resume_finishes_it(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    let email = "never.123456789@codes.zuub.test";
    // The spare mailbox never receives anything.
    let out = world
        .existing_with_mailbox(email, &world.dovecot.imaps_url("spare"))
        .flag("--code-timeout", "3s")
        .run()
        .await;
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("\"Resend code\" was clicked after 1.5s"),
        "{}",
        out.stderr
    );
    let id = run_id(&out);
    let out = Cli::new("resume")
        .arg(&id)
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--runs-dir", world.runs.path())
        .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .run()
        .await;
    out.assert_code(0);
    assert_one_active_user(&world, email);
}

on_each_skin!(a_late_code_email_is_waited_for);
async fn a_late_code_email_is_waited_for(skin: Skin) {
    let world = World::builder()
        .faults(vec![Fault::LateEmail])
        .skin(skin)
        .start()
        .await;
    let email = "late.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert_one_active_user(&world, email);
    // The code the run entered came by an email the fault held back.
    let state = world.portal.state_json();
    assert!(state["emails_held"].as_u64() >= Some(1), "{state}");
}

on_each_skin!(a_slow_portal_is_waited_for_quietly);
async fn a_slow_portal_is_waited_for_quietly(skin: Skin) {
    let world = World::builder()
        .faults(vec![Fault::Slow])
        .skin(skin)
        .start()
        .await;
    let email = "slow.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .arg("--quiet")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    // --quiet: nothing on stderr for a run that went well; the credentials still on stdout.
    assert_eq!(out.stderr, "", "--quiet printed");
    assert_eq!(out.json()["status"], "active");
    assert_one_active_user(&world, email);
    // The flow's pages came late: the fault held them (a login, the menus, the forms: 10 or more).
    let state = world.portal.state_json();
    assert!(state["pages_slowed"].as_u64() >= Some(10), "{state}");
}
