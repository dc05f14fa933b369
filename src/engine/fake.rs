//! In-memory stand-ins for the portal's page and the mailbox, for the engine's unit tests: a
//! page scripted as a few named screens (what each shows, which fields it has, where each click
//! leads) and a mailbox that hands out queued codes, both writing what they were asked into
//! one shared log so a test can check the order of page and mailbox calls.
//!
//! They answer as `Browser` and `Mailbox` do where the engine's logic depends on it: a wait
//! that meets the flow's error page fails as transient, one that meets a text of `unless`
//! fails with what the page said, a mailbox with no code fails with exit 4. What they cannot
//! do is wait: nothing changes but by an action, so a text that is not shown fails at once.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;

use super::{CodeMailbox, Page};
use crate::browser::{Among, Locator, Spent, Target};
use crate::error::{self, Exit, Failure, PageSaid};
use crate::mail::{Mark, VerificationCode};
use crate::secrets::Redactor;

/// What the page and the mailbox were asked, in order ("click Log In", "wait 5s").
pub type Log = Rc<RefCell<Vec<String>>>;

/// Where an action leads: `to`, when `filled` (a field and the value it holds) is so, for at
/// most `times` uses.
struct Way {
    to: String,
    filled: Option<(String, String)>,
    times: Cell<Option<u32>>,
}

impl Way {
    fn open(&self, filled: &BTreeMap<String, String>) -> bool {
        let usable = self.times.get() != Some(0);
        let holds = self
            .filled
            .as_ref()
            .is_none_or(|(field, value)| filled.get(field) == Some(value));
        usable && holds
    }

    fn take(&self) -> String {
        if let Some(n) = self.times.get() {
            self.times.set(Some(n - 1));
        }
        self.to.clone()
    }
}

/// One page of the portal.
#[derive(Default)]
pub struct Screen {
    texts: Vec<String>,
    fields: Vec<String>,
    options: BTreeMap<String, Vec<String>>,
    shown: BTreeMap<String, String>,
    clicks: Vec<(String, Way)>,
    reloads: Vec<Way>,
    /// An error the page shows next to a field (the field's label and the message).
    refusal: Option<(Option<String>, String)>,
}

impl Screen {
    pub fn new() -> Screen {
        Screen::default()
    }

    pub fn text(mut self, text: &str) -> Screen {
        self.texts.push(text.into());
        self
    }

    /// A field (text box, checkbox, list) by its label.
    pub fn field(mut self, label: &str) -> Screen {
        self.fields.push(label.into());
        self
    }

    /// A list and the options it offers.
    pub fn list(mut self, label: &str, options: &[&str]) -> Screen {
        self.fields.push(label.into());
        self.options.insert(
            label.into(),
            options.iter().map(|o| o.to_string()).collect(),
        );
        self
    }

    /// A value shown next to a label (a temporary password).
    pub fn shows(mut self, label: &str, value: &str) -> Screen {
        self.texts.push(format!("{label} {value}"));
        self.shown.insert(label.into(), value.into());
        self
    }

    /// Clicking `name` leads to the screen `to`.
    pub fn click(self, name: &str, to: &str) -> Screen {
        self.way(name, to, None, None)
    }

    /// Clicking `name` leads to `to` while `field` holds `value` (ways are tried in order).
    pub fn click_if(self, name: &str, field: &str, value: &str, to: &str) -> Screen {
        self.way(name, to, Some((field, value)), None)
    }

    /// Clicking `name` leads to `to` the first `times` times only.
    pub fn click_times(self, name: &str, to: &str, times: u32) -> Screen {
        self.way(name, to, None, Some(times))
    }

    /// Reloading leads to `to` (without one, a reload shows the same screen again).
    pub fn reloads_to(mut self, to: &str) -> Screen {
        self.reloads.push(Way {
            to: to.into(),
            filled: None,
            times: Cell::new(None),
        });
        self
    }

    /// The page shows `message` next to the field `field` (or as an alert, with `None`).
    pub fn refuses(mut self, field: Option<&str>, message: &str) -> Screen {
        self.texts.push(message.into());
        self.refusal = Some((field.map(str::to_string), message.into()));
        self
    }

    fn way(
        mut self,
        name: &str,
        to: &str,
        filled: Option<(&str, &str)>,
        times: Option<u32>,
    ) -> Self {
        self.clicks.push((
            name.into(),
            Way {
                to: to.into(),
                filled: filled.map(|(f, v)| (f.into(), v.into())),
                times: Cell::new(times),
            },
        ));
        self
    }

