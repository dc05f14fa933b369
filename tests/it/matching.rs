//! How targets are matched, rule by rule, on small pages written for the rule: names folded
//! where a person would not see a difference (case, spacing, curly quotes, a required marker or
//! colon) and never matched by a part; a TIN label matched up to a word boundary; two matches
//! named both, and told apart by a form or a landmark; an error that replaces a field's hint in
//! place; a look that waits out a progress bar, and trusts a page that never stops changing.
//! Real headless Chromium.

use std::time::Duration;

use cigna_setup::browser::{Among, Browser, Locator, Within};

use crate::support::browser::open_markup;

const T: Duration = Duration::from_secs(10);

/// Fails the test unless `what` failed with "nothing matches" and proposed `nearest`.
fn assert_no_match(what: &str, result: anyhow::Result<()>, nearest: &str) {
    let err = result.expect_err(what);
    let msg = format!("{err:#}");
    assert!(msg.contains("nothing matches"), "{what}: {msg}");
    let proposed = msg.split("did you mean").nth(1).unwrap_or("");
    assert!(
        proposed
            .split("; on the page")
            .next()
            .unwrap()
            .contains(nearest),
        "{what} names the nearest: {msg}"
    );
}

const FOLDED: &str = r#"<!doctype html><meta charset="utf-8">
<form onsubmit="return false">
  <p><label for="org">Organization’s  legal
     name:</label> <input id="org" oninput="out.textContent = 'org = ' + this.value"></p>
  <p><label for="tin">TAX ID <span aria-hidden="true">*</span></label>
     <input id="tin" oninput="out.textContent = 'tin = ' + this.value"></p>
  <p><label for="uid">User ID for the office</label> <input id="uid"></p>
  <button type="button" onclick="out.textContent = 'clicked: dont'">Don’t  Save</button>
  <button type="button" onclick="out.textContent = 'clicked: draft'">Save draft</button>
</form>
<p id="out"></p>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_compare_folded_and_never_by_a_part() {
    let b = open_markup(FOLDED).await;
    // A straight apostrophe, single spaces and no colon find the curly, spread, colon label.
    b.fill(
        &Locator::label("Organization's legal name"),
        "Zuub",
        false,
        T,
    )
    .await
    .unwrap();
    b.expect_text("org = Zuub", &[], T).await.unwrap();
    // Case, and the required marker.
    b.fill(&Locator::label("Tax ID"), "123456789", false, T)
        .await
        .unwrap();
    b.expect_text("tin = 123456789", &[], T).await.unwrap();
    b.click(&Locator::role("button", "don't save"), T)
        .await
        .unwrap();
    b.expect_text("clicked: dont", &[], T).await.unwrap();

    // A name that is only the start of another is no match, for a role or a label.
    let short = Duration::from_millis(600);
    assert_no_match(
        "button \"Save\"",
        b.click(&Locator::role("button", "Save"), short).await,
        "button \"Save draft\"",
    );
    assert_no_match(
        "label \"User ID\"",
        b.fill(&Locator::label("User ID"), "x", false, short).await,
        "textbox \"User ID for the office\"",
    );
    b.close().await;
}

const TINS: &str = r#"<!doctype html><meta charset="utf-8">
<fieldset><legend>Select TIN(s)</legend>
  <label><input type="checkbox" checked> 50-1000010 — Zuub Dental</label>
  <label><input type="checkbox" checked> 50-10000101 — Zuub Dental North</label>
  <label><input type="checkbox"> 50-1000011 Zuub Ortho</label>
</fieldset>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tin_label_is_matched_up_to_a_word_boundary_only() {
    let b = open_markup(TINS).await;
    b.check_exactly(
        &Among::Pattern(r"^\d{2}-\d{7}".into()),
        &["50-1000010".into()],
        T,
    )
    .await
    .unwrap();
    let ticked = b
        .inspect(
            "[...document.querySelectorAll('label')].map((l) => \
             l.textContent.trim() + ' = ' + l.querySelector('input').checked)",
        )
        .await
        .unwrap();
    assert_eq!(
        ticked,
        serde_json::json!([
            "50-1000010 — Zuub Dental = true",
            // Starts with the TIN, but goes on with a digit: another TIN.
            "50-10000101 — Zuub Dental North = false",
            "50-1000011 Zuub Ortho = false",
        ])
    );
    b.close().await;
}

