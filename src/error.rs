//! Exit codes and the one typed error the top level branches on to pick them.
//!
//! Everything else is `anyhow` with context; a `Failure` somewhere in the chain decides the exit
//! code, so deep code can say "this is the user's input" without knowing about `main`.

use std::fmt;

/// What kind of failure ended the run; each maps to a documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Bad input or usage (exit 2).
    BadInput,
    /// A portal step failed (exit 3).
    PortalStep,
    /// The verification code did not come or was refused (exit 4).
    VerificationCode,
    /// The environment: no browser, mailbox unreachable, Dovecot missing… (exit 5).
    Environment,
    /// The office login cannot add users: it is not a website access manager (exit 6).
    NotAccessManager,
    /// Interrupted by Ctrl-C, SIGINT (exit 130).
    Interrupted,
    /// Stopped by SIGTERM (exit 143).
    Terminated,
    /// Stopped by SIGHUP, the terminal closing (exit 129).
    HungUp,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::BadInput => 2,
            Exit::PortalStep => 3,
            Exit::VerificationCode => 4,
            Exit::Environment => 5,
            Exit::NotAccessManager => 6,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
            Exit::HungUp => 129,
        }
    }
}

/// An error whose exit code is known. Its message is complete: what went wrong and how to fix it.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// What the portal said when it refused (commands branch on it: pending approval, a taken
    /// User ID).
    pub page: Option<PageSaid>,
    /// The named outcome the flow gave this failure (`not_access_manager`): commands branch on
    /// it, never on the page's words.
    pub outcome: Option<String>,
}

/// A refusal the portal showed: a message next to a field, or a text the flow names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSaid {
    /// The field's label, when the message stands next to a field.
    pub field: Option<String>,
    pub text: String,
    /// The portal's error page (HTTP 5xx, "Something went wrong"): a reload may cure it.
    pub transient: bool,
}

/// What the portal said, if the error is a refusal it showed.
pub fn page_said(err: &anyhow::Error) -> Option<&PageSaid> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<Failure>())
        .find_map(|f| f.page.as_ref())
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// The failure, as the `anyhow::Error` everything returns.
    pub fn error(exit: Exit, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Failure {
            exit,
            message: message.into(),
            page: None,
            outcome: None,
        })
    }
}

/// The flow outcome whose exit code is `Exit::NotAccessManager` (6).
pub const NOT_ACCESS_MANAGER_OUTCOME: &str = "not_access_manager";

/// The named outcome a flow gave the failure, if any.
pub fn outcome(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<Failure>())
        .find_map(|f| f.outcome.as_deref())
}

/// A flow's named outcome as a failure: its exit code is the outcome's (6 for
/// `not_access_manager`), else a failed portal step's.
pub fn named_outcome(outcome: &str, message: impl Into<String>) -> anyhow::Error {
    let exit = match outcome {
        NOT_ACCESS_MANAGER_OUTCOME => Exit::NotAccessManager,
        _ => Exit::PortalStep,
    };
    anyhow::Error::new(Failure {
        exit,
        message: message.into(),
        page: None,
        outcome: Some(outcome.to_string()),
    })
}

/// Bad input or usage: exit 2.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    Failure::error(Exit::BadInput, message)
}

/// A portal step failed: exit 3.
pub fn portal_step(message: impl Into<String>) -> anyhow::Error {
    Failure::error(Exit::PortalStep, message)
}

/// The verification code did not come or was refused: exit 4.
pub fn verification_code(message: impl Into<String>) -> anyhow::Error {
    Failure::error(Exit::VerificationCode, message)
}

/// The environment is missing something or unreachable: exit 5.
pub fn environment(message: impl Into<String>) -> anyhow::Error {
    Failure::error(Exit::Environment, message)
}

/// The exit code for an error: the first `Failure` in its chain, else 1 (an internal error).
/// How an error quotes what was given: in double quotes, control characters escaped (a raw one
/// could move the terminal's cursor or hide text), at most `SHOWN_CHARS` characters.
pub fn shown(raw: &str) -> String {
    let mut out = String::from("\"");
    for (count, c) in raw.chars().enumerate() {
        if count == SHOWN_CHARS {
            let rest = raw.chars().count() - count;
            out.push_str(&format!("\"… ({rest} more characters)"));
            return out;
        }
        if c.is_control() || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// `text` with every control character but the line break escaped: for messages that quote
/// pieces of a file, so that whatever a piece holds cannot steer the terminal.
pub fn without_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The most characters of an input an error quotes.
pub const SHOWN_CHARS: usize = 80;

pub fn exit_code(err: &anyhow::Error) -> i32 {
    // A `Failure` added as context (`err.context(Failure { … })`) is not an element of
    // `chain()`; anyhow's own downcast sees contexts too.
    err.downcast_ref::<Failure>()
        .or_else(|| err.chain().find_map(|e| e.downcast_ref::<Failure>()))
        .map_or(1, |f| f.exit.code())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failure_given_as_context_decides_the_exit_code() {
        let err = anyhow::anyhow!("the browser said no")
            .context(super::Failure {
                exit: super::Exit::PortalStep,
                message: "the browser could not carry out the action".into(),
                page: None,
                outcome: None,
            })
            .context("step \"x\" stopped");
        assert_eq!(super::exit_code(&err), 3);
        assert_eq!(super::exit_code(&anyhow::anyhow!("plain")), 1);
    }
}