    fn shows_text(&self, text: &str) -> bool {
        self.texts.iter().any(|t| t.contains(text))
    }

    /// The whole line a text stands in, as the real page reports a refusal.
    fn line_with(&self, text: &str) -> String {
        self.texts
            .iter()
            .find(|t| t.contains(text))
            .cloned()
            .unwrap_or_else(|| text.to_string())
    }
}

/// A browser tab on the scripted screens. `goto` opens the `entry` screen.
pub struct FakePage {
    screens: BTreeMap<String, Screen>,
    entry: String,
    at: RefCell<String>,
    /// What the fields of the current screen hold.
    filled: RefCell<BTreeMap<String, String>>,
    error_pages: Vec<String>,
    log: Log,
    /// Whether each fill was sent as a secret, by field.
    secret_fills: RefCell<Vec<(String, bool)>>,
}

impl FakePage {
    /// A page that stands on no screen until a `goto` opens `entry`.
    pub fn new(entry: &str) -> FakePage {
        FakePage {
            screens: BTreeMap::new(),
            entry: entry.into(),
            at: RefCell::new(String::new()),
            filled: RefCell::new(BTreeMap::new()),
            error_pages: Vec::new(),
            log: Log::default(),
            secret_fills: RefCell::new(Vec::new()),
        }
    }

    pub fn screen(mut self, name: &str, screen: Screen) -> FakePage {
        self.screens.insert(name.into(), screen);
        self
    }

    /// The portal's error-page texts (the flow's `error-pages`, as `Browser` is given them).
    pub fn error_pages(mut self, texts: &[String]) -> FakePage {
        self.error_pages = texts.to_vec();
        self
    }

    /// Stands on `screen` already (a resumed browser profile).
    pub fn at(self, screen: &str) -> FakePage {
        *self.at.borrow_mut() = screen.into();
        self
    }

    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// The logged calls that start with `prefix` ("click", "fill").
    pub fn calls(&self, prefix: &str) -> Vec<String> {
        self.log
            .borrow()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect()
    }

    pub fn secret_fills(&self) -> Vec<(String, bool)> {
        self.secret_fills.borrow().clone()
    }

    pub fn current(&self) -> String {
        self.at.borrow().clone()
    }

    fn note(&self, call: String) {
        self.log.borrow_mut().push(call);
    }

    fn go(&self, to: String) {
        *self.at.borrow_mut() = to;
        self.filled.borrow_mut().clear();
    }

    fn with_screen<T>(&self, f: impl FnOnce(&Screen) -> Result<T>) -> Result<T> {
        let at = self.at.borrow().clone();
        match self.screens.get(&at) {
            Some(screen) => f(screen),
            None => Err(error::portal_step(format!(
                "the page is blank (no screen \"{at}\")"
            ))),
        }
    }

    /// Why a wait for something the screen does not show fails at once: the error page first,
    /// then a refusal the flow names, then an error next to a field, as the real page decides.
    fn refusal(&self, screen: &Screen, unless: &[String]) -> Option<anyhow::Error> {
        let failure = |text: String, field: Option<String>, transient: bool| {
            anyhow::Error::new(Failure {
                exit: Exit::PortalStep,
                message: format!("the page says \"{text}\""),
                outcome: None,
                page: Some(PageSaid {
                    field,
                    text,
                    transient,
                }),
            })
        };
        if let Some(e) = self.error_pages.iter().find(|e| screen.shows_text(e)) {
            return Some(failure(e.clone(), None, true));
        }
        if let Some(u) = unless.iter().find(|u| screen.shows_text(u)) {
            return Some(failure(screen.line_with(u), None, false));
        }
        screen
            .refusal
            .clone()
            .map(|(field, message)| failure(message, field, false))
    }

    fn need_field<'s>(&self, screen: &'s Screen, target: &Locator) -> Result<&'s str> {
        let name = name_of(target);
        screen
            .fields
            .iter()
            .find(|f| *f == name)
            .map(String::as_str)
            .ok_or_else(|| error::portal_step(format!("could not find {target}")))
    }
}

fn name_of(target: &Locator) -> &str {
    match &target.what {
        Target::Label { name } | Target::Clickable { name } | Target::Role { name, .. } => name,
    }
}

impl Page for FakePage {
    fn begin_step(&self) {}

    fn take_spent(&self) -> Spent {
        Spent::default()
    }

