//! The integration tests: real headless Chromium, real Dovecot, the fixture portal on port 0.

#[path = "../support/mod.rs"]
mod support;
mod mail;
mod locate;
