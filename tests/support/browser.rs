//! A headless Chromium for tests that drive the browser driver directly, on a page of markup.

use std::path::Path;

use cigna_setup::browser::{find_executable, Browser, BrowserOptions};

/// A fresh headless browser (own profile, loopback only): the one `CIGNA_BROWSER` names, as for
/// the tool itself (the runs the tests start inherit it), else the first found on PATH.
pub async fn launch() -> Browser {
    let named = std::env::var_os("CIGNA_BROWSER").map(std::path::PathBuf::from);
    let executable = find_executable(named.as_deref()).expect("chromium must be installed");
    Browser::launch(BrowserOptions {
        executable,
        profile_dir: None,
        loopback_only: true,
    })
    .await
    .expect("chromium must start")
}

/// A fresh browser on a file of the repository (`fixtures/markup/…`).
pub async fn open_repo_file(relative: &str) -> Browser {
    let browser = launch().await;
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    browser
        .goto(&format!("file://{}", page.display()))
        .await
        .unwrap();
    browser
}

/// A fresh browser on this markup.
pub async fn open_markup(html: &str) -> Browser {
    let browser = launch().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.html");
    std::fs::write(&file, html).unwrap();
    browser
        .goto(&format!("file://{}", file.display()))
        .await
        .unwrap();
    // Loaded: the file may go.
    drop(dir);
    browser
}

/// Chromium itself (`chromium` on PATH), for the tests that keep the fallback browser working.
pub fn chromium_on_path() -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .expect("chromium on PATH (.ci/install-deps installs it)")
}
