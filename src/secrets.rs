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
/// A value is also known in the forms text gives it on its way out: HTML-escaped (a saved page),
/// JSON-escaped (a JSON log line), URL-encoded (a URL in an error). Values of fewer than
/// `SHORT` characters (a security answer "Rex") are redacted where they stand alone as a word,
/// so that redacting them does not shred the text around them.
///
/// Cloning shares the set, so a value registered anywhere (a captured temporary password, a code)
/// is redacted everywhere from then on.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<RwLock<Vec<String>>>,
}

/// Below this many characters a value is redacted only as a whole word.
const SHORT: usize = 4;

/// The forms a value takes in escaped or encoded text, the value itself first.
pub fn forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    let mut push = |f: String| {
        if !f.is_empty() && !out.contains(&f) {
            out.push(f);
        }
    };
    let html = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    push(html.clone());
    push(html.replace('"', "&quot;"));
    push(html.replace('"', "&quot;").replace('\'', "&#39;"));
    push(html.replace('"', "&quot;").replace('\'', "&#x27;"));
    push(html.replace('\'', "&#39;"));
    if let Ok(json) = serde_json::to_string(value) {
        push(json[1..json.len() - 1].to_string());
    }
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    push(form.replace('+', "%20"));
    push(form);
    out
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret value in all its forms.
    pub fn register(&self, value: &str) {
        if value.trim().is_empty() {
            return;
        }
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        for form in forms(value) {
            if !values.contains(&form) {
                values.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Every registered form, longest first (for redacting a page's DOM in place).
    pub fn values(&self) -> Vec<String> {
        self.values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn redact(&self, text: &str) -> String {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for v in values.iter() {
            if !out.contains(v.as_str()) {
                continue;
            }
            out = if v.chars().count() >= SHORT {
                out.replace(v.as_str(), "[redacted]")
            } else {
                replace_words(&out, v)
            };
        }
        out
    }
}

/// `text` with each occurrence of `word` that stands alone (no letter or digit touching it on
/// either side) replaced.
fn replace_words(text: &str, word: &str) -> String {
    let inside = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in text.match_indices(word) {
        if at < last {
            continue;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if inside(before) || inside(after) {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str("[redacted]");
        last = at + word.len();
    }
    out.push_str(&text[last..]);
    out
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
        assert_eq!(
            r.redact("p=Abc123!xyz q=Abc123!x"),
            "p=[redacted] q=[redacted]"
        );
    }

    #[test]
    fn every_form_a_secret_takes_is_redacted() {
        let r = Redactor::new();
        r.register("Tom & Jerry's");
        r.register("Pie\"quoted\"");
        r.register("a b/c?d");
        for (text, shown) in [
            ("<td>Tom &amp; Jerry's</td>", "<td>[redacted]</td>"),
            ("<td>Tom &amp; Jerry&#39;s</td>", "<td>[redacted]</td>"),
            ("value=\"Tom &amp; Jerry&#x27;s\"", "value=\"[redacted]\""),
            (
                "{\"answer\":\"Pie\\\"quoted\\\"\"}",
                "{\"answer\":\"[redacted]\"}",
            ),
            ("<b>Pie&quot;quoted&quot;</b>", "<b>[redacted]</b>"),
            ("GET /x?q=a+b%2Fc%3Fd", "GET /x?q=[redacted]"),
            ("GET /x?q=a%20b%2Fc%3Fd", "GET /x?q=[redacted]"),
            ("raw a b/c?d end", "raw [redacted] end"),
        ] {
            assert_eq!(r.redact(text), shown, "{text}");
        }
    }

    #[test]
    fn a_short_secret_is_redacted_where_it_stands_alone() {
        let r = Redactor::new();
        r.register("Rex");
        r.register("7");
        assert_eq!(
            r.redact("Answer 1: Rex. Rexford sat at 17 Main St, seat 7"),
            "Answer 1: [redacted]. Rexford sat at 17 Main St, seat [redacted]"
        );
        assert_eq!(
            r.redact("<input value=\"Rex\">"),
            "<input value=\"[redacted]\">"
        );
        // Blank values are no secret at all.
        r.register("  ");
        assert_eq!(r.redact("a  b"), "a  b");
    }
}