    async fn goto(&self, url: &str) -> Result<()> {
        self.note(format!("goto {url}"));
        self.go(self.entry.clone());
        Ok(())
    }

    async fn reload(&self) -> Result<()> {
        self.note("reload".into());
        let filled = self.filled.borrow().clone();
        let to =
            self.with_screen(|s| Ok(s.reloads.iter().find(|w| w.open(&filled)).map(Way::take)))?;
        if let Some(to) = to {
            self.go(to);
        }
        Ok(())
    }

    async fn expect_any(
        &self,
        text: &str,
        or: &[String],
        unless: &[String],
        timeout: Duration,
    ) -> Result<()> {
        self.note(format!("expect {text}"));
        self.with_screen(|s| {
            if std::iter::once(text)
                .chain(or.iter().map(String::as_str))
                .any(|t| s.shows_text(t))
            {
                return Ok(());
            }
            Err(self.refusal(s, unless).unwrap_or_else(|| {
                error::portal_step(format!(
                    "could not see \"{text}\" (waited {:.1}s): text not on the page",
                    timeout.as_secs_f64()
                ))
            }))
        })
    }

    async fn expect_element(
        &self,
        target: &Locator,
        unless: &[String],
        _timeout: Duration,
    ) -> Result<()> {
        self.note(format!("expect-element {}", name_of(target)));
        self.with_screen(|s| match self.need_field(s, target) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.refusal(s, unless).unwrap_or(e)),
        })
    }

    async fn click(&self, target: &Locator, _timeout: Duration) -> Result<()> {
        let name = name_of(target);
        self.note(format!("click {name}"));
        let filled = self.filled.borrow().clone();
        let to = self.with_screen(|s| {
            s.clicks
                .iter()
                .find(|(n, w)| n == name && w.open(&filled))
                .map(|(_, w)| w.take())
                .ok_or_else(|| error::portal_step(format!("could not click {target}")))
        })?;
        self.go(to);
        Ok(())
    }

    async fn fill(
        &self,
        target: &Locator,
        value: &str,
        secret: bool,
        _timeout: Duration,
    ) -> Result<()> {
        let field = self.with_screen(|s| self.need_field(s, target).map(str::to_string))?;
        self.note(format!("fill {field}={value}"));
        self.secret_fills.borrow_mut().push((field.clone(), secret));
        self.filled.borrow_mut().insert(field, value.into());
        Ok(())
    }

    async fn select(&self, target: &Locator, option: &str, _timeout: Duration) -> Result<()> {
        let field = self.with_screen(|s| {
            let field = self.need_field(s, target)?;
            match s.options.get(field) {
                Some(options) if !options.iter().any(|o| o == option) => Err(error::portal_step(
                    format!("{target} offers no option \"{option}\""),
                )),
                _ => Ok(field.to_string()),
            }
        })?;
        self.note(format!("select {field}={option}"));
        self.filled.borrow_mut().insert(field, option.into());
        Ok(())
    }

    async fn select_any(
        &self,
        target: &Locator,
        avoid: &[String],
        _timeout: Duration,
    ) -> Result<String> {
        let (field, chosen) = self.with_screen(|s| {
            let field = self.need_field(s, target)?;
            let chosen = s
                .options
                .get(field)
                .into_iter()
                .flatten()
                .find(|o| !avoid.contains(o))
                .cloned()
                .ok_or_else(|| error::portal_step(format!("{target} offers nothing else")))?;
            Ok((field.to_string(), chosen))
        })?;
        self.note(format!("select {field}={chosen}"));
        self.filled.borrow_mut().insert(field, chosen.clone());
        Ok(chosen)
    }

    async fn set_checked(&self, target: &Locator, on: bool, _timeout: Duration) -> Result<()> {
        let field = self.with_screen(|s| self.need_field(s, target).map(str::to_string))?;
        self.note(format!("{} {field}", if on { "check" } else { "uncheck" }));
        self.filled.borrow_mut().insert(field, on.to_string());
        Ok(())
    }

    async fn check_exactly(
        &self,
        _among: &Among,
        want: &[String],
        _timeout: Duration,
    ) -> Result<()> {
        self.note(format!("check-exactly {}", want.join(", ")));
        Ok(())
    }

    async fn scroll_agreement(&self, _timeout: Duration) -> Result<()> {
        self.note("scroll-agreement".into());
        Ok(())
    }

    async fn read_next_to(
        &self,
        label: &str,
        _reveal: Option<&Locator>,
        _timeout: Duration,
    ) -> Result<String> {
        self.note(format!("read {label}"));
        self.with_screen(|s| {
            s.shown
                .get(label)
                .cloned()
                .ok_or_else(|| error::portal_step(format!("no value shown next to \"{label}\"")))
        })
    }

    async fn shows_element_settled(
        &self,
        target: &Locator,
        _loading: &[String],
        _timeout: Duration,
    ) -> Result<bool> {
        let name = name_of(target);
        self.note(format!("look for {name}"));
        self.with_screen(|s| {
            Ok(s.fields.iter().any(|f| f == name) || s.clicks.iter().any(|(n, _)| n == name))
        })
    }

    async fn shows_settled(
        &self,
        text: &str,
        next: Option<&Locator>,
        _loading: &[String],
        _timeout: Duration,
    ) -> Result<bool> {
        self.note(format!("look {text}"));
        // Through every page of a paged table, as the real look turns them.
        for _ in 0..self.screens.len() {
            let (shown, turn) = self.with_screen(|s| {
                let turn = next.and_then(|n| {
                    s.clicks
                        .iter()
                        .find(|(name, _)| name == name_of(n))
                        .map(|(_, w)| w.to.clone())
                });
                Ok((s.shows_text(text), turn))
            })?;
            match turn {
                Some(to) if !shown => {
                    self.note(format!("turn the page to {to}"));
                    self.go(to);
                }
                _ => return Ok(shown),
            }
        }
        Ok(false)
    }

    async fn save_evidence(
        &self,
        dir: &Path,
        redactor: &Redactor,
        _beside: &[String],
    ) -> Result<()> {
        // The screen's texts and what its fields hold, as a saved page would show them.
        let page = self.with_screen(|s| Ok(s.texts.join("\n")))?;
        let fields: Vec<String> = self.filled.borrow().values().cloned().collect();
        let html = redactor.redact(&format!("{page}\n{}", fields.join("\n")));
        crate::journal::write_atomic(&dir.join("page.html"), html.as_bytes(), 0o600)
    }

    async fn masked_thumbnail(&self, _secrets: &[String], _beside: &[String]) -> Result<Vec<u8>> {
        Ok(b"thumbnail".to_vec())
    }
}

