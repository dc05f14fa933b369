//! Reading flow files: the embedded defaults, or a file from disk, checked before any I/O.

use std::path::Path;

use anyhow::{bail, Result};
use serde::Deserialize;
use toml::Spanned;

use super::model::{Action, Ends, Flow, Step};
use super::vars;
use crate::browser::{Among, Locator, Within};
use crate::error;

/// The flows built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("existing", include_str!("flows/existing.toml")),
    ("register", include_str!("flows/register.toml")),
    ("activate", include_str!("flows/activate.toml")),
];

pub fn builtin(name: &str) -> Result<Flow> {
    let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) else {
        let known: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
        return Err(error::bad_input(format!(
            "there is no flow named \"{name}\": the flows are {}",
            known.join(", ")
        )));
    };
    parse(text, &format!("the built-in flow \"{name}\""))
}

/// An address as a mailbox search may quote it: name@domain, nothing that could end a quoted
/// IMAP string.
fn is_plain_address(s: &str) -> bool {
    match s.split_once('@') {
        Some((name, domain)) => {
            !name.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && s.chars().all(|c| {
                    c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '(' | ')' | '<' | '>' | ',')
                })
        }
        None => false,
    }
}

/// The flow named `name` as a run recorded it in its directory (`<name>.flow.toml`: a run's
/// later commands run the flow it started with); a run from before runs recorded their flows
/// gets the built-in one.
pub fn recorded(run_dir: &Path, name: &str) -> Result<Flow> {
    let path = run_dir.join(format!("{name}.flow.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(
            &text,
            &format!("the run's recorded flow {}", path.display()),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin(name),
        Err(e) => Err(error::environment(format!(
            "cannot read the run's flow {}: {e}",
            path.display()
        ))),
    }
}

pub fn from_file(path: &Path) -> Result<Flow> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        error::bad_input(format!(
            "cannot read the flow file {}: {e}; check the path given to --flow",
            path.display()
        ))
    })?;
    parse(&text, &format!("flow file {}", path.display()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    flow: String,
    title: String,
    #[serde(default)]
    dismiss: Vec<RawTarget>,
    #[serde(default, rename = "login-page")]
    login_page: Option<String>,
    #[serde(default)]
    loading: Vec<String>,
    #[serde(default, rename = "error-pages")]
    error_pages: Vec<String>,
    #[serde(default)]
    outcomes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    ends: Option<String>,
    #[serde(default)]
    then: Option<String>,
    #[serde(default, rename = "default-entitlements")]
    default_entitlements: Vec<String>,
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    guide: Option<String>,
    #[serde(default)]
    when: Option<String>,
    #[serde(default, rename = "on-resume")]
    on_resume: Option<String>,
    actions: Vec<Spanned<RawAction>>,
}

/// An action as written: one verb key, plus the keys that verb takes.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAction {
    goto: Option<String>,
    expect: Option<RawTarget>,
    click: Option<RawTarget>,
    fill: Option<RawTarget>,
    select: Option<RawTarget>,
    pick: Option<RawTarget>,
    prefer: Option<String>,
    require: Option<RawTarget>,
    outcome: Option<String>,
    check: Option<RawTarget>,
    uncheck: Option<RawTarget>,
    check_exactly: Option<RawAmong>,
    scroll_agreement: Option<bool>,
    capture: Option<String>,
    note_mailbox: Option<bool>,
    wait_for_code: Option<String>,
    ask_code: Option<String>,
    already_created: Option<String>,
    // Arguments.
    next_page: Option<RawTarget>,
    reveal: Option<RawTarget>,
    skip_to: Option<String>,
    needs: Option<String>,
    with: Option<String>,
    option: Option<String>,
    checked: Option<Vec<String>>,
    unless: Option<Vec<String>>,
    or: Option<Vec<String>>,
    resend: Option<RawTarget>,
    refused: Option<Vec<String>>,
    from: Option<String>,
    into: Option<String>,
    secret: Option<bool>,
}

/// A target as written: a plain string (a label for fields, a name for clicks) or a table.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawTarget {
    Name(String),
    Table(RawTargetTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargetTable {
    label: Option<String>,
    role: Option<String>,
    name: Option<String>,
    clickable: Option<String>,
    within: Option<RawWithin>,
}

/// A region as written: `{ role = "dialog" }`, `{ role = "form", name = "…" }`,
/// `{ role = "landmark" }`, or `{ heading = "Select TIN(s)" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithin {
    role: Option<String>,
    name: Option<String>,
    heading: Option<String>,
}

