//! The browser driver against controls as real portals make them (fixtures/markup/controls.html,
//! written from the portal contract by someone who had not read the driver): a custom
//! combobox with an overlay listbox, a native select under a styled box, masks that only take
//! key presses, a native date field, a contenteditable field, values beside Copy and Show
//! buttons, errors shown as plain text, 40 TIN checkboxes, a users table that loads late and
//! pages, and names told apart only by their region. Real headless Chromium.

use std::time::Duration;

use cigna_setup::browser::{Among, Browser, Locator, Within};
use serde_json::Value;

use crate::support::browser::{open_markup, open_repo_file};

const T: Duration = Duration::from_secs(10);

/// What the page said when a wait for `text` (which never comes) failed on its answer.
async fn refused(b: &Browser, text: &str) -> cigna_setup::error::PageSaid {
    let err = b
        .expect_text(text, &[], Duration::from_secs(60))
        .await
        .unwrap_err();
    cigna_setup::error::page_said(&err)
        .expect("the refusal is typed")
        .clone()
}

async fn open_controls() -> Browser {
    let browser = open_repo_file("fixtures/markup/controls.html").await;
    // The page writes this once its late content is in.
    browser.expect_text("users page = 1", &[], T).await.unwrap();
    browser
}

fn heading(name: &str) -> Within {
    Within::heading(name)
}

