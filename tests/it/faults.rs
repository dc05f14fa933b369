//! The existing-account flow against a misbehaving portal (fixture fault modes): every run
//! ends active, by itself or after `resume`, with exactly one user and no duplicate.

use cigna_setup::fixture::Fault;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_on_the_review_pages_are_reloaded_away() {
    let world = World::start_with_faults(vec![Fault::Flaky500]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_signed_in_again_and_the_run_goes_on() {
    let world = World::start_with_faults(vec![Fault::SessionExpire]).await;
    let email = "expire.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert!(out.stderr.contains("signing in again"), "{}", out.stderr);
    assert_eq!(world.portal.state_json()["sessions_expired"], 1);
    assert_one_active_user(&world, email);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_code_email_is_recovered_by_resume() {
    let world = World::start_with_faults(vec![Fault::DropFirstEmail]).await;
    let email = "dropped.123456789@codes.zuub.test";
    let out = world
        .existing(email)
        .flag("--code-timeout", "3s")
        .run()
        .await;
    out.assert_code(4);
    let id = run_id(&out);
    let out = Cli::new("resume")
        .arg(&id)
        .path_flag("--runs-dir", world.runs.path())
        .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .run()
        .await;
    out.assert_code(0);
    assert_one_active_user(&world, email);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_code_email_is_waited_for() {
    let world = World::start_with_faults(vec![Fault::LateEmail]).await;
    let email = "late.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert_one_active_user(&world, email);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_portal_is_waited_for() {
    let world = World::start_with_faults(vec![Fault::Slow]).await;
    let email = "slow.123456789@codes.zuub.test";
    let out = world.existing(email).run().await;
    out.assert_code(0);
    assert_one_active_user(&world, email);
}
