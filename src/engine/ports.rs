//! What the engine asks of a browser tab and of the mailbox, as two small traits, so that its
//! logic (order, skips, retries, re-entry, code waits) can be tested against in-memory fakes
//! as well as against the real browser and Dovecot.
//!
//! Each method is one the engine uses, with the meaning `Browser` and `Mailbox` give it; the
//! impls here only forward, so `browser` stays the one module that knows chromiumoxide and
//! `mail` the one that knows IMAP.

// The engine's future runs on the command's own task (never spawned), so the traits' futures
// need no `Send` bound, and plain `async fn` says what they do best.
#![allow(async_fn_in_trait)]

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::browser::{Among, Browser, Locator, Spent};
use crate::mail::{Mailbox, Mark, VerificationCode};
use crate::secrets::Redactor;

/// The portal's page as the engine drives it: waits and actions aimed at what a person sees.
/// A wait that meets a text of `unless` or an error next to a field fails at once, the error
/// carrying what the page said (`error::page_said`); a wait or a `require` look that meets the
/// portal's error page fails as transient (the engine reloads). A `when` look reads the page
/// as it stands.
pub trait Page {
    /// A new step begins: what stood next to fields before it is no baseline for its answers.
    fn begin_step(&self);
    /// Where the page's time went since the last call, and a fresh count from now.
    fn take_spent(&self) -> Spent;
    async fn goto(&self, url: &str) -> Result<()>;
    async fn reload(&self) -> Result<()>;
    /// Waits until the page shows `text` or one of `or`.
    async fn expect_any(
        &self,
        text: &str,
        or: &[String],
        unless: &[String],
        timeout: Duration,
    ) -> Result<()>;
    async fn expect_element(
        &self,
        target: &Locator,
        unless: &[String],
        timeout: Duration,
    ) -> Result<()>;
    async fn click(&self, target: &Locator, timeout: Duration) -> Result<()>;
    /// `secret`: neither the value nor what the field shows may appear in a message.
    async fn fill(
        &self,
        target: &Locator,
        value: &str,
        secret: bool,
        timeout: Duration,
    ) -> Result<()>;
    async fn select(&self, target: &Locator, option: &str, timeout: Duration) -> Result<()>;
    /// Chooses an option offered that is not one of `avoid` (the one the field holds already,
    /// if free, else the first), and says which.
    async fn select_any(
        &self,
        target: &Locator,
        avoid: &[String],
        timeout: Duration,
    ) -> Result<String>;
    async fn set_checked(&self, target: &Locator, on: bool, timeout: Duration) -> Result<()>;
    /// Ticks exactly the boxes of the group whose names start with one of `want`.
    async fn check_exactly(&self, among: &Among, want: &[String], timeout: Duration) -> Result<()>;
    async fn scroll_agreement(&self, timeout: Duration) -> Result<()>;
    /// The value shown next to `label`, revealed with `reveal` first when it shows masked.
    async fn read_next_to(
        &self,
        label: &str,
        reveal: Option<&Locator>,
        timeout: Duration,
    ) -> Result<String>;
    /// Whether the page shows `text` once it has settled (every page of a table with `next`).
    async fn shows_settled(
        &self,
        text: &str,
        next: Option<&Locator>,
        loading: &[String],
        timeout: Duration,
    ) -> Result<bool>;
    /// Whether the page shows `target` once it has settled.
    async fn shows_element_settled(
        &self,
        target: &Locator,
        loading: &[String],
        timeout: Duration,
    ) -> Result<bool>;
    /// Keeps what the page shows in `dir`, every secret `redactor` knows covered or redacted.
    async fn save_evidence(&self, dir: &Path, redactor: &Redactor, beside: &[String])
        -> Result<()>;
    /// A small JPEG of the page with `secrets` and the values beside `beside` covered.
    async fn masked_thumbnail(&self, secrets: &[String], beside: &[String]) -> Result<Vec<u8>>;
}

