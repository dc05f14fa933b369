//! Which new message is the verification email, and what to tell the user when none is.
//!
//! Pure: the mailbox session fetches messages, this decides about them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::{FolderMark, MailboxUrl, ParsedMessage, VerificationCode, CODE_LIFETIME};

/// Clock-skew allowance between this machine and the mail server for the arrival-time check.
pub(crate) const CLOCK_SKEW_SECS: i64 = 60;

/// What is wanted: the portal's email to one address, arrived after the mark, with a code that
/// is still valid and was not entered before.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub to: String,
    /// The portal's sender (the flow's `from`), compared without case.
    pub from: String,
    /// Oldest acceptable INTERNALDATE, in Unix seconds.
    pub not_before: i64,
    /// A message sent or arrived before this (Unix seconds) carries an expired code.
    pub expired_before: i64,
    /// Codes entered already in this run: never entered again, and only a message sent after
    /// them counts (an older one carries a code the portal replaced).
    pub used: Vec<VerificationCode>,
    /// The folder this wait watches (UIDs compare only within one).
    pub folder: String,
}

impl Wanted {
    pub fn new(to: &str, from: &str, at: time::OffsetDateTime) -> Wanted {
        // INTERNALDATE has whole seconds and the server's clock; the mark is ours, with
        // nanoseconds. Comparing at second resolution with a skew allowance keeps the real
        // email; the UID mark (taken before the click) is what guarantees the order, so this
        // check only has to keep out messages that are clearly older.
        Wanted {
            to: to.trim().to_ascii_lowercase(),
            from: from.trim().to_ascii_lowercase(),
            not_before: at.unix_timestamp() - CLOCK_SKEW_SECS,
            expired_before: time::OffsetDateTime::now_utc().unix_timestamp()
                - CODE_LIFETIME.as_secs() as i64,
            used: Vec::new(),
            folder: String::new(),
        }
    }

    /// Whether a message is newer than every code entered already: sent later (Date header),
    /// or, sent in the same second or undated, a higher UID in the same folder or a later
    /// arrival in another.
    fn newer_than_used(&self, arrival: &Arrival, sent: Option<i64>) -> bool {
        self.used.iter().all(|u| match (sent, u.sent) {
            (Some(s), Some(us)) if s != us => s > us,
            _ if u.folder == self.folder => arrival.uid > u.uid,
            _ => arrival.arrived.unwrap_or(i64::MIN) >= u.arrived.unwrap_or(i64::MAX),
        })
    }
}

/// One message that arrived after the mark, as far as the wait cares.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub uid: u32,
    /// INTERNALDATE in Unix seconds, when the server sent one.
    pub arrived: Option<i64>,
    /// None when the message could not be parsed at all.
    pub message: Option<ParsedMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Match,
    Unreadable,
    OtherSender,
    OtherRecipient,
    TooOld,
    Expired,
    NoCode,
    Used,
}

impl Arrival {
    pub fn verdict(&self, wanted: &Wanted) -> Verdict {
        let Some(message) = &self.message else {
            return Verdict::Unreadable;
        };
        if !message
            .from
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&wanted.from))
        {
            Verdict::OtherSender
        } else if !message.to.contains(&wanted.to) {
            Verdict::OtherRecipient
        } else if self.arrived.is_some_and(|t| t < wanted.not_before) {
            Verdict::TooOld
        } else if self
            .arrived
            .into_iter()
            .chain(message.sent)
            .any(|t| t < wanted.expired_before)
        {
            Verdict::Expired
        } else if let Some(code) = &message.code {
            let used = wanted.used.iter().any(|u| &u.code == code);
            if used || !wanted.newer_than_used(self, message.sent) {
                Verdict::Used
            } else {
                Verdict::Match
            }
        } else {
            Verdict::NoCode
        }
    }
}

/// The newest matching message, as a code: the latest sent (Date header; mail can arrive out
/// of order, and only the latest code sent is valid), then the highest UID.
pub(crate) fn best(
    seen: &BTreeMap<u32, Arrival>,
    wanted: &Wanted,
    folder: &str,
) -> Option<VerificationCode> {
    seen.values()
        .filter(|a| a.verdict(wanted) == Verdict::Match)
        .max_by_key(|a| {
            let sent = a.message.as_ref().and_then(|m| m.sent);
            (sent.or(a.arrived).unwrap_or(i64::MIN), a.uid)
        })
        .and_then(|a| {
            let message = a.message.as_ref()?;
            Some(VerificationCode {
                code: message.code.clone()?,
                folder: folder.to_string(),
                uid: a.uid,
                subject: message.subject.clone(),
                date: message.date.clone(),
                sent: message.sent,
                arrived: a.arrived,
            })
        })
}

/// Most arrivals listed one by one in a timeout message; the rest are counted.
const LISTED: usize = 12;