const TWO_SUBMITS: &str = r#"<!doctype html><meta charset="utf-8">
<nav aria-label="Account"><button type="button" onclick="out.textContent = 'nav'">Submit</button></nav>
<main>
  <form aria-label="Mailing address" onsubmit="return false">
    <label>Street <input oninput="out.textContent = 'mailing ' + this.value"></label>
    <button type="button" onclick="out.textContent = 'mailing form'">Submit</button>
  </form>
  <form onsubmit="return false">
    <label>Street <input oninput="out.textContent = 'unnamed ' + this.value"></label>
  </form>
</main>
<p id="out"></p>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_matches_are_both_named_and_a_form_or_landmark_tells_them_apart() {
    let b = open_markup(TWO_SUBMITS).await;
    let err = b
        .click(&Locator::role("button", "Submit"), Duration::from_secs(60))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("2 visible elements match"), "{msg}");
    assert!(msg.contains("in navigation \"Account\""), "{msg}");
    assert!(msg.contains("in form \"Mailing address\""), "{msg}");

    let submit = Locator::role("button", "Submit");
    b.click(
        &submit
            .clone()
            .within(Within::role("landmark", Some("Account"))),
        T,
    )
    .await
    .unwrap();
    b.expect_text("nav", &[], T).await.unwrap();
    b.click(
        &submit.within(Within::role("form", Some("Mailing address"))),
        T,
    )
    .await
    .unwrap();
    b.expect_text("mailing form", &[], T).await.unwrap();
    // Two Street fields; the named form holds one of them.
    b.fill(
        &Locator::label("Street").within(Within::role("form", Some("Mailing address"))),
        "1 Post Road",
        false,
        T,
    )
    .await
    .unwrap();
    b.expect_text("mailing 1 Post Road", &[], T).await.unwrap();
    b.close().await;
}

const HINT_REPLACED: &str = r#"<!doctype html><meta charset="utf-8">
<form onsubmit="return false">
  <div class="field">
    <label for="tin">Tax ID</label>
    <input id="tin">
    <div class="hint">9 digits, no dashes</div>
  </div>
  <button type="button" id="save">Save</button>
