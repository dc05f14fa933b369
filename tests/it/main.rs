//! The integration tests: real headless Chromium, real Dovecot, the fixture portal on port 0.

mod bad_input;
mod existing;
mod faults;
mod fixture;
mod locate;
mod mail;
mod mail_cli;
mod operator;
mod register;
mod runs;
#[path = "../support/mod.rs"]
mod support;
