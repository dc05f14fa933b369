//! The browser driver: the only code that knows chromiumoxide and the DevTools protocol.
//!
//! The rest of the program sees a [`Browser`] with a person's verbs (click, fill, select, check,
//! read) aimed at [`Locator`]s made of visible texts. Every verb waits, up to its deadline, until
//! its target is unique, visible, enabled and not covered; the in-page half (`locate.js`) does
//! the finding and most of the waiting, so an action usually costs one CDP round trip plus the
//! mouse or keyboard events a person would cause.

mod launch;
mod locator;

pub use launch::{find_executable, release_profile, version, BrowserOptions};
pub use locator::{Among, Locator};

use std::time::Duration;

use anyhow::{Context, Result};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchMouseEventParams, DispatchMouseEventType, InsertTextParams, MouseButton,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::Page;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use crate::error;

const LOCATE_JS: &str = include_str!("locate.js");
/// Where a document keeps the engine once it was sent (a name no page uses).
const LOCATE_FN: &str = "__cignaSetupLocate";

/// Texts of a portal's error pages: a wait that meets one stops at once, and the step may
/// reload and try again.
const TRANSIENT_ERRORS: &[&str] = &[
    "Something went wrong",
    "Internal Server Error",
    "Service Unavailable",
    "Bad Gateway",
    "Gateway Timeout",
];

/// How long one in-page wait may last before the page script reports back; short enough that a
/// navigation or a Ctrl-C is noticed quickly, long enough that waits cost few round trips.
const SLICE: Duration = Duration::from_millis(1500);

/// How much longer than its slice a page script may take to answer before the browser's
/// process is looked at.
const ANSWER_MARGIN: Duration = Duration::from_secs(3);

/// A running headless Chromium with the one page the flows drive.
pub struct Browser {
    /// Locked only to close it.
    inner: std::sync::Mutex<chromiumoxide::Browser>,
    /// The browser process, to tell a dead browser from a slow page.
    pid: Option<u32>,
    page: Page,
    handler: tokio::task::JoinHandle<()>,
    dismiss: Vec<Locator>,
    _profile: Option<tempfile::TempDir>,
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
}

