//! `mail check`: what a support engineer needs to know about a mailbox, in one connection.

use serde::Serialize;

use super::connect;
use super::MailboxConfig;
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
    /// The login mechanisms the server offers before login (`AUTH=…`): PLAIN, XOAUTH2…
    pub mechanisms: Vec<String>,
    /// Messages in the selected folder.
    pub messages: u32,
    /// Of those, messages from the portal's sender.
    pub from_portal: u32,
}

/// Connects, logs in, selects the folder, lists the folders and counts the portal's messages.
/// `from`: the portal's sender (a plain address: it is quoted in a SEARCH).
pub fn check(config: &MailboxConfig, from: &str) -> anyhow::Result<MailboxCheck> {
    let url = config.url.to_string();
    let reached = connect::reach(config)?;
    let mechanisms = reached.mechanisms();
    let mut session = connect::authenticate(config, reached)?;
    let selected = connect::select(&mut session, &config.url)?;
    let fail = |what: &str, e: imap::Error| environment(format!("{what} failed at {url}: {e}"));
    let folders = session
        .list(Some(""), Some("*"))
        .map_err(|e| fail("LIST", e))?
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    let messages = session.search("ALL").map_err(|e| fail("SEARCH", e))?.len() as u32;
    let from_portal = session
        .search(format!("FROM \"{from}\""))
        .map_err(|e| fail("SEARCH", e))?
        .len() as u32;
    let _ = session.logout();
    Ok(MailboxCheck {
        mailbox: url,
        folders,
        idle: selected.idle,
        mechanisms,
        messages,
        from_portal,
    })
}

/// What `doctor` reports about the mailbox, one stage at a time.
pub struct MailboxDiagnosis {
    /// TCP, TLS and the greeting.
    pub reachable: anyhow::Result<()>,
    /// The login mechanisms offered (`AUTH=…`), once reached.
    pub mechanisms: Vec<String>,
    /// Login and SELECT of every watched folder (their names); `None` when not tried.
    pub login: Option<anyhow::Result<Vec<String>>>,
    pub idle: bool,
    pub poll_every: std::time::Duration,
}

/// Blocking: reaches the server, logs in, selects each watched folder.
pub fn diagnose(config: &MailboxConfig) -> MailboxDiagnosis {
    let mut diagnosis = MailboxDiagnosis {
        reachable: Ok(()),
        mechanisms: Vec::new(),
        login: None,
        idle: false,
        poll_every: config.poll_every,
    };
    let client = match connect::reach(config) {
        Ok(reached) => {
            diagnosis.mechanisms = reached.mechanisms();
            reached
        }
        Err(e) => {
            diagnosis.reachable = Err(e);
            return diagnosis;
        }
    };
    let mut session = match connect::authenticate(config, client) {
        Ok(session) => session,
        Err(e) => {
            diagnosis.login = Some(Err(e));
            return diagnosis;
        }
    };
    let folders = config.folder_names();
    let mut selected = Ok(folders.clone());
    for folder in &folders {
        match connect::select(&mut session, &config.for_folder(folder).url) {
            Ok(s) => diagnosis.idle = s.idle,
            Err(e) => {
                selected = Err(e);
                break;
            }
        }
    }
    diagnosis.login = Some(selected);
    let _ = session.logout();
    diagnosis
}
