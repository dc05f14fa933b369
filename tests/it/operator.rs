//! What an operator meets around the flows: the settings file and its precedence, `config
//! show`, `doctor`, completions, and `--help` for every subcommand (snapshots).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::run::Cli;
use crate::support::world::{World, MAILBOX_PASSWORD};

/// `doctor --json` with no browser: its "runs dir writable" line shows the effective runs dir.
async fn effective_runs_dir(cli: Cli) -> String {
    let out = cli
        .flag("--browser", "/nonexistent/chromium")
        .arg("--json")
        .run()
        .await;
    out.assert_code(5);
    let checks = out.json();
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "runs dir writable")
        .unwrap_or_else(|| panic!("no runs dir check in {checks}"))["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn precedence_is_flag_then_environment_then_file_then_default() {
    let home = tempfile::tempdir().unwrap();
    let dir = |name: &str| home.path().join(name).display().to_string();
    let file = home.path().join("cigna-setup.toml");
    std::fs::write(&file, format!("runs-dir = \"{}\"\n", dir("from-file"))).unwrap();
    let doctor = || {
        Cli::new("doctor")
            .env("HOME", home.path().to_str().unwrap())
            .path_flag("--config", &file)
    };
    let flag = effective_runs_dir(
        doctor()
            .env("CIGNA_RUNS_DIR", dir("from-env"))
            .flag("--runs-dir", dir("from-flag")),
    )
    .await;
    assert_eq!(flag, dir("from-flag"));
    let env = effective_runs_dir(doctor().env("CIGNA_RUNS_DIR", dir("from-env"))).await;
    assert_eq!(env, dir("from-env"));
    let from_file = effective_runs_dir(doctor()).await;
    assert_eq!(from_file, dir("from-file"));
    let default =
        effective_runs_dir(Cli::new("doctor").env("HOME", home.path().to_str().unwrap())).await;
    assert_eq!(
        PathBuf::from(default),
        home.path().join(".local/state/cigna-setup/runs")
    );
}

#[tokio::test]
async fn config_show_says_where_each_value_came_from_and_masks_secrets() {
    let home = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/config/full.toml");
    let out = Cli::new("config")
        .arg("show")
        .arg("--json")
        .flag("--config", file)
        .env("HOME", home.path().to_str().unwrap())
        .env("CIGNA_CODE_TIMEOUT", "7m")
        .env("CIGNA_IMAP_PASSWORD", "Very-Secret-Mailbox-77")
        .run()
        .await;
    out.assert_code(0);
    assert!(
        !out.stdout.contains("Very-Secret-Mailbox-77"),
        "{}",
        out.stdout
    );
    let shown = out.json();
    assert_eq!(shown["file"], file);
    let setting = |key: &str| -> Value {
        shown["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {shown}"))
            .clone()
    };
    assert_eq!(setting("code-timeout")["value"], "7m");
    assert_eq!(
        setting("code-timeout")["source"],
        serde_json::json!({"kind": "env", "var": "CIGNA_CODE_TIMEOUT"})
    );
    assert_eq!(
        setting("portal-url")["value"],
        "https://portal.example.test/"
    );
    assert_eq!(
        setting("portal-url")["source"],
        serde_json::json!({"kind": "file", "path": file, "line": 3})
    );
    assert_eq!(setting("profile.first-name")["value"], "Front");
    let secrets = shown["secrets"].as_array().unwrap();
    let imap = secrets
        .iter()
        .find(|s| s["env"] == "CIGNA_IMAP_PASSWORD")
        .unwrap();
    assert_eq!(imap["set"], true);
    assert_eq!(imap["value"], "********");

    // Without a file anywhere, every value is the default, and the text form says so.
    let out = Cli::new("config")
        .arg("show")
        .env("HOME", home.path().to_str().unwrap())
        .run()
        .await;
    out.assert_code(0);
    assert!(
        out.stdout.contains("settings file: none (looked for"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("code-timeout") && l.contains("5m") && l.ends_with("(default)")),
        "{}",
        out.stdout
    );
}