/// What a verb asks of the page script, and how the reply is finished off in Rust.
enum Verb<'a> {
    /// A text (or one of the alternatives), unless one of the refusals shows.
    Expect(&'a str, &'a [String], &'a [String]),
    See(&'a Locator, &'a [String]),
    Click(&'a Locator),
    Fill(&'a Locator),
    Select(&'a Locator, &'a str),
    SetChecked(&'a Locator, bool),
    CheckExactly(&'a Among, &'a [String]),
    Read(&'a str),
    ReadField(&'a Locator),
    Scroll,
}

impl Verb<'_> {
    fn request(&self) -> serde_json::Value {
        match self {
            Verb::Expect(text, unless, or) => json!({
                "op": "expect", "text": text, "or": or, "unless": unless,
                "transient": TRANSIENT_ERRORS,
            }),
            Verb::See(l, unless) => json!({
                "op": "see", "target": l, "unless": unless, "transient": TRANSIENT_ERRORS,
            }),
            Verb::Click(l) => json!({"op": "click", "target": l}),
            Verb::Fill(l) => json!({"op": "fill", "target": l}),
            Verb::Select(l, option) => json!({"op": "select", "target": l, "text": option}),
            Verb::SetChecked(l, on) => {
                json!({"op": if *on { "check" } else { "uncheck" }, "target": l})
            }
            Verb::CheckExactly(among, want) => {
                json!({"op": "check-exactly", "among": among, "want": want})
            }
            Verb::Read(label) => json!({"op": "read", "text": label}),
            Verb::ReadField(l) => json!({"op": "read-field", "target": l}),
            Verb::Scroll => json!({"op": "scroll"}),
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
            Verb::Fill(l) => format!("fill {l}"),
            Verb::Select(l, option) => format!("choose \"{option}\" in {l}"),
            Verb::SetChecked(l, true) => format!("tick {l}"),
            Verb::SetChecked(l, false) => format!("untick {l}"),
            Verb::CheckExactly(among, want) => {
                format!("tick exactly {want:?} among the checkboxes {among}")
            }
            Verb::Read(label) => format!("read the value shown next to \"{label}\""),
            Verb::ReadField(l) => format!("read {l}"),
            Verb::Scroll => "scroll the agreement to its end".to_string(),
        }
    }
}

impl Browser {
    /// Starts Chromium headless with a fresh profile and opens a blank page.
    pub async fn launch(options: BrowserOptions) -> Result<Browser> {
        let (mut inner, handler, profile) = launch::start(&options).await?;
        let page = inner
            .new_page("about:blank")
            .await
            .context("Chromium started but would not open a page")?;
        let pid = inner.get_mut_child().and_then(|c| c.as_mut_inner().id());
        Ok(Browser {
            pid,
            inner: std::sync::Mutex::new(inner),
            page,
            handler,
            dismiss: Vec::new(),
            _profile: profile,
        })
    }

    /// Controls clicked away whenever they cover what an action needs (a cookie banner).
    pub fn set_dismiss(&mut self, dismiss: Vec<Locator>) {
        self.dismiss = dismiss;
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        match self.page.goto(url).await {
            Ok(_) => Ok(()),
            Err(_) if self.exited() => Err(self.died()),
            // A navigation that fails or times out is worth another try, like an error page.
            Err(e) => Err(anyhow::Error::new(error::Failure {
                exit: error::Exit::PortalStep,
                message: format!("could not open {url}: {e}"),
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
        self.page
            .reload()
            .await
            .map_err(|e| error::portal_step(format!("could not reload the page: {e}")))?;
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
        let verb = Verb::Fill(target);
        self.until_done_by(&verb, deadline).await?;
        self.page
            .execute(InsertTextParams::new(value))
            .await
            .with_context(|| format!("could not type into {target}"))?;
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

    pub async fn scroll_agreement(&self, timeout: Duration) -> Result<()> {
        self.until_done(&Verb::Scroll, timeout).await.map(drop)
    }

    /// The value the page shows next to a label ("Temporary Password" → its value).
    pub async fn read_next_to(&self, label: &str, timeout: Duration) -> Result<String> {
        Ok(self
            .until_done(&Verb::Read(label), timeout)
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
    pub async fn save_evidence(
        &self,
        dir: &std::path::Path,
        redact: impl Fn(&str) -> String,
    ) -> Result<()> {
        use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
        use chromiumoxide::page::ScreenshotParams;
        if self.exited() {
            anyhow::bail!("the browser exited: nothing to save");
        }
        std::fs::create_dir_all(dir)?;
        let shot = self.page.screenshot(
            ScreenshotParams::builder()
                .format(CaptureScreenshotFormat::Png)
                .build(),
        );
        let png = tokio::time::timeout(ANSWER_MARGIN, shot)
            .await
            .context("the browser did not take the screenshot in time")?
            .context("could not take a screenshot")?;
        crate::journal::write_atomic(&dir.join("screenshot.png"), &png, 0o600)?;
        let html = self
            .page
            .content()
            .await
            .context("could not read the page")?;
        crate::journal::write_atomic(&dir.join("page.html"), redact(&html).as_bytes(), 0o600)?;
        Ok(())
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
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            request["slice_ms"] = json!(left.min(SLICE).as_millis() as u64);
            match self.ask(&request).await {
                Ok(reply) => {
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
                            if clicks > 8 {
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
        match self.ask(&json!({"op": "landed"})).await {
            Ok(reply) => reply.value.as_deref() != Some("no"),
            // The page went away: the click navigated.
            Err(_) => true,
        }
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

    /// One request to the in-page engine. The engine's source (25 KB) is sent and compiled
    /// once per document, by the first request that finds it missing; later requests call it.
    async fn ask_page(&self, request: &serde_json::Value) -> Result<Reply> {
        let call = format!(
            "typeof window.{LOCATE_FN} === 'function' ? window.{LOCATE_FN}({request}) : undefined"
        );
        let value = match self.evaluate(call).await? {
            Some(value) => value,
            None => self
                .evaluate(format!("(window.{LOCATE_FN} = {LOCATE_JS})({request})"))
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
        match tokio::time::timeout(ANSWER_MARGIN, events).await {
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
        let Some(pid) = self.pid else {
            return false;
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
        let closed = tokio::time::timeout(Duration::from_secs(3), async {
            let _ = inner.close().await;
            let _ = inner.wait().await;
        })
        .await;
        if closed.is_err() {
            let _ = inner.kill().await;
        }
        self.handler.abort();
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