/// A mailbox whose code emails are queued: each wait takes the next entry, a code or `None`
/// (nothing arrives in that wait, exit 4 as the real mailbox says).
pub struct FakeMailbox {
    arrivals: RefCell<VecDeque<Option<String>>>,
    log: Log,
    /// The codes each wait was told were used already.
    used: RefCell<Vec<Vec<String>>>,
}

impl FakeMailbox {
    /// A mailbox that logs into `log` (the page's, so that the order of both shows).
    pub fn new(log: Log, arrivals: &[Option<&str>]) -> FakeMailbox {
        FakeMailbox {
            arrivals: RefCell::new(arrivals.iter().map(|a| a.map(str::to_string)).collect()),
            log,
            used: RefCell::new(Vec::new()),
        }
    }

    pub fn used(&self) -> Vec<Vec<String>> {
        self.used.borrow().clone()
    }
}

impl CodeMailbox for FakeMailbox {
    async fn mark(&self) -> Result<Mark> {
        self.log.borrow_mut().push("mark".into());
        Ok(Mark {
            at: time::OffsetDateTime::now_utc(),
            folders: Vec::new(),
        })
    }

    async fn watching(&self) -> Result<String> {
        Ok("IDLE".into())
    }

    async fn wait_newer_code(
        &self,
        _mark: &Mark,
        to: &str,
        _from: &str,
        timeout: Duration,
        used: &[VerificationCode],
    ) -> Result<VerificationCode> {
        self.log
            .borrow_mut()
            .push(format!("wait {}s", timeout.as_secs()));
        self.used
            .borrow_mut()
            .push(used.iter().map(|c| c.code.clone()).collect());
        let uid = self.used.borrow().len() as u32;
        match self.arrivals.borrow_mut().pop_front().flatten() {
            Some(code) => Ok(VerificationCode {
                code,
                folder: "INBOX".into(),
                uid,
                subject: "Your verification code".into(),
                date: None,
                sent: None,
                arrived: None,
            }),
            None => Err(error::verification_code(format!(
                "no verification code for {to} arrived within {}s",
                timeout.as_secs()
            ))),
        }
    }
}