/// Every checkbox of the outline with its name and whether it is ticked.
fn checkboxes(outline: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    fn walk(n: &Value, out: &mut Vec<(String, bool)>) {
        if n["role"] == "checkbox" {
            out.push((
                n["name"].as_str().unwrap_or("").to_string(),
                n["state"]["checked"].as_bool().unwrap_or(false),
            ));
        }
        for k in n["children"].as_array().into_iter().flatten() {
            walk(k, out);
        }
    }
    for n in outline["nodes"].as_array().into_iter().flatten() {
        walk(n, &mut out);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comboboxes_custom_and_native_are_chosen_by_option_name() {
    let b = open_controls().await;
    // Opened by a click, its listbox appended to <body> late; the option clicked by its name.
    b.select(&Locator::label("Job role"), "Administration support", T)
        .await
        .unwrap();
    b.expect_text("job role = Administration support", &[], T)
        .await
        .unwrap();
    // Choosing what is shown already changes nothing.
    b.select(&Locator::label("Job role"), "administration support", T)
        .await
        .unwrap();
    // A native select drawn over by a styled box.
    b.select(
        &Locator::label("Security Question 1"),
        "In what city were you born?",
        T,
    )
    .await
    .unwrap();
    b.expect_text("question 1 = In what city were you born?", &[], T)
        .await
        .unwrap();
    // An option the list does not have fails naming the ones it has.
    let err = b
        .select(
            &Locator::label("Job role"),
            "Astronaut",
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("no option \"Astronaut\""), "{msg}");
    assert!(msg.contains("option \"Dentist\""), "{msg}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_key_presses_that_masks_take_and_read_back_through() {
    let b = open_controls().await;
    // These masks revert text that arrives without key events.
    b.fill(&Locator::label("Phone number"), "5551234567", false, T)
        .await
        .unwrap();
    assert_eq!(
        b.field_value(&Locator::label("Phone number"), T)
            .await
            .unwrap(),
        "(555) 123-4567"
    );
    b.fill(&Locator::label("Tax ID"), "123456789", false, T)
        .await
        .unwrap();
    b.expect_text("phone = (555) 123-4567", &[], T)
        .await
        .unwrap();
    // A native date field takes the contract's MM/DD/YYYY, and reads back the same way.
    b.fill(&Locator::label("Date of Birth"), "01/01/1980", false, T)
        .await
        .unwrap();
    b.expect_text("dob = 1980-01-01", &[], T).await.unwrap();
    assert_eq!(
        b.field_value(&Locator::label("Date of Birth"), T)
            .await
            .unwrap(),
        "01/01/1980"
    );
    b.expect_text("tax id = 12-3456789", &[], T).await.unwrap();
    // A contenteditable field is emptied, typed into and read back by its text.
    b.fill(&Locator::label("Notes"), "Call before noon", false, T)
        .await
        .unwrap();
    b.fill(&Locator::label("Notes"), "Call after noon", false, T)
        .await
        .unwrap();
    assert_eq!(
        b.field_value(&Locator::label("Notes"), T).await.unwrap(),
        "Call after noon"
    );
    b.expect_text("notes = Call after noon", &[], T)
        .await
        .unwrap();
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_beside_copy_and_show_buttons_is_read_alone() {
    let b = open_controls().await;
    assert_eq!(
        b.read_next_to("Temporary User ID", None, T).await.unwrap(),
        "TZ2QAOZL"
    );
    assert_eq!(
        b.read_next_to("Temporary Password", None, T).await.unwrap(),
        "Xy7!pz6AM"
    );
    assert_eq!(
        b.read_next_to("Reference number", None, T).await.unwrap(),
        "RN-58203-114"
    );
    // Hidden behind bullets: shown with the "Show" beside it, as a person would.
    b.click(&Locator::clickable("Hide"), T).await.unwrap();
    b.expect_text("temporary password = hidden", &[], T)
        .await
        .unwrap();
    let err = b
        .read_next_to("Temporary Password", None, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("masked"), "{err:#}");
    assert_eq!(
        b.read_next_to("Temporary Password", Some(&Locator::clickable("Show")), T)
            .await
            .unwrap(),
        "Xy7!pz6AM"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_errors_fail_the_wait_hints_that_were_there_do_not() {
    let b = open_controls().await;
    // A hint beside a field from the start is no error: the wait below, which judges the
    // page's answer on every look, sees the hint beside the date and still succeeds.
    b.fill(&Locator::label("Date of Birth"), "01/01/1980", false, T)
        .await
        .unwrap();
    b.fill(&Locator::label("Member ID"), "U12345678", false, T)
        .await
        .unwrap();
    b.click(&Locator::role("button", "Look up"), T)
        .await
        .unwrap();
    b.expect_text("Member found", &[], T).await.unwrap();

    // Plain text under the field, no aria-invalid, after the click.
    b.fill(&Locator::label("Member ID"), "X1", false, T)
        .await
        .unwrap();
    b.click(&Locator::role("button", "Look up"), T)
        .await
        .unwrap();
    let said = refused(&b, "Member details").await;
    assert_eq!(said.field.as_deref(), Some("Member ID"), "{said:?}");
    assert_eq!(said.text, "Enter a valid member ID.");

    // Text in a polite live region under a field, after leaving it.
    b.fill(&Locator::label("Group number"), "12", false, T)
        .await
        .unwrap();
    b.fill(&Locator::label("Member ID"), "U12345678", false, T)
        .await
        .unwrap();
    let said = refused(&b, "Member details").await;
    assert_eq!(said.field.as_deref(), Some("Group number"), "{said:?}");
    assert_eq!(said.text, "Group number must be 5 digits.");

    // A form-level alert.
    b.fill(&Locator::label("Group number"), "12345", false, T)
        .await
        .unwrap();
    b.click(&Locator::role("button", "Check eligibility"), T)
        .await
        .unwrap();
    let said = refused(&b, "Eligible").await;
    assert_eq!(said.field, None);
    assert_eq!(said.text, "Eligibility could not be checked.");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_forty_tins_exactly_the_one_asked_for_ends_up_ticked() {
    let b = open_controls().await;
    b.check_exactly(
        &Among::Pattern(r"^\d{2}-\d{7}\b".into()),
        &["12-3456720".into()],
        T,
    )
    .await
    .unwrap();
    let boxes = checkboxes(&b.outline(T).await.unwrap());
    assert_eq!(boxes.len(), 40, "{boxes:?}");
    let ticked: Vec<&str> = boxes
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(ticked, ["12-3456720 Zuub Family Dental"]);
    b.expect_text("tin 12-3456703 = false", &[], T)
        .await
        .unwrap();
    // Ticking the other 39 too: far past any cap on toggles per request.
    let all: Vec<String> = (1..=40).map(|i| format!("12-34567{i:02}")).collect();
    b.check_exactly(&Among::Pattern(r"^\d{2}-\d{7}\b".into()), &all, T)
        .await
        .unwrap();
    let boxes = checkboxes(&b.outline(T).await.unwrap());
    assert!(boxes.iter().all(|(_, on)| *on), "{boxes:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_waits_for_the_table_to_settle_and_reads_every_page() {
    let b = open_controls().await;
    let next = Locator::clickable("Next page");
    let loading = ["Loading…".to_string()];
    // On page 3, behind two page loads that mark the table busy.
    assert!(b
        .shows_settled("late.user@codes.example.com", Some(&next), &loading, T)
        .await
        .unwrap());
    b.expect_text("users page = 3", &[], T).await.unwrap();
    // Not in the table: every page was read, and the answer is no.
    assert!(!b
        .shows_settled("nobody@codes.example.com", Some(&next), &loading, T)
        .await
        .unwrap());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_visible_matches_fail_naming_both_and_a_region_tells_them_apart() {
    let b = open_controls().await;
    let err = b
        .click(&Locator::role("button", "Submit"), Duration::from_secs(60))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("2 visible elements match"), "{msg}");
    assert!(msg.contains("in dialog \"Confirm submission\""), "{msg}");
    assert!(msg.contains("within"), "says how to narrow it: {msg}");

    let dialog = Within::role("dialog", None);
    b.click(&Locator::role("button", "Submit").within(dialog), T)
        .await
        .unwrap();
    b.expect_text("submit: dialog", &[], T).await.unwrap();
    b.click(
        &Locator::role("button", "Submit").within(heading("Review New User")),
        T,
    )
    .await
    .unwrap();
    b.expect_text("submit: page", &[], T).await.unwrap();
    b.fill(
        &Locator::label("Street").within(heading("Mailing address")),
        "1 Post Road",
        false,
        T,
    )
    .await
    .unwrap();
    b.fill(
        &Locator::label("Street").within(heading("Billing address")),
        "123 Zuub Street",
        false,
        T,
    )
    .await
    .unwrap();
    b.expect_text("mailing street = 1 Post Road", &[], T)
        .await
        .unwrap();
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_behind_an_icon_ligature_and_a_miss_that_names_the_nearest() {
    let b = open_controls().await;
    // The ligature "expand_more" is aria-hidden: not part of the name.
    b.click(&Locator::clickable("Working with Cigna"), T)
        .await
        .unwrap();
    b.click(&Locator::clickable("Manage User Access"), T)
        .await
        .unwrap();
    b.expect_text("menu: Manage User Access", &[], T)
        .await
        .unwrap();
    let err = b
        .click(
            &Locator::clickable("Working with Cigna menu"),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("did you mean button \"Working with Cigna\""),
        "{msg}"
    );
    b.close().await;
}

/// Angular Material labels its select's trigger by the label *and* the value element inside
/// it (`aria-labelledby="label value"`, its `_getTriggerAriaLabelledby`), so the combobox's
/// accessible name is "Job role Select one" and then "Job role Dentist".
const MAT_SELECT_AS_ANGULAR_RENDERS_IT: &str = r#"<!doctype html><html><body>
<label id="l1">Job role</label>
<div role="combobox" tabindex="0" aria-haspopup="listbox" aria-expanded="false" aria-labelledby="l1 v1" id="c1">
  <span id="v1">Select one</span><span aria-hidden="true">expand_more</span></div>
<pre id="log"></pre>
<script>
const c = document.getElementById('c1'), v = document.getElementById('v1');
c.addEventListener('click', () => {
  if (document.getElementById('p1')) return;
  c.setAttribute('aria-expanded', 'true');
  const p = document.createElement('div');
  p.id = 'p1'; p.setAttribute('role', 'listbox'); c.setAttribute('aria-controls', 'p1');
  for (const o of ['Office manager', 'Dentist']) {
    const e = document.createElement('div'); e.setAttribute('role', 'option'); e.textContent = o;
    e.addEventListener('click', () => { v.textContent = o; p.remove(); c.setAttribute('aria-expanded', 'false');
      document.getElementById('log').textContent += 'role ' + o + '\n'; });
    p.appendChild(e);
  }
  document.body.appendChild(p);
});
</script></body></html>"#;

/// A switch whose state a framework commits a frame after the click (React's scheduler,
/// Angular's event coalescing), not during it.
const SWITCH_THAT_UPDATES_LATER: &str = r#"<!doctype html><html><body>
<button role="switch" aria-checked="false" id="s1">Email me the codes</button>
<pre id="log"></pre>
<script>
const s = document.getElementById('s1');
s.addEventListener('click', () => requestAnimationFrame(() => {
  const on = s.getAttribute('aria-checked') !== 'true';
  s.setAttribute('aria-checked', String(on));
  document.getElementById('log').textContent += 'switch ' + on + '\n';
}));
</script></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_combobox_labelled_by_its_label_and_its_value_is_found_by_the_label() {
    let b = open_markup(MAT_SELECT_AS_ANGULAR_RENDERS_IT).await;
    // Not a text field: typing into it would do nothing a person means.
    let err = b
        .fill(&Locator::label("Job role"), "Dentist", false, T)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("is a drop-down list"),
        "{err:#}"
    );
    b.select(&Locator::label("Job role"), "Dentist", T)
        .await
        .unwrap();
    b.expect_text("role Dentist", &[], T).await.unwrap();
    // Now named "Job role Dentist": still the field labelled "Job role", showing Dentist.
    b.select(&Locator::label("Job role"), "Dentist", T)
        .await
        .unwrap();
    assert_eq!(
        b.field_value(&Locator::label("Job role"), T).await.unwrap(),
        "Dentist"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_that_takes_its_state_a_frame_later_is_toggled_once() {
    let b = open_markup(SWITCH_THAT_UPDATES_LATER).await;
    b.set_checked(&Locator::label("Email me the codes"), true, T)
        .await
        .unwrap();
    b.expect_text("switch true", &[], T).await.unwrap();
    b.set_checked(&Locator::label("Email me the codes"), true, T)
        .await
        .unwrap();
    b.set_checked(&Locator::label("Email me the codes"), false, T)
        .await
        .unwrap();
    b.expect_text("switch false", &[], T).await.unwrap();
    let outline = b.outline(T).await.unwrap();
    let log = outline.to_string();
    assert_eq!(log.matches("switch true").count(), 1, "toggled once: {log}");
    b.close().await;
}

/// A users table whose row comes later than the quiet period a look would otherwise trust:
/// after a response the page is waiting for, or after a timer it set. `{late}` is where the row
/// comes from.
const ROW_ARRIVES_LATE: &str = r#"<!doctype html><html><body>
<h1>Edit User Access</h1>
<table><thead><tr><th>Email address</th><th>Status</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const add = (email) => {
  const tr = document.createElement("tr");
  tr.innerHTML = `<td>${email}</td><td>Active</td>`;
  document.getElementById("rows").append(tr);
};
{late}
</script></body></html>"#;

/// Serves `page` at `/` at once, and `row` at `/users` after `delay` (a slow portal API);
/// returns the page's URL. One origin, as a portal's page and its API are.
async fn slow_users_api(page: String, row: &'static str, delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let page: &'static str = Box::leak(page.into_boxed_str());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let (body, kind) = if head.starts_with("GET /users") {
                    tokio::time::sleep(delay).await;
                    (row, "text/plain")
                } else if head.starts_with("GET / ") {
                    (page, "text/html")
                } else {
                    ("", "text/plain")
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    url
}

/// A fresh browser on `url`.
async fn open_url(url: &str) -> Browser {
    let b = crate::support::browser::launch().await;
    b.goto(url).await.unwrap();
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_waits_for_a_slow_response_and_a_pending_timer() {
    const ROW: &str = "late.row@codes.example.com";
    // 450 ms: past the quiet period, so only the outstanding request says to wait.
    let slow = Duration::from_millis(450);
    let fetched = "fetch('/users').then((r) => r.text()).then(add);";
    let url = slow_users_api(ROW_ARRIVES_LATE.replace("{late}", fetched), ROW, slow).await;
    let b = open_url(&url).await;
    assert!(b.shows_settled(ROW, None, &[], T).await.unwrap());
    b.close().await;

    let xhr = "const x = new XMLHttpRequest(); x.open('GET', '/users'); \
               x.onload = () => add(x.responseText); x.send();";
    let url = slow_users_api(ROW_ARRIVES_LATE.replace("{late}", xhr), ROW, slow).await;
    let b = open_url(&url).await;
    assert!(b.shows_settled(ROW, None, &[], T).await.unwrap());
    b.close().await;

    let timer = "setTimeout(() => add('timed.row@codes.example.com'), 400);";
    let b = open_markup(&ROW_ARRIVES_LATE.replace("{late}", timer)).await;
    assert!(b
        .shows_settled("timed.row@codes.example.com", None, &[], T)
        .await
        .unwrap());
    // A page at rest with the row absent is read as it stands.
    assert!(!b
        .shows_settled("nobody@codes.example.com", None, &[], T)
        .await
        .unwrap());
    b.close().await;
}
