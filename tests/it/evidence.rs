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
/// character (rounded down, at least 1): 6 characters allow 2 edits, 12 allow 4. Lenient on
/// purpose, for both sides: the unmasked control must count as read although tesseract misreads
/// some glyphs of a random password (`l`/`I`/`1`, `O`/`0`), and a masked screenshot counts as
/// leaking on a near match already.
const EDITS_PER_CHAR: f64 = 0.34;

/// What tesseract reads in a PNG, whitespace removed (OCR splits and joins words freely): two
/// readings, as sparse text and as one block, one after the other. Each misreads other glyphs
/// of a random password, so the pair finds a shown secret more surely; and since the masked
/// shots are read the same way, a leak is found as surely as the control.
fn ocr(png: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shot.png");
    std::fs::write(&file, png).unwrap();
    let mut text = String::new();
    for psm in ["11", "6"] {
        let out = std::process::Command::new("tesseract")
            .arg(&file)
            .arg("stdout")
            .args(["--psm", psm])
            .output()
            .expect("tesseract must be installed (apt-get install -y tesseract-ocr)");
        assert!(
            out.status.success(),
            "tesseract: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.extend(
            String::from_utf8_lossy(&out.stdout)
                .chars()
                .filter(|c| !c.is_whitespace()),
        );
        // Nothing matches across the seam between the two readings: crossing it costs more
        // edits than any secret is allowed.
        text.push_str(SEAM);
    }
    text
}

/// Between the two readings of a picture.
const SEAM: &str = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";

/// Glyphs tesseract takes for one another in the portal's fonts: a misreading among them is no
/// evidence that a secret is hidden.
const LOOKALIKES: &[&str] = &["il1|!", "o0", "s5$", "b8", "z2", "g6"];

fn same_glyph(a: char, b: char) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b
        || LOOKALIKES
            .iter()
            .any(|set| set.contains(a) && set.contains(b))
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
            let same = same_glyph(n[i - 1], h[j - 1]);
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
    assert_eq!(edits_to_find("TZ2QAOZL", "TemporaryUserIDTZ2QA0ZLCopy"), 0);
    assert_eq!(edits_to_find("TZ2QAOZL", "TemporaryUserIDTZ2QA0ZKCopy"), 1);
    assert!(readable("TZ2QAOZL", "UserIDTZ2QA0ZLCopy"));
    assert!(!readable("TZ2QAOZL", "UserID[redacted]Copy"));
    assert!(readable("482913", "Code:482973"));
    assert!(!readable("482913", "Code:"));
    // Look-alike glyphs are the same letter to the match: none of these is an edit.
    assert_eq!(edits_to_find("lQ3ITK0S", "IQ3lTKO5"), 0);
    // The seam between two readings is no character of a secret.
    assert!(!readable("ABCDEFGHIJ", &format!("xxABCDE{SEAM}FGHIJxx")));
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

/// Runs the existing flow from `flow` (made to fail by `flow_failing`): its output and run dir.
async fn run_failing(
    world: &World,
    email: &str,
    flow: &Path,
) -> (crate::support::run::Output, PathBuf) {
    let out = world
        .existing(email)
        .path_flag("--flow", flow)
        .flag("--action-timeout", "2s")
        .run()
        .await;
    out.assert_code(3);
    let dir = world.only_run_dir(&out);
    (out, dir)
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
        let (out, dir) = run_failing(&world, &email, &flow).await;
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

/// A modal `<dialog>` is drawn in the top layer, above any z-index: masks must be drawn there
/// too, later than the dialog, or the secret it shows is in the screenshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_a_modal_dialog_is_covered_too() {
    let secret = "QX7LM2PZ9RT";
    let b = crate::support::browser::open_markup(&format!(
        "<!doctype html><html><body style=\"font:28px sans-serif\">\
         <h1>Manage Users</h1><p>Behind the dialog.</p>\
         <dialog id=\"d\" style=\"font:32px monospace\"><p>Temporary Password</p>\
         <p><b>{secret}</b></p><button>Close</button></dialog>\
         <script>document.getElementById('d').showModal()</script></body></html>"
    ))
    .await;
    b.shows_settled("Temporary Password", None, &[], Duration::from_secs(10))
        .await
        .unwrap();
    let bare = ocr(&b.screenshot().await.unwrap());
    let masked = ocr(&b
        .masked_screenshot(&[secret.to_string()], &[])
        .await
        .unwrap());
    let after = ocr(&b.screenshot().await.unwrap());
    b.close().await;
    assert!(
        readable(secret, &bare),
        "the control: unmasked, the OCR must read the dialog's secret (it read {bare})"
    );
    assert!(
        !readable(secret, &masked),
        "the dialog's secret is readable through the masks (OCR: {masked})"
    );
    assert!(
        readable(secret, &after),
        "the masks were not removed afterwards (OCR: {after})"
    );
}

