//! Where an OAuth2 access token comes from (`--imap-auth xoauth2|oauthbearer`): the
//! environment, a file another program keeps fresh, or a program run for each login. Tokens
//! expire after about an hour, so a file is read and a program run again whenever the server
//! refuses one, and a program on every reconnect; the tool itself never runs an OAuth2 flow.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{bad_input, environment};
use crate::secrets::Secret;

/// How long a token command may take before it counts as hung and is killed.
pub const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The one place the access token is taken from.
#[derive(Clone)]
pub enum TokenSource {
    /// `CIGNA_IMAP_TOKEN`: read once; a refused one cannot be refreshed.
    Env(Secret),
    /// `--imap-token-file FILE` (0600), read at every login.
    File(PathBuf),
    /// `--imap-token-command PROGRAM`, its arguments from the settings file; run without a
    /// shell at every login, its standard output the token.
    Command { program: PathBuf, args: Vec<String> },
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl TokenSource {
    /// The source as a message names it (never the token).
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Env(_) => "CIGNA_IMAP_TOKEN".to_string(),
            TokenSource::File(path) => {
                format!("the token file {} (--imap-token-file)", path.display())
            }
            TokenSource::Command { program, .. } => format!(
                "the token command {} (--imap-token-command)",
                program.display()
            ),
        }
    }

    /// Whether asking again may give another token (a file or a program; not the environment).
    pub fn refreshes(&self) -> bool {
        !matches!(self, TokenSource::Env(_))
    }

    /// The source as given, checked before any connection: a file that exists, is readable by
    /// this user only and is not empty; a program that exists. Bad input is exit 2.
    pub fn check(&self) -> anyhow::Result<()> {
        match self {
            TokenSource::Env(token) => valid(token.expose(), self).map_err(bad_input),
            TokenSource::File(path) => read_file(path).map(|_| ()).map_err(bad_input),
            TokenSource::Command { program, .. } => {
                if program.as_os_str().is_empty() {
                    return Err(bad_input("--imap-token-command is empty: name the program that prints the access token"));
                }
                let found = if program.components().count() > 1 {
                    program.is_file()
                } else {
                    on_path(program)
                };
                if !found {
                    return Err(bad_input(format!(
                        "the token command {} (--imap-token-command) is not a program this machine \
                         has: give its path (it is run without a shell; its arguments go in the \
                         settings file as imap-token-command = [\"PROGRAM\", \"ARG\", …])",
                        program.display()
                    )));
                }
                Ok(())
            }
        }
    }

    /// A token now: the variable's, the file's current content, or a fresh run of the program.
    /// Every token is registered for redaction before anything else sees it. A source that
    /// fails now (a file gone, a program that exits non-zero) is the environment's: exit 5.
    pub fn fetch(&self) -> anyhow::Result<Secret> {
        let token = match self {
            TokenSource::Env(token) => {
                valid(token.expose(), self).map_err(environment)?;
                token.clone()
            }
            TokenSource::File(path) => read_file(path).map_err(environment)?,
            TokenSource::Command { program, args } => run(program, args, self)?,
        };
        crate::secrets::global().register(token.expose());
        Ok(token)
    }
}

fn read_file(path: &Path) -> Result<Secret, String> {
    use std::os::unix::fs::PermissionsExt;
    let described = format!("the token file {} (--imap-token-file)", path.display());
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {described}: {e}"))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{described} can be read by other users: run `chmod 600 {}` (whoever reads it can \
             read the mailbox)",
            path.display()
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {described}: {e}"))?;
    let token = text.trim();
    crate::secrets::global().register(token);
    valid(token, &TokenSource::File(path.to_path_buf()))?;
    Ok(Secret::new(token))
}

/// An OAuth2 bearer token is one line of printable ASCII without spaces (RFC 6750 b64token);
/// anything else would break the SASL message. The message never shows the token.
fn valid(token: &str, source: &TokenSource) -> Result<(), String> {
    if token.is_empty() {
        return Err(format!("{} gave an empty access token", source.describe()));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{} gave something that is not an access token (one line of printable characters \
             without spaces); check that it prints only the token",
            source.describe()
        ));
    }
    Ok(())
}

