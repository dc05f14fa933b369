//! The mailbox: the only code that knows IMAP. Connects (TLS by default), notes where the mailbox
//! stood before the code was requested, waits for the portal's email to one recipient and reads
//! the code out of it.

mod check;
pub mod code;
mod connect;
mod mailbox;
mod matching;
mod url;

use std::path::PathBuf;
use std::time::Duration;

pub use check::{check, MailboxCheck};
pub use code::{extract_code, parse_message, ParsedMessage};
pub use mailbox::{append, probe, Mailbox};
pub use url::{MailboxUrl, Security};

use crate::secrets::Secret;

pub const PORTAL_SENDER: &str = "no-reply@cignaforhcp.cigna.com";
pub const PORTAL_SUBJECT: &str = "Your Cigna for HCP verification code";

/// Everything needed to reach the mailbox.
#[derive(Clone)]
pub struct MailboxConfig {
    pub url: MailboxUrl,
    pub password: Secret,
    /// A PEM file of extra trusted CA certificates (`--imap-ca`).
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for MailboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxConfig")
            .field("url", &self.url.to_string())
            .field("password", &self.password)
            .field("ca_file", &self.ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Where the mailbox stood just before "Send Verification Code" was clicked.
#[derive(Debug, Clone)]
pub struct Mark {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub at: time::OffsetDateTime,
}

/// The code found, and which message carried it. `Debug` hides the code: it is a secret until
/// the portal has taken it.
#[derive(Clone)]
pub struct VerificationCode {
    pub code: String,
    pub uid: u32,
    pub subject: String,
    pub date: Option<String>,
}

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCode")
            .field("code", &"[redacted]")
            .field("uid", &self.uid)
            .field("subject", &self.subject)
            .field("date", &self.date)
            .finish()
    }
}