/// The report is looked at, not read: loaded in Chromium, it shows a bar per step as long as the
/// step took (the wait for the code email marked within), a picture of how each step left the
/// page, and the failure with its screenshot and what the page offered instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_a_timeline_the_steps_pictures_and_the_failure() {
    let world = World::start(None).await;
    let flow = flow_failing(
        &world,
        "id = \"accept-agreement\"",
        "Website Access Manager User Agreement\" }",
        "Website Access Manager User Agreemnet\" }",
    );
    let (_, dir) = run_failing(&world, "report.123456789@codes.zuub.test", &flow).await;
    let steps = cigna_setup::flow::builtin("existing").unwrap().steps.len();

    let b = crate::support::browser::launch().await;
    b.goto(&format!("file://{}", dir.join("report.html").display()))
        .await
        .unwrap();
    let seen = b
        .inspect(
            r##"(async () => {
              await Promise.all([...document.images].map((i) => i.decode().catch(() => null)));
              const width = (el) => (el ? el.getBoundingClientRect().width : 0);
              const loaded = (i) => !!i && i.complete && i.naturalWidth > 0;
              return {
                bars: [...document.querySelectorAll(".timeline .bar")].map((b) => ({
                  label: b.getAttribute("aria-label"),
                  ms: Number(b.dataset.ms),
                  mailbox: Number(b.dataset.mailboxMs),
                  width: width(b),
                  marked: width(b.querySelector(".mail")),
                  failed: b.classList.contains("failed"),
                })),
                strip: [...document.querySelectorAll(".strip img")].map((i) => ({
                  alt: i.alt, loaded: loaded(i), width: i.naturalWidth,
                })),
                failure: (document.querySelector("#failure") || {}).innerText || "",
                failureShot: loaded(document.querySelector("#failure img")),
              };
            })()"##,
        )
        .await
        .unwrap();
    b.close().await;

    let bars = seen["bars"].as_array().unwrap();
    assert_eq!(bars.len(), steps, "a bar per step: {seen:#}");
    let longest = bars
        .iter()
        .map(|b| b["ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let widest = bars
        .iter()
        .map(|b| b["width"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(widest > 100.0, "the bars are drawn: {seen:#}");
    for bar in bars {
        let expected = bar["ms"].as_f64().unwrap() / longest * widest;
        let drawn = bar["width"].as_f64().unwrap();
        // 2 px: the shortest bars are drawn at least 2 px wide.
        assert!(
            (drawn - expected).abs() <= 2.5,
            "bar {} is {drawn:.1} px, its duration says {expected:.1}: {seen:#}",
            bar["label"]
        );
    }
    let waited: Vec<&serde_json::Value> = bars
        .iter()
        .filter(|b| b["mailbox"].as_f64().unwrap() > 0.0)
        .collect();
    assert!(
        !waited.is_empty(),
        "the wait for the code email is recorded: {seen:#}"
    );
    for bar in waited {
        assert!(
            bar["marked"].as_f64().unwrap() > 0.0,
            "the wait is marked: {bar:#}"
        );
        assert!(
            bar["label"]
                .as_str()
                .unwrap()
                .contains("waiting for the code email"),
            "{bar:#}"
        );
    }
    let failed: Vec<&serde_json::Value> = bars.iter().filter(|b| b["failed"] == true).collect();
    assert_eq!(failed.len(), 1, "{seen:#}");
    assert!(failed[0]["label"]
        .as_str()
        .unwrap()
        .starts_with("accept-agreement"));

    // A step skipped because the page did not ask for it (the office's own verification) has no
    // duration and no picture.
    let ran = bars
        .iter()
        .filter(|b| !b["label"].as_str().unwrap().ends_with(": skipped"))
        .count();
    assert!(ran >= steps - 1, "{seen:#}");
    let strip = seen["strip"].as_array().unwrap();
    assert_eq!(strip.len(), ran, "a picture per step that ran: {seen:#}");
    for picture in strip {
        assert_eq!(picture["loaded"], true, "{picture:#}");
    }
    let small = strip.iter().filter(|p| p["width"] == 384).count();
    assert_eq!(
        small,
        ran - 1,
        "the steps that went well have small pictures: {seen:#}"
    );

    let failure = seen["failure"].as_str().unwrap();
    assert!(
        failure.contains("Failed at step accept-agreement"),
        "{failure}"
    );
    assert!(
        failure.contains("I have read and agree to the Website Access Manager User Agreement"),
        "the failure names what the page offered instead: {failure}"
    );
    assert_eq!(seen["failureShot"], true, "{seen:#}");
}
