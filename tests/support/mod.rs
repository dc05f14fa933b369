//! Shared test support: Dovecot harness, fixture portal, run helpers.
#![allow(dead_code)]

pub mod run;
pub mod dovecot;
