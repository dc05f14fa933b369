//! The fixture's own secret strings (the office's and the test users' passwords): `Debug` never
//! prints them. The tool's `Secret` stays the tool's; the fixture shares no code with it.

use std::fmt;

/// A password the fixture keeps: its `Debug` shows `[redacted]`, never the value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the comparisons and files that need it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_hides_the_value() {
        let secret = super::Secret::new("Office#Pass2026");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose(), "Office#Pass2026");
    }
}
