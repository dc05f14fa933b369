//! The browser driver against markup the portal contract allows but the fixture portal may not
//! use (fixtures/markup/habits.html): labels attached every way, hidden duplicates, late
//! content, disabled-then-enabled controls, a covering cookie banner, masks, custom
//! checkboxes, a scroll-to-enable agreement, shadow DOM. Real headless Chromium.

use std::time::Duration;

use cigna_setup::browser::{Among, Browser, Locator};

const T: Duration = Duration::from_secs(5);

fn label(name: &str) -> Locator {
    Locator::label(name)
}

fn button(name: &str) -> Locator {
    Locator::role("button", name)
}

async fn open_habits() -> Browser {
    let mut browser = crate::support::browser::open_repo_file("fixtures/markup/habits.html").await;
    browser.set_dismiss(vec![Locator::clickable("Accept All Cookies")]);
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_are_found_by_label_however_it_is_attached() {
    let b = open_habits().await;
    for (name, value) in [
        ("First name", "Insurance"),       // <label for>, with a required marker
        ("Last name", "Admin"),            // wrapping label
        ("Email address", "a@b.example"),  // aria-label
        ("shadow field", "in the shadow"), // open shadow root, case-insensitive
    ] {
        b.fill(&label(name), value, false, T).await.unwrap();
        assert_eq!(b.field_value(&label(name), T).await.unwrap(), value);
    }
    // aria-labelledby, through an input mask.
    b.fill(&label("Phone number"), "5551234567", false, T)
        .await
        .unwrap();
    assert_eq!(
        b.field_value(&label("Phone number"), T).await.unwrap(),
        "(555) 123-4567"
    );
    b.fill(&label("Date of Birth"), "01/01/1980", false, T)
        .await
        .unwrap();
    assert_eq!(
        b.field_value(&label("Date of Birth"), T).await.unwrap(),
        "01/01/1980"
    );
    // Filling again replaces, it does not append.
    b.fill(&label("First name"), "Second", false, T)
        .await
        .unwrap();
    assert_eq!(
        b.field_value(&label("First name"), T).await.unwrap(),
        "Second"
    );
    // Content rendered late by script is waited for.
    b.fill(&label("Late field"), "late", false, T)
        .await
        .unwrap();
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_are_acted_on_only_when_visible_enabled_and_uncovered() {
    let b = open_habits().await;
    // The visible <a role=button> Next, not the hidden mobile <button>.
    b.click(&button("Next"), T).await.unwrap();
    b.expect_text("clicked Next", &[], T).await.unwrap();
    // Disabled at first; enabled by script later.
    b.click(&button("Continue"), T).await.unwrap();
    b.expect_text("clicked Continue", &[], T).await.unwrap();
    // Covered by the cookie banner: the banner is accepted first.
    b.click(&button("Covered Button"), T).await.unwrap();
    b.expect_text("cookies accepted", &[], T).await.unwrap();
    b.expect_text("clicked Covered", &[], T).await.unwrap();
    let log = b.read_next_to("Reference", None, T).await.unwrap();
    assert_eq!(log, "REF-9");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selects_checkboxes_agreements_and_shown_values() {
    let b = open_habits().await;
    b.select(&label("Job role"), "administration SUPPORT", T)
        .await
        .unwrap();
    b.expect_text("role x2", &[], T).await.unwrap();
    // A custom checkbox whose native input is invisible: ticked through its label.
    b.set_checked(&label("Remember me"), true, T).await.unwrap();
    b.expect_text("remember true", &[], T).await.unwrap();
    // Disabled until the agreement is scrolled to its end.
    b.set_checked(
        &label("I have read and agree to the Website Access Manager User Agreement"),
        true,
        T,
    )
    .await
    .unwrap();
    b.expect_text("agreed true", &[], T).await.unwrap();
    assert_eq!(
        b.read_next_to("Temporary User ID", None, T).await.unwrap(),
        "TMP12345"
    );
    assert_eq!(
        b.read_next_to("Temporary Password", None, T).await.unwrap(),
        "*Xy7!pass*"
    );
    b.check_exactly(&Among::Names(vec!["Remember me".into()]), &[], T)
        .await
        .unwrap();
    b.expect_text("remember false", &[], T).await.unwrap();
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_target_fails_with_what_the_page_showed() {
    let b = open_habits().await;
    let err = b
        .fill(&label("Given name"), "x", false, Duration::from_millis(800))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("Given name"), "{msg}");
    assert!(msg.contains("First name"), "the candidates seen: {msg}");
    assert_eq!(cigna_setup::error::exit_code(&err), 3);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_on_the_page_fails_the_wait_at_once_with_what_it_said() {
    let b = open_habits().await;
    // A text the flow names as a refusal.
    let err = b
        .expect_text("Verify Your Identity", &["pending approval".into()], T)
        .await
        .unwrap_err();
    let said = cigna_setup::error::page_said(&err).expect("the refusal is typed");
    assert!(
        said.text.contains("pending approval by your organization"),
        "{said:?}"
    );
    assert_eq!(said.field, None);
    // An error that appears next to a field after a click.
    b.click(&button("Check member"), T).await.unwrap();
    let err = b
        .expect_text("Member found", &[], Duration::from_secs(20))
        .await
        .unwrap_err();
    // Failed at once on what the page said, not at the deadline: a deadline's error says how
    // long it waited and carries no refusal.
    assert!(!format!("{err:#}").contains("waited"), "{err:#}");
    let said = cigna_setup::error::page_said(&err).expect("the refusal is typed");
    assert_eq!(said.field.as_deref(), Some("Member ID"));
    assert!(said.text.contains("Member ID is not valid."), "{said:?}");
    assert_eq!(cigna_setup::error::exit_code(&err), 3);
    b.close().await;
}

/// On `sliding.html`: clicks `first`, then `then`, and returns what the page logged of the
/// second click.
async fn on_sliding_page_click(first: &str, then: &str) -> String {
    let b = crate::support::browser::open_repo_file("fixtures/markup/sliding.html").await;
    b.click(&button(first), T).await.unwrap();
    b.click(&button(then), T).await.unwrap();
    b.expect_text(&format!("clicked {then}"), &[], T)
        .await
        .unwrap();
    let log = b
        .inspect("document.getElementById('log').textContent")
        .await
        .unwrap();
    b.close().await;
    log.as_str().unwrap_or_default().to_string()
}

/// A transition moves the target long after the DOM last changed: the click waits until it
/// stands still, and never presses what slides into its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_in_a_running_transition_is_clicked_once_it_stands_still() {
    assert_eq!(
        on_sliding_page_click("Start", "Target").await,
        "clicked Target at rest"
    );
}

/// A transform that moves only its own element (a button's ripple) does not hold up a click
/// elsewhere: the click lands while it still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ripple_elsewhere_does_not_hold_up_a_click() {
    assert_eq!(
        on_sliding_page_click("Spark", "Other").await,
        "clicked Other while the ripple ran"
    );
}