/// The mailbox the portal's codes arrive in.
pub trait CodeMailbox {
    /// Where the mailbox stands now: a code is looked for only in what arrives after.
    async fn mark(&self) -> Result<Mark>;
    /// How new mail is noticed, for the progress line ("IDLE").
    async fn watching(&self) -> Result<String>;
    /// The newest code since `mark` from `from` to `to` that is none of `used`; no code
    /// within `timeout` is `Exit::VerificationCode` (exit 4).
    async fn wait_newer_code(
        &self,
        mark: &Mark,
        to: &str,
        from: &str,
        timeout: Duration,
        used: &[VerificationCode],
    ) -> Result<VerificationCode>;
}

impl Page for Browser {
    fn begin_step(&self) {
        Browser::begin_step(self)
    }
    fn take_spent(&self) -> Spent {
        Browser::take_spent(self)
    }
    async fn goto(&self, url: &str) -> Result<()> {
        Browser::goto(self, url).await
    }
    async fn reload(&self) -> Result<()> {
        Browser::reload(self).await
    }
    async fn expect_any(
        &self,
        text: &str,
        or: &[String],
        unless: &[String],
        timeout: Duration,
    ) -> Result<()> {
        Browser::expect_any(self, text, or, unless, timeout).await
    }
    async fn expect_element(
        &self,
        target: &Locator,
        unless: &[String],
        timeout: Duration,
    ) -> Result<()> {
        Browser::expect_element(self, target, unless, timeout).await
    }
    async fn click(&self, target: &Locator, timeout: Duration) -> Result<()> {
        Browser::click(self, target, timeout).await
    }
    async fn fill(
        &self,
        target: &Locator,
        value: &str,
        secret: bool,
        timeout: Duration,
    ) -> Result<()> {
        Browser::fill(self, target, value, secret, timeout).await
    }
    async fn select(&self, target: &Locator, option: &str, timeout: Duration) -> Result<()> {
        Browser::select(self, target, option, timeout).await
    }
    async fn select_any(
        &self,
        target: &Locator,
        avoid: &[String],
        timeout: Duration,
    ) -> Result<String> {
        Browser::select_any(self, target, avoid, timeout).await
    }
    async fn set_checked(&self, target: &Locator, on: bool, timeout: Duration) -> Result<()> {
        Browser::set_checked(self, target, on, timeout).await
    }
    async fn check_exactly(&self, among: &Among, want: &[String], timeout: Duration) -> Result<()> {
        Browser::check_exactly(self, among, want, timeout).await
    }
    async fn scroll_agreement(&self, timeout: Duration) -> Result<()> {
        Browser::scroll_agreement(self, timeout).await
    }
    async fn read_next_to(
        &self,
        label: &str,
        reveal: Option<&Locator>,
        timeout: Duration,
    ) -> Result<String> {
        Browser::read_next_to(self, label, reveal, timeout).await
    }
    async fn shows_settled(
        &self,
        text: &str,
        next: Option<&Locator>,
        loading: &[String],
        timeout: Duration,
    ) -> Result<bool> {
        Browser::shows_settled(self, text, next, loading, timeout).await
    }
    async fn shows_element_settled(
        &self,
        target: &Locator,
        loading: &[String],
        timeout: Duration,
    ) -> Result<bool> {
        Browser::shows_element_settled(self, target, loading, timeout).await
    }
    async fn save_evidence(
        &self,
        dir: &Path,
        redactor: &Redactor,
        beside: &[String],
    ) -> Result<()> {
        Browser::save_evidence(self, dir, redactor, beside).await
    }
    async fn masked_thumbnail(&self, secrets: &[String], beside: &[String]) -> Result<Vec<u8>> {
        Browser::masked_thumbnail(self, secrets, beside).await
    }
}

impl CodeMailbox for Mailbox {
    async fn mark(&self) -> Result<Mark> {
        Mailbox::mark(self).await
    }
    async fn watching(&self) -> Result<String> {
        Mailbox::watching(self).await
    }
    async fn wait_newer_code(
        &self,
        mark: &Mark,
        to: &str,
        from: &str,
        timeout: Duration,
        used: &[VerificationCode],
    ) -> Result<VerificationCode> {
        Mailbox::wait_newer_code(self, mark, to, from, timeout, used).await
    }
}
