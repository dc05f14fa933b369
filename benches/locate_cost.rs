//! What one locating action costs, and what it would cost through Chromium's accessibility
//! tree instead: the measurement behind keeping the in-page engine.
//!
//! On each markup page: the driver's own `see` of one field (one `Runtime.evaluate`, the
//! engine computing roles and names in the page), against one fetch of Chromium's tree with
//! its DOM mapping (`DOM.getDocument` + `Accessibility.getFullAXTree`), the least a locator
//! that asked the tree would pay per look before checking visibility and hit-testing. Also
//! typing: 10 and 20 characters as key events. `ROUNDS=N` (default 100).

mod support;

use std::time::{Duration, Instant};

use cigna_setup::browser::{find_executable, Browser, BrowserOptions, Locator};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let browser = Browser::launch(BrowserOptions {
        executable: find_executable(None).expect("chromium must be installed"),
        profile_dir: None,
        loopback_only: true,
    })
    .await
    .expect("chromium must start");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (page, field) in [
        ("fixtures/markup/habits.html", "First name"),
        ("fixtures/markup/controls.html", "Member ID"),
    ] {
        let path = root.join(page);
        if !path.exists() {
            continue;
        }
        browser
            .goto(&format!("file://{}", path.display()))
            .await
            .unwrap();
        let target = Locator::label(field);
        let t = Duration::from_secs(5);
        browser.expect_element(&target, &[], t).await.unwrap();
        let (mut ours, mut tree, mut typing10, mut typing20) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let s = Instant::now();
            browser.expect_element(&target, &[], t).await.unwrap();
            ours.push(ms(s.elapsed()));
            let s = Instant::now();
            browser.chromium_roles_and_names("data-none").await.unwrap();
            tree.push(ms(s.elapsed()));
        }
        for _ in 0..rounds.min(30) {
            let s = Instant::now();
            browser.fill(&target, "ABCDE12345", false, t).await.unwrap();
            typing10.push(ms(s.elapsed()));
            let s = Instant::now();
            browser
                .fill(&target, "ABCDE12345ABCDE12345", false, t)
                .await
                .unwrap();
            typing20.push(ms(s.elapsed()));
        }
        println!("{page}:");
        support::summary("  see a field (in-page engine)", "ms", ours);
        support::summary("  one Chromium AX tree fetch", "ms", tree);
        support::summary("  fill 10 characters (key events)", "ms", typing10);
        support::summary("  fill 20 characters (key events)", "ms", typing20);
    }
    browser.close().await;
}
