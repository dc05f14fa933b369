//! The material skin keeps the brief it was written from: each habit the brief lists
//! (crates/cigna-fixture/src/skins/material/BRIEF.md) is checked on the pages the flows visit,
//! so the skin cannot quietly lose the habits that make it a test of the locator.

use cigna_fixture::Skin;
use cigna_setup::browser::Locator;
use cigna_setup::secrets::Redactor;

use crate::support::portal::http_get;
use crate::support::world::{World, OFFICE_PASSWORD};

const BRIEF: &str = include_str!("../../crates/cigna-fixture/src/skins/material/BRIEF.md");

/// The numbered habits of the brief, by their bold titles.
fn habits() -> Vec<String> {
    BRIEF
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().split_once(". **")?.1;
            l.trim_start().chars().next().filter(char::is_ascii_digit)?;
            Some(rest.split("**").next()?.to_string())
        })
        .collect()
}

/// The ids of the form `prefix-N` on a page.
fn generated_ids(html: &str, prefix: &str) -> Vec<String> {
    let needle = format!("id=\"{prefix}-");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + 4..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_habit_of_the_brief_appears_on_the_pages_the_flows_visit() {
    let titles = habits();
    assert_eq!(
        titles,
        [
            "Custom elements",
            "Generated ids",
            "Icon ligatures",
            "Copy buttons",
            "Comboboxes",
            "ARIA tables filled late",
            "Text errors",
            "Late rendering"
        ],
        "a habit added to the brief needs its check here"
    );

    // The whole existing flow on the material skin, keeping every step's page. On the page
    // of the shown-once credentials, the Copy and Show buttons must stand beside the values.
    let world = World::builder().skin(Skin::Material).start().await;
    // review-submit ends on the page of the shown-once credentials here, so --trace keeps it:
    // its "Log Out" becomes a step of its own. It ends once the login form is there, not only
    // its heading: the skin renders the form late, and its ids are what is checked below.
    let flow = cigna_setup::flow::BUILTIN[0].1.replace(
        "  { click = \"Log Out\" },\n]",
        "]\n\n[[step]]\nid = \"log-out\"\ntitle = \"Log out\"\nactions = [\n  { click = \"Log Out\" },\n  { expect = \"Log in to Cigna for HCP\" },\n  { expect = { label = \"User ID\" } },\n]",
    );
    assert!(
        flow.contains("id = \"log-out\""),
        "review-submit ends with Log Out"
    );
    let flow_file = world.runs.path().join("habits.toml");
    std::fs::write(&flow_file, flow).unwrap();
    let out = world
        .existing("habits.123456789@codes.zuub.test")
        .path_flag("--flow", &flow_file)
        .arg("--trace")
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    let artifacts = world.runs.path().join(&run).join("artifacts");
    let page = |step: &str| {
        std::fs::read_to_string(artifacts.join(step).join("page.html"))
            .unwrap_or_else(|e| panic!("no page kept for {step}: {e}"))
    };
    // office-login ends on the office's home page, check-existing-user on Edit User Access,
    // open-add-user on Add New User, fill-user-info on Assign access.
    let home = page("office-login");
    let users = page("check-existing-user");
    let add_user = page("open-add-user");
    let assign = page("fill-user-info");
    let all = [&home, &users, &add_user, &assign]
        .map(|s| s.as_str())
        .concat();

    // 1. Custom elements.
    for tag in [
        "<app-root",
        "<mat-card",
        "<mat-form-field",
        "<mat-select",
        "<mat-checkbox",
    ] {
        assert!(all.contains(tag), "no {tag} on the flow's pages");
    }
    // 2. Generated ids, new on every load: the login page as the flow left it, and again below.
    let login = page("log-out");
    let first = generated_ids(&login, "mat-input");
    assert!(!first.is_empty(), "no generated ids on the login page");
    // 3. Icon ligatures, hidden from the accessibility tree.
    assert!(
        home.contains(">expand_more</mat-icon>"),
        "no expand_more ligature on the home page"
    );
    for tag in all.split("<mat-icon").skip(1) {
        let tag = &tag[..tag.find('>').unwrap()];
        assert!(tag.contains("aria-hidden=\"true\""), "<mat-icon{tag}>");
    }
    // 4. Copy buttons beside each shown-once value, and Show beside the password (which the
    // flow's capture clicked to read it: it now says Hide); the credentials then worked.
    let added = page("review-submit");
    assert!(
        added.contains("User Added"),
        "review-submit ended on User Added"
    );
    assert_eq!(
        added.matches(">Copy<").count(),
        2,
        "a Copy button beside each value"
    );
    assert!(added.contains(">Hide<"), "the password's Show/Hide toggle");
    assert_eq!(world.users()[0]["status"], "active");
    // 5. Comboboxes with an overlay listbox.
    assert!(add_user.contains("role=\"combobox\""), "no combobox");
    assert!(
        add_user.contains("aria-haspopup=\"listbox\""),
        "no listbox popup"
    );
    // 6. ARIA tables, filled by script.
    for role in [
        "role=\"table\"",
        "role=\"columnheader\"",
        "role=\"row\"",
        "role=\"cell\"",
    ] {
        assert!(users.contains(role), "no {role} in the users table");
    }
    let (_, _, shell) = http_get(world.portal.url()).await;
    assert!(shell.contains("<app-root"), "{shell}");
    assert!(
        !shell.contains("<mat-form-field"),
        "the server sends only the shell"
    );
    // The users table came busy ("Loading…" row, aria-busy) and was filled by script: the
    // page the flow left has its rows, and the busy mark cleared, not removed.
    let table = users
        .split("role=\"table\"")
        .nth(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .expect("a role=table element");
    assert!(
        table.contains("aria-busy=\"false\""),
        "<… role=\"table\"{table}>"
    );
    assert!(
        !users.contains("app-loading-row"),
        "the Loading… row is gone"
    );
    // 8. Late rendering: what the server sent as a shell, the script built, after a delay up
    // to the late-render maximum the shell tells it.
    assert!(all.contains("<mat-form-field"));
    let max = shell
        .split("\"late_render_max_ms\":")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .expect("the shell says its late-render maximum");
    assert!(max > 0, "the pages render late: {max} ms");

    // 7. Text errors: a wrong office password, shown as plain text under its field.
    let browser = crate::support::browser::launch().await;
    let t = std::time::Duration::from_secs(10);
    browser.goto(world.portal.url()).await.unwrap();
    browser
        .expect_element(&Locator::label("User ID"), &[], t)
        .await
        .unwrap();
    let reloaded = tempfile::tempdir().unwrap();
    browser
        .save_evidence(reloaded.path(), &Redactor::new(), &[])
        .await
        .unwrap();
    let again = generated_ids(
        &std::fs::read_to_string(reloaded.path().join("page.html")).unwrap(),
        "mat-input",
    );
    assert!(
        !again.is_empty() && again.iter().all(|id| !first.contains(id)),
        "{first:?} / {again:?}"
    );
    browser
        .fill(&Locator::label("User ID"), "office.manager", false, t)
        .await
        .unwrap();
    browser
        .fill(&Locator::label("Password"), "not-the-password", true, t)
        .await
        .unwrap();
    browser
        .click(&Locator::role("button", "Log In"), t)
        .await
        .unwrap();
    let err = browser
        .expect_text("Welcome back", &[], t)
        .await
        .unwrap_err();
    assert!(cigna_setup::error::page_said(&err).is_some(), "{err:#}");
    let dir = tempfile::tempdir().unwrap();
    browser
        .save_evidence(dir.path(), &Redactor::new(), &[])
        .await
        .unwrap();
    let refused = std::fs::read_to_string(dir.path().join("page.html")).unwrap();
    browser.close().await;
    assert!(refused.contains("<mat-error"), "the error is a mat-error");
    assert!(
        !refused.contains("aria-invalid=\"true\""),
        "and not aria-invalid"
    );
    assert!(!refused.contains(OFFICE_PASSWORD));
}
