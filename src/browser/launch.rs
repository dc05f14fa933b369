//! Finding Chromium and starting it headless, with the flags a closed network needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chromiumoxide::handler::viewport::Viewport;
use futures::StreamExt;

use super::relay;
use crate::error;

/// Browsers tried, in order, when none is named: a path as it stands, a name on PATH. The
/// headless shell (Chromium's old headless mode, without the browser's UI layer) comes first: it
/// starts in under half the time and takes a step's picture faster (see README, Figures).
/// Debian's is run where it lives, since its wrapper on PATH runs it without `exec` and would
/// stand between us and the browser.
const CANDIDATES: &[&str] = &[
    "/usr/lib/chromium/chromium-headless-shell",
    "chromium-headless-shell",
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
        if Path::new(name).is_absolute() {
            if is_executable(Path::new(name)) {
                return Ok(PathBuf::from(name));
            }
            continue;
        }
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(error::environment(
        "no Chromium found (looked for /usr/lib/chromium/chromium-headless-shell, and for \
         chromium-headless-shell, chromium, chromium-browser, google-chrome on PATH): install \
         it with `sudo apt-get install -y chromium-headless-shell` (or `chromium`), or name one \
         with --browser PATH or CIGNA_BROWSER",
    ))
}

/// Whether `executable` is Chromium's headless shell (by its name: the shell and the browser
/// print the same version line).
pub fn is_headless_shell(executable: &Path) -> bool {
    executable
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("headless-shell"))
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

/// Flags for the headless shell only. Without a display, frames come at 60 a second and a
/// step's picture waits for them: unthrottled, a picture takes 18 ms instead of 47. With a
/// page's endless animation, Chromium's new headless mode then renders flat out (194 % CPU of
/// one core, against 34 % with the limit); the shell takes 15 % against 1 % (`node
/// benches/frame_rate.js`, 2026-12-02), so only the shell gets it.
const SHELL_FLAGS: &[&str] = &["--disable-frame-rate-limit"];

/// A started Chromium: the DevTools connection, the task that must poll it, the process, and
/// the temporary profile (removed when dropped).
pub(super) struct Started {
    pub browser: chromiumoxide::Browser,
    pub handler: tokio::task::JoinHandle<()>,
    pub process: tokio::process::Child,
    pub group: ProcessGroup,
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
        .args(if is_headless_shell(&options.executable) {
            SHELL_FLAGS
        } else {
            &[]
        })
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // What Chromium prints may quote pages; it is read only to explain a failed start.
        .stderr(std::process::Stdio::piped())
        // Its own process group, so that whatever stands between us and the browser (a wrapper
        // script that does not `exec`) goes with it (see `ProcessGroup`); Ctrl-C reaches us,
        // and we close the browser.
        .process_group(0)
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
    let mut group = ProcessGroup(process.id());
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
            group.kill();
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
        group,
        relay: relay.task,
        profile: temp,
    })
}

/// The browser's process group (its leader's pid): every process in it is killed when this is
/// dropped armed, so nothing the browser started outlives a run that ended without closing it.
/// Disarmed once the browser closed and its leader was reaped (after which the id may be
/// another's).
pub(super) struct ProcessGroup(pub Option<u32>);

impl ProcessGroup {
    pub fn kill(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }

    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
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
