//! Screenshots of failed steps hold no readable secret: steps are failed on purpose on the
//! temporary-credentials page, the filled profile and the entered code, and OCR (Debian's
//! `tesseract-ocr`) reads each screenshot the run saved. Each check has its positive control:
//! the same page, shot without masks in a browser on the run's own profile, must show the secret
//! to the OCR, or the check proves nothing and fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cigna_setup::browser::Browser;

use crate::support::world::World;

/// A secret counts as read when some stretch of the OCR text is within this many edits of it per
/// character (rounded down, at least 1): 6 characters allow 1 edit, 12 allow 3.
const EDITS_PER_CHAR: f64 = 0.25;

/// What tesseract reads in a PNG, whitespace removed (OCR splits and joins words freely).
fn ocr(png: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shot.png");
    std::fs::write(&file, png).unwrap();
    let out = std::process::Command::new("tesseract")
        .arg(&file)
        .arg("stdout")
        .args(["--psm", "11"])
        .output()
        .expect("tesseract must be installed (apt-get install -y tesseract-ocr)");
    assert!(
        out.status.success(),
        "tesseract: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The fewest edits that turn `needle` into some stretch of `hay` (approximate substring match).
fn edits_to_find(needle: &str, hay: &str) -> usize {
    let n: Vec<char> = needle.chars().filter(|c| !c.is_whitespace()).collect();
    let h: Vec<char> = hay.chars().collect();
    // prev[j]: edits to match n[..i] ending at h[..j]; a match may start anywhere (row 0 is 0).
    let mut prev = vec![0usize; h.len() + 1];
    for i in 1..=n.len() {
        let mut cur = vec![i; h.len() + 1];
        for j in 1..=h.len() {
            let same = n[i - 1].eq_ignore_ascii_case(&h[j - 1]);
            cur[j] = (prev[j - 1] + usize::from(!same))
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev.into_iter().min().unwrap_or(n.len())
}

fn readable(secret: &str, text: &str) -> bool {
    let allowed = ((secret.chars().count() as f64 * EDITS_PER_CHAR) as usize).max(1);
    edits_to_find(secret, text) <= allowed
}

#[test]
fn the_fuzzy_match_finds_near_misses_and_not_strangers() {
    assert_eq!(edits_to_find("TZ2QAOZL", "TemporaryUserIDTZ2QA0ZLCopy"), 1);
    assert!(readable("TZ2QAOZL", "UserIDTZ2QA0ZLCopy"));
    assert!(!readable("TZ2QAOZL", "UserID[redacted]Copy"));
    assert!(readable("482913", "Code:482973"));
    assert!(!readable("482913", "Code:"));
}

fn secrets_of(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("secrets.json")).unwrap()).unwrap()
}

/// The built-in existing flow with the first `from` after `after` replaced by `to`.
fn flow_failing(world: &World, after: &str, from: &str, to: &str) -> PathBuf {
    let flow = cigna_setup::flow::BUILTIN[0].1;
    let at = flow.find(after).expect("anchor in the flow") + after.len();
    let rel = flow[at..].find(from).expect("action in the flow");
    let changed = format!(
        "{}{}{}",
        &flow[..at + rel],
        to,
        &flow[at + rel + from.len()..]
    );
    let file = world.runs.path().join("failing.toml");
    std::fs::write(&file, changed).unwrap();
    file
}

/// A fresh browser on the page the step left, rebuilt from its saved `page.html` with the
/// secrets put back where the redaction took them out (in turn, so each shows at least once)
/// and its styles and scripts loaded from the portal: the same page, secrets showing.
async fn same_page(dir: &Path, step: &str, values: &[String]) -> Browser {
    let artifacts = dir.join("artifacts").join(step);
    let outline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(artifacts.join("outline.json")).unwrap())
            .unwrap();
    let url = outline["url"].as_str().expect("the outline has the URL");
    let html = std::fs::read_to_string(artifacts.join("page.html")).unwrap();
    let mut pieces = html.split("[redacted]");
    let mut rebuilt = pieces.next().unwrap_or_default().to_string();
    for (i, piece) in pieces.enumerate() {
        rebuilt.push_str(&values[i % values.len()]);
        rebuilt.push_str(piece);
    }
    let rebuilt = rebuilt.replacen("<head>", &format!("<head><base href=\"{url}\">"), 1);
    let page = dir.join(format!("{step}-control.html"));
    std::fs::write(&page, rebuilt).unwrap();
    let b = crate::support::browser::launch().await;
    b.goto(&format!("file://{}", page.display())).await.unwrap();
    b
}

struct Case {
    step: &'static str,
    anchor: &'static str,
    from: &'static str,
    to: &'static str,
    /// Secrets (keys of secrets.json) the page shows.
    shown: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        step: "review-submit",
        anchor: "id = \"review-submit\"",
        from: "{ click = \"Log Out\" }",
        to: "{ click = \"Log Out Elsewhere\" }",
        shown: &["captured.temp_user_id", "captured.temp_password"],
    },
    Case {
        step: "create-profile",
        anchor: "{ fill = \"Answer 3\"",
        from: "name = \"Next\"",
        to: "name = \"Next Elsewhere\"",
        shown: &[
            "generated.answer1",
            "generated.answer2",
            "generated.answer3",
        ],
    },
    Case {
        step: "enter-verification-code",
        anchor: "with = \"{captured.code}\" },",
        from: "name = \"Next\"",
        to: "name = \"Next Elsewhere\"",
        shown: &["captured.code"],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_readable_in_the_screenshots_of_failed_steps() {
    for case in CASES {
        let world = World::start(None).await;
        let flow = flow_failing(&world, case.anchor, case.from, case.to);
        let email = format!("ocr.{}@codes.zuub.test", case.step);
        let out = world
            .existing(&email)
            .path_flag("--flow", &flow)
            .flag("--action-timeout", "2s")
            .run()
            .await;
        out.assert_code(3);
        let dir = world.only_run_dir(&out);
        let shot = std::fs::read(dir.join("artifacts").join(case.step).join("screenshot.png"))
            .unwrap_or_else(|e| panic!("{}: no screenshot: {e}\n{}", case.step, out.stderr));
        let masked = ocr(&shot);
        let mut secrets = secrets_of(&dir);
        // The code is not kept with the run (it is used once): the portal knows what it sent.
        if let Some(code) = world.portal.state_json()["users"][0]["last_code"].as_str() {
            secrets.insert("captured.code".into(), code.into());
        }

        let values: Vec<String> = case
            .shown
            .iter()
            .map(|k| {
                secrets[*k]
                    .as_str()
                    .unwrap_or_else(|| panic!("{k} in secrets.json"))
                    .to_string()
            })
            .collect();
        // The positive control: the same page, its secrets shown, no masks.
        let b = same_page(&dir, case.step, &values).await;
        // The portal's scripts render parts of it late: shoot it once it has settled.
        b.shows_settled("Cigna", None, &[], Duration::from_secs(10))
            .await
            .unwrap();
        let bare = ocr(&b.screenshot().await.unwrap());
        // And masked by the tool's own masks on that page: the mechanism, not only the file.
        let remasked = ocr(&b.masked_screenshot(&values, &[]).await.unwrap());
        b.close().await;

        for (key, value) in case.shown.iter().zip(&values) {
            assert!(
                readable(value, &bare),
                "{}: the unmasked page must show {key} to the OCR, else this check proves \
                 nothing; OCR read: {bare}",
                case.step
            );
            assert!(
                !readable(value, &masked),
                "{}: {key} is readable in the saved screenshot (OCR: {masked})",
                case.step
            );
            assert!(
                !readable(value, &remasked),
                "{}: {key} is readable through the masks (OCR: {remasked})",
                case.step
            );
        }
        drop(world);
    }
}
