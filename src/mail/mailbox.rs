//! The mailbox as the rest of the tool sees it: every watched folder (`--imap-mailbox`, for
//! offices whose rules file the portal's mail away from INBOX), marked together and waited on
//! together; the first folder to hold the code wins.

use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};

use super::folder::{Folder, Watch};
use super::matching::Wanted;
use super::{MailboxConfig, Mark, VerificationCode};
use crate::error::{bad_input, verification_code, Exit, Failure};

/// A mailbox session per watched folder, each on its own thread. `open` returns at once: the
/// logins run in the background, overlapping the browser's start.
pub struct Mailbox {
    folders: Vec<Folder>,
    config: MailboxConfig,
}

impl Mailbox {
    pub fn open(config: MailboxConfig) -> Mailbox {
        let folders = config
            .folder_names()
            .iter()
            .map(|name| Folder::open(config.for_folder(name)))
            .collect();
        Mailbox { folders, config }
    }

    /// Resolves when every folder's login+select finished. Unreachable host, TLS failure or
    /// refused login → an environment error (exit 5) naming the mailbox URL (no password) and
    /// the fix.
    /// IMAP commands the code waits have sent so far, over all folders.
    pub fn commands_sent(&self) -> u64 {
        self.folders.iter().map(Folder::commands_sent).sum()
    }

    pub async fn ready(&self) -> anyhow::Result<()> {
        self.watching().await.map(|_| ())
    }

    /// How new mail will be noticed, for the progress line: "IDLE" or "polling every 2s (the
    /// server offers no IDLE)".
    pub async fn watching(&self) -> anyhow::Result<String> {
        let watches = futures::future::try_join_all(self.folders.iter().map(Folder::ready)).await?;
        Ok(match watches.first() {
            Some(Watch::Polling(every)) => format!(
                "polling every {}s: the server offers no IDLE",
                every.as_secs_f32()
            ),
            _ => "IDLE".to_string(),
        })
    }

    /// UIDVALIDITY + UIDNEXT of every folder now (a fresh SELECT each), and the time now.
    pub async fn mark(&self) -> anyhow::Result<Mark> {
        let at = time::OffsetDateTime::now_utc();
        let folders = futures::future::try_join_all(self.folders.iter().map(Folder::mark)).await?;
        Ok(Mark { at, folders })
    }

    /// Waits for the newest message since the mark from `from` (the portal's sender) to `to`, with a
    /// code that has not expired; see `matching` for the rules and the timeout message (exit 4).
    pub async fn wait_code(
        &self,
        mark: &Mark,
        to: &str,
        from: &str,
        timeout: Duration,
    ) -> anyhow::Result<VerificationCode> {
        self.wait_newer_code(mark, to, from, timeout, &[]).await
    }

    /// As `wait_code`, for a code newer than every one in `used` (codes the portal was given
    /// already): never one of them again, nor anything that arrived before them.
    pub async fn wait_newer_code(
        &self,
        mark: &Mark,
        to: &str,
        from: &str,
        timeout: Duration,
        used: &[VerificationCode],
    ) -> anyhow::Result<VerificationCode> {
        if !to.contains('@') {
            return Err(bad_input(format!(
                "`{to}` is not an email address: the verification code is looked up by the \
                 account's email address"
            )));
        }
        let mut wanted = Wanted::new(to, from, mark.at);
        wanted.used = used.to_vec();
        let mut waits: FuturesUnordered<_> = self
            .folders
            .iter()
            .zip(&mark.folders)
            .map(|(folder, folder_mark)| {
                let mut wanted = wanted.clone();
                wanted.folder = folder_mark.folder.clone();
                folder.wait_code(folder_mark.clone(), mark.at, wanted, timeout)
            })
            .collect();
        // The first folder with the code wins; dropping the other waits cancels them.
        let mut timeouts = Vec::new();
        while let Some(outcome) = waits.next().await {
            match outcome {
                Ok(code) => return Ok(code),
                Err(e) if crate::error::exit_code(&e) == Exit::VerificationCode.code() => {
                    timeouts.push(format!("{e:#}"))
                }
                Err(e) => return Err(e),
            }
        }
        Err(match timeouts.len() {
            0 => Failure::error(
                Exit::Environment,
                format!("no folder of {} to wait in", self.config.url),
            ),
            1 => verification_code(timeouts.remove(0)),
            _ => verification_code(format!(
                "no verification code for {to} arrived in any of the folders {}:\n{}",
                self.config.folder_names().join(", "),
                timeouts.join("\n")
            )),
        })
    }
}
