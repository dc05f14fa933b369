//! The two kinds of failure a caller may want to tell apart (to pick an exit code): a
//! configuration that cannot be used, and this machine lacking something. Both are `anyhow`
//! errors; `kind` finds which, if either, an error is.

use std::fmt;

/// What a fixture error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration given cannot be used: an office TIN that is not 9 digits, an empty
    /// office user, a Dovecot user a passwd-file cannot hold.
    BadConfig,
    /// The machine: a port that cannot be bound, Dovecot or openssl missing or failing.
    Environment,
}

/// An error of a known kind. Its message is complete: what went wrong and how to fix it.
#[derive(Debug)]
pub struct KindError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for KindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KindError {}

/// The kind of the first `KindError` in the error's chain; `None` for any other failure.
pub fn kind(err: &anyhow::Error) -> Option<ErrorKind> {
    err.chain()
        .find_map(|e| e.downcast_ref::<KindError>())
        .map(|e| e.kind)
}

/// A configuration that cannot be used.
pub(crate) fn bad_config(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(KindError {
        kind: ErrorKind::BadConfig,
        message: message.into(),
    })
}

/// The machine lacks something or refuses.
pub(crate) fn environment(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(KindError {
        kind: ErrorKind::Environment,
        message: message.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_is_found_under_context() {
        let err = bad_config("no TIN").context("starting");
        assert_eq!(kind(&err), Some(ErrorKind::BadConfig));
        assert_eq!(kind(&environment("no port")), Some(ErrorKind::Environment));
        assert_eq!(kind(&anyhow::anyhow!("other")), None);
    }
}