</form>
<script>
  document.getElementById("save").onclick = () => {
    const v = document.getElementById("tin").value;
    // The same element that held the hint now holds the answer, as many portals do.
    if (!/^\d{9}$/.test(v)) document.querySelector(".hint").textContent = "Tax ID must be 9 digits";
    else document.body.insertAdjacentHTML("beforeend", "<h1>Saved</h1>");
  };
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_replaced_by_an_error_in_place_fails_the_step() {
    let b = open_markup(HINT_REPLACED).await;
    b.fill(&Locator::label("Tax ID"), "12-3", false, T)
        .await
        .unwrap();
    b.click(&Locator::role("button", "Save"), T).await.unwrap();
    let err = b
        .expect_text("Saved", &[], Duration::from_secs(60))
        .await
        .unwrap_err();
    let said = cigna_setup::error::page_said(&err).expect("the refusal is typed");
    assert_eq!(said.field.as_deref(), Some("Tax ID"), "{said:?}");
    assert_eq!(said.text, "Tax ID must be 9 digits");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_waits_while_a_progress_bar_shows() {
    // The row comes after 1.5 s, behind a spinner: longer than the quiet period, and by a timer
    // too long to count as "shortly", so only the progress bar says to wait.
    let page = r#"<!doctype html><meta charset="utf-8">
<div role="progressbar" aria-label="Loading users" id="spin">…</div>
<table><tr><th>Email address</th></tr></table>
<script>
  setTimeout(() => {
    document.querySelector("table").insertAdjacentHTML("beforeend", "<tr><td>late.row@codes.example.com</td></tr>");
    document.getElementById("spin").remove();
  }, 1500);
</script>"#;
    let b = open_markup(page).await;
    assert!(b
        .shows_settled("late.row@codes.example.com", None, &[], T)
        .await
        .unwrap());
    b.close().await;

    // A bar with a value is a wizard's "step 2 of 5", not a spinner: read at once.
    let steps = r#"<!doctype html><meta charset="utf-8">
<div role="progressbar" aria-label="Step" aria-valuenow="2" aria-valuemax="5"></div>
<p>Step 2 of 5</p>"#;
    let b = open_markup(steps).await;
    assert!(!b
        .shows_settled("late.row@codes.example.com", None, &[], T)
        .await
        .unwrap());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_trusts_a_page_that_never_stops_changing_after_a_while() {
    // A clock that ticks every 100 ms never gives a quiet period; the look still answers
    // (within the 10 s it is given), from the page as it stands.
    let page = r#"<!doctype html><meta charset="utf-8">
<p>Session time: <span id="clock">0</span></p>
<table><tr><th>Email address</th></tr><tr><td>known@codes.example.com</td></tr></table>
<script>
  let n = 0;
  (function tick() { document.getElementById("clock").textContent = String(++n); setTimeout(tick, 100); })();
</script>"#;
    let b: Browser = open_markup(page).await;
    assert!(!b
        .shows_settled("nobody@codes.example.com", None, &[], T)
        .await
        .unwrap());
    assert!(b
        .shows_settled("known@codes.example.com", None, &[], T)
        .await
        .unwrap());
    b.close().await;
}

const QUESTIONS: &str = r#"<!doctype html><meta charset="utf-8">
<label for="q1">Security Question 1</label>
<select id="q1"><option value="">Choose…</option><option disabled>Retired question</option>
  <option>Where did you meet your spouse?</option><option>What was your first job?</option></select>
<span id="q2label">Security Question 2</span>
<div role="combobox" tabindex="0" aria-labelledby="q2label q2value" aria-expanded="false"
     aria-controls="q2list" id="q2"><span id="q2value">Select a question</span></div>
<div role="listbox" id="q2list" hidden>
  <div role="option">Select a question</div>
  <div role="option">Where did you meet your spouse?</div>
  <div role="option">What was your first job?</div>
</div>
<script>
  const box = document.getElementById("q2"), list = document.getElementById("q2list");
  box.onclick = () => { list.hidden = false; box.setAttribute("aria-expanded", "true"); };
  for (const o of list.children) o.onclick = () => {
    document.getElementById("q2value").textContent = o.textContent;
    o.setAttribute("aria-selected", "true");
    list.hidden = true; box.setAttribute("aria-expanded", "false");
  };
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pick_takes_an_option_the_list_offers_never_a_placeholder_or_one_taken() {
    let b = open_markup(QUESTIONS).await;
    // Native: not the empty placeholder, not the disabled one.
    let first = b
        .select_any(&Locator::label("Security Question 1"), &[], T)
        .await
        .unwrap();
    assert_eq!(first, "Where did you meet your spouse?");
    // A custom list: not what the field showed empty, not what the first pick took.
    let second = b
        .select_any(
            &Locator::label("Security Question 2"),
            std::slice::from_ref(&first),
            T,
        )
        .await
        .unwrap();
    assert_eq!(second, "What was your first job?");
    let shown = b
        .inspect("document.getElementById('q2value').textContent")
        .await
        .unwrap();
    assert_eq!(shown, "What was your first job?");
    // Nothing left: the wait says so and names what the list offers.
    let taken = [first, second];
    let err = b
        .select_any(
            &Locator::label("Security Question 1"),
            &taken,
            Duration::from_millis(600),
        )
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("no option of"), "{msg}");
    assert!(msg.contains("What was your first job?"), "{msg}");
    b.close().await;
}
