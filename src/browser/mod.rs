//! The browser driver: the only code that knows chromiumoxide and the DevTools protocol.
//!
//! The rest of the program sees a [`Browser`] with a person's verbs (click, fill, select, check,
//! read) aimed at [`Locator`]s made of visible texts. Every verb waits, up to its deadline, until
//! its target is unique, visible, enabled and not covered; the in-page half (`locate.js`) does
//! the finding and most of the waiting, so an action usually costs one CDP round trip plus the
//! mouse or keyboard events a person would cause.

mod launch;
mod locator;
mod relay;

pub use launch::{find_executable, is_headless_shell, release_profile, version, BrowserOptions};
pub use locator::{Among, Locator, Target, Within};

use std::time::Duration;

use anyhow::{Context, Result};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    MouseButton,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::Page;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use crate::error;

const LOCATE_JS: &str = include_str!("locate.js");
/// Masks secrets for screenshots and redacts them in the DOM for saved pages.
const EVIDENCE_JS: &str = include_str!("evidence.js");
/// Where a document keeps the engine once it was sent (a name no page uses).
const LOCATE_FN: &str = "__cignaSetupLocate";

/// Numbers each verb's requests (see `until_done_by`).
static VERB_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Installed in every document before its own scripts run: when the page last changed and
/// whether it is waiting on the network or a timer, so a look knows whether the page has
/// settled without always waiting out a quiet period.
const PAGE_WATCH_JS: &str = include_str!("watch.js");

/// How long one in-page wait may last before the page script reports back; short enough that a
/// navigation or a Ctrl-C is noticed quickly, long enough that waits cost few round trips.
const SLICE: Duration = Duration::from_millis(1500);

/// A step's picture in the report: 1280×900 shown as 384×270, enough to recognise the page.
const THUMBNAIL_SCALE: f64 = 0.3;
const THUMBNAIL_QUALITY: i64 = 60;

/// How much longer than its slice a page script may take to answer before the browser's
/// process is looked at.
const ANSWER_MARGIN: Duration = Duration::from_secs(3);

/// A running headless Chromium with the one page the flows drive.
pub struct Browser {
    /// Locked only to close it.
    inner: std::sync::Mutex<chromiumoxide::Browser>,
    page: Page,
    handler: tokio::task::JoinHandle<()>,
    /// Everything the browser started, killed with it; before `process`, so that the group
    /// goes while its leader still holds the id.
    group: launch::ProcessGroup,
    /// Chromium itself, killed if it is dropped without being closed; its pid tells a dead
    /// browser from a slow page.
    process: tokio::process::Child,
    /// Carries DevTools between chromiumoxide's WebSocket and Chromium's pipe.
    relay: tokio::task::JoinHandle<()>,
    dismiss: Vec<Locator>,
    /// Texts of the portal's error pages (the flow's `error-pages`): a wait that meets one
    /// stops at once, and the step may reload and try again.
    error_pages: Vec<String>,
    /// What stood next to each field when the current step first acted on it (or last typed
    /// into it): text that appears there afterwards is the page's answer, a hint that was there
    /// already is not. Kept here, not in the page, because the answer may be a new document.
    notes: std::sync::Mutex<serde_json::Map<String, serde_json::Value>>,
    /// Where the time went since `take_spent` was last called.
    spent: std::sync::Mutex<Spent>,
    _profile: Option<tempfile::TempDir>,
}

/// Where a browser's time went: how much of a flow's time is the portal's and how much the
/// tool's own, so what is left to gain shows (`cargo bench --bench existing_flow`, the report).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    /// Waiting on the page: navigations and documents loading, and the in-page waits for a
    /// target to appear or the page to settle.
    pub page: Duration,
    /// The tool's own round trips: each request to the page less the part of it that waited on
    /// the page, the mouse and key events until the page acknowledged them.
    pub round_trips: Duration,
    /// Step pictures and evidence: covering secrets, capturing, uncovering.
    pub pictures: Duration,
}

#[derive(Debug, Deserialize)]
struct Reply {
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    seen: Vec<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    x: f64,
    #[serde(default)]
    y: f64,
    #[serde(default)]
    dismissing: Option<String>,
    /// What the page said when it refused.
    #[serde(default)]
    said: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    transient: bool,
    /// What stands next to each field now (see `Browser::notes`).
    #[serde(default)]
    notes: Option<serde_json::Map<String, serde_json::Value>>,
    /// The accessible name of the field a fill is about to type into.
    #[serde(default)]
    filled: Option<String>,
    /// Of the request's time, how long the page script waited for the page to change.
    #[serde(default)]
    waited_ms: u64,
}

