//! Mailboxes that take OAuth2 access tokens only, as Microsoft 365 and Google Workspace do: a
//! real Dovecot with an `oauth2` passdb asks an introspection endpoint served here whether a
//! token is active; the tool signs in with XOAUTH2 or OAUTHBEARER, refreshes an expired token
//! from its file or program, and says what the server said when it refuses one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::run::{files_under, Cli, Output};
use crate::support::world::{World, MAILBOX_PASSWORD};

/// A token nobody else hands out, so a leak check cannot be fooled by a common string.
fn token(name: &str) -> String {
    format!("ya29.{name}-{:016x}", rand::random::<u64>())
}

/// A file only this user may read, holding `text`.
fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

async fn token_world() -> World {
    World::builder()
        .skin(cigna_fixture::Skin::Classic)
        .oauth2()
        .start()
        .await
}

fn introspection(world: &World) -> &crate::support::oauth2::Introspection {
    world.introspection.as_ref().expect("an oauth2 world")
}

/// No output, journal, report or artifact of the run holds any of `tokens`.
fn assert_never_shown(world: &World, out: &Output, tokens: &[&str]) {
    for token in tokens {
        assert!(
            !out.stdout.contains(token),
            "stdout shows a token:\n{}",
            out.stdout
        );
        assert!(
            !out.stderr.contains(token),
            "stderr shows a token:\n{}",
            out.stderr
        );
        for entry in files_under(world.runs.path(), &[]) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(token),
                "{} holds a token",
                entry.display()
            );
        }
    }
}

/// The existing flow, its mailbox signing in by `auth`; no password anywhere.
fn existing(world: &World, email: &str, auth: &str) -> Cli {
    world
        .existing(email)
        .env("CIGNA_IMAP_PASSWORD", "")
        .flag("--imap-auth", auth)
}