fn on_path(program: &Path) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Runs the token program without a shell, standard input closed, the run's own secrets taken
/// out of its environment; its standard output is the token, its standard error goes to ours
/// (what a failing helper says is for the person at the terminal, never for the run's error,
/// journal or logs, since it may print its own secrets). A program that has not exited after
/// `TOKEN_COMMAND_TIMEOUT` is killed.
fn run(program: &Path, args: &[String], source: &TokenSource) -> anyhow::Result<Secret> {
    let fail = |what: String| environment(format!("{}: {what}", source.describe()));
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, _) in std::env::vars_os() {
        if holds_a_secret(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot be run: {e}")))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let pid = child.id();
    // Its output is read as it comes (a full pipe must not stop it), and its exit is awaited
    // on another thread, so the deadline holds whatever it does with its pipes.
    let (chunks_tx, chunks) = mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks_tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = chunks_tx.send(None);
    });
    let (exit_tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait());
    });
    let status = match exited.recv_timeout(TOKEN_COMMAND_TIMEOUT) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(fail(format!("cannot be waited for: {e}"))),
        Err(_) => {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) only sends a signal. The waiter had not seen the child exit
                // at the deadline; should it reap it in the instant before this, the kernel does
                // not hand the pid to a new process that soon.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            return Err(fail(format!(
                "had not exited after {}s and was stopped",
                TOKEN_COMMAND_TIMEOUT.as_secs()
            )));
        }
    };
    // What it printed before it exited; a helper it left running may hold the pipe open, so
    // the end of the output is awaited only briefly.
    let mut out = Vec::new();
    let grace = std::time::Instant::now() + OUTPUT_GRACE;
    loop {
        let left = grace.saturating_duration_since(std::time::Instant::now());
        match chunks.recv_timeout(left) {
            Ok(Some(chunk)) => out.extend(chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out);
    let token = text.trim();
    // Registered before any message is built: a program that fails may still have printed it.
    crate::secrets::global().register(token);
    if !status.success() {
        return Err(fail(format!(
            "failed ({status}); what it printed on standard error is above, and running it by \
             hand shows the same"
        )));
    }
    valid(token, source).map_err(environment)?;
    Ok(Secret::new(token))
}

/// How long the output of a token program that has exited may take to end.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Whether an environment variable holds one of the run's secrets, which a token program has no
/// business seeing.
fn holds_a_secret(name: &str) -> bool {
    name.starts_with("CIGNA_")
        && ["PASSWORD", "TOKEN", "SECRET", "ANSWER"]
            .iter()
            .any(|w| name.contains(w))
        && name != "CIGNA_IMAP_TOKEN_COMMAND"
        && !name.ends_with("_FILE")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path
    }

    #[test]
    fn a_command_prints_the_token_and_gets_its_arguments_without_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "token", "printf 'tok-%s-%s\\n' \"$1\" \"$2\"");
        let source = TokenSource::Command {
            program,
            args: vec!["a b".into(), "$HOME;x".into()],
        };
        source.check().unwrap();
        // The arguments arrive as given: no word splitting, no expansion.
        let err = source.fetch().unwrap_err();
        assert!(
            format!("{err:#}").contains("not an access token"),
            "{err:#}"
        );
        let source = TokenSource::Command {
            program: script(dir.path(), "token2", "echo \"tok-$1\""),
            args: vec!["$HOME".into()],
        };
        assert_eq!(source.fetch().unwrap().expose(), "tok-$HOME");
    }

    #[test]
    fn a_failing_command_is_exit_5_and_never_shows_what_it_printed() {
        let dir = tempfile::tempdir().unwrap();
        let source = TokenSource::Command {
            program: script(
                dir.path(),
                "token",
                "echo half-a-token-XYZ123; echo 'refresh token revoked' >&2; exit 3",
            ),
            args: Vec::new(),
        };
        let err = source.fetch().unwrap_err();
        let msg = crate::secrets::global().redact(&format!("{err:#}"));
        assert_eq!(crate::error::exit_code(&err), 5);
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.contains("--imap-token-command"), "{msg}");
        assert!(!msg.contains("half-a-token-XYZ123"), "{msg}");
        assert!(!msg.contains("revoked"), "{msg}");
    }

    #[test]
    fn a_command_that_exits_is_not_held_up_by_a_helper_it_left_running() {
        let dir = tempfile::tempdir().unwrap();
        let source = TokenSource::Command {
            // The background sleep keeps stdout open long after the program exited.
            program: script(dir.path(), "token", "echo tok-early; (sleep 30 &) ; exit 0"),
            args: Vec::new(),
        };
        assert_eq!(source.fetch().unwrap().expose(), "tok-early");
    }

    #[test]
    fn the_runs_secrets_are_not_in_the_commands_environment() {
        for name in [
            "CIGNA_OFFICE_PASSWORD",
            "CIGNA_IMAP_PASSWORD",
            "CIGNA_USER_PASSWORD",
            "CIGNA_IMAP_TOKEN",
        ] {
            assert!(holds_a_secret(name), "{name}");
        }
        for name in [
            "CIGNA_IMAP_TOKEN_FILE",
            "CIGNA_IMAP_TOKEN_COMMAND",
            "CIGNA_OFFICE_PASSWORD_FILE",
            "CIGNA_IMAP_URL",
            "PATH",
        ] {
            assert!(!holds_a_secret(name), "{name}");
        }
    }

    #[test]
    fn a_file_must_be_private_and_hold_one_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "ya29.file-token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let source = TokenSource::File(path.clone());
        let err = source.check().unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(format!("{err:#}").contains("chmod 600"), "{err:#}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        source.check().unwrap();
        assert_eq!(source.fetch().unwrap().expose(), "ya29.file-token");
        // Read again at each fetch: a refreshed file gives the new token.
        std::fs::write(&path, "ya29.newer\n").unwrap();
        assert_eq!(source.fetch().unwrap().expose(), "ya29.newer");
        std::fs::write(&path, "two words\n").unwrap();
        let err = source.fetch().unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 5);
        assert!(!format!("{err:#}").contains("two words"), "{err:#}");
    }

    #[test]
    fn a_missing_program_is_bad_input() {
        let source = TokenSource::Command {
            program: PathBuf::from("/nonexistent/get-token"),
            args: Vec::new(),
        };
        let err = source.check().unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(
            format!("{err:#}").contains("imap-token-command = ["),
            "{err:#}"
        );
    }
}
