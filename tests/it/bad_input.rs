//! Bad input, everywhere: one test per row. Each exits 2 with one message naming the input,
//! the problem and the fix, before anything reaches the portal (no run is created).

use crate::support::run::{Cli, Output};

/// `existing` with valid values except what `replace` gives, against a portal that does not
/// exist: anything that got as far as the portal would fail differently.
fn existing(replace: &[(&str, &str)]) -> (Cli, tempfile::TempDir) {
    let runs = tempfile::tempdir().unwrap();
    let mut values = vec![
        ("--tin", "123456789"),
        ("--email", "admin@codes.zuub.test"),
        ("--phone", "5551234567"),
        ("--office-user", "office.manager"),
        ("--imap-url", "imaps://codes@127.0.0.1:9/INBOX"),
        ("--portal-url", "http://127.0.0.1:9/"),
    ];
    for (flag, value) in replace {
        match values.iter_mut().find(|(f, _)| f == flag) {
            Some(slot) => slot.1 = value,
            None => values.push((flag, value)),
        }
    }
    let mut cli = Cli::new("existing")
        .env("CIGNA_OFFICE_PASSWORD", "Office#Pass2026")
        .env("CIGNA_IMAP_PASSWORD", "mailbox-secret")
        .path_flag("--runs-dir", runs.path());
    for (flag, value) in values {
        cli = cli.flag(flag, value);
    }
    (cli, runs)
}

/// Exit 2, one `error:` line holding every part, and no run written.
fn assert_refused(out: &Output, runs: Option<&tempfile::TempDir>, parts: &[&str]) {
    out.assert_code(2);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one message:\n{}", out.stderr);
    for part in parts {
        assert!(errors[0].contains(part), "{part:?} not in:\n{}", out.stderr);
    }
    if let Some(runs) = runs {
        let written = std::fs::read_dir(runs.path()).map_or(0, |d| d.count());
        assert_eq!(written, 0, "a run was created for bad input");
    }
}

async fn existing_refused(replace: &[(&str, &str)], parts: &[&str]) {
    let (cli, runs) = existing(replace);
    let out = cli.run().await;
    assert_refused(&out, Some(&runs), parts);
}

#[tokio::test]
async fn tin_of_five_digits() {
    existing_refused(
        &[("--tin", "12345")],
        &["--tin \"12345\"", "9 digits", "123456789"],
    )
    .await;
}

#[tokio::test]
async fn tin_with_letters() {
    existing_refused(
        &[("--tin", "12345678a")],
        &["--tin \"12345678a\"", "other than digits", "9 digits"],
    )
    .await;
}

#[tokio::test]
async fn email_without_at() {
    existing_refused(
        &[("--email", "not-an-email")],
        &["--email \"not-an-email\"", "not an email address", "like"],
    )
    .await;
}

#[tokio::test]
async fn phone_too_short() {
    existing_refused(
        &[("--phone", "555-12")],
        &["--phone \"555-12\"", "10-digit", "5551234567"],
    )
    .await;
}

#[tokio::test]
async fn date_of_birth_not_a_date() {
    existing_refused(
        &[("--date-of-birth", "13/45/1980")],
        &["--date-of-birth \"13/45/1980\"", "MM/DD/YYYY"],
    )
    .await;
}

#[tokio::test]
async fn date_of_birth_of_a_child() {
    existing_refused(
        &[("--date-of-birth", "01/01/2020")],
        &["--date-of-birth \"01/01/2020\"", "adult", "MM/DD/YYYY"],
    )
    .await;
}

#[tokio::test]
async fn entitlement_not_in_the_portals_list() {
    existing_refused(
        &[("--entitlement", "Free Lunch")],
        &[
            "--entitlement \"Free Lunch\"",
            "not one of the portal's entitlements",
            "Claim Status",
        ],
    )
    .await;
}

#[tokio::test]
async fn mailbox_url_with_a_password() {
    existing_refused(
        &[("--imap-url", "imaps://codes:hunter2@imap.zuub.test/INBOX")],
        &["contains a password", "CIGNA_IMAP_PASSWORD"],
    )
    .await;
}

