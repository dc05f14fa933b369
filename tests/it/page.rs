//! `page snapshot`: what the tool sees on a page, for a support engineer asking why a target
//! was not found: on a live URL, on the page a failed step left, secrets masked.

use cigna_fixture::Skin;

use crate::support::run::Cli;
use crate::support::world::{World, MAILBOX_PASSWORD, OFFICE_PASSWORD};

on_each_skin!(a_live_page_is_outlined_with_roles_names_and_states);
async fn a_live_page_is_outlined_with_roles_names_and_states(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    let out = Cli::new("page")
        .arg("snapshot")
        .arg(world.portal.url())
        .run()
        .await;
    out.assert_code(0);
    for want in [
        "heading \"Log in to Cigna for HCP\"",
        "textbox \"User ID\"",
        "textbox \"Password\"",
        "button \"Log In\"",
        "link \"Use a temporary ID to register\"",
        "button \"Accept All Cookies\"",
    ] {
        assert!(out.stdout.contains(want), "no {want} in:\n{}", out.stdout);
    }
    assert!(out.stdout.starts_with(world.portal.url()), "{}", out.stdout);

    let out = Cli::new("page")
        .arg("snapshot")
        .arg(world.portal.url())
        .arg("--json")
        .run()
        .await;
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["url"], world.portal.url());
    let nodes = json["nodes"].as_array().expect("nodes");
    fn has(nodes: &[serde_json::Value], role: &str, name: &str) -> bool {
        nodes.iter().any(|n| {
            (n["role"] == role && n["name"] == name)
                || n["children"].as_array().is_some_and(|k| has(k, role, name))
        })
    }
    assert!(has(nodes, "button", "Log In"), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_look_secret_are_masked() {
    let page =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/markup/controls.html");
    let out = Cli::new("page")
        .arg("snapshot")
        .arg(format!("file://{}", page.display()))
        .run()
        .await;
    out.assert_code(0);
    // A temporary User ID and password shown on the page, and a read-only field's value.
    for secret in ["TZ2QAOZL", "Xy7!pz6AM", "RN-58203-114"] {
        assert!(
            !out.stdout.contains(secret),
            "{secret} shown:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("••••••"), "{}", out.stdout);
    assert!(
        out.stdout.contains("combobox \"Job role\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("button \"Working with Cigna\" [not expanded]"),
        "{}",
        out.stdout
    );
}

on_each_skin!(the_page_a_failed_step_left_is_outlined_without_secrets);
async fn the_page_a_failed_step_left_is_outlined_without_secrets(skin: Skin) {
    let world = World::builder().skin(skin).start().await;
    let flow = cigna_setup::flow::BUILTIN[0]
        .1
        .replace("{ fill = \"First name\"", "{ fill = \"Given name\"");
    let flow_file = world.runs.path().join("renamed.toml");
    std::fs::write(&flow_file, flow).unwrap();
    let out = world
        .existing("snapshot.123456789@codes.zuub.test")
        .path_flag("--flow", &flow_file)
        .flag("--action-timeout", "2s")
        .run()
        .await;
    out.assert_code(3);
    let run = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("run ")?.split_whitespace().next())
        .expect("a run id")
        .to_string();
    let out = Cli::new("page")
        .arg("snapshot")
        .arg(&run)
        .arg("fill-user-info")
        .path_flag("--runs-dir", world.runs.path())
        .run()
        .await;
    out.assert_code(0);
    // The field the flow wanted is not there; the one it should have named is (its name may
    // carry the required marker).
    assert!(
        out.stdout.contains("textbox \"First name"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("button \"Assign Access\""),
        "{}",
        out.stdout
    );
    for secret in [OFFICE_PASSWORD, MAILBOX_PASSWORD] {
        assert!(!out.stdout.contains(secret), "{}", out.stdout);
    }

    // A step that left no page, a step the run does not have, and a run id without a step.
    let out = Cli::new("page")
        .arg("snapshot")
        .arg(&run)
        .arg("office-login")
        .path_flag("--runs-dir", world.runs.path())
        .run()
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("left no page"), "{}", out.stderr);
    let out = Cli::new("page")
        .arg("snapshot")
        .arg(&run)
        .arg("no-such-step")
        .path_flag("--runs-dir", world.runs.path())
        .run()
        .await;
    out.assert_code(2);
    assert!(
        out.stderr.contains("its steps: office-login"),
        "{}",
        out.stderr
    );
    let out = Cli::new("page").arg("snapshot").arg(&run).run().await;
    out.assert_code(2);
    assert!(out.stderr.contains("is not a URL"), "{}", out.stderr);
}
