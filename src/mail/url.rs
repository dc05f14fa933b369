//! The mailbox URL (`imaps://USER@HOST[:PORT][/MAILBOX]`): parsing, validation and display.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::bad_input;

/// How the connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// `imaps://`: TLS from the first byte (port 993 by default).
    Tls,
    /// `imap://`: STARTTLS (port 143 by default); plaintext only to a loopback host.
    StartTls,
}

impl Security {
    pub fn default_port(&self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls => 143,
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Security::Tls => "imaps",
            Security::StartTls => "imap",
        }
    }
}

/// Where the verification emails land. Never holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxUrl {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub mailbox: String,
}

impl MailboxUrl {
    /// Whether the host is this machine, the only place plaintext IMAP is allowed to go.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

const RIGHT_FORM: &str =
    "use imaps://USER@HOST[:PORT][/MAILBOX] (TLS) or imap://USER@HOST[:PORT][/MAILBOX] \
     (STARTTLS), e.g. imaps://codes%40zuub.com@imap.zuub.com/INBOX";

impl FromStr for MailboxUrl {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<MailboxUrl> {
        let text = text.trim();
        // A URL that holds a password (USER:PASSWORD@…) is never quoted, whatever else is wrong
        // with it (no scheme, a wrong one).
        let holds_password = text.rsplit_once('@').is_some_and(|(userinfo, _)| {
            userinfo
                .split_once("://")
                .map_or(userinfo, |(_, u)| u)
                .contains(':')
        });
        let quoted = if holds_password {
            "(not shown: it holds a password)".to_string()
        } else {
            crate::error::shown(text)
        };
        let bad =
            |problem: &str| bad_input(format!("bad IMAP URL {quoted}: {problem}; {RIGHT_FORM}"));

        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme"))?;
        let security = match scheme.to_ascii_lowercase().as_str() {
            "imaps" => Security::Tls,
            "imap" => Security::StartTls,
            _ => return Err(bad("the scheme must be imaps:// or imap://")),
        };

        // The host never holds an '@' and a user name may (codes@zuub.com): split at the last one.
        let (userinfo, hostpath) = rest
            .rsplit_once('@')
            .ok_or_else(|| bad("it names no user"))?;
        if userinfo.contains(':') {
            // Not echoing the URL: the text after the ':' is a password.
            return Err(bad_input(format!(
                "the IMAP URL contains a password (USER:PASSWORD@HOST); remove it from the URL and put \
                 the password in the CIGNA_IMAP_PASSWORD environment variable or a file named by \
                 --imap-password-file; {RIGHT_FORM}"
            )));
        }
        let user = percent_decode(userinfo).map_err(|p| bad(&p))?;
        if user.is_empty() {
            return Err(bad("the user name is empty"));
        }
        // A control character would end or split the line or SASL message that carries it.
        if user.chars().any(char::is_control) {
            return Err(bad("the user name holds a control character"));
        }

        let (hostport, path) = match hostpath.split_once('/') {
            Some((hostport, path)) => (hostport, path),
            None => (hostpath, ""),
        };
        if path.contains(['?', '#']) {
            return Err(bad("it may not carry a query (?) or fragment (#)"));
        }
        let (host, port) = split_host_port(hostport).map_err(|p| bad(&p))?;
        let port = match port {
            None => security.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    return Err(bad(&format!(
                        "the port `{p}` is not a number from 1 to 65535"
                    )))
                }
            },
        };
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        if host.contains(|c: char| c.is_whitespace() || c == '%') {
            return Err(bad(&format!(
                "the host `{host}` is not a host name or IP address"
            )));
        }

        let mailbox = percent_decode(path.trim_end_matches('/')).map_err(|p| bad(&p))?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_string()
        } else {
            mailbox
        };

        Ok(MailboxUrl {
            security,
            host: host.to_string(),
            port,
            user,
            mailbox,
        })
    }
}

/// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`.
fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = hostport.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| "an IPv6 address opened with `[` is not closed with `]`".to_string())?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`[{host}]` is not an IPv6 address"));
        }
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{after}` after the IPv6 address")),
            },
        };
    }
    match hostport.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            Err("an IPv6 address must be written in brackets, e.g. [::1]:993".to_string())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((hostport, None)),
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    // `i` is at a '%', a character boundary; what follows may not be ASCII.
                    let escape: String = text[i..].chars().take(3).collect();
                    format!("`{escape}` is not a valid %XX escape")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a %XX escape does not decode to UTF-8 text".to_string())
}

/// Escapes what would change the meaning of the URL when parsed back.
fn percent_encode(text: &str, also: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' || c.is_whitespace() || c.is_control() || also.contains(&c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for MailboxUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The user keeps a readable raw '@' (parsing splits at the last one); the mailbox cannot.
        let user = percent_encode(&self.user, &[':', '/']);
        let mailbox = percent_encode(&self.mailbox, &['@', '?', '#']);
        let scheme = self.security.scheme();
        if self.host.contains(':') {
            write!(
                f,
                "{scheme}://{user}@[{}]:{}/{mailbox}",
                self.host, self.port
            )
        } else {
            write!(f, "{scheme}://{user}@{}:{}/{mailbox}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_malformed_url_with_a_password_is_never_quoted() {
        for text in [
            "codes:hunter2@imap.zuub.test",
            "pop3://codes:hunter2@imap.zuub.test/INBOX",
        ] {
            let err = text.parse::<super::MailboxUrl>().unwrap_err();
            let msg = format!("{err:#}");
            assert!(!msg.contains("hunter2"), "{msg}");
            assert!(msg.contains("not shown"), "{msg}");
        }
    }

    use super::*;

    fn parse(text: &str) -> MailboxUrl {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e:#}"))
    }

    fn error(text: &str) -> String {
        let err = text.parse::<MailboxUrl>().expect_err(text);
        assert_eq!(crate::error::exit_code(&err), 2, "{text}");
        format!("{err:#}")
    }

    #[test]
    fn imaps_with_encoded_user_and_defaults() {
        let url = parse("imaps://codes%40zuub.com@imap.zuub.com");
        assert_eq!(
            url,
            MailboxUrl {
                security: Security::Tls,
                host: "imap.zuub.com".into(),
                port: 993,
                user: "codes@zuub.com".into(),
                mailbox: "INBOX".into(),
            }
        );
        assert_eq!(
            url.to_string(),
            "imaps://codes@zuub.com@imap.zuub.com:993/INBOX"
        );
        assert_eq!(parse(&url.to_string()), url);
    }

    #[test]
    fn imap_with_raw_at_port_and_mailbox() {
        let url = parse("IMAP://codes@zuub.com@127.0.0.1:1143/Cigna%20Codes/");
        assert_eq!(url.security, Security::StartTls);
        assert_eq!(url.user, "codes@zuub.com");
        assert_eq!(url.host, "127.0.0.1");
        assert_eq!(url.port, 1143);
        assert_eq!(url.mailbox, "Cigna Codes");
        assert!(url.is_loopback());
        assert_eq!(parse(&url.to_string()), url);
    }

    #[test]
    fn default_starttls_port_and_hierarchical_mailbox() {
        let url = parse("imap://office@mail.example.org/Archive/2026");
        assert_eq!(url.port, 143);
        assert_eq!(url.mailbox, "Archive/2026");
        assert!(!url.is_loopback());
    }

    #[test]
    fn ipv6_hosts() {
        let url = parse("imaps://u@[::1]:9993/INBOX");
        assert_eq!(url.host, "::1");
        assert_eq!(url.port, 9993);
        assert!(url.is_loopback());
        assert_eq!(url.to_string(), "imaps://u@[::1]:9993/INBOX");
        assert_eq!(parse("imaps://u@[::1]").port, 993);
        assert!(parse("imap://u@localhost").is_loopback());
    }

    #[test]
    fn mailbox_with_at_round_trips() {
        let url = parse("imaps://u@h/codes%40office");
        assert_eq!(url.mailbox, "codes@office");
        assert_eq!(parse(&url.to_string()), url);
    }

    #[test]
    fn bad_forms_say_what_is_wrong_and_show_the_right_form() {
        for (text, says) in [
            ("codes@zuub.com", "no scheme"),
            ("https://u@h", "imaps:// or imap://"),
            ("imaps://imap.zuub.com", "no user"),
            ("imaps://@imap.zuub.com", "user name is empty"),
            ("imaps://u@", "host is empty"),
            ("imaps://u@:993", "host is empty"),
            ("imaps://u@h:0", "port `0`"),
            ("imaps://u@h:99999", "port `99999`"),
            ("imaps://u@h:x", "port `x`"),
            ("imaps://u@::1", "brackets"),
            ("imaps://u@[::1", "not closed"),
            ("imaps://u@h/INBOX?x=1", "query"),
            ("imaps://bad%zzuser@h", "%XX"),
            ("imaps://codes%01x@h", "control character"),
        ] {
            let message = error(text);
            assert!(message.contains(says), "{text}: {message}");
            assert!(
                message.contains("imaps://USER@HOST[:PORT][/MAILBOX]"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_echoing_it() {
        let message = error("imaps://codes%40zuub.com:Hunter2-Secret@imap.zuub.com/INBOX");
        assert!(!message.contains("Hunter2"), "{message}");
        assert!(message.contains("CIGNA_IMAP_PASSWORD"), "{message}");
        assert!(message.contains("--imap-password-file"), "{message}");
    }
}
