//! Locators: how a flow names an element — by what a person sees, never by markup.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An element named by what is visible on the page. Names compare case-insensitively with
/// whitespace folded and a trailing required marker (`*`) or colon ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Locator {
    /// A form field (text box, drop-down, checkbox, radio) by its label, however the label is
    /// attached: `<label for>`, a wrapping `<label>`, `aria-labelledby` or `aria-label`.
    Label { name: String },
    /// An element by ARIA role and accessible name (`button` "Log In").
    Role { role: String, name: String },
    /// Anything a person would click (button, link, menu item, tab) by its accessible name.
    Clickable { name: String },
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Label { name } => write!(f, "the field labelled \"{name}\""),
            Locator::Role { role, name } => write!(f, "the {role} \"{name}\""),
            Locator::Clickable { name } => write!(f, "the button or link \"{name}\""),
        }
    }
}

/// A group of checkboxes: by their exact names, or by a pattern their names match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Among {
    /// Checkboxes with these names.
    Names(Vec<String>),
    /// Checkboxes whose names match this (JavaScript) regular expression.
    Pattern(String),
}

impl fmt::Display for Among {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Among::Names(names) => write!(f, "named {names:?}"),
            Among::Pattern(p) => write!(f, "whose names match /{p}/"),
        }
    }
}
