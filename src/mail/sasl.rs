//! The SASL messages of the mechanisms the mailbox login may use: PLAIN (RFC 4616), and the
//! two OAuth2 bearer-token mechanisms the company mail services expect, XOAUTH2 (Google's and
//! Microsoft's) and OAUTHBEARER (RFC 7628), including the error continuation a server sends
//! when it refuses a token, which the client must answer before the server says NO.

use std::cell::{Cell, RefCell};

/// SASL PLAIN: authorization identity empty, then user and password, NUL-separated.
pub(crate) struct Plain<'a> {
    pub user: &'a str,
    pub password: &'a str,
}

impl imap::Authenticator for Plain<'_> {
    type Response = Vec<u8>;

    fn process(&self, _challenge: &[u8]) -> Vec<u8> {
        format!("\0{}\0{}", self.user, self.password).into_bytes()
    }
}

/// Which bearer-token mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BearerMechanism {
    XOAuth2,
    OAuthBearer,
}

impl BearerMechanism {
    /// The name AUTHENTICATE takes and CAPABILITY offers (`AUTH=…`).
    pub fn sasl_name(self) -> &'static str {
        match self {
            BearerMechanism::XOAuth2 => "XOAUTH2",
            BearerMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// One bearer-token login: the first answer carries the token; a second challenge is the
/// server's refusal, kept for the error message and answered as the mechanism's spec says.
pub(crate) struct Bearer<'a> {
    pub mechanism: BearerMechanism,
    pub user: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub token: &'a str,
    answered: Cell<bool>,
    refusal: RefCell<Option<Vec<u8>>>,
}

impl<'a> Bearer<'a> {
    pub fn new(
        mechanism: BearerMechanism,
        user: &'a str,
        host: &'a str,
        port: u16,
        token: &'a str,
    ) -> Bearer<'a> {
        Bearer {
            mechanism,
            user,
            host,
            port,
            token,
            answered: Cell::new(false),
            refusal: RefCell::new(None),
        }
    }

    /// The client's first message.
    fn initial(&self) -> Vec<u8> {
        match self.mechanism {
            BearerMechanism::XOAuth2 => {
                format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token).into_bytes()
            }
            // The GS2 header names the user as an authorization identity (`a=`), with ',' and
            // '=' escaped as RFC 5801 says; then host, port and the token, each ended by ^A.
            BearerMechanism::OAuthBearer => format!(
                "n,a={},\x01host={}\x01port={}\x01auth=Bearer {}\x01\x01",
                self.user.replace('=', "=3D").replace(',', "=2C"),
                self.host,
                self.port,
                self.token
            )
            .into_bytes(),
        }
    }

    /// What the server said when it refused the token, if it said anything.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal.borrow().as_deref().map(Refusal::parse)
    }
}

impl imap::Authenticator for Bearer<'_> {
    type Response = Vec<u8>;

    fn process(&self, challenge: &[u8]) -> Vec<u8> {
        if !self.answered.replace(true) {
            return self.initial();
        }
        *self.refusal.borrow_mut() = Some(challenge.to_vec());
        match self.mechanism {
            // Google's and Microsoft's XOAUTH2: an empty answer, then the server says NO.
            BearerMechanism::XOAuth2 => Vec::new(),
            // RFC 7628 3.2.3: the client answers the error with a single %x01.
            BearerMechanism::OAuthBearer => vec![0x01],
        }
    }
}

/// A server's refusal of a token: the JSON its error continuation carries (RFC 7628 3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: Option<String>,
    pub scope: Option<String>,
    /// What the server sent when it is not JSON with a status, as text.
    pub other: Option<String>,
}

impl Refusal {
    pub fn parse(challenge: &[u8]) -> Refusal {
        let text = String::from_utf8_lossy(challenge);
        let json: Option<serde_json::Value> = serde_json::from_str(text.trim()).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        let status = field("status");
        Refusal {
            scope: field("scope"),
            other: status
                .is_none()
                .then(|| text.trim().to_string())
                .filter(|t| !t.is_empty()),
            status,
        }
    }

    /// For an error message: `status "invalid_token", scope "mail"`.
    pub fn describe(&self) -> String {
        let shown = crate::error::shown;
        match (&self.status, &self.scope, &self.other) {
            (Some(status), Some(scope), _) => {
                format!("status {}, scope {}", shown(status), shown(scope))
            }
            (Some(status), None, _) => format!("status {}", shown(status)),
            (None, _, Some(other)) => {
                format!("{} (not the JSON status RFC 7628 asks for)", shown(other))
            }
            (None, _, None) => "no status".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap::Authenticator;

    #[test]
    fn xoauth2_sends_the_user_and_token_then_answers_a_refusal_with_nothing() {
        let bearer = Bearer::new(
            BearerMechanism::XOAuth2,
            "codes@zuub.com",
            "imap.gmail.com",
            993,
            "ya29.tok",
        );
        assert_eq!(
            bearer.process(b""),
            b"user=codes@zuub.com\x01auth=Bearer ya29.tok\x01\x01"
        );
        assert_eq!(bearer.refusal(), None);
        let answer = bearer
            .process(br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#);
        assert!(answer.is_empty());
        let refusal = bearer.refusal().unwrap();
        assert_eq!(refusal.status.as_deref(), Some("401"));
        assert_eq!(refusal.scope.as_deref(), Some("https://mail.google.com/"));
        assert_eq!(
            refusal.describe(),
            r#"status "401", scope "https://mail.google.com/""#
        );
    }

    #[test]
    fn oauthbearer_has_a_gs2_header_host_and_port_and_answers_a_refusal_with_ctrl_a() {
        let bearer = Bearer::new(
            BearerMechanism::OAuthBearer,
            "a,b=c@x",
            "outlook.office365.com",
            993,
            "eyJ0",
        );
        assert_eq!(
            bearer.process(b""),
            b"n,a=a=2Cb=3Dc@x,\x01host=outlook.office365.com\x01port=993\x01auth=Bearer eyJ0\x01\x01"
        );
        assert_eq!(bearer.process(br#"{"status":"invalid_token"}"#), [0x01]);
        assert_eq!(
            bearer.refusal().unwrap().describe(),
            r#"status "invalid_token""#
        );
    }

    #[test]
    fn a_refusal_that_is_not_json_is_shown_escaped() {
        let refusal = Refusal::parse(b"go away\x1b[2J");
        assert_eq!(refusal.status, None);
        let described = refusal.describe();
        assert!(described.contains("go away"), "{described}");
        assert!(!described.contains('\x1b'), "{described}");
    }
}
