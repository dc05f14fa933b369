//! The integration tests: real headless Chromium, real Dovecot, the fixture portal on port 0.

/// Runs a test body (`async fn body(skin: Skin)`) once on each skin of the fixture portal: the
/// classic one and the material one written blind from the contract.
macro_rules! on_each_skin {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn classic() {
                super::$body(cigna_fixture::Skin::Classic).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn material() {
                super::$body(cigna_fixture::Skin::Material).await
            }
        }
    };
}

mod accname;
mod bad_input;
mod controls;
mod devtools;
mod evidence;
mod existing;
mod faults;
mod fixture;
mod locate;
mod mail;
mod mail_cli;
mod matching;
mod oauth2;
mod operator;
mod page;
mod register;
mod runs;
mod skins;
#[path = "../support/mod.rs"]
mod support;
