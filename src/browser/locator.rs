//! Locators: how a flow names an element — by what a person sees, never by markup.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An element named by what is visible on the page, optionally inside a region of it. Names
/// compare after folding whitespace, case, curly quotes and apostrophes, and a trailing
/// required marker (`*`) or colon; never by substring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locator {
    #[serde(flatten)]
    pub what: Target,
    /// Only elements inside this region count (two "Submit" buttons, one in a dialog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Within>,
}

/// What kind of element, by what name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// A form field (text box, drop-down, checkbox, radio) by its accessible name, however the
    /// label is attached: `<label for>`, a wrapping `<label>`, `aria-labelledby`, `aria-label`.
    Label { name: String },
    /// An element by ARIA role and accessible name (`button` "Log In").
    Role { role: String, name: String },
    /// Anything a person would click (button, link, menu item, tab) by its accessible name.
    Clickable { name: String },
}

/// A region of the page: an element of a role (with a name, or any), a form, a landmark
/// (`role = "landmark"`), or the section under a heading (up to the next heading of its level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Within {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
}

impl Within {
    /// An element of `role` (`landmark` for any landmark), with this name when one is given.
    pub fn role(role: impl Into<String>, name: Option<&str>) -> Within {
        Within {
            role: Some(role.into()),
            name: name.map(Into::into),
            heading: None,
        }
    }

    /// The section under the heading named `name`.
    pub fn heading(name: impl Into<String>) -> Within {
        Within {
            role: None,
            name: None,
            heading: Some(name.into()),
        }
    }
}

impl Locator {
    pub fn label(name: impl Into<String>) -> Locator {
        Target::Label { name: name.into() }.into()
    }

    pub fn role(role: impl Into<String>, name: impl Into<String>) -> Locator {
        Target::Role {
            role: role.into(),
            name: name.into(),
        }
        .into()
    }

    pub fn clickable(name: impl Into<String>) -> Locator {
        Target::Clickable { name: name.into() }.into()
    }

    pub fn within(mut self, region: Within) -> Locator {
        self.within = Some(region);
        self
    }

    /// Every string a flow may have written with variables in it.
    pub fn texts(&self) -> Vec<&str> {
        let mut v = match &self.what {
            Target::Label { name } | Target::Clickable { name } => vec![name.as_str()],
            Target::Role { role, name } => vec![role.as_str(), name.as_str()],
        };
        if let Some(w) = &self.within {
            v.extend(w.texts());
        }
        v
    }

    /// The same locator with every text passed through `f` (variables rendered).
    pub fn map_texts<E>(&self, mut f: impl FnMut(&str) -> Result<String, E>) -> Result<Locator, E> {
        let what = match &self.what {
            Target::Label { name } => Target::Label { name: f(name)? },
            Target::Clickable { name } => Target::Clickable { name: f(name)? },
            Target::Role { role, name } => Target::Role {
                role: f(role)?,
                name: f(name)?,
            },
        };
        let within = match &self.within {
            None => None,
            Some(w) => Some(Within {
                role: w.role.as_deref().map(&mut f).transpose()?,
                name: w.name.as_deref().map(&mut f).transpose()?,
                heading: w.heading.as_deref().map(&mut f).transpose()?,
            }),
        };
        Ok(Locator { what, within })
    }
}

impl Within {
    fn texts(&self) -> Vec<&str> {
        [&self.role, &self.name, &self.heading]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

impl From<Target> for Locator {
    fn from(what: Target) -> Locator {
        Locator { what, within: None }
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            Target::Label { name } => write!(f, "the field labelled \"{name}\"")?,
            Target::Role { role, name } => write!(f, "the {role} \"{name}\"")?,
            Target::Clickable { name } => write!(f, "the button or link \"{name}\"")?,
        }
        if let Some(w) = &self.within {
            write!(f, " within {w}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.heading, &self.role, &self.name) {
            (Some(h), _, _) => write!(f, "the section under the heading \"{h}\""),
            (None, Some(r), Some(n)) => write!(f, "the {r} \"{n}\""),
            (None, Some(r), None) => write!(f, "the {r}"),
            (None, None, _) => write!(f, "the page"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locator_is_sent_to_the_page_flat_with_its_region() {
        let l = Locator::role("button", "Submit").within(Within {
            role: Some("dialog".into()),
            name: None,
            heading: None,
        });
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            serde_json::json!({"kind": "role", "role": "button", "name": "Submit", "within": {"role": "dialog"}})
        );
        assert_eq!(
            serde_json::to_value(Locator::label("Email")).unwrap(),
            serde_json::json!({"kind": "label", "name": "Email"})
        );
        assert_eq!(l.to_string(), "the button \"Submit\" within the dialog");
    }

    #[test]
    fn texts_are_mapped_everywhere_including_the_region() {
        let l = Locator::clickable("{a}").within(Within {
            role: None,
            name: None,
            heading: Some("{b}".into()),
        });
        assert_eq!(l.texts(), ["{a}", "{b}"]);
        let m = l.map_texts(|s| Ok::<_, ()>(s.to_uppercase())).unwrap();
        assert_eq!(m.texts(), ["{A}", "{B}"]);
    }
}
