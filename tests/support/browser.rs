//! A headless Chromium for tests that drive the browser driver directly, on a page of markup.

use std::path::Path;

use cigna_setup::browser::{find_executable, Browser, BrowserOptions};

/// A fresh headless browser (own profile, loopback only).
pub async fn launch() -> Browser {
    let executable = find_executable(None).expect("chromium must be installed");
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
