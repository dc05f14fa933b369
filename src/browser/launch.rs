//! Finding Chromium and starting it headless, with the flags a closed network needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chromiumoxide::handler::viewport::Viewport;
use futures::StreamExt;

use super::relay;
use crate::error;

/// Browsers tried on PATH, in order, when none is named.
const CANDIDATES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

#[derive(Debug, Clone)]
pub struct BrowserOptions {
    pub executable: PathBuf,
    /// Where the profile lives; a fresh temporary one when `None`.
    pub profile_dir: Option<PathBuf>,
    /// Resolve no host names but loopback ones: for the fixture portal, so Chromium's own
    /// background lookups cannot slow a closed-network run down.
    pub loopback_only: bool,
}

/// The browser's own version line (`chromium --version`), like "Chromium 156.0.7390.54".
pub fn version(executable: &Path) -> Result<String> {
    let out = std::process::Command::new(executable)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| error::environment(format!("cannot run {}: {e}", executable.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim();
    if !out.status.success() || line.is_empty() {
        return Err(error::environment(format!(
            "{} --version said nothing ({})",
            executable.display(),
            out.status
        )));
    }
    Ok(line.to_string())
}

/// The browser to run: `explicit` (from `--browser` or `CIGNA_BROWSER`) or the first candidate
/// on PATH.
pub fn find_executable(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        if is_executable(path) {
            return Ok(path.to_path_buf());
        }
        return Err(error::environment(format!(
            "the browser {} does not exist or is not executable: fix --browser / CIGNA_BROWSER, \
             or unset it to use chromium from PATH",
            path.display()
        )));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in CANDIDATES {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(error::environment(
        "no Chromium found on PATH (looked for chromium, chromium-browser, google-chrome): \
         install it with `sudo apt-get install -y chromium`, or name one with --browser PATH \
         or CIGNA_BROWSER",
    ))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Flags for an unattended browser: puppeteer's defaults for automation (no first-run UI, no
/// background work that competes with the page) and ours for a closed network.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-component-extensions-with-background-pages",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-domain-reliability",
    "--disable-extensions",
    "--disable-gpu",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-renderer-backgrounding",
    "--disable-sync",
    "--enable-automation",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--no-first-run",
    "--password-store=basic",
    "--use-mock-keychain",
    "--lang=en_US",
    // Chromium keeps only the last of a repeated switch, so every feature goes in one list.
    "--disable-features=Translate,TranslateUI,OptimizationHints,MediaRouter,\
     AutofillServerCommunication",
    "--window-size=1280,900",
    // Commands on fd 3, answers on fd 4; no port, so no other local user can reach the page.
    "--remote-debugging-pipe",
];

/// A started Chromium: the DevTools connection, the task that must poll it, the process, and
/// the temporary profile (removed when dropped).
pub(super) struct Started {
    pub browser: chromiumoxide::Browser,
    pub handler: tokio::task::JoinHandle<()>,
    pub process: tokio::process::Child,
    pub relay: tokio::task::JoinHandle<()>,
    pub profile: Option<tempfile::TempDir>,
}

pub(super) async fn start(options: &BrowserOptions) -> Result<Started> {
    let (profile_dir, temp) = match &options.profile_dir {
        Some(dir) => {
            release_profile(dir);
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("cigna-setup-browser-")
                .tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let mut command = tokio::process::Command::new(&options.executable);
    command
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // What Chromium prints may quote pages; it is read only to explain a failed start.
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if options.loopback_only {
        command.arg("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost");
    }
    // Chromium refuses to run as root with its sandbox on; only then is it turned off.
    if crate::owner::is_root() {
        command.args(["--no-sandbox", "--disable-setuid-sandbox"]);
    }
    command.arg("about:blank");
    let (ours, theirs) = relay::pipes().context("cannot make the browser's DevTools pipes")?;
    theirs.install(&mut command);
    let mut process = command.spawn().map_err(|e| {
        error::environment(format!(
            "could not start the browser {}: {e}. Check that it runs: `{} --headless=new --version`",
            options.executable.display(),
            options.executable.display()
        ))
    })?;
    drop(theirs);
    let said = stderr_tail(process.stderr.take());
    let relay = relay::start(ours)
        .await
        .context("cannot open the browser's DevTools relay")?;
    let handler_config = chromiumoxide::handler::HandlerConfig {
        viewport: Some(Viewport {
            width: 1280,
            height: 900,
            ..Viewport::default()
        }),
        // Longer than any in-page wait slice; short enough that a browser that died is noticed.
        request_timeout: Duration::from_secs(8),
        ..Default::default()
    };
    let connected = tokio::time::timeout(
        Duration::from_secs(30),
        chromiumoxide::Browser::connect_with_config(&relay.url, handler_config),
    )
    .await;
    let (browser, mut handler) = match connected {
        Ok(Ok(pair)) => pair,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer in 30s".to_string(),
            };
            let _ = process.kill().await;
            relay.task.abort();
            return Err(error::environment(format!(
                "could not start the browser {}: {why}{}. Check that it runs: `{} --headless=new \
                 --version`",
                options.executable.display(),
                said.lock().map(|t| t.summary()).unwrap_or_default(),
                options.executable.display()
            )));
        }
    };
    // The handler must be polled for anything to work; newer Chromium sends events the crate
    // cannot parse, which are errors here but not reasons to stop.
    let handler = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if let Err(e) = event {
                tracing::trace!(error = %e, "unparsable DevTools message");
            }
        }
    });
    Ok(Started {
        browser,
        handler,
        process,
        relay: relay.task,
        profile: temp,
    })
}

/// The last lines Chromium printed, to explain a start that failed; drained for as long as the
/// browser runs so that it never blocks on a full pipe.
#[derive(Default)]
struct Tail(std::collections::VecDeque<String>);

impl Tail {
    fn summary(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = self.0.iter().map(String::as_str).collect();
        format!(" (it said: {})", lines.join(" / "))
    }
}

fn stderr_tail(
    stderr: Option<tokio::process::ChildStderr>,
) -> std::sync::Arc<std::sync::Mutex<Tail>> {
    let tail = std::sync::Arc::new(std::sync::Mutex::new(Tail::default()));
    if let Some(stderr) = stderr {
        let kept = tail.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut tail) = kept.lock() {
                    tail.0.push_back(line.chars().take(200).collect());
                    if tail.0.len() > 4 {
                        tail.0.pop_front();
                    }
                }
            }
        });
    }
    tail
}

/// A run killed from outside (kill -9) leaves its Chromium running and its profile locked;
/// `resume` must be able to start a new one on the same profile. The lock names the process
/// (`SingletonLock` → `host-PID`): if that process still runs with this profile, it is that
/// orphan, and it is stopped; then the stale lock files are removed.
pub fn release_profile(dir: &Path) {
    let lock = dir.join("SingletonLock");
    let Ok(target) = std::fs::read_link(&lock) else {
        return;
    };
    let pid = target
        .to_string_lossy()
        .rsplit('-')
        .next()
        .and_then(|p| p.parse::<i32>().ok());
    if let Some(pid) = pid {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy());
        if ours {
            tracing::info!(
                pid,
                "stopping the browser an interrupted run left on its profile"
            );
            // SAFETY: kill(2) with a pid read from the lock and checked to be that browser.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
                && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
                && std::time::Instant::now() < deadline
            {
                // Polling the process table: it has no event to wait on.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    for name in ["SingletonLock", "SingletonCookie", "SingletonSocket"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
}
