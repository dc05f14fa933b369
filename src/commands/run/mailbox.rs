//! Which mailbox a continued run reads: the one it recorded, unless this command names another.

use std::path::PathBuf;

use anyhow::Result;

use crate::journal::Journal;
use crate::mail::MailboxConfig;

/// The mailbox from the flags, else the one the run remembered (URL and CA; the password is
/// never stored).
pub fn remembered_mailbox(
    args: &crate::cli::MailboxArgs,
    journal: &Journal,
) -> Result<MailboxConfig> {
    let remembered = |name: &str| {
        journal
            .input(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    // The run's own mailbox beats the settings file (which may name another office's) and the
    // defaults; a flag or an environment variable given now beats the run.
    let loaded = crate::config::loaded();
    let given_now = |key: &str| {
        matches!(
            loaded.values.get(key),
            Some((
                crate::config::Source::Flag { .. } | crate::config::Source::Env { .. },
                _
            ))
        )
    };
    let given = |key: &str, value: Option<String>| value.filter(|_| given_now(key));
    let folders = if args.imap_mailboxes.is_empty() || !given_now("imap-mailboxes") {
        journal
            .input("imap_mailboxes")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(|| args.imap_mailboxes.clone())
    } else {
        args.imap_mailboxes.clone()
    };
    // The recorded login method holds unless this command asks for one.
    let imap_auth = match remembered("imap_auth") {
        _ if given_now("imap-auth") => args.imap_auth,
        Some(name) => <crate::cli::ImapAuthArg as clap::ValueEnum>::from_str(&name, false)
            .unwrap_or(args.imap_auth),
        None => args.imap_auth,
    };
    crate::settings::mailbox(&crate::cli::MailboxArgs {
        imap_url: given("imap-url", args.imap_url.clone())
            .or_else(|| remembered("imap_url"))
            .or_else(|| args.imap_url.clone()),
        imap_password_file: args.imap_password_file.clone(),
        imap_ca: given(
            "imap-ca",
            args.imap_ca.as_ref().map(|p| p.display().to_string()),
        )
        .or_else(|| remembered("imap_ca"))
        .or_else(|| args.imap_ca.as_ref().map(|p| p.display().to_string()))
        .map(PathBuf::from),
        imap_mailboxes: folders,
        imap_auth,
        // The token's source is given again, as the password is: neither is kept with the run.
        imap_token_file: args.imap_token_file.clone(),
        imap_token_command: args.imap_token_command.clone(),
        poll_every: args.poll_every.clone(),
    })
}
