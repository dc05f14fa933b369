//! `mail check`: what a support engineer needs to know about a mailbox, in one connection.

use serde::Serialize;

use super::connect;
use super::{MailboxConfig, PORTAL_SENDER};
use crate::error::environment;

/// A mailbox as the tool sees it.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxCheck {
    /// The mailbox URL (never a password).
    pub mailbox: String,
    /// Every folder the account lists.
    pub folders: Vec<String>,
    /// Whether the server offers IDLE (without it, the tool polls).
    pub idle: bool,
    /// Messages in the selected folder.
    pub messages: u32,
    /// Of those, messages from the portal's sender.
    pub from_portal: u32,
}

/// Connects, logs in, selects the folder, lists the folders and counts the portal's messages.
pub fn check(config: &MailboxConfig) -> anyhow::Result<MailboxCheck> {
    let url = config.url.to_string();
    let (mut session, selected) = connect::open(config)?;
    let fail = |what: &str, e: imap::Error| environment(format!("{what} failed at {url}: {e}"));
    let folders = session
        .list(Some(""), Some("*"))
        .map_err(|e| fail("LIST", e))?
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    let messages = session.search("ALL").map_err(|e| fail("SEARCH", e))?.len() as u32;
    let from_portal = session
        .search(format!("FROM \"{PORTAL_SENDER}\""))
        .map_err(|e| fail("SEARCH", e))?
        .len() as u32;
    let _ = session.logout();
    Ok(MailboxCheck {
        mailbox: url,
        folders,
        idle: selected.idle,
        messages,
        from_portal,
    })
}
