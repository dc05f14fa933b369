//! `cigna-setup mail check|wait-code`: the mailbox, for support engineers.

use anyhow::Result;
use serde_json::json;

use crate::cli::MailCommand;
use crate::error::bad_input;
use crate::mail::{self, Mailbox};
use crate::secrets;
use crate::settings;

pub async fn command(command: MailCommand) -> Result<()> {
    match command {
        MailCommand::Check(args) => {
            let from = portal_sender(args.from.as_deref())?;
            let config = settings::mailbox(&args.mailbox)?;
            secrets::global().register(config.password.expose());
            let sender = from.clone();
            let report =
                tokio::task::spawn_blocking(move || mail::check(&config, &sender)).await??;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("mailbox {}: login ok", report.mailbox);
                println!(
                    "  login mechanisms offered: {}",
                    if report.mechanisms.is_empty() {
                        "none listed (LOGIN only)".to_string()
                    } else {
                        report.mechanisms.join(", ")
                    }
                );
                println!("  folders: {}", report.folders.join(", "));
                println!(
                    "  IDLE: {}",
                    if report.idle {
                        "offered"
                    } else {
                        "not offered (codes are polled for)"
                    }
                );
                println!(
                    "  messages: {}, from {}: {}",
                    report.messages, from, report.from_portal
                );
            }
            Ok(())
        }
        MailCommand::WaitCode(args) => {
            let to = settings::parse_email(&args.to, "--to")?;
            let from = portal_sender(args.from.as_deref())?;
            let timeout = settings::parse_duration(&args.timeout, "--timeout")?;
            let after = match &args.after {
                Some(raw) => {
                    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| {
                            bad_input(format!(
                                "--after {} is not an RFC 3339 time ({e}): write it like \
                         2026-11-28T10:15:00Z",
                                crate::error::shown(raw)
                            ))
                        })?
                }
                None => time::OffsetDateTime::now_utc() - time::Duration::hours(24),
            };
            let config = settings::mailbox(&args.mailbox)?;
            secrets::global().register(config.password.expose());
            let mailbox = Mailbox::open(config);
            mailbox.ready().await?;
            // Every message since `after` counts, not only those after this moment.
            let mark = mailbox.mark().await?.since(after);
            let code = mailbox.wait_code(&mark, &to, &from, timeout).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "code": code.code, "folder": code.folder, "uid": code.uid,
                        "subject": code.subject, "date": code.date,
                    }))?
                );
            } else {
                println!("{}", code.code);
                println!(
                    "  {} uid {}, date {}, subject \"{}\"",
                    code.folder,
                    code.uid,
                    code.date.as_deref().unwrap_or("?"),
                    code.subject
                );
            }
            Ok(())
        }
    }
}

/// The sender whose emails carry codes: `--from`, else the built-in existing flow's.
fn portal_sender(given: Option<&str>) -> Result<String> {
    match given {
        Some(raw) => {
            let from = settings::parse_email(raw, "--from")?;
            if from.contains(['"', '\\']) {
                return Err(bad_input(format!(
                    "--from {} may not hold quotes or backslashes: give the sender's address",
                    crate::error::shown(raw)
                )));
            }
            Ok(from)
        }
        None => crate::flow::builtin("existing")?
            .code_sender()
            .map(str::to_string)
            .ok_or_else(|| {
                bad_input("the built-in existing flow names no code sender: pass --from")
            }),
    }
}