impl RawWithin {
    fn resolve(self) -> Result<Within> {
        match (&self.role, &self.name, &self.heading) {
            (Some(_), _, None) | (None, None, Some(_)) => Ok(Within {
                role: self.role,
                name: self.name,
                heading: self.heading,
            }),
            _ => bail!(
                "`within` is {{ role = \"…\" }} (with an optional name) or {{ heading = \"…\" }}"
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmong {
    names: Option<Vec<String>>,
    pattern: Option<String>,
}

#[derive(Clone, Copy)]
enum Default_ {
    Field,
    Clickable,
}

impl RawTarget {
    fn resolve(self, default: Default_) -> Result<Locator> {
        Ok(match self {
            RawTarget::Name(name) => match default {
                Default_::Field => Locator::label(name),
                Default_::Clickable => Locator::clickable(name),
            },
            RawTarget::Table(t) => {
                let l = match (t.label, t.role, t.name, t.clickable) {
                    (Some(name), None, None, None) => Locator::label(name),
                    (None, Some(role), Some(name), None) => Locator::role(role, name),
                    (None, None, None, Some(name)) => Locator::clickable(name),
                    _ => bail!(
                        "a target is one of {{ label = \"…\" }}, {{ role = \"button\", name = \"…\" }} \
                         or {{ clickable = \"…\" }}, optionally with `within = {{ … }}`"
                    ),
                };
                match t.within {
                    None => l,
                    Some(w) => l.within(w.resolve()?),
                }
            }
        })
    }
}

impl RawAction {
    fn resolve(mut self) -> Result<Action> {
        if self.unless.is_some() && !matches!(self.expect, Some(RawTarget::Name(_))) {
            bail!("`unless` goes with `expect = \"text\"`");
        }
        if self.or.is_some() && !matches!(self.expect, Some(RawTarget::Name(_))) {
            bail!("`or` goes with `expect = \"text\"`");
        }
        if self.reveal.is_some() && self.capture.is_none() {
            bail!("`reveal` goes with `capture`");
        }
        if self.prefer.is_some() && self.pick.is_none() {
            bail!("`prefer` goes with `pick`");
        }
        if self.outcome.is_some() && self.require.is_none() {
            bail!("`outcome` goes with `require`");
        }
        if self.next_page.is_some() && self.already_created.is_none() {
            bail!("`next-page` goes with `already-created`");
        }
        if (self.resend.is_some() || self.refused.is_some() || self.from.is_some())
            && self.wait_for_code.is_none()
        {
            bail!("`from`, `resend` and `refused` go with `wait-for-code`");
        }
        let verbs = [
            self.goto.is_some(),
            self.expect.is_some(),
            self.click.is_some(),
            self.fill.is_some(),
            self.select.is_some(),
            self.pick.is_some(),
            self.require.is_some(),
            self.check.is_some(),
            self.uncheck.is_some(),
            self.check_exactly.is_some(),
            self.scroll_agreement.is_some(),
            self.capture.is_some(),
            self.note_mailbox.is_some(),
            self.wait_for_code.is_some(),
            self.ask_code.is_some(),
            self.already_created.is_some(),
        ];
        if verbs.iter().filter(|v| **v).count() != 1 {
            bail!(
                "an action has exactly one verb: goto, expect, click, fill, select, pick, require, \
                 check, uncheck, check-exactly, scroll-agreement, capture, note-mailbox, wait-for-code, \
                 ask-code, already-created"
            );
        }
        let need = |v: Option<String>, key: &str, verb: &str| -> Result<String> {
            v.ok_or_else(|| anyhow::anyhow!("`{verb}` needs `{key} = \"…\"`"))
        };
        let into_name = |v: Option<String>, verb: &str| -> Result<String> {
            let into = v.ok_or_else(|| anyhow::anyhow!("`{verb}` needs `into = \"name\"`"))?;
            if into.is_empty()
                || !into
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                bail!("`into = \"{into}\"`: use lower-case letters, digits and `_`");
            }
            Ok(into)
        };
        let action = if let Some(url) = self.goto {
            Action::Goto(url)
        } else if let Some(expect) = self.expect {
            match expect {
                RawTarget::Name(text) => Action::Expect {
                    text,
                    unless: self.unless.take().unwrap_or_default(),
                    or: self.or.take().unwrap_or_default(),
                },
                table => Action::ExpectElement(table.resolve(Default_::Field)?),
            }
        } else if let Some(t) = self.click {
            Action::Click(t.resolve(Default_::Clickable)?)
        } else if let Some(t) = self.fill {
            Action::Fill {
                target: t.resolve(Default_::Field)?,
                value: need(self.with, "with", "fill")?,
            }
        } else if let Some(t) = self.select {
            Action::Select {
                target: t.resolve(Default_::Field)?,
                option: need(self.option, "option", "select")?,
            }
        } else if let Some(t) = self.require {
            let outcome = need(self.outcome, "outcome", "require")?;
            if outcome.is_empty()
                || !outcome
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                bail!(
                    "`outcome = {}` is a name of lower-case letters, digits and `_`",
                    error::shown(&outcome)
                );
            }
            Action::Require {
                target: t.resolve(Default_::Clickable)?,
                outcome,
            }
        } else if let Some(t) = self.pick {
            Action::Pick {
                target: t.resolve(Default_::Field)?,
                prefer: self.prefer.unwrap_or_default(),
                into: into_name(self.into, "pick")?,
            }
        } else if let Some(t) = self.check {
            Action::Check(t.resolve(Default_::Field)?)
        } else if let Some(t) = self.uncheck {
            Action::Uncheck(t.resolve(Default_::Field)?)
        } else if let Some(among) = self.check_exactly {
            let among = match (among.names, among.pattern) {
                (Some(names), None) => Among::Names(names),
                (None, Some(p)) => Among::Pattern(p),
                _ => bail!("`check-exactly` takes {{ names = [\"…\"] }} or {{ pattern = \"…\" }}"),
            };
            let checked = self
                .checked
                .ok_or_else(|| anyhow::anyhow!("`check-exactly` needs `checked = [\"…\"]`"))?;
            Action::CheckExactly { among, checked }
        } else if self.scroll_agreement.is_some() {
            Action::ScrollAgreement
        } else if let Some(label) = self.capture {
            Action::Capture {
                label,
                into: into_name(self.into, "capture")?,
                secret: self.secret.unwrap_or(false),
                reveal: self
                    .reveal
                    .map(|t| t.resolve(Default_::Clickable))
                    .transpose()?,
            }
        } else if self.note_mailbox.is_some() {
            Action::NoteMailbox
        } else if let Some(to) = self.wait_for_code {
            let from = self.from.ok_or_else(|| {
                anyhow::anyhow!(
                    "`wait-for-code` needs `from = \"…\"`: the address the portal sends its \
                     code emails from"
                )
            })?;
            if !is_plain_address(&from) {
                bail!(
                    "`from = {}` is not an email address (name@domain, no spaces or quotes)",
                    error::shown(&from)
                );
            }
            Action::WaitForCode {
                to,
                from,
                into: into_name(self.into, "wait-for-code")?,
                resend: self
                    .resend
                    .map(|t| t.resolve(Default_::Clickable))
                    .transpose()?,
                refused: self.refused.unwrap_or_default(),
            }
        } else if let Some(prompt) = self.ask_code {
            Action::AskCode {
                prompt,
                into: into_name(self.into, "ask-code")?,
            }
        } else if let Some(text) = self.already_created {
            Action::AlreadyCreated {
                text,
                skip_to: need(self.skip_to, "skip-to", "already-created")?,
                needs: need(self.needs, "needs", "already-created")?,
                next_page: self
                    .next_page
                    .map(|t| t.resolve(Default_::Clickable))
                    .transpose()?,
            }
        } else {
            unreachable!("one verb was counted above")
        };
        Ok(action)
    }
}

/// "line L, column C" of a byte offset.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}")
}

/// The longest `check-exactly` pattern a flow may give (a regular expression run in the page).
pub const MAX_PATTERN_CHARS: usize = 200;

/// Whether a variable holds a secret: the office password, the generated password and answers,
/// and what the flow captures as one.
fn is_secret(name: &str, secret_captures: &[String]) -> bool {
    name == "office_password"
        || name == "generated.password"
        || name.starts_with("generated.answer")
        || secret_captures.iter().any(|c| c == name)
}

/// A flow file must not be able to send the run's secrets anywhere: `goto` only to the portal
/// (`{portal_url}` and a path, no other variable), secrets only as the value a `fill` types, and
/// a `check-exactly` pattern short and valid.
fn exfiltration_guard(action: &Action, secret_captures: &[String]) -> Result<(), String> {
    if let Action::Goto(url) = action {
        let Some(rest) = url.strip_prefix("{portal_url}") else {
            return Err(format!(
                "`goto = \"{url}\"` leaves the portal: a flow goes only to {{portal_url}} or a \
                 path under it"
            ));
        };
        if rest.contains(['{', '}', '@', '\\'])
            || rest.starts_with(['.', ':'])
            || rest.contains("//")
        {
            return Err(format!(
                "`goto = \"{url}\"`: after {{portal_url}} only a path may follow (no variables, \
                 no `@`, `//`, `.` or `:` that could name another host)"
            ));
        }
    }
    let typed = match action {
        Action::Fill { value, .. } => Some(value.as_str()),
        _ => None,
    };
    for t in action.templates() {
        if Some(t) == typed {
            continue;
        }
        let names = vars::references(t).unwrap_or_default();
        if let Some(name) = names.iter().find(|n| is_secret(n, secret_captures)) {
            return Err(format!(
                "{{{name}}} is a secret: a flow may use a secret only as what a `fill` types"
            ));
        }
    }
    if let Action::CheckExactly {
        among: Among::Pattern(p),
        ..
    } = action
    {
        if p.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!(
                "the `check-exactly` pattern is {} characters long; at most {MAX_PATTERN_CHARS}",
                p.chars().count()
            ));
        }
        regex_syntax_ok(p)?;
    }
    Ok(())
}

