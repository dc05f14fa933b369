//! A throwaway Dovecot for tests, the tool's mailbox settings for its users, the fixture
//! portal's delivery into it, and verification emails to deliver.

use std::sync::Arc;

use cigna_fixture::dovecot::{Dovecot, DovecotOptions};
use cigna_fixture::Deliver;
use cigna_setup::mail::{MailboxConfig, Security};

/// The tool's settings for a throwaway Dovecot's mailboxes: the Dovecot tells its ports,
/// passwords and CA as plain data (it knows nothing of the tool), these put them together.
pub trait DovecotMailbox {
    /// A MailboxConfig for `user` (imaps, the CA trusted, its password).
    ///
    /// Panics when `user` was not among `DovecotOptions::users`: that is a bug in the caller.
    fn mailbox(&self, user: &str) -> MailboxConfig;

    /// Like `mailbox`, over `imap://` (STARTTLS) on the imap port.
    fn mailbox_starttls(&self, user: &str) -> MailboxConfig;
}

impl DovecotMailbox for Dovecot {
    fn mailbox(&self, user: &str) -> MailboxConfig {
        cigna_setup::commands::dovecot_mailbox(self, user, Security::Tls)
    }

    fn mailbox_starttls(&self, user: &str) -> MailboxConfig {
        cigna_setup::commands::dovecot_mailbox(self, user, Security::StartTls)
    }
}

/// How mail gets into a token user's mailbox on a Dovecot with `oauth2`: its master user
/// logs in as `USER*MASTER` with a password.
pub fn master_mailbox(dovecot: &Dovecot, user: &str) -> MailboxConfig {
    let (master, password) = dovecot
        .master()
        .expect("a Dovecot started with oauth2 has a master user");
    let url = format!(
        "imaps://{user}*{master}@127.0.0.1:{}/INBOX",
        dovecot.imaps_port()
    )
    .parse()
    .unwrap();
    let mut config = MailboxConfig::new(url, cigna_setup::secrets::Secret::new(password));
    config.ca_file = Some(dovecot.ca_file().to_path_buf());
    config.connect_timeout = std::time::Duration::from_secs(5);
    config
}

/// The fixture portal's delivery into this mailbox: an IMAP APPEND by the tool's mail module.
pub fn append_to(mailbox: MailboxConfig) -> Arc<dyn Deliver> {
    Arc::new(move |raw: &[u8]| cigna_setup::mail::append(&mailbox, raw))
}

/// The shared mailbox the tests read codes from.
pub const MAILBOX_USER: &str = "codes@zuub.com";
pub const MAILBOX_PASSWORD: &str = "Mailbox-Secret-7731";

/// Starts Dovecot with the test mailbox user. Fails (never skips) with the install command when
/// Dovecot or openssl is missing. Blocking: call from `spawn_blocking` in async tests.
pub fn start(idle: bool) -> Dovecot {
    Dovecot::start(DovecotOptions {
        users: vec![(MAILBOX_USER.into(), MAILBOX_PASSWORD.into())],
        idle,
        ..DovecotOptions::default()
    })
    .unwrap_or_else(|e| panic!("cannot start the throwaway Dovecot: {e:#}"))
}

/// A portal-style verification email: multipart/alternative, quoted-printable text and an HTML
/// part that splits the code across spans.
pub fn code_email(from: &str, to: &str, code: &str) -> Vec<u8> {
    let (head, tail) = code.split_at(3);
    format!(
        "From: Cigna for HCP <{from}>\r\n\
         To: {to}\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{code}.{to}@cignaforhcp.cigna.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         Your Cigna for HCP verification code is: {code}=0D=0A=\r\n\
         It is valid for 24 hours.\r\n\
         --b1\r\n\
         Content-Type: text/html; charset=UTF-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         <p>Your verification code is:</p><p style=3D\"font-size:28px\"><span>{head}</span><span>{tail}</span></p>\r\n\
         --b1--\r\n",
        subject = "Your Cigna for HCP verification code",
        date = rfc2822_now(),
    )
    .into_bytes()
}

/// Now, as a Date header writes it: a fresh email's code has not expired.
pub fn rfc2822_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap()
}

/// A recorded email from `fixtures/mail/`, as if sent now (its Date header replaced) or, with
/// `sent` given, at that time.
pub fn recorded_email(name: &str, sent: Option<&str>) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mail")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let date = sent.map_or_else(rfc2822_now, str::to_string);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("Date:") {
            out.push_str(&format!("Date: {date}\r\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}