/// A missing browser and a refused mailbox login: the right FAIL lines, exit 5; the password
/// never shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_what_fails_and_the_fix() {
    let world = World::start(None).await;
    let runs = tempfile::tempdir().unwrap();
    let out = Cli::new("doctor")
        .flag("--browser", "/nonexistent/chromium")
        .flag("--imap-url", world.dovecot.imaps_url("codes"))
        .path_flag("--imap-ca", world.dovecot.ca_file())
        .path_flag("--runs-dir", runs.path())
        .env("CIGNA_IMAP_PASSWORD", "Wrong-Password-1234")
        .run()
        .await;
    out.assert_code(5);
    let line = |check: &str| -> String {
        out.stdout
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("no {check} line in:\n{}", out.stdout))
            .to_string()
    };
    assert!(line("browser found").starts_with("FAIL"), "{}", out.stdout);
    assert!(
        out.stdout.contains("fix: sudo apt-get install -y chromium"),
        "{}",
        out.stdout
    );
    assert!(
        line("mailbox reachable").starts_with("ok"),
        "{}",
        out.stdout
    );
    assert!(line("mailbox login").starts_with("FAIL"), "{}", out.stdout);
    assert!(
        line("mailbox login").contains("refused the login"),
        "{}",
        out.stdout
    );
    assert!(
        line("runs dir writable").starts_with("ok"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("Wrong-Password-1234"));
    assert!(!out.stderr.contains("Wrong-Password-1234"));

    // All well: every line ok, exit 0.
    let all_well = |browser: Option<&std::path::Path>| {
        let mut cli = Cli::new("doctor")
            .flag("--portal-url", world.portal.url())
            .flag("--imap-url", world.dovecot.imaps_url("codes"))
            .path_flag("--imap-ca", world.dovecot.ca_file())
            .path_flag("--runs-dir", runs.path())
            .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD);
        if let Some(browser) = browser {
            cli = cli.path_flag("--browser", browser);
        }
        cli.run()
    };
    let out = all_well(None).await;
    out.assert_code(0);
    for check in [
        "browser found",
        "browser starts",
        "portal reachable",
        "mailbox reachable",
        "mailbox login",
        "mailbox IDLE",
        "runs dir writable",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check}:\n{}",
            out.stdout
        );
    }

    // Chromium itself works, and doctor says how to get the quicker headless shell.
    let chromium = crate::support::browser::chromium_on_path();
    let out = all_well(Some(&chromium)).await;
    out.assert_code(0);
    let found = out
        .stdout
        .lines()
        .find(|l| l.contains("browser found"))
        .unwrap_or_default();
    assert!(
        found.starts_with("ok")
            && found.contains("sudo apt-get install -y chromium-headless-shell"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef cigna-setup"),
        ("fish", "complete -c cigna-setup"),
    ] {
        let out = Cli::new("completions").arg(shell).run().await;
        out.assert_code(0);
        assert!(out.stdout.contains(marker), "{shell}:\n{}", out.stdout);
        assert!(out.stdout.contains("existing"), "{shell}");
    }
}

/// Every subcommand's `--help`, compared with `tests/snapshots/help/`. After a deliberate
/// change, `UPDATE_SNAPSHOTS=1 cargo test help_snapshots` rewrites them. Every leaf
/// subcommand shows an example.
#[tokio::test]
async fn help_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let commands: &[&[&str]] = &[
        &[],
        &["existing"],
        &["register"],
        &["activate"],
        &["runs"],
        &["show"],
        &["resume"],
        &["step"],
        &["mail"],
        &["mail", "check"],
        &["mail", "wait-code"],
        &["steps"],
        &["fixture-portal"],
        &["demo"],
        &["config"],
        &["config", "show"],
        &["doctor"],
        &["page"],
        &["page", "snapshot"],
        &["completions"],
    ];
    let mut mismatches = Vec::new();
    for words in commands {
        let mut cli = Cli::new(words.first().copied().unwrap_or("--help"));
        for w in words.iter().skip(1) {
            cli = cli.arg(w);
        }
        if !words.is_empty() {
            cli = cli.arg("--help");
        }
        let out = cli.run().await;
        out.assert_code(0);
        let name = if words.is_empty() {
            "cigna-setup".to_string()
        } else {
            words.join("-")
        };
        let leaf = !matches!(*words, [] | ["mail"] | ["config"] | ["page"]);
        if leaf {
            assert!(
                out.stdout.contains("Example"),
                "{name} --help has no example"
            );
        }
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::write(&path, &out.stdout).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != out.stdout {
            mismatches.push(format!("--- {}\n{}", path.display(), out.stdout));
        }
    }
    assert!(
        mismatches.is_empty(),
        "help changed (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        mismatches.join("\n")
    );
}