/// Whether `p` is a regular expression the page's `new RegExp` will take. The tool's crates hold
/// no regex engine, so this checks what goes wrong in practice: balanced groups and classes,
/// and no nested quantifier over a group (`(a+)+`), which makes a backtracking engine take
/// exponential time on a long line.
fn regex_syntax_ok(p: &str) -> Result<(), String> {
    let mut depth: i32 = 0;
    let mut in_class = false;
    let mut escaped = false;
    // For each open group: whether it holds a quantifier.
    let mut quantified: Vec<bool> = Vec::new();
    let chars: Vec<char> = p.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ if in_class => {}
            '(' => {
                depth += 1;
                quantified.push(false);
            }
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!(
                        "the `check-exactly` pattern /{p}/ closes a group it never opened"
                    ));
                }
                let inner = quantified.pop().unwrap_or(false);
                let next = chars.get(i + 1).copied();
                if inner && matches!(next, Some('+' | '*' | '{')) {
                    return Err(format!(
                        "the `check-exactly` pattern /{p}/ repeats a group that repeats itself \
                         (like `(a+)+`), which can take the page forever: write it without"
                    ));
                }
                if inner {
                    if let Some(outer) = quantified.last_mut() {
                        *outer = true;
                    }
                }
            }
            '+' | '*' | '{' => {
                if let Some(g) = quantified.last_mut() {
                    *g = true;
                }
            }
            _ => {}
        }
    }
    if escaped || in_class || depth != 0 {
        return Err(format!(
            "the `check-exactly` pattern /{p}/ is not a complete regular expression"
        ));
    }
    Ok(())
}