#[tokio::test]
async fn a_password_on_the_command_line() {
    let (cli, runs) = existing(&[]);
    let out = cli.flag("--office-password", "hunter2").run().await;
    assert_refused(
        &out,
        Some(&runs),
        &[
            "`--office-password`",
            "CIGNA_OFFICE_PASSWORD",
            "--office-password-file",
        ],
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

#[tokio::test]
async fn a_password_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("office-password");
    std::fs::write(&file, "Office#Pass2026\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (cli, runs) = existing(&[("--office-password-file", file.to_str().unwrap())]);
    let out = cli.run().await;
    assert_refused(
        &out,
        Some(&runs),
        &["can be read by other users", "chmod 600"],
    );
}

#[tokio::test]
async fn unknown_flow() {
    let out = Cli::new("steps").arg("nonexistent").run().await;
    assert_refused(
        &out,
        None,
        &[
            "no flow named \"nonexistent\"",
            "existing, register, activate",
        ],
    );
}

#[tokio::test]
async fn unknown_run_id() {
    let runs = tempfile::tempdir().unwrap();
    for command in ["show", "resume", "activate"] {
        let out = Cli::new(command)
            .arg("existing-20260101-000000-dead")
            .path_flag("--runs-dir", runs.path())
            .run()
            .await;
        assert_refused(
            &out,
            Some(&runs),
            &["no run \"existing-20260101-000000-dead\"", "--runs-dir"],
        );
    }
}

#[tokio::test]
async fn unreadable_flow_file() {
    let out = Cli::new("steps")
        .flag("--file", "/nonexistent/flow.toml")
        .run()
        .await;
    assert_refused(
        &out,
        None,
        &["cannot read the flow file /nonexistent/flow.toml"],
    );
}

#[tokio::test]
async fn invalid_flow_file_names_line_and_column() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/flows/unknown-key.toml"
    );
    let out = Cli::new("steps").flag("--file", file).run().await;
    assert_refused(
        &out,
        None,
        &[
            "unknown-key.toml",
            "line 8, column 23",
            "unknown field `value`",
        ],
    );
    let (cli, runs) = existing(&[("--flow", file)]);
    assert_refused(&cli.run().await, Some(&runs), &["line 8, column 23"]);
}

#[tokio::test]
async fn settings_file_with_an_unknown_key() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/config/unknown-key.toml"
    );
    let (cli, runs) = existing(&[("--config", file)]);
    assert_refused(
        &cli.run().await,
        Some(&runs),
        &[
            "unknown-key.toml line 4",
            "unknown setting `portal_url`",
            "portal-url",
        ],
    );
}

#[tokio::test]
async fn settings_file_with_a_bad_value() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/config/bad-values.toml"
    );
    let out = Cli::new("runs").flag("--config", file).run().await;
    assert_refused(
        &out,
        None,
        &["bad-values.toml line 1", "`code-timeout`", "5 minutes"],
    );
}

#[tokio::test]
async fn settings_file_holding_a_secret() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/config/secret.toml");
    let out = Cli::new("runs").flag("--config", file).run().await;
    assert_refused(
        &out,
        None,
        &[
            "secret.toml line 2",
            "`office-password`",
            "never kept in the settings file",
        ],
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

#[tokio::test]
async fn settings_file_that_does_not_exist() {
    let out = Cli::new("runs")
        .flag("--config", "/nonexistent/cigna-setup.toml")
        .run()
        .await;
    assert_refused(
        &out,
        None,
        &["/nonexistent/cigna-setup.toml", "does not exist"],
    );
}

#[tokio::test]
async fn a_timeout_past_any_clock_is_refused_before_a_run_exists() {
    for raw in [
        "18446744073709551615s",
        "18446744073709551615s1s",
        "9999999h",
    ] {
        existing_refused(
            &[("--action-timeout", raw)],
            &[
                "--action-timeout",
                "longer than the most any wait may be",
                "168h",
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn a_control_character_in_an_email_is_refused_and_shown_escaped() {
    let (cli, runs) = existing(&[("--email", "front\u{1b}[2Jdesk@zuub.com")]);
    let out = cli.run().await;
    assert_refused(&out, Some(&runs), &["not an email address", "\\u{1b}"]);
    assert!(
        !out.stderr.contains('\u{1b}'),
        "the escape reached the terminal"
    );
}

#[tokio::test]
async fn a_huge_phone_number_is_quoted_in_part() {
    let huge = "5".repeat(100_000);
    let (cli, runs) = existing(&[("--phone", &huge)]);
    let out = cli.run().await;
    assert_refused(
        &out,
        Some(&runs),
        &["--phone", "more characters", "10-digit"],
    );
    assert!(
        out.stderr.len() < 1000,
        "{} bytes of error",
        out.stderr.len()
    );
}

#[tokio::test]
async fn an_imap_url_with_a_broken_escape_before_a_multibyte_character_is_refused() {
    let out = Cli::new("mail")
        .arg("check")
        .flag("--imap-url", "imaps://u%aé@127.0.0.1/INBOX")
        .env("CIGNA_IMAP_PASSWORD", "mailbox-secret")
        .run()
        .await;
    assert_refused(
        &out,
        None,
        &["bad IMAP URL", "%aé", "not a valid %XX escape"],
    );
}
