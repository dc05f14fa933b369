//! Secret values and the one redaction function every log line, error and artifact passes through.

use std::fmt;
use std::sync::{Arc, RwLock};

/// A secret string: its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the few places that must send it (a form field, an IMAP login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Every secret value a run knows; `redact` replaces each occurrence with `[redacted]`.
///
/// Cloning shares the set, so a value registered anywhere (a captured temporary password, a code)
/// is redacted everywhere from then on.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret value. Very short values are ignored: redacting "1" would shred text.
    pub fn register(&self, value: &str) {
        if value.chars().count() < 4 {
            return;
        }
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        if !values.iter().any(|v| v == value) {
            values.push(value.to_string());
            // Longest first, so a secret containing another is replaced whole.
            values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// The process's redactor: every log line, progress line and error message passes through it.
pub fn global() -> &'static Redactor {
    static GLOBAL: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(Redactor::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_never_formatted() {
        let s = Secret::new("hunter2!");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2!");
    }

    #[test]
    fn redacts_every_registered_value_longest_first() {
        let r = Redactor::new();
        r.register("Abc123!x");
        r.register("Abc123!xyz");
        r.register("ab");
        assert_eq!(
            r.redact("p=Abc123!xyz q=Abc123!x ab"),
            "p=[redacted] q=[redacted] ab"
        );
    }
}
