//! Variables: the `{name}` placeholders of flow files, and the values a run gives them.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::secrets::{Redactor, Secret};

/// The variables a run provides before its first step, with what they hold. Flows may use
/// these, and `captured.*` values of earlier steps.
pub const INPUTS: &[(&str, &str)] = &[
    ("portal_url", "the portal's entry URL"),
    ("tin", "the office's TIN, 9 digits"),
    ("tin_dashed", "the TIN as the portal shows it, 12-3456789"),
    (
        "email",
        "the new login's email address (where codes arrive)",
    ),
    ("phone", "the office's phone number, 10 digits"),
    ("office_user", "the office's own portal User ID"),
    (
        "office_password",
        "the office's own portal password (secret)",
    ),
    ("entitlements", "the entitlements to grant (a list)"),
    ("profile.first_name", "first name of the new login"),
    ("profile.last_name", "last name of the new login"),
    (
        "profile.job_role_option",
        "job role, as the Add New User list names it",
    ),
    ("profile.job_role", "job role, as typed into the profile"),
    ("profile.address", "office address"),
    ("profile.date_of_birth", "date of birth, MM/DD/YYYY"),
    ("generated.user_id", "the new login's User ID"),
    ("generated.password", "the new login's password (secret)"),
    ("generated.question1", "security question 1"),
    ("generated.question2", "security question 2"),
    ("generated.question3", "security question 3"),
    ("generated.answer1", "answer 1 (secret)"),
    ("generated.answer2", "answer 2 (secret)"),
    ("generated.answer3", "answer 3 (secret)"),
];

pub fn is_input(name: &str) -> bool {
    INPUTS.iter().any(|(n, _)| *n == name)
}

/// The variable names a template refers to. `{{` and `}}` stand for literal braces.
pub fn references(template: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(template, |piece| {
        if let Piece::Var(name) = piece {
            out.push(name.to_string());
        }
        Ok(())
    })?;
    Ok(out)
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn walk<'a>(template: &'a str, mut f: impl FnMut(Piece<'a>) -> Result<()>) -> Result<()> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        f(Piece::Text(&rest[..i]))?;
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            f(Piece::Text("{"))?;
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            f(Piece::Text("}"))?;
            rest = after;
        } else if tail.starts_with('}') {
            bail!(
                "a lone `}}` in {}: write `}}}}` for a literal brace",
                crate::error::shown(template)
            );
        } else {
            let Some(end) = tail.find('}') else {
                bail!(
                    "an unclosed `{{` in {}: variables look like {{email}}",
                    crate::error::shown(template)
                );
            };
            let name = &tail[1..end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
            {
                bail!(
                    "{} in {} is not a variable name (lower-case letters, digits, `_` and `.`)",
                    crate::error::shown(&format!("{{{name}}}")),
                    crate::error::shown(template)
                );
            }
            f(Piece::Var(name))?;
            rest = &tail[end + 1..];
        }
    }
    f(Piece::Text(rest))
}

#[derive(Clone)]
enum Value {
    Text(String),
    Secret(Secret),
    List(Vec<String>),
}

/// The values of one run. Secret values are registered with the run's redactor the moment they
/// are set, so no later message can show them.
#[derive(Clone)]
pub struct Vars {
    values: BTreeMap<String, Value>,
    redactor: Redactor,
}

impl Vars {
    pub fn new(redactor: Redactor) -> Self {
        Vars {
            values: BTreeMap::new(),
            redactor,
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.into(), Value::Text(value.into()));
    }

    pub fn set_secret(&mut self, name: &str, value: Secret) {
        self.redactor.register(value.expose());
        self.values.insert(name.into(), Value::Secret(value));
    }

    pub fn set_list(&mut self, name: &str, items: Vec<String>) {
        self.values.insert(name.into(), Value::List(items));
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The plain value of a variable, if it is set and not a list.
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            Value::Text(s) => Some(s),
            Value::Secret(s) => Some(s.expose()),
            Value::List(_) => None,
        }
    }

    pub fn is_secret(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Secret(_)))
    }

    /// Whether rendering the template would put a secret value in the result.
    pub fn template_is_secret(&self, template: &str) -> bool {
        references(template)
            .unwrap_or_default()
            .iter()
            .any(|n| self.is_secret(n))
    }

    /// The template with its variables replaced. A list variable is joined with ", ".
    pub fn render(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        walk(template, |piece| {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => match self.values.get(name) {
                    Some(Value::Text(s)) => out.push_str(s),
                    Some(Value::Secret(s)) => out.push_str(s.expose()),
                    Some(Value::List(items)) => out.push_str(&items.join(", ")),
                    None => bail!("the variable {{{name}}} has no value in this run"),
                },
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Renders a list of templates, where a template that is exactly one list variable
    /// expands into the list's items.
    pub fn render_list(&self, templates: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for t in templates {
            let refs = references(t)?;
            if let [name] = refs.as_slice() {
                if t == &format!("{{{name}}}") {
                    if let Some(Value::List(items)) = self.values.get(name) {
                        out.extend(items.iter().cloned());
                        continue;
                    }
                }
            }
            out.push(self.render(t)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_and_renders() {
        let mut v = Vars::new(Redactor::new());
        v.set("tin", "123456789");
        v.set_secret("generated.password", Secret::new("Pa55word!x"));
        assert_eq!(
            references("{tin}-{generated.password}").unwrap(),
            vec!["tin", "generated.password"]
        );
        assert_eq!(
            v.render("x{{y}} {tin} {generated.password}").unwrap(),
            "x{y} 123456789 Pa55word!x"
        );
        assert!(v.template_is_secret("{generated.password}"));
        assert!(!v.template_is_secret("{tin}"));
    }

    #[test]
    fn list_variables_expand_in_lists() {
        let mut v = Vars::new(Redactor::new());
        v.set_list("entitlements", vec!["A".into(), "B".into()]);
        v.set("tin_dashed", "12-3456789");
        assert_eq!(
            v.render_list(&["{entitlements}".into(), "{tin_dashed}".into()])
                .unwrap(),
            vec!["A", "B", "12-3456789"]
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert!(references("{unclosed")
            .unwrap_err()
            .to_string()
            .contains("unclosed"));
        assert!(references("{Bad Name}")
            .unwrap_err()
            .to_string()
            .contains("not a variable name"));
        assert!(references("a } b")
            .unwrap_err()
            .to_string()
            .contains("lone"));
        let v = Vars::new(Redactor::new());
        assert!(v
            .render("{nope}")
            .unwrap_err()
            .to_string()
            .contains("{nope}"));
    }
}