/// What a verb asks of the page script, and how the reply is finished off in Rust.
enum Verb<'a> {
    /// A text (or one of the alternatives), unless one of the refusals shows.
    Expect(&'a str, &'a [String], &'a [String]),
    See(&'a Locator, &'a [String]),
    Click(&'a Locator),
    Fill(&'a Locator, Option<&'a str>),
    Select(&'a Locator, &'a str),
    /// Any option the list offers but these (what earlier picks took); the reply names it.
    SelectAny(&'a Locator, &'a [String]),
    SetChecked(&'a Locator, bool),
    CheckExactly(&'a Among, &'a [String]),
    /// The value next to a label; a masked one is shown first with the `reveal` control.
    Read(&'a str, Option<&'a Locator>),
    ReadField(&'a Locator),
    Scroll,
    /// One look a decision rests on: once the page has settled (nothing busy or loading, no
    /// change for a moment), through every page of a paged table (`next`).
    Look {
        text: &'a str,
        next: Option<&'a Locator>,
        loading: &'a [String],
    },
    /// Whether a control shows, once the page has settled.
    Present(&'a Locator, &'a [String]),
    /// The page as the engine sees it (`page snapshot`).
    Outline,
    /// Role, name and exposure of every element carrying this attribute.
    Describe(&'a str),
}

impl Verb<'_> {
    fn request(&self) -> serde_json::Value {
        match self {
            Verb::Expect(text, unless, or) => json!({
                "op": "expect", "text": text, "or": or, "unless": unless,
            }),
            Verb::See(l, unless) => json!({
                "op": "see", "target": l, "unless": unless,
            }),
            Verb::Click(l) => json!({"op": "click", "target": l}),
            Verb::Fill(l, value) => {
                // Only a date goes to the page (a native date field takes it from script);
                // everything else is typed.
                let date = value.filter(|v| is_us_date(v));
                json!({"op": "fill", "target": l, "value": date})
            }
            Verb::Select(l, option) => json!({"op": "select", "target": l, "text": option}),
            Verb::SelectAny(l, avoid) => json!({"op": "select", "target": l, "avoid": avoid}),
            Verb::SetChecked(l, on) => {
                json!({"op": if *on { "check" } else { "uncheck" }, "target": l})
            }
            Verb::CheckExactly(among, want) => {
                json!({"op": "check-exactly", "among": among, "want": want})
            }
            Verb::Read(label, reveal) => json!({"op": "read", "text": label, "reveal": reveal}),
            Verb::ReadField(l) => json!({"op": "read-field", "target": l}),
            Verb::Scroll => json!({"op": "scroll"}),
            Verb::Look {
                text,
                next,
                loading,
            } => json!({"op": "look", "text": text, "next": next, "loading": loading}),
            Verb::Present(l, loading) => json!({"op": "present", "target": l, "loading": loading}),
            Verb::Outline => json!({"op": "outline"}),
            Verb::Describe(attr) => json!({"op": "describe", "attr": attr}),
        }
    }

    /// The verb as a person would say it, for error messages.
    fn describe(&self) -> String {
        match self {
            Verb::Expect(text, _, []) => format!("see the text \"{text}\""),
            Verb::Expect(text, _, or) => {
                format!("see the text \"{text}\" or \"{}\"", or.join("\" or \""))
            }
            Verb::See(l, _) => format!("see {l}"),
            Verb::Click(l) => format!("click {l}"),
            Verb::Fill(l, _) => format!("fill {l}"),
            Verb::Select(l, option) => format!("choose \"{option}\" in {l}"),
            Verb::SelectAny(l, _) => format!("choose an option in {l}"),
            Verb::SetChecked(l, true) => format!("tick {l}"),
            Verb::SetChecked(l, false) => format!("untick {l}"),
            Verb::CheckExactly(among, want) => {
                format!("tick exactly {want:?} among the checkboxes {among}")
            }
            Verb::Read(label, _) => format!("read the value shown next to \"{label}\""),
            Verb::ReadField(l) => format!("read {l}"),
            Verb::Scroll => "scroll the agreement to its end".to_string(),
            Verb::Look { text, .. } => format!("look for \"{text}\" once the page has settled"),
            Verb::Present(l, _) => format!("look for {l} once the page has settled"),
            Verb::Outline => "outline the page".to_string(),
            Verb::Describe(attr) => format!("describe the elements marked {attr}"),
        }
    }

    /// How many clicks one verb may ask for before it counts as a page problem: a paged
    /// table may need one per page.
    fn max_clicks(&self) -> u32 {
        match self {
            Verb::Look { .. } => 100,
            _ => 8,
        }
    }
}

impl Browser {
    /// Starts Chromium headless with a fresh profile and opens a blank page.
    pub async fn launch(options: BrowserOptions) -> Result<Browser> {
        let started = launch::start(&options).await?;
        let page = started
            .browser
            .new_page("about:blank")
            .await
            .context("Chromium started but would not open a page")?;
        // The watcher, and the engine itself: defined in every new document before its own
        // scripts run, so no request has to send and compile it (Chromium reuses the
        // compiled script across documents).
        let install = format!("{PAGE_WATCH_JS}\nwindow.{LOCATE_FN} = {LOCATE_JS};");
        page.execute(
            chromiumoxide::cdp::browser_protocol::page::AddScriptToEvaluateOnNewDocumentParams::new(
                install,
            ),
        )
        .await
        .context("Chromium would not take the page watcher")?;
        // chromiumoxide turns these on for every page; nothing here reads them, and each of a
        // page's requests would cost several events parsed and relayed (the flow ran 10 %
        // faster without them).
        {
            use chromiumoxide::cdp::browser_protocol::{log, network, performance};
            let off = "Chromium would not turn off a DevTools domain";
            page.execute(network::DisableParams::default())
                .await
                .context(off)?;
            page.execute(performance::DisableParams::default())
                .await
                .context(off)?;
            page.execute(log::DisableParams::default())
                .await
                .context(off)?;
        }
        Ok(Browser {
            inner: std::sync::Mutex::new(started.browser),
            page,
            handler: started.handler,
            group: started.group,
            process: started.process,
            relay: started.relay,
            dismiss: Vec::new(),
            error_pages: Vec::new(),
            notes: Default::default(),
            spent: Default::default(),
            _profile: started.profile,
        })
    }

    /// Controls clicked away whenever they cover what an action needs (a cookie banner).
    pub fn set_dismiss(&mut self, dismiss: Vec<Locator>) {
        self.dismiss = dismiss;
    }

    /// The texts of the portal's error pages, as the flow names them.
    pub fn set_error_pages(&mut self, texts: Vec<String>) {
        self.error_pages = texts;
    }

    /// A new step begins: what stood next to fields before it is no baseline for its answers.
    pub fn begin_step(&self) {
        self.lock_notes().clear();
    }

    /// Where the time went since the last call (see [`Spent`]), and a fresh count from now.
    pub fn take_spent(&self) -> Spent {
        std::mem::take(&mut *self.spent.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn spend(&self, add: impl FnOnce(&mut Spent)) {
        add(&mut self.spent.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn lock_notes(&self) -> std::sync::MutexGuard<'_, serde_json::Map<String, serde_json::Value>> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the first note of each field this step; `refresh` replaces that field's note (it
    /// is about to be typed into again, so what stands beside it now is no answer to the new
    /// input).
    fn remember_notes(&self, reply: &mut Reply) {
        let Some(notes) = reply.notes.take() else {
            return;
        };
        let mut kept = self.lock_notes();
        for (field, note) in notes {
            if reply.filled.as_deref() == Some(field.as_str()) {
                kept.insert(field, note);
            } else {
                kept.entry(field).or_insert(note);
            }
        }
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        let started = Instant::now();
        let opened = self.page.goto(url).await;
        self.spend(|s| s.page += started.elapsed());
        match opened {
            Ok(_) => Ok(()),
            Err(_) if self.exited() => Err(self.died()),
            // A navigation that fails or times out is worth another try, like an error page.
            Err(e) => Err(anyhow::Error::new(error::Failure {
                exit: error::Exit::PortalStep,
                message: format!("could not open {url}: {e}"),
                outcome: None,
                page: Some(error::PageSaid {
                    field: None,
                    text: format!("could not open {url}"),
                    transient: true,
                }),
            })),
        }
    }

    /// Waits for the text; fails at once when the page shows one of `unless` or a new error
    /// next to a field (the error then carries what the page said).
    pub async fn expect_text(
        &self,
        text: &str,
        unless: &[String],
        timeout: Duration,
    ) -> Result<()> {
        self.expect_any(text, &[], unless, timeout).await
    }

    /// Waits until the page shows `text` or one of `or`; fails at once as `expect_text` does.
    pub async fn expect_any(
        &self,
        text: &str,
        or: &[String],
        unless: &[String],
        timeout: Duration,
    ) -> Result<()> {
        self.until_done(&Verb::Expect(text, unless, or), timeout)
            .await
            .map(drop)
    }

    /// Reloads the page, as a person does on an error page.
    pub async fn reload(&self) -> Result<()> {
        let started = Instant::now();
        let reloaded = self.page.reload().await;
        self.spend(|s| s.page += started.elapsed());
        reloaded.map_err(|e| error::portal_step(format!("could not reload the page: {e}")))?;
        Ok(())
    }

    /// Waits until exactly one visible element matches.
    /// Waits until exactly one visible element matches; fails at once on a text of `unless`
    /// or a new error next to a field.
    pub async fn expect_element(
        &self,
        target: &Locator,
        unless: &[String],
        timeout: Duration,
    ) -> Result<()> {
        self.until_done(&Verb::See(target, unless), timeout)
            .await
            .map(drop)
    }

    pub async fn click(&self, target: &Locator, timeout: Duration) -> Result<()> {
        self.until_done(&Verb::Click(target), timeout)
            .await
            .map(drop)
    }

    /// Types `value` into the field as a person would (so input masks see keystroke input),
    /// after emptying it, then checks what the field shows. `secret` keeps the value and what
    /// the field shows out of any message.
    pub async fn fill(
        &self,
        target: &Locator,
        value: &str,
        secret: bool,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let verb = Verb::Fill(target, Some(value));
        // `Some("set")`: the page took the value itself (a native date field); else type it.
        if self.until_done_by(&verb, deadline).await?.is_none() {
            self.type_text(value)
                .await
                .with_context(|| format!("could not type into {target}"))?;
        }
        let shown = self
            .until_done_by(&Verb::ReadField(target), deadline)
            .await?
            .unwrap_or_default();
        if !same_input(&shown, value) {
            let what = if secret {
                "something other than what was typed".to_string()
            } else {
                format!("\"{shown}\" after typing \"{value}\"")
            };
            return Err(error::portal_step(format!(
                "{target} shows {what}: the page rejected or reformatted the input"
            )));
        }
        Ok(())
    }

    pub async fn select(&self, target: &Locator, option: &str, timeout: Duration) -> Result<()> {
        self.until_done(&Verb::Select(target, option), timeout)
            .await
            .map(drop)
    }

    /// Chooses the first option the list offers that is not one of `avoid` (nor a
    /// placeholder), and says which: the portal's own list decides what can be chosen.
    pub async fn select_any(
        &self,
        target: &Locator,
        avoid: &[String],
        timeout: Duration,
    ) -> Result<String> {
        self.until_done(&Verb::SelectAny(target, avoid), timeout)
            .await?
            .context("the page did not say which option it chose")
    }

    pub async fn set_checked(&self, target: &Locator, on: bool, timeout: Duration) -> Result<()> {
        self.until_done(&Verb::SetChecked(target, on), timeout)
            .await
            .map(drop)
    }

    /// Ticks exactly the checkboxes of a group whose names start with one of `want`, and
    /// unticks the rest of the group (portals pre-tick things).
    pub async fn check_exactly(
        &self,
        among: &Among,
        want: &[String],
        timeout: Duration,
    ) -> Result<()> {
        self.until_done(&Verb::CheckExactly(among, want), timeout)
            .await
            .map(drop)
    }

    /// Whether the page shows `text`, looked at once the page has settled: no region marked
    /// busy, no progress bar, none of the `loading` texts, no DOM change for a moment. With
    /// `next`, a paged table is paged through to its end first.
    pub async fn shows_settled(
        &self,
        text: &str,
        next: Option<&Locator>,
        loading: &[String],
        timeout: Duration,
    ) -> Result<bool> {
        let verb = Verb::Look {
            text,
            next,
            loading,
        };
        Ok(self.until_done(&verb, timeout).await?.as_deref() == Some("yes"))
    }

    /// Whether the page shows `target`, looked at once the page has settled (as
    /// `shows_settled`): for a control whose absence means something, not a slow page.
    pub async fn shows_element_settled(
        &self,
        target: &Locator,
        loading: &[String],
        timeout: Duration,
    ) -> Result<bool> {
        let verb = Verb::Present(target, loading);
        Ok(self.until_done(&verb, timeout).await?.as_deref() == Some("yes"))
    }

    /// The value of a script expression on the page (awaited if it is a promise): for tests
    /// and diagnostics that check what a page shows beyond its names, such as whether its
    /// images loaded.
    pub async fn inspect(&self, expression: &str) -> Result<serde_json::Value> {
        let answer = tokio::time::timeout(ANSWER_MARGIN, self.evaluate(expression.to_string()))
            .await
            .context("the page did not answer in time")??;
        Ok(answer.unwrap_or(serde_json::Value::Null))
    }

    /// What the engine sees on the page now: `{"url", "title", "nodes": [{role, name, …}]}`.
    pub async fn outline(&self, timeout: Duration) -> Result<serde_json::Value> {
        let text = self
            .until_done(&Verb::Outline, timeout)
            .await?
            .unwrap_or_default();
        serde_json::from_str(&text).context("the page outline was not JSON")
    }

    /// Role, accessible name and exposure of each element carrying `attr`, as this driver
    /// computes them.
    pub async fn roles_and_names(&self, attr: &str) -> Result<Vec<AxView>> {
        let text = self
            .until_done(&Verb::Describe(attr), Duration::from_secs(5))
            .await?
            .unwrap_or_default();
        serde_json::from_str(&text).context("the page's description was not JSON")
    }

    /// Role, accessible name and exposure of each element carrying `attr`, as Chromium's own
    /// accessibility tree has them (`Accessibility.getFullAXTree`): the oracle the driver's
    /// names are held to. Elements absent from the tree are not exposed.
    pub async fn chromium_roles_and_names(&self, attr: &str) -> Result<Vec<AxView>> {
        use chromiumoxide::cdp::browser_protocol::accessibility::GetFullAxTreeParams;
        use chromiumoxide::cdp::browser_protocol::dom::{GetDocumentParams, Node};
        let doc = self
            .page
            .execute(GetDocumentParams::builder().depth(-1).pierce(true).build())
            .await
            .context("DOM.getDocument failed")?;
        fn walk(n: &Node, attr: &str, out: &mut Vec<(i64, String)>) {
            if let Some(attrs) = &n.attributes {
                for pair in attrs.chunks(2) {
                    if pair.len() == 2 && pair[0] == attr {
                        out.push((*n.backend_node_id.inner(), pair[1].clone()));
                    }
                }
            }
            for kids in [&n.children, &n.shadow_roots].into_iter().flatten() {
                for k in kids {
                    walk(k, attr, out);
                }
            }
            if let Some(d) = &n.content_document {
                walk(d, attr, out);
            }
        }
        let mut marked = Vec::new();
        walk(&doc.result.root, attr, &mut marked);
        let tree = self
            .page
            .execute(GetFullAxTreeParams::builder().build())
            .await
            .context("Accessibility.getFullAXTree failed")?;
        let text = |v: &Option<chromiumoxide::cdp::browser_protocol::accessibility::AxValue>| {
            v.as_ref()
                .and_then(|v| v.value.as_ref())
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut by_backend = std::collections::HashMap::new();
        for node in &tree.result.nodes {
            if let Some(id) = &node.backend_dom_node_id {
                by_backend.insert(*id.inner(), node);
            }
        }
        Ok(marked
            .into_iter()
            .map(|(id, key)| match by_backend.get(&id) {
                Some(node) => AxView {
                    key,
                    role: text(&node.role),
                    name: text(&node.name),
                    exposed: !node.ignored,
                },
                None => AxView {
                    key,
                    role: String::new(),
                    name: String::new(),
                    exposed: false,
                },
            })
            .collect())
    }

    pub async fn scroll_agreement(&self, timeout: Duration) -> Result<()> {
        self.until_done(&Verb::Scroll, timeout).await.map(drop)
    }

    /// The value the page shows next to a label ("Temporary Password" → its value).
    /// A value shown masked (bullets) beside a control that reveals it ("Show") is revealed
    /// with `reveal` first.
    pub async fn read_next_to(
        &self,
        label: &str,
        reveal: Option<&Locator>,
        timeout: Duration,
    ) -> Result<String> {
        Ok(self
            .until_done(&Verb::Read(label, reveal), timeout)
            .await?
            .unwrap_or_default())
    }

    /// What a field holds now.
    pub async fn field_value(&self, target: &Locator, timeout: Duration) -> Result<String> {
        Ok(self
            .until_done(&Verb::ReadField(target), timeout)
            .await?
            .unwrap_or_default())
    }

    /// Saves what the page shows into `dir`: `screenshot.png` and `page.html`, the HTML passed
    /// through `redact` first (field values included, since a page may echo what was typed).
    /// Saves what a failed step left: `screenshot.png` with every secret `redactor` knows
    /// covered, `page.html` with each replaced in the DOM before it is serialised (and the text
    /// redacted once more), and `outline.json`. `beside`: the labels whose value a flow captures
    /// as a secret (the area beside them is covered too).
    pub async fn save_evidence(
        &self,
        dir: &std::path::Path,
        redactor: &crate::secrets::Redactor,
        beside: &[String],
    ) -> Result<()> {
        let secrets = redactor.values();
        let redact = |text: &str| redactor.redact(text);
        if self.exited() {
            anyhow::bail!("the browser exited: nothing to save");
        }
        crate::journal::create_private_dir(dir)?;
        let png = self.masked_screenshot(&secrets, beside).await?;
        crate::journal::write_atomic(&dir.join("screenshot.png"), &png, 0o600)?;
        let html = self
            .evidence(&json!({"op": "html", "secrets": secrets}))
            .await
            .context("could not read the page")?;
        let html = html.as_str().unwrap_or_default();
        crate::journal::write_atomic(&dir.join("page.html"), redact(html).as_bytes(), 0o600)?;
        // What the locator saw, for `page snapshot RUN STEP` (masked in the page, redacted here).
        if let Ok(mut outline) = self.outline(Duration::from_secs(4)).await {
            redact_strings(&mut outline, &redact);
            let text = serde_json::to_string_pretty(&outline)?;
            crate::journal::write_atomic(&dir.join("outline.json"), text.as_bytes(), 0o600)?;
        }
        Ok(())
    }

    /// A PNG of the whole page with every password field, every field and piece of text holding
    /// one of `secrets`, and the area beside each of `beside`'s labels covered by opaque boxes
    /// (removed again afterwards). No masks, no screenshot: a page that cannot be masked is not
    /// shot.
    pub async fn masked_screenshot(
        &self,
        secrets: &[String],
        beside: &[String],
    ) -> Result<Vec<u8>> {
        self.masked(secrets, beside, |_| self.screenshot()).await
    }

    /// Covers the secrets (evidence.js `mask`), takes `shoot` with the window's place, and
    /// removes the covers whatever happened. No masks, no picture.
    async fn masked<F, Fut>(
        &self,
        secrets: &[String],
        beside: &[String],
        shoot: F,
    ) -> Result<Vec<u8>>
    where
        F: FnOnce(serde_json::Value) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u8>>>,
    {
        let started = Instant::now();
        let window = self
            .evidence(&json!({"op": "mask", "secrets": secrets, "beside": beside}))
            .await
            .context("could not cover the secrets on the page, so no picture was taken")?;
        let masked = started.elapsed();
        let picture = shoot(window).await;
        let shot = started.elapsed();
        // Whatever the capture did, the page gets its look back.
        let _ = self.evidence(&json!({"op": "unmask"})).await;
        self.spend(|s| s.pictures += started.elapsed());
        tracing::debug!(
            mask_us = masked.as_micros() as u64,
            capture_us = (shot - masked).as_micros() as u64,
            unmask_us = (started.elapsed() - shot).as_micros() as u64,
            "masked picture"
        );
        picture
    }

    /// A small JPEG of the window as it stands, masked as `masked_screenshot` masks: the
    /// report's picture of how a step left the page. One capture of the window, no resizing,
    /// so that it costs a step little.
    pub async fn masked_thumbnail(&self, secrets: &[String], beside: &[String]) -> Result<Vec<u8>> {
        self.masked(secrets, beside, |window| async move {
            self.thumbnail_of(&window).await
        })
        .await
    }

    async fn thumbnail_of(&self, window: &serde_json::Value) -> Result<Vec<u8>> {
        use base64::Engine as _;
        use chromiumoxide::cdp::browser_protocol::page::{
            CaptureScreenshotFormat, CaptureScreenshotParams, Viewport,
        };
        let at = |key: &str| window[key].as_f64().unwrap_or(0.0);
        let params = CaptureScreenshotParams {
            format: Some(CaptureScreenshotFormat::Jpeg),
            quality: Some(THUMBNAIL_QUALITY),
            clip: Some(Viewport {
                x: at("x"),
                y: at("y"),
                width: at("width").max(1.0),
                height: at("height").max(1.0),
                scale: THUMBNAIL_SCALE,
            }),
            from_surface: None,
            capture_beyond_viewport: Some(false),
            optimize_for_speed: Some(true),
        };
        let shot = tokio::time::timeout(ANSWER_MARGIN, self.page.execute(params))
            .await
            .context("the browser did not take the picture in time")?
            .context("could not take a picture of the page")?;
        base64::engine::general_purpose::STANDARD
            .decode(shot.result.data.as_ref() as &str)
            .context("the browser's picture is not base64")
    }

    /// A PNG of the whole page as it stands, secrets and all: for the masking's own checks.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
        use chromiumoxide::page::ScreenshotParams;
        let shot = self.page.screenshot(
            ScreenshotParams::builder()
                .format(CaptureScreenshotFormat::Png)
                .full_page(true)
                .build(),
        );
        tokio::time::timeout(ANSWER_MARGIN, shot)
            .await
            .context("the browser did not take the screenshot in time")?
            .context("could not take a screenshot")
    }

    /// Runs the evidence script (evidence.js) on the page.
    async fn evidence(&self, request: &serde_json::Value) -> Result<serde_json::Value> {
        let call = format!("({EVIDENCE_JS})({request})");
        let answer = tokio::time::timeout(ANSWER_MARGIN, self.evaluate(call))
            .await
            .context("the page did not answer in time")??;
        Ok(answer.unwrap_or(serde_json::Value::Null))
    }

    async fn until_done(&self, verb: &Verb<'_>, timeout: Duration) -> Result<Option<String>> {
        self.until_done_by(verb, Instant::now() + timeout).await
    }

    /// Asks the page until the verb is done, performing the clicks it asks for, or the deadline
    /// passes; then the error says what was wanted, why it was not possible, and what was seen.
    async fn until_done_by(&self, verb: &Verb<'_>, deadline: Instant) -> Result<Option<String>> {
        let started = Instant::now();
        let mut request = verb.request();
        request["dismiss"] = json!(self.dismiss);
        if matches!(verb, Verb::Expect(..) | Verb::See(..) | Verb::Present(..)) {
            request["transient"] = json!(self.error_pages);
        }
        // One verb's requests share this: state a verb keeps in the page (toggles per box,
        // pages turned) starts afresh with the next verb.
        request["verb_id"] = json!(VERB_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        // Only the waits that judge the page's answer read the notes.
        let judges = matches!(verb, Verb::Expect(..) | Verb::See(..));
        let mut clicks = 0;
        let mut last = Reply {
            status: "wait".into(),
            reason: "the page did not answer".into(),
            seen: Vec::new(),
            value: None,
            x: 0.0,
            y: 0.0,
            dismissing: None,
            said: None,
            field: None,
            transient: false,
            notes: None,
            filled: None,
            waited_ms: 0,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            request["slice_ms"] = json!(left.min(SLICE).as_millis() as u64);
            if judges {
                request["notes"] = serde_json::Value::Object(self.lock_notes().clone());
            }
            request["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
            let answer = self.ask_timed(&mut request).await;
            match answer {
                Ok(mut reply) => {
                    self.remember_notes(&mut reply);
                    match reply.status.as_str() {
                        "ok" => return Ok(reply.value),
                        "type" => return Ok(None),
                        "click" => {
                            if let Some(what) = &reply.dismissing {
                                tracing::debug!(dismissing = %what, "clicking away what covers the target");
                            }
                            self.mouse_click(reply.x, reply.y).await?;
                            clicks += 1;
                            if matches!(verb, Verb::Click(_)) && reply.dismissing.is_none() {
                                if self.press_landed().await {
                                    return Ok(None);
                                }
                                tracing::debug!("the click missed its moving target; again");
                            }
                            // A target that keeps escaping the mouse is a page problem, not a wait.
                            if clicks > verb.max_clicks() {
                                return Err(error::portal_step(format!(
                                    "could not {}: clicks kept missing it",
                                    verb.describe()
                                )));
                            }
                            continue;
                        }
                        "fail" => {
                            let message = format!(
                                "could not {}: {}{}",
                                verb.describe(),
                                reply.reason,
                                seen_list(&reply.seen)
                            );
                            return Err(anyhow::Error::new(error::Failure {
                                exit: error::Exit::PortalStep,
                                message,
                                outcome: None,
                                page: reply.said.map(|text| error::PageSaid {
                                    field: reply.field,
                                    text,
                                    transient: reply.transient,
                                }),
                            }));
                        }
                        _ => last = reply,
                    }
                }
                // A browser that died does not come back by waiting.
                Err(_) if self.exited() => return Err(self.died()),
                // Navigations destroy the page's context mid-request: ask the new page.
                Err(e) => {
                    last.reason = format!("the page was changing ({e})");
                    last.seen.clear();
                }
            }
            if Instant::now() >= deadline {
                return Err(error::portal_step(format!(
                    "could not {} (waited {:.1}s): {}{}",
                    verb.describe(),
                    started.elapsed().as_secs_f64(),
                    last.reason,
                    seen_list(&last.seen)
                )));
            }
        }
    }

    /// Whether the last click's press reached its target. Content rendering late can move
    /// another element under the mouse between locating and pressing.
    async fn press_landed(&self) -> bool {
        match self.ask_timed(&mut json!({"op": "landed"})).await {
            Ok(reply) => reply.value.as_deref() != Some("no"),
            // The page went away: the click navigated.
            Err(_) => true,
        }
    }

    /// `ask`, with the request's time counted (see [`Spent`]): the part the page script spent
    /// waiting for the page, or for a new document to be built, is the page's; the rest is
    /// ours. A request that found no page to answer it met a navigation: all the page's.
    async fn ask_timed(&self, request: &mut serde_json::Value) -> Result<Reply> {
        request["sent_at_ms"] = json!(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0));
        let asked = Instant::now();
        let answer = self.ask(request).await;
        let took = asked.elapsed();
        let waited = answer
            .as_ref()
            .map_or(took, |r| Duration::from_millis(r.waited_ms).min(took));
        self.spend(|s| {
            s.page += waited;
            s.round_trips += took - waited;
        });
        tracing::trace!(
            op = %request["op"],
            took_us = took.as_micros() as u64,
            waited_us = waited.as_micros() as u64,
            status = answer.as_ref().map_or("error", |r| r.status.as_str()),
            "asked the page"
        );
        answer
    }

    /// Sends one request to the page. A dead browser leaves requests unanswered: no answer
    /// within the request's slice plus a margin means a look at the browser's process.
    async fn ask(&self, request: &serde_json::Value) -> Result<Reply> {
        let slice = Duration::from_millis(request["slice_ms"].as_u64().unwrap_or(0));
        match tokio::time::timeout(slice + ANSWER_MARGIN, self.ask_page(request)).await {
            Ok(answer) => answer,
            Err(_) if self.exited() => Err(self.died()),
            Err(_) => Err(anyhow::anyhow!("the page did not answer in time")),
        }
    }

    fn died(&self) -> anyhow::Error {
        error::environment(
            "the browser exited in the middle of the run (it crashed or was killed): run \
             `cigna-setup resume RUN` to go on with a new one on the same profile",
        )
    }

    /// One request to the in-page engine. Every document gets the watcher and the engine when
    /// it is created (see `launch`); one that predates that (the first blank page) is sent both
    /// by the first request that finds the engine missing.
    async fn ask_page(&self, request: &serde_json::Value) -> Result<Reply> {
        let call = format!(
            "typeof window.{LOCATE_FN} === 'function' ? window.{LOCATE_FN}({request}) : undefined"
        );
        let value = match self.evaluate(call).await? {
            Some(value) => value,
            None => self
                .evaluate(format!(
                    "{PAGE_WATCH_JS}\n(window.{LOCATE_FN} = {LOCATE_JS})({request})"
                ))
                .await?
                .context("page script returned nothing")?,
        };
        Ok(serde_json::from_value(value)?)
    }

    /// Evaluates an expression (awaiting a promise); `None` when it is undefined.
    async fn evaluate(&self, expression: String) -> Result<Option<serde_json::Value>> {
        let params = EvaluateParams::builder()
            .expression(expression)
            .await_promise(true)
            .return_by_value(true)
            .build()
            .map_err(anyhow::Error::msg)?;
        let resp = self.page.execute(params).await?;
        if let Some(ex) = &resp.result.exception_details {
            anyhow::bail!("page script exception: {}", ex.text);
        }
        Ok(resp.result.result.value.clone())
    }

    /// Types as a person does: a key press per character, so input masks that listen to
    /// `keydown`/`keypress`/`input` see each one. The events are sent together (Chromium
    /// handles them in order), so typing costs about one round trip, not two per character.
    async fn type_text(&self, value: &str) -> Result<()> {
        let mut events = Vec::with_capacity(value.chars().count() * 2);
        for c in value.chars() {
            let text = c.to_string();
            // Masks that filter on keydown read the key code, not the text.
            let (code, key_code) = key_code(c);
            let mut down = DispatchKeyEventParams::builder()
                .r#type(DispatchKeyEventType::KeyDown)
                .key(text.clone())
                .text(text.clone())
                .unmodified_text(text.clone());
            let mut up = DispatchKeyEventParams::builder()
                .r#type(DispatchKeyEventType::KeyUp)
                .key(text);
            if let Some(code) = code {
                down = down
                    .code(code.clone())
                    .windows_virtual_key_code(key_code)
                    .native_virtual_key_code(key_code);
                up = up
                    .code(code)
                    .windows_virtual_key_code(key_code)
                    .native_virtual_key_code(key_code);
            }
            let down = down.build().map_err(anyhow::Error::msg)?;
            let up = up.build().map_err(anyhow::Error::msg)?;
            events.push(down);
            events.push(up);
        }
        let sent = futures::future::join_all(events.into_iter().map(|e| self.page.execute(e)));
        let limit = ANSWER_MARGIN + Duration::from_millis(5 * value.len() as u64);
        let started = Instant::now();
        let typed = tokio::time::timeout(limit, sent).await;
        self.spend(|s| s.round_trips += started.elapsed());
        tracing::trace!(took_us = started.elapsed().as_micros() as u64, "typed");
        match typed {
            Ok(results) => {
                for r in results {
                    r.context("a key press was refused")?;
                }
                Ok(())
            }
            Err(_) if self.exited() => Err(self.died()),
            Err(_) => Err(error::portal_step(
                "the page did not take the typing in time",
            )),
        }
    }

    /// A person's click: move, press, release. The three events are sent at once (Chromium
    /// handles them in order), so a click costs one round trip.
    async fn mouse_click(&self, x: f64, y: f64) -> Result<()> {
        let event = |kind: DispatchMouseEventType| {
            let mut ev = DispatchMouseEventParams::builder()
                .r#type(kind.clone())
                .x(x)
                .y(y);
            if kind != DispatchMouseEventType::MouseMoved {
                ev = ev.button(MouseButton::Left).click_count(1);
            }
            ev.build().map_err(anyhow::Error::msg)
        };
        // Each event is acknowledged after the renderer handled it, often a frame later:
        // sent together they cost about one frame instead of three.
        let (moved, pressed, released) = (
            event(DispatchMouseEventType::MouseMoved)?,
            event(DispatchMouseEventType::MousePressed)?,
            event(DispatchMouseEventType::MouseReleased)?,
        );
        let events = async {
            let (moved, pressed, released) = futures::join!(
                self.page.execute(moved),
                self.page.execute(pressed),
                self.page.execute(released),
            );
            moved.and(pressed).and(released)
        };
        let started = Instant::now();
        let clicked = tokio::time::timeout(ANSWER_MARGIN, events).await;
        self.spend(|s| s.round_trips += started.elapsed());
        tracing::trace!(
            took_us = started.elapsed().as_micros() as u64,
            "mouse click"
        );
        match clicked {
            Ok(done) => done.map(drop).context("could not click"),
            Err(_) if self.exited() => Err(self.died()),
            Err(_) => Err(error::portal_step(
                "the page did not take the click in time",
            )),
        }
    }

    /// Whether the browser process has exited (crashed or killed): gone, or a zombie not yet
    /// reaped.
    fn exited(&self) -> bool {
        // No pid: the process was reaped, which only happens once it has exited.
        let Some(pid) = self.process.id() else {
            return true;
        };
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => true,
        }
    }

    /// Closes Chromium and reaps it; kills it when it does not close in time.
    pub async fn close(self) {
        let mut inner = self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut process = self.process;
        let mut group = self.group;
        let closed = tokio::time::timeout(Duration::from_secs(3), async {
            let _ = inner.close().await;
            let _ = process.wait().await;
        })
        .await;
        if closed.is_err() {
            group.kill();
            let _ = process.kill().await;
        } else {
            group.disarm();
        }
        self.handler.abort();
        self.relay.abort();
    }
}

/// What the field shows matches what was typed, allowing for masks that add punctuation
/// ("5551234567" shown as "(555) 123-4567").
fn same_input(shown: &str, typed: &str) -> bool {
    if shown == typed {
        return true;
    }
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let has_letters = |s: &str| s.chars().any(char::is_alphabetic);
    !has_letters(typed) && !digits(typed).is_empty() && digits(shown) == digits(typed)
}

/// An element's role, accessible name and whether the accessibility tree exposes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct AxView {
    /// The marker attribute's value.
    pub key: String,
    pub role: String,
    pub name: String,
    pub exposed: bool,
}

/// The DOM `code` and the key code of a character on a US keyboard, for letters, digits and
/// space; other characters go as text alone.
fn key_code(c: char) -> (Option<String>, i64) {
    match c {
        'a'..='z' | 'A'..='Z' => (
            Some(format!("Key{}", c.to_ascii_uppercase())),
            c.to_ascii_uppercase() as i64,
        ),
        '0'..='9' => (Some(format!("Digit{c}")), c as i64),
        ' ' => (Some("Space".into()), 32),
        _ => (None, 0),
    }
}

/// Every string in a JSON value passed through `redact`: a secret is replaced before it is
/// escaped into JSON text, where a quote or backslash in it would hide it from the redactor.
fn redact_strings(v: &mut serde_json::Value, redact: &impl Fn(&str) -> String) {
    match v {
        serde_json::Value::String(s) => *s = redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_strings(x, redact)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| redact_strings(x, redact)),
        _ => {}
    }
}

/// `MM/DD/YYYY`, the contract's date format.
fn is_us_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[2] == b'/'
        && b[5] == b'/'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
}

fn seen_list(seen: &[String]) -> String {
    if seen.is_empty() {
        String::new()
    } else {
        format!("; on the page: {}", seen.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::same_input;

    #[test]
    fn masked_input_counts_as_typed() {
        assert!(same_input("(555) 123-4567", "5551234567"));
        assert!(same_input("01/01/1980", "01/01/1980"));
        assert!(same_input("01/01/1980", "01011980"));
        assert!(!same_input("Insuranc", "Insurance"));
        assert!(!same_input("", "5551234567"));
    }
}
