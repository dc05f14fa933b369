//! The mailbox: the only code that knows IMAP. Connects (TLS by default), notes where the mailbox
//! stood before the code was requested, waits for the portal's email to one recipient and reads
//! the code out of it.

mod check;
pub mod code;
mod connect;
mod folder;
mod mailbox;
mod matching;
mod sasl;
mod token;
mod url;

use std::path::PathBuf;
use std::time::Duration;

pub use check::{check, diagnose, MailboxCheck, MailboxDiagnosis};
pub use code::{extract_code, parse_message, ParsedMessage};
pub use folder::{append, probe, Appender};
pub use mailbox::Mailbox;
pub use sasl::Refusal;
pub use token::{TokenSource, TOKEN_COMMAND_TIMEOUT};
pub use url::{MailboxUrl, Security};

use crate::secrets::Secret;

/// How long the portal's codes are valid ("Codes expire after 24hr"): an older one is never
/// entered.
pub const CODE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Between searches when the server has no IDLE (`--poll-every`).
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(2);

/// How the mailbox login is sent (`--imap-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImapAuth {
    /// The IMAP LOGIN command.
    #[default]
    Login,
    /// AUTHENTICATE PLAIN (SASL), for servers that disable LOGIN or passwords LOGIN cannot
    /// quote.
    Plain,
    /// AUTHENTICATE XOAUTH2 with an OAuth2 access token (Google Workspace, Microsoft 365).
    XOAuth2,
    /// AUTHENTICATE OAUTHBEARER (RFC 7628) with an OAuth2 access token.
    OAuthBearer,
}

impl ImapAuth {
    /// Every method, as `--imap-auth` and the settings file spell them.
    pub const ALL: [ImapAuth; 4] = [
        ImapAuth::Login,
        ImapAuth::Plain,
        ImapAuth::XOAuth2,
        ImapAuth::OAuthBearer,
    ];

    /// The method as `--imap-auth` spells it (and a run's journal records it).
    pub fn name(self) -> &'static str {
        match self {
            ImapAuth::Login => "login",
            ImapAuth::Plain => "plain",
            ImapAuth::XOAuth2 => "xoauth2",
            ImapAuth::OAuthBearer => "oauthbearer",
        }
    }

    /// The method `--imap-auth NAME` names.
    pub fn named(name: &str) -> Option<ImapAuth> {
        ImapAuth::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether it signs in with an access token rather than a password.
    pub fn uses_token(self) -> bool {
        matches!(self, ImapAuth::XOAuth2 | ImapAuth::OAuthBearer)
    }
}

/// Everything needed to reach the mailbox.
#[derive(Clone)]
pub struct MailboxConfig {
    pub url: MailboxUrl,
    /// The password, for `login` and `plain` (empty with a token).
    pub password: Secret,
    /// Where the access token comes from, for `xoauth2` and `oauthbearer`.
    pub token: Option<TokenSource>,
    /// A PEM file of extra trusted CA certificates (`--imap-ca`).
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// The folders watched for the code (`--imap-mailbox`, repeatable); empty: the URL's
    /// /MAILBOX (INBOX by default).
    pub folders: Vec<String>,
    /// Between searches when the server offers no IDLE.
    pub poll_every: Duration,
    pub auth: ImapAuth,
}

impl MailboxConfig {
    /// The URL's user and host, with defaults for the rest: one folder, LOGIN, polls every 2 s.
    pub fn new(url: MailboxUrl, password: Secret) -> MailboxConfig {
        MailboxConfig {
            url,
            password,
            token: None,
            ca_file: None,
            connect_timeout: Duration::from_secs(10),
            folders: Vec::new(),
            poll_every: DEFAULT_POLL_EVERY,
            auth: ImapAuth::Login,
        }
    }

    /// The URL's user and host signing in with an access token from `token` by `auth`
    /// (`xoauth2` or `oauthbearer`); otherwise as `new`.
    pub fn with_token(url: MailboxUrl, auth: ImapAuth, token: TokenSource) -> MailboxConfig {
        let mut config = MailboxConfig::new(url, Secret::new(""));
        config.auth = auth;
        config.token = Some(token);
        config
    }

    /// The folders watched, in the order given.
    pub fn folder_names(&self) -> Vec<String> {
        if self.folders.is_empty() {
            vec![self.url.mailbox.clone()]
        } else {
            self.folders.clone()
        }
    }

    /// This config narrowed to one folder: what one folder session connects with.
    pub(crate) fn for_folder(&self, folder: &str) -> MailboxConfig {
        let mut config = self.clone();
        config.url.mailbox = folder.to_string();
        config.folders = vec![folder.to_string()];
        config
    }
}

impl std::fmt::Debug for MailboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxConfig")
            .field("url", &self.url.to_string())
            .field("password", &self.password)
            .field("token", &self.token)
            .field("ca_file", &self.ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("folders", &self.folders)
            .field("poll_every", &self.poll_every)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Where the mailbox stood just before "Send Verification Code" was clicked: the time, and
/// where each watched folder's next message will go.
#[derive(Debug, Clone)]
pub struct Mark {
    pub at: time::OffsetDateTime,
    pub folders: Vec<FolderMark>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMark {
    pub folder: String,
    pub uid_validity: u32,
    pub uid_next: u32,
}

impl Mark {
    /// Every message since `at` counts, whatever its UID.
    pub fn since(mut self, at: time::OffsetDateTime) -> Mark {
        self.at = at;
        for folder in &mut self.folders {
            folder.uid_next = 1;
        }
        self
    }
}

/// The code found, and which message carried it. `Debug` hides the code: it is a secret until
/// the portal has taken it.
#[derive(Clone)]
pub struct VerificationCode {
    pub code: String,
    /// The folder the message is in, and its UID there.
    pub folder: String,
    pub uid: u32,
    pub subject: String,
    pub date: Option<String>,
    /// The Date header in Unix seconds.
    pub sent: Option<i64>,
    /// INTERNALDATE in Unix seconds.
    pub arrived: Option<i64>,
}

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCode")
            .field("code", &"[redacted]")
            .field("folder", &self.folder)
            .field("uid", &self.uid)
            .field("subject", &self.subject)
            .field("date", &self.date)
            .field("arrived", &self.arrived)
            .finish()
    }
}
