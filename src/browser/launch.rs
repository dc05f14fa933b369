//! Finding Chromium and starting it headless, with the flags a closed network needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::handler::viewport::Viewport;
use futures::StreamExt;

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

pub(super) async fn start(
    options: &BrowserOptions,
) -> Result<(
    chromiumoxide::Browser,
    tokio::task::JoinHandle<()>,
    Option<tempfile::TempDir>,
)> {
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
    let mut builder = BrowserConfig::builder()
        .chrome_executable(&options.executable)
        .new_headless_mode()
        .user_data_dir(&profile_dir)
        .launch_timeout(Duration::from_secs(30))
        // Longer than any in-page wait slice; short enough that a browser that died is noticed.
        .request_timeout(Duration::from_secs(8))
        .viewport(Viewport {
            width: 1280,
            height: 900,
            ..Viewport::default()
        })
        .window_size(1280, 900)
        // chromiumoxide adds the leading dashes itself.
        .arg("disable-gpu")
        .arg("no-default-browser-check")
        .arg("disable-component-update")
        .arg("disable-domain-reliability")
        .arg((
            "disable-features",
            &[
                "Translate",
                "OptimizationHints",
                "MediaRouter",
                "AutofillServerCommunication",
            ][..],
        ));
    if options.loopback_only {
        builder = builder.arg((
            "host-resolver-rules",
            "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
        ));
    }
    // Chromium refuses to run as root with its sandbox on; only then is it turned off.
    if crate::owner::is_root() {
        builder = builder.no_sandbox();
    }
    let config = builder
        .build()
        .map_err(|e| error::environment(format!("could not configure the browser: {e}")))?;
    let (browser, mut handler) = chromiumoxide::Browser::launch(config).await.map_err(|e| {
        error::environment(format!(
            "could not start the browser {}: {e}. Check that it runs: `{} --headless=new --version`",
            options.executable.display(),
            options.executable.display()
        ))
    })?;
    // The handler must be polled for anything to work; newer Chromium sends events the crate
    // cannot parse, which are errors here but not reasons to stop.
    let handler = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if let Err(e) = event {
                tracing::trace!(error = %e, "unparsable DevTools message");
            }
        }
    });
    Ok((browser, handler, temp))
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