/// The run ended with an active login, its mailbox signed in with `token`, shown nowhere.
fn assert_active_with(world: &World, out: &Output, token: &str) {
    out.assert_code(0);
    let creds = out.json();
    assert_eq!(creds["status"], "active", "{creds}");
    assert!(introspection(world).asked().iter().any(|t| t == token));
    assert_never_shown(world, out, &[token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_existing_flow_reads_its_code_with_xoauth2_and_a_token_from_the_environment() {
    let world = token_world().await;
    let good = token("env");
    introspection(&world).activate(&good, "codes");
    let out = existing(&world, "cigna.x1@codes.zuub.test", "xoauth2")
        .env("CIGNA_IMAP_TOKEN", &good)
        .arg("--json")
        .run()
        .await;
    assert_active_with(&world, &out, &good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_existing_flow_reads_its_code_with_oauthbearer_and_a_token_file() {
    let world = token_world().await;
    let good = token("file");
    introspection(&world).activate(&good, "codes");
    let dir = tempfile::tempdir().unwrap();
    let file = private_file(dir.path(), "token", &format!("{good}\n"));
    let out = existing(&world, "cigna.x2@codes.zuub.test", "oauthbearer")
        .path_flag("--imap-token-file", &file)
        .arg("--json")
        .run()
        .await;
    assert_active_with(&world, &out, &good);
}

/// A world whose portal's code email comes late, so a test can act while the tool waits.
async fn late_email_token_world() -> World {
    World::builder()
        .skin(cigna_fixture::Skin::Classic)
        .oauth2()
        .faults(vec![cigna_fixture::Fault::LateEmail])
        .start()
        .await
}

/// Runs `cli` until it waits for the code, then `meanwhile`, then cuts the mailbox's sessions
/// off (`doveadm kick`) as a server does to a revoked token; what the run printed in the end.
async fn kicked_while_waiting(world: &World, cli: Cli, meanwhile: impl FnOnce()) -> Output {
    let run = cli.spawn();
    world
        .journal_once_running(&["enter-verification-code"])
        .await;
    meanwhile();
    let kicker = world.dovecot.kicker();
    tokio::task::spawn_blocking(move || kicker.kick("codes"))
        .await
        .unwrap()
        .expect("doveadm kick");
    run.wait_with_output().await.unwrap().into()
}

/// The token expires while the tool waits for the code (the portal's email is late) and the
/// server cuts the session off (`doveadm kick`); the token command, run again on reconnecting,
/// gives a fresh token and the flow finishes. The command and its argument come from the
/// settings file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_replaced_by_running_the_token_command_again_on_reconnect() {
    let world = late_email_token_world().await;
    let (first, fresh) = (token("first"), token("fresh"));
    introspection(&world).activate(&first, "codes");
    let dir = tempfile::tempdir().unwrap();
    let current = private_file(dir.path(), "current", &first);
    let settings = dir.path().join("cigna-setup.toml");
    std::fs::write(
        &settings,
        format!(
            "imap-auth = \"xoauth2\"\nimap-token-command = [\"/bin/cat\", \"{}\"]\n",
            current.display()
        ),
    )
    .unwrap();

    let cli = world
        .existing("cigna.x3@codes.zuub.test")
        .env("CIGNA_IMAP_PASSWORD", "")
        .path_flag("--config", &settings)
        .arg("--json")
        .arg("-vv")
        .env("RUST_LOG", "trace")
        .arg("--trace");
    let mut asked_before_kick = Vec::new();
    let out = kicked_while_waiting(&world, cli, || {
        asked_before_kick = introspection(&world).asked();
        introspection(&world).deactivate(&first);
        introspection(&world).activate(&fresh, "codes");
        std::fs::write(&current, &fresh).unwrap();
    })
    .await;
    assert_active_with(&world, &out, &fresh);
    assert_eq!(
        asked_before_kick.last(),
        Some(&first),
        "the tool signed in with the first token"
    );
    // The command ran again on reconnecting: the first login after the kick already had the
    // fresh token (not the old one, refused, then a fresh one).
    let asked = introspection(&world).asked();
    assert_eq!(
        asked[asked_before_kick.len()..].first(),
        Some(&fresh),
        "after the kick, the fresh token first: {asked:?}\n{}",
        out.stderr
    );
    // Nowhere at the most verbose logging, raw or inside the SASL message.
    let sasl = |token: &str| {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("user=codes\x01auth=Bearer {token}\x01\x01"),
        )
    };
    let (sasl_first, sasl_fresh) = (sasl(&first), sasl(&fresh));
    assert_never_shown(&world, &out, &[&first, &fresh, &sasl_first, &sasl_fresh]);
}

/// A token from the environment cannot be asked for again: when the server refuses it on
/// reconnecting, the run stops at once (exit 5) instead of knocking until the code timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_from_the_environment_stops_the_wait_at_once() {
    let world = late_email_token_world().await;
    let only = token("only");
    introspection(&world).activate(&only, "codes");
    let cli = existing(&world, "cigna.x5@codes.zuub.test", "xoauth2")
        .env("CIGNA_IMAP_TOKEN", &only)
        // Bounds the test should the wait knock on instead of stopping.
        .flag("--code-timeout", "60s");
    let out = kicked_while_waiting(&world, cli, || introspection(&world).deactivate(&only)).await;
    out.assert_code(5);
    assert!(
        out.stderr.contains("refused the login when reconnecting"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("CIGNA_IMAP_TOKEN"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("within the code timeout"),
        "it knocked until the timeout: {}",
        out.stderr
    );
    assert_never_shown(&world, &out, &[&only]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_that_only_holds_a_refused_token_is_exit_5_with_the_servers_status() {
    let world = token_world().await;
    let refused = token("refused");
    let dir = tempfile::tempdir().unwrap();
    let file = private_file(dir.path(), "token", &refused);
    let out = existing(&world, "cigna.x4@codes.zuub.test", "oauthbearer")
        .path_flag("--imap-token-file", &file)
        .run()
        .await;
    out.assert_code(5);
    // OAUTHBEARER's error continuation, answered, then reported; the file was read again.
    assert!(
        out.stderr.contains(r#"status "invalid_token""#),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--imap-token-file"), "{}", out.stderr);
    assert!(out.stderr.contains("OAUTHBEARER"), "{}", out.stderr);
    let asked = introspection(&world).asked();
    assert!(
        !asked.is_empty() && asked.iter().all(|t| *t == refused),
        "the file's token, and only it, was tried: {asked:?}"
    );
    assert_never_shown(&world, &out, &[&refused]);

    // XOAUTH2's continuation carries a status and a scope.
    let out = Cli::new("mail")
        .arg("check")
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--imap-ca", world.dovecot.ca_file())
        .flag("--imap-auth", "xoauth2")
        .env("CIGNA_IMAP_TOKEN", &refused)
        .run()
        .await;
    out.assert_code(5);
    assert!(
        out.stderr.contains(r#"status "401", scope "mail""#),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("CIGNA_IMAP_TOKEN"), "{}", out.stderr);
    assert_never_shown(&world, &out, &[&refused]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_refused_by_a_token_only_server_names_the_flag_and_mail_check_shows_the_mechanisms(
) {
    let world = token_world().await;
    let mail_check = || {
        Cli::new("mail")
            .arg("check")
            .flag("--imap-url", world.dovecot.imaps_url("codes"))
            .path_flag("--imap-ca", world.dovecot.ca_file())
    };
    for auth in ["login", "plain"] {
        let out = mail_check()
            .flag("--imap-auth", auth)
            .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
            .run()
            .await;
        out.assert_code(5);
        assert!(out.stderr.contains("--imap-auth xoauth2"), "{}", out.stderr);
        assert!(out.stderr.contains("AUTH=XOAUTH2"), "{}", out.stderr);
        assert!(!out.stderr.contains(MAILBOX_PASSWORD), "{}", out.stderr);
    }

    let good = token("check");
    introspection(&world).activate(&good, "codes");
    let out = mail_check()
        .flag("--imap-auth", "oauthbearer")
        .env("CIGNA_IMAP_TOKEN", &good)
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let mechanisms = out.json()["mechanisms"].clone();
    for offered in ["PLAIN", "XOAUTH2", "OAUTHBEARER"] {
        assert!(
            mechanisms.as_array().unwrap().iter().any(|m| m == offered),
            "{mechanisms}"
        );
    }
    let out = mail_check()
        .flag("--imap-auth", "xoauth2")
        .env("CIGNA_IMAP_TOKEN", &good)
        .run()
        .await;
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("login mechanisms offered: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER"),
        "{}",
        out.stdout
    );
    assert_never_shown(&world, &out, &[&good]);

    // doctor: the mechanisms on the reachable line, the token login on the next.
    let runs = tempfile::tempdir().unwrap();
    let out = Cli::new("doctor")
        .flag("--browser", "/nonexistent/chromium")
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--imap-ca", world.dovecot.ca_file())
        .path_flag("--runs-dir", runs.path())
        .flag("--imap-auth", "xoauth2")
        .env("CIGNA_IMAP_TOKEN", &good)
        .run()
        .await;
    let line = |check: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("no {check} line in:\n{}", out.stdout))
            .to_string()
    };
    let reachable = line("mailbox reachable");
    assert!(reachable.starts_with("ok"), "{}", out.stdout);
    assert!(reachable.contains("XOAUTH2, OAUTHBEARER"), "{}", out.stdout);
    assert!(line("mailbox login").starts_with("ok"), "{}", out.stdout);
    assert_never_shown(&world, &out, &[&good]);
}

/// Exactly one token source, and only with a token mechanism: anything else is exit 2 before
/// any connection, and never shows the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_sources_are_checked_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let secret = token("never-shown");
    let file = private_file(dir.path(), "token", &secret);
    let check = |auth: &str| {
        Cli::new("mail")
            .arg("check")
            .flag("--imap-url", "imaps://codes@127.0.0.1:9/INBOX")
            .flag("--imap-auth", auth)
    };
    let cases = [
        (
            check("xoauth2")
                .env("CIGNA_IMAP_TOKEN", &secret)
                .path_flag("--imap-token-file", &file),
            "one place only",
        ),
        (
            check("xoauth2")
                .path_flag("--imap-token-file", &file)
                .flag("--imap-token-command", "/bin/true"),
            "one place only",
        ),
        (check("oauthbearer"), "none was given"),
        (
            check("login").env("CIGNA_IMAP_TOKEN", &secret),
            "--imap-auth is login",
        ),
        (
            check("xoauth2").flag("--imap-token-command", "/nonexistent/token"),
            "not a program",
        ),
        (check("bogus"), "xoauth2"),
        (
            check("xoauth2").flag("--imap-token", &secret),
            "set CIGNA_IMAP_TOKEN",
        ),
    ];
    for (cli, says) in cases {
        let out = cli.run().await;
        out.assert_code(2);
        assert!(out.stderr.contains(says), "{says}: {}", out.stderr);
        assert!(!out.stderr.contains(&secret), "{}", out.stderr);
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = check("xoauth2")
        .path_flag("--imap-token-file", &file)
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
}
