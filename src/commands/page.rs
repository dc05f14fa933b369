//! `cigna-setup page snapshot`: what the tool sees on a page, for a support engineer asking
//! why a target was not found — the roles, accessible names, labels, states and values the
//! locator works with, secrets masked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::browser::{self, Browser, BrowserOptions};
use crate::cli::PageSnapshotArgs;
use crate::error::{bad_input, environment};
use crate::journal::Journal;
use crate::secrets;
use crate::settings;

/// How long the page may take to load and render before it is outlined as it stands.
const SETTLE: Duration = Duration::from_secs(30);

pub async fn snapshot(args: PageSnapshotArgs) -> Result<()> {
    let outline = match &args.step {
        Some(step) => {
            let runs_dir = args
                .runs_dir
                .clone()
                .unwrap_or_else(settings::default_runs_dir);
            from_run(&runs_dir, &args.target, step, args.browser.as_deref()).await?
        }
        None if looks_like_url(&args.target) => {
            live(&args.target, args.browser.as_deref(), None).await?
        }
        None => {
            return Err(bad_input(format!(
                "`{}` is not a URL (http://, https:// or file://); to see the page a run's step \
                 left, give the run id and the step: cigna-setup page snapshot RUN STEP",
                args.target
            )))
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&outline)?
    } else {
        render(&outline)
    };
    // The outline masks what looks secret; the run's own secrets are redacted on top.
    println!("{}", secrets::global().redact(&text));
    Ok(())
}

fn looks_like_url(s: &str) -> bool {
    ["http://", "https://", "file://"]
        .iter()
        .any(|p| s.to_ascii_lowercase().starts_with(p))
}

/// The outline a failed step saved (`artifacts/STEP/outline.json`), else its saved page
/// loaded into a fresh browser.
async fn from_run(runs_dir: &Path, run: &str, step: &str, browser: Option<&Path>) -> Result<Value> {
    let journal = Journal::open(runs_dir, run)?;
    if !journal.steps.iter().any(|s| s.id == step) {
        let ids: Vec<&str> = journal.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(bad_input(format!(
            "run {run} has no step `{step}`; its steps: {}",
            ids.join(", ")
        )));
    }
    let dir = journal.dir.join("artifacts").join(step);
    let saved = dir.join("outline.json");
    if saved.exists() {
        let text = std::fs::read_to_string(&saved)
            .with_context(|| format!("cannot read {}", saved.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not an outline", saved.display()));
    }
    let page = dir.join("page.html");
    if !page.exists() {
        return Err(bad_input(format!(
            "step `{step}` of run {run} left no page: a step's page is kept when it fails (and \
             for every step with --trace); `cigna-setup show {run}` lists what each step kept"
        )));
    }
    live(&format!("file://{}", page.display()), browser, Some(&page)).await
}

/// Opens `url` in a fresh headless browser (no login, no profile) and outlines it.
async fn live(url: &str, browser: Option<&Path>, saved: Option<&PathBuf>) -> Result<Value> {
    let executable = browser::find_executable(browser)?;
    let b = Browser::launch(BrowserOptions {
        executable,
        profile_dir: None,
        loopback_only: false,
    })
    .await?;
    let outlined = async {
        b.goto(url).await?;
        b.outline(SETTLE).await
    }
    .await;
    b.close().await;
    let mut outline = outlined.map_err(|e| match saved {
        Some(p) => environment(format!("could not outline {}: {e:#}", p.display())),
        None => environment(format!("could not outline {url}: {e:#}")),
    })?;
    if let Some(p) = saved {
        outline["url"] = Value::String(format!("{} (saved page)", p.display()));
    }
    Ok(outline)
}

/// The outline as indented lines: `role "name" label="…" value="…" [checked, disabled]`.
pub fn render(outline: &Value) -> String {
    let mut out = String::new();
    let url = outline["url"].as_str().unwrap_or("");
    let title = outline["title"].as_str().unwrap_or("");
    let _ = writeln!(
        out,
        "{url}{}",
        if title.is_empty() {
            String::new()
        } else {
            format!(" — {title}")
        }
    );
    if let Some(nodes) = outline["nodes"].as_array() {
        for n in nodes {
            line(&mut out, n, 1);
        }
    }
    out.trim_end().to_string()
}

fn line(out: &mut String, node: &Value, depth: usize) {
    let role = node["role"].as_str().unwrap_or("");
    let name = node["name"].as_str().unwrap_or("");
    let _ = write!(out, "{}{role}", "  ".repeat(depth));
    if !name.is_empty() {
        let _ = write!(out, " {}", quoted(name));
    }
    if let Some(label) = node["label"].as_str().filter(|l| *l != name) {
        let _ = write!(out, " label={}", quoted(label));
    }
    if let Some(value) = node["value"].as_str() {
        let _ = write!(out, " value={}", quoted(value));
    }
    if let Some(state) = node["state"].as_object() {
        let words: Vec<String> = state
            .iter()
            .map(|(k, v)| match v {
                Value::Bool(true) => k.clone(),
                Value::Bool(false) => format!("not {k}"),
                other => format!("{k}={other}"),
            })
            .collect();
        if !words.is_empty() {
            let _ = write!(out, " [{}]", words.join(", "));
        }
    }
    out.push('\n');
    if let Some(kids) = node["children"].as_array() {
        for k in kids {
            line(out, k, depth + 1);
        }
    }
}

fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            c if c.is_control() => q.push(' '),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_outline_reads_as_indented_lines_with_states() {
        let outline = json!({
            "url": "http://127.0.0.1:1/", "title": "Log in",
            "nodes": [
                {"role": "heading", "name": "Log in", "state": {"level": 1}},
                {"role": "form", "name": "", "children": [
                    {"role": "textbox", "name": "User ID", "value": "office.manager"},
                    {"role": "checkbox", "name": "Remember me", "state": {"checked": false}},
                    {"role": "button", "name": "Log In \"now\"", "state": {"disabled": true}}
                ]}
            ]
        });
        assert_eq!(
            render(&outline),
            "http://127.0.0.1:1/ — Log in\n  heading \"Log in\" [level=1]\n  form\n    textbox \
             \"User ID\" value=\"office.manager\"\n    checkbox \"Remember me\" [not checked]\n    \
             button \"Log In \\\"now\\\"\" [disabled]"
        );
    }

    #[test]
    fn only_urls_are_opened() {
        assert!(looks_like_url("https://cignaforhcp.cigna.com/"));
        assert!(looks_like_url("FILE:///tmp/x.html"));
        assert!(!looks_like_url("existing-20261128-101500-1a2b"));
    }
}
