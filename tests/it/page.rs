//! `page snapshot`: what the tool sees on a page, for a support engineer asking why a target
//! was not found: on a live URL, on the page a failed step left, secrets masked.

use cigna_fixture::Skin;

use crate::support::run::{Cli, Output};
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

/// The id of the run a failed command names on stderr.
fn run_of(out: &Output) -> String {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("run ")?.split_whitespace().next())
        .expect("a run id")
        .to_string()
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
    let run = run_of(&out);
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

    // A step that fails with secrets on its page: the new login's password and two security
    // answers typed, the third answer's field misnamed. Neither the text nor the JSON outline
    // shows any of the run's secrets, yet both show the fields that held them.
    let flow = cigna_setup::flow::BUILTIN[0]
        .1
        .replace("{ fill = \"Answer 3\"", "{ fill = \"Answer Three\"");
    std::fs::write(&flow_file, flow).unwrap();
    let out = world
        .existing("snapshot.223456789@codes.zuub.test")
        .path_flag("--flow", &flow_file)
        .flag("--action-timeout", "2s")
        .run()
        .await;
    out.assert_code(3);
    assert!(out.stderr.contains("create-profile"), "{}", out.stderr);
    let run = run_of(&out);
    let secrets = crate::runs::secret_values(&world.runs.path().join(&run));
    let text = Cli::new("page")
        .arg("snapshot")
        .arg(&run)
        .arg("create-profile")
        .path_flag("--runs-dir", world.runs.path())
        .run()
        .await;
    text.assert_code(0);
    let json = Cli::new("page")
        .arg("snapshot")
        .arg(&run)
        .arg("create-profile")
        .arg("--json")
        .path_flag("--runs-dir", world.runs.path())
        .run()
        .await;
    json.assert_code(0);
    let outline = json.json();
    assert!(outline["nodes"].is_array(), "{outline}");
    for secret in &secrets {
        assert!(!text.stdout.contains(secret.as_str()), "{}", text.stdout);
        assert!(!json.stdout.contains(secret.as_str()), "{}", json.stdout);
    }
    // The fields are there with a value, masked (Answer 3 was never typed: no value).
    for field in ["Password", "Confirm Password", "Answer 1", "Answer 2"] {
        let line = format!("textbox \"{field} *\" value=\"••••••\"");
        let plain = format!("textbox \"{field}\" value=\"••••••\"");
        assert!(
            text.stdout.contains(&line) || text.stdout.contains(&plain),
            "{field} outlined, masked:\n{}",
            text.stdout
        );
    }
}