/// Parses and checks a flow: ids unique, one verb per action, every variable known or
/// captured by an earlier action, a code wait preceded by a mailbox note.
pub fn parse(text: &str, origin: &str) -> Result<Flow> {
    let raw: RawFlow = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| position(text, s.start))
            .unwrap_or_default();
        error::bad_input(error::without_controls(&format!(
            "{origin} is not a valid flow ({at}): {}",
            e.message()
        )))
    })?;
    // Messages quote the file; whatever it holds, they reach the terminal escaped.
    let bad = |offset: usize, msg: String| {
        error::bad_input(error::without_controls(&format!(
            "{origin}, {}: {msg}",
            position(text, offset)
        )))
    };
    let mut dismiss = Vec::new();
    for t in raw.dismiss {
        dismiss.push(t.resolve(Default_::Clickable).map_err(|e| {
            error::bad_input(error::without_controls(&format!("{origin}, dismiss: {e}")))
        })?);
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut captured: Vec<String> = Vec::new();
    // Captured values that are secrets: a temporary password, a verification code.
    let mut secret_captures: Vec<String> = Vec::new();
    let mut noted = false;
    for raw_step in raw.step {
        let id_at = raw_step.id.span().start;
        let id = raw_step.id.into_inner();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad(
                id_at,
                format!(
                    "step id {}: use lower-case letters, digits and `-`",
                    error::shown(&id)
                ),
            ));
        }
        if steps.iter().any(|s| s.id == id) {
            return Err(bad(id_at, format!("step id \"{id}\" is used twice")));
        }
        let mut actions = Vec::new();
        for (i, spanned) in raw_step.actions.into_iter().enumerate() {
            let at = spanned.span().start;
            let action = spanned
                .into_inner()
                .resolve()
                .map_err(|e| bad(at, format!("step \"{id}\", action {}: {e}", i + 1)))?;
            for t in action.templates() {
                let names =
                    vars::references(t).map_err(|e| bad(at, format!("step \"{id}\": {e}")))?;
                for name in names {
                    if !vars::is_input(&name) && !captured.contains(&name) {
                        let hint = if let Some(rest) = name.strip_prefix("captured.") {
                            format!(
                                "no earlier action captures it (add `into = \"{rest}\"` to a \
                                 capture before this step)"
                            )
                        } else {
                            format!(
                                "it is not a known variable; known: {}, and captured.* of \
                                 earlier actions",
                                vars::INPUTS
                                    .iter()
                                    .map(|(n, _)| *n)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        return Err(bad(
                            at,
                            format!("step \"{id}\", action {} uses {{{name}}}: {hint}", i + 1),
                        ));
                    }
                }
            }
            if let Err(why) = exfiltration_guard(&action, &secret_captures) {
                return Err(bad(at, format!("step \"{id}\", action {}: {why}", i + 1)));
            }
            match &action {
                Action::NoteMailbox => noted = true,
                Action::WaitForCode { .. } if !noted => {
                    return Err(bad(
                        at,
                        format!(
                            "step \"{id}\", action {}: wait-for-code needs a note-mailbox \
                             action before the click that sends the code",
                            i + 1
                        ),
                    ))
                }
                _ => {}
            }
            if let Some(out) = action.output() {
                if action.output_is_secret() {
                    secret_captures.push(out.clone());
                }
                captured.push(out);
            }
            actions.push(action);
        }
        if let Some(when) = &raw_step.when {
            if vars::references(when)
                .is_ok_and(|names| names.iter().any(|n| is_secret(n, &secret_captures)))
            {
                return Err(bad(
                    id_at,
                    format!("step \"{id}\": `when` may not use a secret"),
                ));
            }
        }
        let probe_on_resume = match raw_step.on_resume.as_deref() {
            None => false,
            Some("probe") if raw.then.is_some() => true,
            Some("probe") => {
                return Err(bad(
                    id_at,
                    format!(
                        "step \"{id}\": on-resume = \"probe\" signs in with the flow that \
                         finishes this one's runs: add `then = \"…\"` to the flow"
                    ),
                ))
            }
            Some(other) => {
                return Err(bad(
                    id_at,
                    format!(
                        "step \"{id}\": on-resume is \"probe\", not {}",
                        error::shown(other)
                    ),
                ))
            }
        };
        steps.push(Step {
            id,
            title: raw_step.title,
            guide: raw_step.guide,
            when: raw_step.when,
            probe_on_resume,
            actions,
        });
    }
    if steps.is_empty() {
        return Err(error::bad_input(format!("{origin} has no steps")));
    }
    for (i, step) in steps.iter().enumerate() {
        for action in &step.actions {
            if let Action::AlreadyCreated { skip_to, .. } = action {
                let later = steps.iter().skip(i + 1).any(|s| &s.id == skip_to);
                if !later {
                    return Err(error::bad_input(format!(
                        "{origin}, step \"{}\": skip-to = \"{skip_to}\" names no later step",
                        step.id
                    )));
                }
            }
        }
    }
    let ends = match raw.ends.as_deref() {
        None | Some("active") => Ends::Active,
        Some("pending_approval") => Ends::PendingApproval,
        Some(other) => {
            return Err(error::bad_input(error::without_controls(&format!(
                "{origin}: ends = {} is not a run status: use \"active\" or \"pending_approval\"",
                error::shown(other)
            ))))
        }
    };
    if ends == Ends::PendingApproval && raw.then.is_none() {
        return Err(error::bad_input(format!(
            "{origin}: a flow that ends pending approval names the flow that finishes its runs \
             (`then = \"activate\"`)"
        )));
    }
    for (name, text) in &raw.outcomes {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || text.trim().is_empty()
        {
            return Err(error::bad_input(error::without_controls(&format!(
                "{origin}: outcome {} = {}: a name of lower-case letters, digits and `_`, and \
                 the page's words",
                error::shown(name),
                error::shown(text)
            ))));
        }
    }
    Ok(Flow {
        name: raw.flow,
        title: raw.title,
        dismiss,
        login_page: raw.login_page,
        loading: raw.loading,
        error_pages: raw.error_pages,
        outcomes: raw.outcomes.into_iter().collect(),
        ends,
        then: raw.then,
        default_entitlements: raw.default_entitlements,
        steps,
        source: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;
    use crate::flow::model;

    fn load(name: &str) -> Result<Flow> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/flows")
            .join(name);
        from_file(&path)
    }

    /// The error's message, after checking it is bad input (exit 2).
    fn bad(name: &str) -> String {
        let err = load(name).expect_err(name);
        assert_eq!(exit_code(&err), 2, "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn the_builtin_flow_has_the_sixteen_steps_of_the_guide() {
        let flow = builtin("existing").unwrap();
        let ids: Vec<_> = flow.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "office-login",
                "office-verification",
                "check-existing-user",
                "open-add-user",
                "fill-user-info",
                "assign-by-tin",
                "select-entitlements",
                "review-submit",
                "temp-id-login",
                "create-profile",
                "accept-terms-of-use",
                "review-profile",
                "user-login",
                "send-verification-code",
                "enter-verification-code",
                "accept-agreement",
            ]
        );
        let capture = flow.step("review-submit").unwrap();
        assert_eq!(
            capture.outputs(),
            ["captured.temp_user_id", "captured.temp_password"]
        );
        let temp = flow.step("temp-id-login").unwrap();
        assert!(temp
            .inputs()
            .contains(&"captured.temp_password".to_string()));
        assert!(builtin("nope").is_err());
    }

    #[test]
    fn every_builtin_flow_parses() {
        for (name, _) in BUILTIN {
            let flow = builtin(name).unwrap();
            assert_eq!(flow.name, *name);
        }
        let register = builtin("register").unwrap();
        assert_eq!(register.steps.last().unwrap().id, "review-submit");
        let activate = builtin("activate").unwrap();
        assert_eq!(
            activate.steps[0].actions.last(),
            Some(&Action::Expect {
                text: "Verify Your Identity".into(),
                unless: vec!["pending approval".into()],
                or: vec![],
            })
        );
    }

    #[test]
    fn a_valid_file_parses_every_verb_and_target_form() {
        let flow = load("minimal.toml").unwrap();
        assert_eq!(flow.name, "minimal");
        assert_eq!(flow.dismiss.len(), 2);
        let a = &flow.steps[0].actions;
        assert_eq!(a[0], Action::Goto("{portal_url}".into()));
        assert_eq!(
            a[3],
            Action::Fill {
                target: Locator::label("Password"),
                value: "{office_password}".into()
            }
        );
        assert_eq!(a[5], Action::Check(Locator::role("radio", "By TIN")));
        assert_eq!(
            a[7],
            Action::CheckExactly {
                among: Among::Pattern(r"^\d{2}-\d{7}".into()),
                checked: vec!["{tin_dashed}".into()]
            }
        );
        assert_eq!(a[10], Action::Click(Locator::clickable("Next")));
        assert_eq!(
            a[11],
            Action::ExpectElement(Locator::role("heading", "Verify Your Identity"))
        );
        let code = &flow.steps[1];
        assert_eq!(code.inputs(), ["captured.temp_user_id", "email"]);
        assert_eq!(code.outputs(), ["captured.code"]);
    }

    #[test]
    fn a_target_is_narrowed_to_a_region_with_within() {
        let flow = parse(
            r#"flow = "regions"
title = "Regions"

[[step]]
id = "pick"
title = "Pick"
actions = [
  { click = { role = "button", name = "Submit", within = { role = "dialog" } } },
  { fill = { label = "Street", within = { role = "form", name = "Mailing address" } }, with = "1 Post Road" },
  { click = { clickable = "Next", within = { role = "landmark", name = "Account" } } },
  { check = { role = "checkbox", name = "Claim Status", within = { heading = "Select Entitlements" } } },
]
"#,
            "test",
        )
        .unwrap();
        let a = &flow.steps[0].actions;
        assert_eq!(
            a[0],
            Action::Click(Locator::role("button", "Submit").within(Within::role("dialog", None)))
        );
        assert_eq!(
            a[1],
            Action::Fill {
                target: Locator::label("Street")
                    .within(Within::role("form", Some("Mailing address"))),
                value: "1 Post Road".into()
            }
        );
        assert_eq!(
            a[2],
            Action::Click(
                Locator::clickable("Next").within(Within::role("landmark", Some("Account")))
            )
        );
        assert_eq!(
            a[3],
            Action::Check(
                Locator::role("checkbox", "Claim Status")
                    .within(Within::heading("Select Entitlements"))
            )
        );
        // A region is a role (with an optional name) or a heading, not both and not neither.
        for within in [
            r#"{ role = "dialog", heading = "Review" }"#,
            r#"{ name = "Account" }"#,
        ] {
            let text = format!(
                "flow = \"regions\"\ntitle = \"Regions\"\n\n[[step]]\nid = \"pick\"\ntitle = \"Pick\"\nactions = [\n  {{ click = {{ clickable = \"Next\", within = {within} }} }},\n]\n"
            );
            let err = parse(&text, "test").expect_err(within);
            assert_eq!(exit_code(&err), 2, "{err:#}");
            assert!(format!("{err:#}").contains("`within` is"), "{err:#}");
        }
    }

    /// A one-step flow with these flow-level lines and this action, parsed.
    fn one_step(head: &str, action: &str) -> Result<Flow> {
        parse(
            &format!(
                "flow = \"f\"\ntitle = \"F\"\n{head}\n[[step]]\nid = \"s\"\ntitle = \"S\"\n\
                 actions = [\n  {{ note-mailbox = true }},\n  {action},\n]\n"
            ),
            "test",
        )
    }

    fn refused(head: &str, action: &str) -> String {
        let err = one_step(head, action).expect_err(action);
        assert_eq!(exit_code(&err), 2, "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn the_portals_words_are_the_flows_and_code_branches_on_their_names() {
        let activate = builtin("activate").unwrap();
        assert_eq!(
            activate.outcome_of("Your registration is Pending Approval by your organization."),
            Some(model::PENDING_APPROVAL)
        );
        assert_eq!(activate.outcome_of("Verify Your Identity"), None);
        assert_eq!(
            activate.code_sender(),
            builtin("existing").unwrap().code_sender()
        );
        assert!(activate
            .error_pages
            .iter()
            .any(|t| t == "Service Unavailable"));
        let register = builtin("register").unwrap();
        assert_eq!(register.ends, Ends::PendingApproval);
        assert_eq!(register.then.as_deref(), Some("activate"));
        let probes: Vec<_> = register
            .steps
            .iter()
            .filter(|s| s.probe_on_resume)
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(probes, ["review-submit"]);
        let existing = builtin("existing").unwrap();
        assert_eq!(existing.ends, Ends::Active);
        assert!(existing.needs("office_password") && !register.needs("office_password"));

        // The sender of code emails is the flow's to give, as a plain address.
        let ok =
            r#"{ wait-for-code = "{email}", from = "no-reply@portal.example", into = "code" }"#;
        assert_eq!(
            one_step("", ok).unwrap().code_sender(),
            Some("no-reply@portal.example")
        );
        let msg = refused("", r#"{ wait-for-code = "{email}", into = "code" }"#);
        assert!(msg.contains("needs `from"), "{msg}");
        let msg = refused(
            "",
            r#"{ wait-for-code = "{email}", from = 'x" OR ALL "@a.b', into = "code" }"#,
        );
        assert!(msg.contains("is not an email address"), "{msg}");
        // A status it cannot end in, pending approval with nothing to finish it, a probe
        // without a flow to probe with, and an outcome named like text.
        let msg = refused("ends = \"approved\"", ok);
        assert!(msg.contains("is not a run status"), "{msg}");
        let msg = refused("ends = \"pending_approval\"", ok);
        assert!(msg.contains("then = \"activate\""), "{msg}");
        let probe = parse(
            "flow = \"f\"\ntitle = \"F\"\n[[step]]\nid = \"s\"\ntitle = \"S\"\n\
             on-resume = \"probe\"\nactions = [{ expect = \"x\" }]\n",
            "test",
        )
        .unwrap_err();
        assert!(format!("{probe:#}").contains("add `then"), "{probe:#}");
        let msg = refused(
            "[outcomes]\n\"Pending Approval\" = \"pending approval\"",
            ok,
        );
        assert!(msg.contains("lower-case letters"), "{msg}");

        // A security question is picked from the page's list, the given one preferred.
        let pick = one_step(
            "",
            r#"{ pick = "Security Question 1", prefer = "{generated.question1}", into = "question1" }"#,
        )
        .unwrap();
        assert_eq!(
            pick.steps[0].actions[1],
            Action::Pick {
                target: Locator::label("Security Question 1"),
                prefer: "{generated.question1}".into(),
                into: "question1".into()
            }
        );
        assert_eq!(pick.steps[0].outputs(), ["captured.question1"]);
        let msg = refused("", r#"{ select = "Q", option = "x", prefer = "y" }"#);
        assert!(msg.contains("`prefer` goes with `pick`"), "{msg}");
    }

    #[test]
    fn an_unknown_variable_is_named_with_its_step_and_line() {
        let msg = bad("unknown-variable.toml");
        assert!(msg.contains("{office_usr}"), "{msg}");
        assert!(msg.contains("step \"fill\""), "{msg}");
        assert!(msg.contains("line 9"), "{msg}");
        assert!(
            msg.contains("office_user"),
            "the known names are listed: {msg}"
        );
    }

    #[test]
    fn a_capture_used_before_it_is_made_is_refused() {
        let msg = bad("capture-used-too-early.toml");
        assert!(msg.contains("{captured.temp_user_id}"), "{msg}");
        assert!(msg.contains("no earlier action captures it"), "{msg}");
    }

    #[test]
    fn malformed_actions_say_what_an_action_looks_like() {
        let msg = bad("two-verbs.toml");
        assert!(msg.contains("exactly one verb"), "{msg}");
        let msg = bad("unknown-key.toml");
        assert!(msg.contains("value"), "{msg}");
        assert!(msg.contains("line 8"), "{msg}");
        let msg = bad("duplicate-step.toml");
        assert!(msg.contains("\"same\" is used twice"), "{msg}");
        let msg = bad("code-without-note.toml");
        assert!(msg.contains("note-mailbox"), "{msg}");
        let msg = bad("unclosed-variable.toml");
        assert!(msg.contains("unclosed"), "{msg}");
    }

    #[test]
    fn a_missing_file_is_bad_input_naming_the_path() {
        let msg = bad("does-not-exist.toml");
        assert!(msg.contains("does-not-exist.toml"), "{msg}");
    }
}

#[cfg(test)]
mod exfiltration_tests {
    use super::*;

    /// The built-in existing flow with `from` replaced by `to`, parsed.
    fn changed(from: &str, to: &str) -> Result<Flow> {
        let flow = BUILTIN[0].1;
        assert!(flow.contains(from), "{from} in the flow");
        parse(&flow.replacen(from, to, 1), "changed.toml")
    }

    fn refused(from: &str, to: &str, says: &str) {
        let err = changed(from, to).unwrap_err();
        let message = format!("{err:#}");
        assert_eq!(error::exit_code(&err), 2, "{message}");
        assert!(message.contains(says), "{says:?} not in {message}");
        assert!(
            message.contains("changed.toml, line "),
            "file and line: {message}"
        );
    }

    #[test]
    fn what_a_bad_flow_quotes_reaches_the_terminal_escaped() {
        for (from, to) in [
            // TOML escapes: the file may not hold the characters raw, the strings may.
            ("{profile.address}", "{profile.addr\\u001b[2Jess}"),
            ("{profile.address}", "{profile.address\\r}"),
            ("id = \"create-profile\"", "id = \"create\\u0007-profile\""),
            (
                "into = \"temp_user_id\"",
                "into = \"temp\\u001b]0;x\\u0007\"",
            ),
        ] {
            let err = changed(from, to).unwrap_err();
            let message = format!("{err:#}");
            assert_eq!(error::exit_code(&err), 2, "{message}");
            assert!(
                !message.chars().any(|c| c.is_control() && c != '\n'),
                "raw control character in {message:?}"
            );
            assert!(message.contains("changed.toml, line "), "{message}");
        }
    }

    #[test]
    fn every_builtin_flow_keeps_to_the_rules() {
        for (name, text) in BUILTIN {
            parse(text, name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn a_flow_cannot_send_secrets_anywhere() {
        let goto = "{ goto = \"{portal_url}\" }";
        refused(
            goto,
            "{ goto = \"http://127.0.0.1:18999/steal?pw={generated.password}\" }",
            "leaves the portal",
        );
        refused(
            goto,
            "{ goto = \"{portal_url}steal?pw={generated.password}\" }",
            "only a path",
        );
        refused(
            goto,
            "{ goto = \"{portal_url}.evil.example/\" }",
            "only a path",
        );
        refused(
            goto,
            "{ goto = \"{portal_url}@evil.example/\" }",
            "only a path",
        );
        refused(
            goto,
            "{ goto = \"{portal_url}//evil.example/\" }",
            "only a path",
        );
        changed(goto, "{ goto = \"{portal_url}login?x=1\" }").unwrap();
        refused(
            "{ expect = \"Log in to Cigna for HCP\" }",
            "{ expect = \"{office_password}\" }",
            "{office_password} is a secret",
        );
        refused(
            "{ click = \"Log Out\" }",
            "{ click = \"{captured.temp_password}\" }",
            "{captured.temp_password} is a secret",
        );
    }

    #[test]
    fn a_pattern_is_short_valid_and_without_runaway_repetition() {
        let pattern = "pattern = '^\\d{2}-\\d{7}\\b'";
        assert!(BUILTIN[0].1.contains(pattern), "the flow's TIN pattern");
        refused(
            pattern,
            &format!("pattern = '{}'", "a".repeat(201)),
            "at most 200",
        );
        refused(pattern, "pattern = '(a+)+$'", "repeats a group");
        refused(
            pattern,
            "pattern = '(unclosed'",
            "not a complete regular expression",
        );
        refused(
            pattern,
            "pattern = '[unclosed'",
            "not a complete regular expression",
        );
        refused(pattern, "pattern = 'a)'", "closes a group");
        changed(pattern, "pattern = '^(\\d{2})-\\d{7}'").unwrap();
    }
}
