//! The code the portal sends to the office itself (not to the new login's mailbox) when the
//! office's own sign-in asks it to verify its identity: typed at a prompt on a terminal, or
//! read from `--office-code-file` or stdin, because only a person at the office can read it.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use crate::error::{bad_input, verification_code};
use crate::secrets::Secret;

/// How often a code file that is not there yet is looked at again.
const FILE_POLL: Duration = Duration::from_millis(100);

/// Where the office's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeCode {
    /// Ask on the terminal (stdin is one).
    Prompt,
    /// One line of this file, written after the code was sent.
    File(PathBuf),
    /// One line of stdin (`--office-code-stdin`).
    Stdin,
    /// No way to ask: the run stops with exit 4 and says how to give the code.
    Unavailable,
}

impl OfficeCode {
    /// From `--office-code-file` / `--office-code-stdin`; without either, a prompt when stdin
    /// is a terminal.
    pub fn from_args(file: Option<&Path>, stdin: bool) -> Result<OfficeCode> {
        Ok(match (file, stdin) {
            (Some(_), true) => {
                return Err(bad_input(
                    "--office-code-file and --office-code-stdin both say where the office's code \
                     comes from: give one of them",
                ))
            }
            (Some(file), false) => OfficeCode::File(file.to_path_buf()),
            (None, true) => OfficeCode::Stdin,
            (None, false) if std::io::stdin().is_terminal() => OfficeCode::Prompt,
            (None, false) => OfficeCode::Unavailable,
        })
    }

    /// The code, once the person gave it; `asked_at` is when the portal sent it (an older code
    /// file is not the answer), `timeout` how long to wait for it (exit 4 after).
    pub async fn read(
        &self,
        prompt: &str,
        asked_at: SystemTime,
        timeout: Duration,
    ) -> Result<Secret> {
        let raw =
            match self {
                OfficeCode::Unavailable => return Err(verification_code(
                    "the office's sign-in asks to verify its identity, and the portal sent the \
                     code to the office's own email, which this tool cannot read: run on a \
                     terminal to be asked for it, or pass --office-code-file FILE (and write the \
                     code into FILE once it arrives) or --office-code-stdin (and pipe it in)",
                )),
                OfficeCode::Prompt => {
                    // The spinner would redraw over the question.
                    crate::progress::pause_spinner();
                    let prompt = prompt.to_string();
                    let asked =
                        tokio::task::spawn_blocking(move || crate::terminal::ask_secret(&prompt));
                    match tokio::time::timeout(timeout, asked).await {
                        Ok(answer) => answer??
                            .map(|code| code.expose().to_string())
                            .unwrap_or_default(),
                        Err(_) => {
                            return Err(verification_code(format!(
                                "no office verification code was typed within {}s (--code-timeout)",
                                timeout.as_secs()
                            )))
                        }
                    }
                }
                OfficeCode::Stdin => read_stdin_line(timeout).await?,
                OfficeCode::File(path) => read_file_line(path, asked_at, timeout).await?,
            };
        check(&raw)
    }
}

/// One line of stdin, from a plain thread: a blocked read must not hold up the runtime's
/// shutdown when the wait gives up.
async fn read_stdin_line(timeout: Duration) -> Result<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("office-code".into())
        .spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin().lock().read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        })?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(Ok(line))) if !line.trim().is_empty() => Ok(line),
        Ok(Ok(Ok(_))) | Ok(Err(_)) => Err(verification_code(
            "stdin ended without the office's verification code: give it as one line \
             (--office-code-stdin reads the first line)",
        )),
        Ok(Ok(Err(e))) => Err(verification_code(format!(
            "cannot read the office's verification code from stdin: {e}"
        ))),
        Err(_) => Err(verification_code(format!(
            "no office verification code on stdin within {}s (--code-timeout)",
            timeout.as_secs()
        ))),
    }
}

/// The first line of `path`, once the file holds one written after the code was sent.
async fn read_file_line(path: &Path, asked_at: SystemTime, timeout: Duration) -> Result<String> {
    crate::progress::note(&format!(
        "      the portal sent a verification code to the office's email: write it into {}",
        path.display()
    ));
    // Whole-second file times on some filesystems: a file written in the same second counts.
    let fresh_after = asked_at - Duration::from_secs(1);
    let deadline = Instant::now() + timeout;
    loop {
        let fresh = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= fresh_after);
        if fresh {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            // A file caught half-written is read again on the next look.
            if let Some(line) = text.lines().find(|l| check(l).is_ok()) {
                return Ok(line.to_string());
            }
        }
        if Instant::now() >= deadline {
            return Err(verification_code(format!(
                "no office verification code was written into {} within {}s (--code-timeout): \
                 write the code from the office's email into that file as one line",
                path.display(),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(FILE_POLL).await;
    }
}

/// A code as a person types it: spaces and dashes dropped; 4–12 letters or digits.
fn check(raw: &str) -> Result<Secret> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(4..=12).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad_input(
            "that is not a verification code: give the code from the office's email, like \
             123456",
        ));
    }
    crate::secrets::global().register(&code);
    Ok(Secret::new(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_as_people_type_them() {
        assert_eq!(check(" 123 456\n").unwrap().expose(), "123456");
        assert_eq!(check("12-34-56").unwrap().expose(), "123456");
        for bad in ["", "12", "12345678901234", "12 34 5?"] {
            let err = check(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad:?}");
        }
    }

    #[test]
    fn both_sources_at_once_are_refused() {
        let err = OfficeCode::from_args(Some(Path::new("code.txt")), true).unwrap_err();
        assert!(format!("{err}").contains("give one of them"));
        assert_eq!(
            OfficeCode::from_args(Some(Path::new("code.txt")), false).unwrap(),
            OfficeCode::File("code.txt".into())
        );
        assert_eq!(
            OfficeCode::from_args(None, true).unwrap(),
            OfficeCode::Stdin
        );
    }

    #[tokio::test]
    async fn a_code_file_counts_only_once_written_after_the_code_was_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("office-code.txt");
        std::fs::write(&path, "111111\n").unwrap();
        let source = OfficeCode::File(path.clone());
        let asked_at = SystemTime::now() + Duration::from_secs(5);
        let err = source
            .read("", asked_at, Duration::from_millis(250))
            .await
            .unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 4);
        assert!(format!("{err}").contains("office-code.txt"), "{err}");
        let code = source
            .read("", SystemTime::now(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(code.expose(), "111111");

        // Caught half-written, it is read again until the whole code is there.
        std::fs::write(&path, "12").unwrap();
        let asked_at = SystemTime::now();
        let writer = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::write(&path, "123456\n").unwrap();
        };
        let (code, ()) = tokio::join!(source.read("", asked_at, Duration::from_secs(5)), writer);
        assert_eq!(code.unwrap().expose(), "123456");
    }

    #[tokio::test]
    async fn without_a_way_to_ask_the_run_stops_saying_how() {
        let err = OfficeCode::Unavailable
            .read("", SystemTime::now(), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 4);
        let msg = format!("{err}");
        assert!(msg.contains("--office-code-file") && msg.contains("--office-code-stdin"));
    }
}
