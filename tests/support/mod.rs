//! Shared test support: Dovecot harness, fixture portal, run helpers.
#![allow(dead_code)]

pub mod browser;
pub mod dovecot;
pub mod oauth2;
pub mod portal;
pub mod run;
pub mod world;