/// No password in the environment or a file, on a terminal: the tool asks without echo. Run
/// under `script` (util-linux) for a real pseudo-terminal; the password is typed only once
/// the prompt shows (before that, the terminal would still echo).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_asked_on_a_terminal_without_echo() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dovecot = tokio::task::spawn_blocking(|| crate::support::dovecot::start(true))
        .await
        .unwrap();
    let command = format!(
        "{} mail check --imap-url {} --imap-ca {}",
        crate::support::run::binary().display(),
        dovecot.imaps_url(crate::support::dovecot::MAILBOX_USER),
        dovecot.ca_file().display()
    );
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("XDG_CONFIG_HOME", "/nonexistent/cigna-setup-tests")
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("Password of the mailbox") {
        assert!(std::time::Instant::now() < deadline, "no prompt: {seen:?}");
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(std::time::Duration::from_secs(30), stdout.read(&mut buf))
            .await
            .expect("output")
            .unwrap();
        assert!(
            n > 0,
            "ended before the prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", crate::support::dovecot::MAILBOX_PASSWORD).as_bytes())
        .await
        .unwrap();
    stdout.read_to_end(&mut seen).await.unwrap();
    let status = child.wait().await.unwrap();
    let shown = String::from_utf8_lossy(&seen);
    assert!(status.success(), "{shown}");
    assert!(shown.contains("login ok"), "{shown}");
    assert!(
        !shown.contains(crate::support::dovecot::MAILBOX_PASSWORD),
        "the password was echoed:\n{shown}"
    );
}

/// A settings file that would send the run elsewhere: another browser, another mailbox.
const HOSTILE_SETTINGS: &str =
    "browser = \"./evil.sh\"\nimap-url = \"imaps://thief@127.0.0.1:9/INBOX\"\n";

/// Writes `HOSTILE_SETTINGS` to `path` with `mode`.
fn hostile_settings(path: &Path, mode: u32) {
    std::fs::write(path, HOSTILE_SETTINGS).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn a_settings_file_in_the_working_directory_is_read_only_when_named() {
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    hostile_settings(&folder.path().join("cigna-setup.toml"), 0o600);
    let show = || {
        Cli::new("config")
            .arg("show")
            .arg("--json")
            .env("HOME", home.path().to_str().unwrap())
            .in_dir(folder.path())
    };
    let out = show().run().await;
    out.assert_code(0);
    let shown = out.json();
    assert_eq!(shown["file"], Value::Null, "{shown}");
    assert!(!out.stdout.contains("evil.sh"), "{}", out.stdout);
    // Named, it is read.
    let out = show().flag("--config", "cigna-setup.toml").run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("evil.sh"), "{}", out.stdout);
}

#[tokio::test]
async fn a_settings_file_others_may_write_is_refused_with_the_chmod() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("shared.toml");
    for mode in [0o664, 0o646, 0o666] {
        hostile_settings(&file, mode);
        let out = Cli::new("config")
            .arg("show")
            .path_flag("--config", &file)
            .env("HOME", home.path().to_str().unwrap())
            .run()
            .await;
        out.assert_code(2);
        let path = file.display().to_string();
        assert!(out.stderr.contains(&path), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("chmod go-w {path}")),
            "{}",
            out.stderr
        );
    }
    // In the user's own config dir too.
    let config_dir = home.path().join("xdg/cigna-setup");
    std::fs::create_dir_all(&config_dir).unwrap();
    hostile_settings(&config_dir.join("cigna-setup.toml"), 0o620);
    let out = Cli::new("config")
        .arg("show")
        .env("HOME", home.path().to_str().unwrap())
        .env("XDG_CONFIG_HOME", home.path().join("xdg").to_str().unwrap())
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("chmod go-w"), "{}", out.stderr);
}

#[tokio::test]
async fn the_fixture_portal_reads_no_settings_file() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("cigna-setup.toml");
    hostile_settings(&file, 0o600);
    let mut child = Cli::new("fixture-portal")
        .env("HOME", home.path().to_str().unwrap())
        .env("CIGNA_CONFIG", file.to_str().unwrap())
        .env("CIGNA_OFFICE_PASSWORD", "Office#Pass2026")
        .spawn();
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the portal prints its URL")
        .unwrap()
        .expect("a first line");
    assert!(first.starts_with("fixture portal listening on "), "{first}");
    child.kill().await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The file named a mailbox; the portal took none, so it emails no codes anywhere.
    assert!(stderr.contains("no --imap-url"), "{stderr}");
    assert!(!stderr.contains("thief"), "{stderr}");
}
