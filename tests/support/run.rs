//! Running the `cigna-setup` binary the way a person would, with a fluent builder.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// One invocation of the binary: arguments, environment (nothing inherited that matters), and
/// what it printed.
pub struct Cli {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dir: Option<PathBuf>,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The stdout as JSON; panics with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n--- stderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl From<std::process::Output> for Output {
    /// What a finished process printed (a spawned one's `wait_with_output`).
    fn from(out: std::process::Output) -> Output {
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Every file under `dir`, except inside directories named in `skip`.
pub fn files_under(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| skip.iter().any(|s| n == *s)) {
                continue;
            }
            out.extend(files_under(&p, skip));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cigna-setup"))
}

impl Cli {
    pub fn new(subcommand: &str) -> Cli {
        Cli {
            args: vec![subcommand.to_string()],
            envs: Vec::new(),
            dir: None,
        }
    }

    /// Runs the command in `dir` (its working directory).
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    pub fn arg(mut self, a: impl AsRef<str>) -> Self {
        self.args.push(a.as_ref().to_string());
        self
    }

    pub fn flag(self, name: &str, value: impl AsRef<str>) -> Self {
        self.arg(name).arg(value)
    }

    pub fn env(mut self, k: &str, v: impl AsRef<str>) -> Self {
        self.envs.push((k.to_string(), v.as_ref().to_string()));
        self
    }

    pub fn path_flag(self, name: &str, p: &Path) -> Self {
        self.flag(name, p.to_string_lossy())
    }

    /// The command, with an environment of only PATH, HOME, the browser the tests were asked
    /// to use (`CIGNA_BROWSER`) and what the test set, in an empty working directory unless the
    /// test names one.
    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(binary());
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            // A settings file in the developer's own config dir must not change the tests.
            .env("XDG_CONFIG_HOME", "/nonexistent/cigna-setup-tests")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(browser) = std::env::var_os("CIGNA_BROWSER") {
            cmd.env("CIGNA_BROWSER", browser);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        // Nor a `cigna-setup.toml` wherever `cargo test` was started.
        cmd.current_dir(self.dir.as_deref().unwrap_or_else(|| empty_dir()));
        cmd
    }

    pub async fn run(self) -> Output {
        self.command()
            .output()
            .await
            .expect("cannot run cigna-setup")
            .into()
    }
}

impl Cli {
    /// Starts the binary without waiting, for tests that interrupt it.
    pub fn spawn(self) -> tokio::process::Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run cigna-setup")
    }

    /// Starts the binary with a pipe to its stdin, for tests that type into it.
    pub fn spawn_with_stdin(self) -> tokio::process::Child {
        self.command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run cigna-setup")
    }
}

/// An empty directory for runs that name no working directory, kept for the whole test run.
fn empty_dir() -> &'static Path {
    static EMPTY: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    EMPTY
        .get_or_init(|| {
            tempfile::Builder::new()
                .prefix("cigna-setup-tests-cwd-")
                .tempdir()
                .expect("a temporary working directory")
        })
        .path()
}

/// Processes whose command line mentions `needle` (e.g. a browser profile directory).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(false);
        if !zombie && cmdline.contains(needle) {
            found.push(cmdline);
        }
    }
    found
}