/// The timeout message: what arrived, and why none of it was the code. Addresses are not secret;
/// codes are never shown.
pub(crate) fn timeout_message(
    seen: &BTreeMap<u32, Arrival>,
    wanted: &Wanted,
    mark: &FolderMark,
    at: time::OffsetDateTime,
    url: &MailboxUrl,
    waited: Duration,
) -> String {
    let mut out = format!(
        "no verification code for {} arrived in {url} within {}s",
        wanted.to,
        waited.as_secs()
    );
    let since = at
        .format(&time::macros::format_description!(
            "[hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    if seen.is_empty() {
        let _ = write!(
            out,
            ": no new message arrived since the code was requested (UIDNEXT {} at {since}).",
            mark.uid_next
        );
    } else {
        let from_portal = seen
            .values()
            .filter(|a| a.verdict(wanted) != Verdict::OtherSender && a.message.is_some())
            .count();
        let _ = write!(
            out,
            ". Since the code was requested (UIDNEXT {} at {since}) {} new message{} arrived, \
             {from_portal} from the portal's sender {}:",
            mark.uid_next,
            seen.len(),
            if seen.len() == 1 { "" } else { "s" },
            wanted.from,
        );
        for arrival in seen.values().take(LISTED) {
            let _ = write!(
                out,
                "\n  UID {}: {}",
                arrival.uid,
                describe(arrival, wanted)
            );
        }
        if seen.len() > LISTED {
            let _ = write!(out, "\n  … and {} more", seen.len() - LISTED);
        }
    }
    let _ = write!(
        out,
        "\nCheck that the portal sent the code to {} (the account's email address) and that mail \
         to that address reaches this mailbox (forwarding rules, spam filtering), then ask the \
         portal for a new code.",
        wanted.to
    );
    out
}

fn describe(arrival: &Arrival, wanted: &Wanted) -> String {
    let Some(message) = &arrival.message else {
        return "not a readable email".to_string();
    };
    let list = |addresses: &[String]| {
        if addresses.is_empty() {
            "nobody".to_string()
        } else {
            addresses.join(", ")
        }
    };
    let who = format!("from {} to {}", list(&message.from), list(&message.to));
    let why = match arrival.verdict(wanted) {
        Verdict::Match => "the code".to_string(),
        Verdict::Unreadable => "not a readable email".to_string(),
        Verdict::OtherSender => "not from the portal's sender".to_string(),
        Verdict::OtherRecipient if message.code.is_some() => {
            format!("a code, but not for {}", wanted.to)
        }
        Verdict::OtherRecipient => format!("no code, and not for {}", wanted.to),
        Verdict::TooOld => "arrived before the code was requested".to_string(),
        Verdict::Expired => "sent more than 24 hours ago: its code has expired".to_string(),
        Verdict::NoCode => "no 6-digit code found in it".to_string(),
        Verdict::Used => "a code this run entered already".to_string(),
    };
    format!("{who}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portal's sender, as a flow's `wait-for-code` names it.
    const SENDER: &str = "no-reply@portal.example";

    fn mark() -> FolderMark {
        FolderMark {
            folder: "INBOX".into(),
            uid_validity: 7,
            uid_next: 10,
        }
    }

    fn marked_at() -> time::OffsetDateTime {
        // Today, so the messages' codes have not expired.
        time::OffsetDateTime::now_utc().replace_time(time::macros::time!(15:14:07.900))
    }

    fn arrival(uid: u32, from: &str, to: &str, arrived: i64, code: Option<&str>) -> Arrival {
        Arrival {
            uid,
            arrived: Some(arrived),
            message: Some(ParsedMessage {
                from: vec![from.into()],
                to: vec![to.into()],
                subject: "Your verification code".into(),
                date: None,
                sent: None,
                code: code.map(Into::into),
            }),
        }
    }

    #[test]
    fn picks_the_newest_match_and_explains_the_rest() {
        let mark = mark();
        let at = marked_at().unix_timestamp();
        let wanted = Wanted::new(" Office.Admin@zuub.com ", SENDER, marked_at());
        let mut seen = BTreeMap::new();
        for a in [
            arrival(10, SENDER, "other@zuub.com", at, Some("111111")),
            arrival(
                11,
                "someone@else.com",
                "office.admin@zuub.com",
                at,
                Some("222222"),
            ),
            arrival(12, SENDER, "office.admin@zuub.com", at - 61, Some("333333")),
            arrival(13, SENDER, "office.admin@zuub.com", at, None),
        ] {
            seen.insert(a.uid, a);
        }
        assert!(best(&seen, &wanted, "INBOX").is_none());
        let url: MailboxUrl = "imaps://codes@zuub.com@127.0.0.1:993".parse().unwrap();
        let message = timeout_message(
            &seen,
            &wanted,
            &mark,
            marked_at(),
            &url,
            Duration::from_secs(2),
        );
        for part in [
            "no verification code for office.admin@zuub.com",
            "within 2s",
            "UIDNEXT 10 at 15:14:07 UTC",
            "4 new messages arrived, 3 from the portal's sender no-reply@portal.example:",
            "UID 10: from no-reply@portal.example to other@zuub.com: a code, but not for",
            "UID 11: from someone@else.com to office.admin@zuub.com: not from the portal's sender",
            "UID 12: from no-reply@portal.example to office.admin@zuub.com: arrived before",
            "UID 13: from no-reply@portal.example to office.admin@zuub.com: no 6-digit code",
        ] {
            assert!(message.contains(part), "{part:?} not in {message}");
        }
        for code in ["111111", "222222", "333333"] {
            assert!(!message.contains(code), "{message}");
        }

        // Within the skew allowance (the server's clock a bit behind ours) still counts.
        seen.insert(
            14,
            arrival(14, SENDER, "office.admin@zuub.com", at - 59, Some("444444")),
        );
        seen.insert(
            15,
            arrival(15, SENDER, "office.admin@zuub.com", at, Some("555555")),
        );
        assert_eq!(best(&seen, &wanted, "INBOX").unwrap().code, "555555");
        seen.remove(&15);
        let found = best(&seen, &wanted, "INBOX").unwrap();
        assert_eq!((found.code.as_str(), found.uid), ("444444", 14));
    }

    #[test]
    fn a_used_code_and_an_expired_one_are_never_picked() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut wanted = Wanted::new(
            "office.admin@zuub.com",
            SENDER,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let to = "office.admin@zuub.com";
        let mut seen = BTreeMap::new();
        seen.insert(20, arrival(20, SENDER, to, now - 25 * 3600, Some("121212")));
        assert!(best(&seen, &wanted, "INBOX").is_none(), "arrived 25 h ago");
        let mut sent_long_ago = arrival(21, SENDER, to, now, Some("343434"));
        sent_long_ago.message.as_mut().unwrap().sent = Some(now - 2 * 24 * 3600);
        seen.insert(21, sent_long_ago);
        assert!(best(&seen, &wanted, "INBOX").is_none(), "sent two days ago");
        seen.insert(22, arrival(22, SENDER, to, now, Some("565656")));
        seen.insert(23, arrival(23, SENDER, to, now, Some("787878")));
        wanted.folder = "INBOX".into();
        let entered = best(&seen, &wanted, "INBOX").unwrap();
        assert_eq!(entered.code, "787878");
        // Entered (and refused): never again, nor the older 565656; a newer message counts.
        wanted.used.push(entered);
        assert!(best(&seen, &wanted, "INBOX").is_none());
        seen.insert(24, arrival(24, SENDER, to, now, Some("909090")));
        assert_eq!(best(&seen, &wanted, "INBOX").unwrap().code, "909090");
        seen.remove(&24);
        let url: MailboxUrl = "imaps://codes@127.0.0.1".parse().unwrap();
        let message = timeout_message(
            &seen,
            &wanted,
            &mark(),
            time::OffsetDateTime::now_utc(),
            &url,
            Duration::from_secs(9),
        );
        assert!(message.contains("UID 20: from no-reply@portal.example to office.admin@zuub.com: sent more than 24 hours ago"), "{message}");
        assert!(message.contains("UID 21: ") && message.contains("UID 23: from no-reply@portal.example to office.admin@zuub.com: a code this run entered already"), "{message}");
        for code in ["121212", "343434", "565656", "787878"] {
            assert!(!message.contains(code), "{message}");
        }
    }

    /// After "Resend code", the first email (older code) can arrive after the resent one: the
    /// latest sent wins, whatever the UIDs; and if the older one was entered and refused, the
    /// resent one (sent later, lower UID) still counts.
    #[test]
    fn the_latest_sent_code_wins_over_a_late_older_email() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let to = "office.admin@zuub.com";
        let mut wanted = Wanted::new(to, SENDER, time::OffsetDateTime::UNIX_EPOCH);
        wanted.folder = "INBOX".into();
        let mut resent = arrival(11, SENDER, to, now, Some("222222"));
        resent.message.as_mut().unwrap().sent = Some(now - 10);
        let mut late_first = arrival(12, SENDER, to, now, Some("111111"));
        late_first.message.as_mut().unwrap().sent = Some(now - 200);
        let mut seen = BTreeMap::new();
        seen.insert(11, resent);
        seen.insert(12, late_first.clone());
        assert_eq!(best(&seen, &wanted, "INBOX").unwrap().code, "222222");

        // Had the late one been entered (found alone first) and refused, the resent one counts.
        let mut only_late = BTreeMap::new();
        only_late.insert(12, late_first);
        wanted
            .used
            .push(best(&only_late, &wanted, "INBOX").unwrap());
        assert_eq!(best(&seen, &wanted, "INBOX").unwrap().code, "222222");
    }

    #[test]
    fn nothing_arrived() {
        let mark = mark();
        let wanted = Wanted::new("office.admin@zuub.com", SENDER, marked_at());
        let url: MailboxUrl = "imaps://codes@zuub.com@127.0.0.1:993".parse().unwrap();
        let message = timeout_message(
            &BTreeMap::new(),
            &wanted,
            &mark,
            marked_at(),
            &url,
            Duration::from_secs(90),
        );
        assert!(
            message.contains("within 90s: no new message arrived since the code was requested"),
            "{message}"
        );
    }
}
