//! The flow model: flows, steps and actions, as the engine runs them.

use crate::browser::{Among, Locator};

#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub title: String,
    /// Controls clicked away whenever they cover what an action needs (a cookie banner).
    pub dismiss: Vec<Locator>,
    /// A text only the portal's login page shows: meeting it where a later page was expected
    /// means the session expired, and the run signs in again from the nearest entry step.
    pub login_page: Option<String>,
    /// Texts the portal shows while it is still fetching (a "Loading…" row): a look that a
    /// decision rests on waits until none shows.
    pub loading: Vec<String>,
    /// Texts of the portal's error pages (HTTP 5xx): a wait that meets one reloads the page.
    pub error_pages: Vec<String>,
    /// Refusals the tool acts on, by name: the outcome's name and a text of the page's words
    /// (`pending_approval` ← "pending approval"). Code branches on names, never on texts.
    pub outcomes: Vec<(String, String)>,
    /// What a run of this flow is once every step is done.
    pub ends: Ends,
    /// The flow that finishes this flow's runs later (`activate` after `register`).
    pub then: Option<String>,
    /// The entitlements given when no `--entitlement` says otherwise (the setup guide's).
    pub default_entitlements: Vec<String>,
    pub steps: Vec<Step>,
    /// The flow file's text, as parsed: what a run records, so that resuming it after the
    /// built-in flow changed (an upgrade) or the file was edited runs the same steps.
    pub source: String,
}

/// The outcome of a registration waiting for its access manager's approval.
pub const PENDING_APPROVAL: &str = "pending_approval";
/// The outcome of an office login without the right to add users (exit 6, which is why the
/// name is the error module's).
pub const NOT_ACCESS_MANAGER: &str = crate::error::NOT_ACCESS_MANAGER_OUTCOME;

/// What a run is once its flow's every step is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// The new login works.
    Active,
    /// The request waits for the organization's access manager; the `then` flow finishes it.
    PendingApproval,
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Stable id: journals, `resume` and `step` refer to steps by it.
    pub id: String,
    pub title: String,
    /// Which step of the setup guide this is.
    pub guide: Option<String>,
    /// Run only when the page shows this text (a page the portal shows only sometimes, like
    /// the office's own identity check); otherwise the step is recorded as skipped.
    pub when: Option<String>,
    /// The step's effect may stand in the portal though the step never finished (a submitted
    /// registration): a resumed run that reached it first asks the `then` flow's sign-in
    /// whether it did (`on-resume = "probe"`).
    pub probe_on_resume: bool,
    pub actions: Vec<Action>,
}

/// One thing a person would do. Strings may hold `{variables}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open the portal's entry URL (the only URL a flow may open: the rest is clicked).
    Goto(String),
    /// Wait until the page shows this text; fail at once if it shows one of `unless` (a
    /// refusal the flow knows, like "pending approval") or an error next to a field.
    Expect {
        text: String,
        unless: Vec<String>,
        /// Texts that do as well as `text` (a page that may come first, handled by the next
        /// step's `when`).
        or: Vec<String>,
    },
    /// Wait until the page shows this element (visible, exactly one).
    ExpectElement(Locator),
    Click(Locator),
    Fill {
        target: Locator,
        value: String,
    },
    Select {
        target: Locator,
        option: String,
    },
    /// Go on only if the page, once settled, shows `target`; else stop with the named
    /// `outcome` (a menu without "Manage User Access": the login is no access manager).
    Require {
        target: Locator,
        outcome: String,
    },
    /// Choose `prefer` in a list, or when it is empty any option the list offers that an
    /// earlier pick of the step did not take; the choice goes to `captured.<into>`.
    Pick {
        target: Locator,
        prefer: String,
        into: String,
    },
    Check(Locator),
    Uncheck(Locator),
    /// Tick exactly the boxes of a group whose names start with one of `checked` (a list
    /// variable expands to its items), untick the rest.
    CheckExactly {
        among: Among,
        checked: Vec<String>,
    },
    /// Scroll agreements to their end, so the boxes under them enable.
    ScrollAgreement,
    /// Read the value shown next to a label into `captured.<into>`.
    Capture {
        label: String,
        into: String,
        secret: bool,
        /// The control beside a masked value that shows it ("Show"): clicked when the value
        /// reads as bullets.
        reveal: Option<Locator>,
    },
    /// Note where the mailbox stands, just before the click that sends a code.
    NoteMailbox,
    /// Wait for the code emailed to `to` by `from` since the note, into `captured.<into>`. With `resend`:
    /// no code by half the code timeout → click it once and keep waiting. With `refused`: when
    /// a later action of the step fails because the page says one of these, wait for a newer
    /// code and do the rest of the step again, once.
    WaitForCode {
        to: String,
        /// The portal's sender: only its emails are read for a code.
        from: String,
        into: String,
        resend: Option<Locator>,
        refused: Vec<String>,
    },
    /// Ask the person running the tool for a code sent to them (the office's own sign-in
    /// check): prompt on a terminal, else read `--office-code-file` or stdin.
    AskCode {
        prompt: String,
        into: String,
    },
    /// A rerun must not create what an earlier attempt created: when the page shows `text`
    /// (the new user's email in the users table), go on at step `skip_to` if the run holds
    /// `needs` (what the creation captured), else stop and say what to do in the portal.
    AlreadyCreated {
        text: String,
        skip_to: String,
        needs: String,
        /// The control that shows a paged table's next page: every page is looked at.
        next_page: Option<Locator>,
    },
}

impl Action {
    /// Every string of the action that may hold variables.
    pub fn templates(&self) -> Vec<&str> {
        fn loc(l: &Locator) -> Vec<&str> {
            l.texts()
        }
        match self {
            Action::Goto(s) => vec![s],
            Action::Expect { text, unless, or } => {
                let mut v = vec![text.as_str()];
                v.extend(unless.iter().map(String::as_str));
                v.extend(or.iter().map(String::as_str));
                v
            }
            Action::Click(l)
            | Action::Check(l)
            | Action::Uncheck(l)
            | Action::ExpectElement(l)
            | Action::Require { target: l, .. } => loc(l),
            Action::Fill { target, value: s }
            | Action::Select { target, option: s }
            | Action::Pick {
                target, prefer: s, ..
            } => {
                let mut v = loc(target);
                v.push(s);
                v
            }
            Action::CheckExactly { checked, .. } => checked.iter().map(String::as_str).collect(),
            Action::Capture { label, reveal, .. } => {
                let mut v = vec![label.as_str()];
                v.extend(reveal.iter().flat_map(loc));
                v
            }
            Action::WaitForCode {
                to,
                resend,
                refused,
                ..
            } => {
                let mut v = vec![to.as_str()];
                v.extend(resend.iter().flat_map(loc));
                v.extend(refused.iter().map(String::as_str));
                v
            }
            Action::AskCode { prompt, .. } => vec![prompt],
            Action::AlreadyCreated {
                text, next_page, ..
            } => {
                let mut v = vec![text.as_str()];
                v.extend(next_page.iter().flat_map(loc));
                v
            }
            Action::ScrollAgreement | Action::NoteMailbox => vec![],
        }
    }

    /// The variable this action sets, if any.
    pub fn output(&self) -> Option<String> {
        match self {
            Action::Capture { into, .. }
            | Action::Pick { into, .. }
            | Action::WaitForCode { into, .. }
            | Action::AskCode { into, .. } => Some(format!("captured.{into}")),
            _ => None,
        }
    }

    /// Whether what the action sets is a secret: a code always, a capture when it says so, a
    /// picked security question never (it is the portal's own text, shown on its page).
    pub fn output_is_secret(&self) -> bool {
        match self {
            Action::Capture { secret, .. } => *secret,
            Action::Pick { .. } => false,
            _ => true,
        }
    }

    /// Short description for progress and errors.
    pub fn describe(&self) -> String {
        match self {
            Action::Goto(u) => format!("go to {u}"),
            Action::Expect { text, or, .. } if or.is_empty() => format!("expect \"{text}\""),
            Action::Expect { text, or, .. } => {
                format!("expect \"{text}\" or \"{}\"", or.join("\" or \""))
            }
            Action::ExpectElement(l) => format!("expect {l}"),
            Action::Require { target, .. } => format!("require {target}"),
            Action::Click(l) => format!("click {l}"),
            Action::Fill { target, .. } => format!("fill {target}"),
            Action::Select { target, option } => format!("choose \"{option}\" in {target}"),
            Action::Pick { target, .. } => format!("choose an option in {target}"),
            Action::Check(l) => format!("tick {l}"),
            Action::Uncheck(l) => format!("untick {l}"),
            Action::CheckExactly { among, checked } => {
                format!("tick exactly {checked:?} among the checkboxes {among}")
            }
            Action::ScrollAgreement => "scroll the agreement to its end".into(),
            Action::Capture { label, .. } => format!("read the value next to \"{label}\""),
            Action::NoteMailbox => "note the mailbox's position".into(),
            Action::WaitForCode { to, .. } => format!("wait for the code emailed to {to}"),
            Action::AskCode { .. } => "ask for the code sent to the office".into(),
            Action::AlreadyCreated { text, skip_to, .. } => {
                format!("if \"{text}\" is listed already, go on at {skip_to}")
            }
        }
    }
}

impl Step {
    /// Variables the step needs from before it (inputs, or captures of earlier steps).
    pub fn inputs(&self) -> Vec<String> {
        let mut made = Vec::new();
        let mut needs = Vec::new();
        for action in &self.actions {
            for t in action.templates() {
                for name in super::vars::references(t).unwrap_or_default() {
                    if !made.contains(&name) && !needs.contains(&name) {
                        needs.push(name);
                    }
                }
            }
            if let Some(out) = action.output() {
                made.push(out);
            }
        }
        needs
    }

    /// Variables the step produces.
    pub fn outputs(&self) -> Vec<String> {
        self.actions.iter().filter_map(Action::output).collect()
    }
}

impl Flow {
    /// The sender of the flow's code emails (its first `wait-for-code`'s `from`).
    pub fn code_sender(&self) -> Option<&str> {
        self.steps
            .iter()
            .flat_map(|s| &s.actions)
            .find_map(|a| match a {
                Action::WaitForCode { from, .. } => Some(from.as_str()),
                _ => None,
            })
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The named outcome of what the page said, if the flow names one for it.
    pub fn outcome_of(&self, page_said: &str) -> Option<&str> {
        let said = page_said.to_lowercase();
        self.outcomes
            .iter()
            .find(|(_, text)| said.contains(&text.to_lowercase()))
            .map(|(name, _)| name.as_str())
    }

    /// `--entitlement` values, checked against the names the flow's entitlements page offers
    /// (the `check-exactly` that ticks `{entitlements}`) and spelled as it does; the flow's
    /// default set when none is given.
    pub fn choose_entitlements(&self, given: &[String]) -> anyhow::Result<Vec<String>> {
        if given.is_empty() {
            return Ok(self.default_entitlements.clone());
        }
        let offered = self
            .steps
            .iter()
            .flat_map(|s| &s.actions)
            .find_map(|a| match a {
                Action::CheckExactly {
                    among: Among::Names(names),
                    checked,
                } if checked.iter().any(|c| c == "{entitlements}") => Some(names.as_slice()),
                _ => None,
            })
            .unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        for e in given {
            let Some(known) = offered.iter().find(|k| k.eq_ignore_ascii_case(e.trim())) else {
                return Err(crate::error::bad_input(format!(
                    "--entitlement {} is not one of the portal's entitlements: {}",
                    crate::error::shown(e),
                    offered
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if !out.iter().any(|o| o == known) {
                out.push(known.clone());
            }
        }
        Ok(out)
    }

    /// Whether some step uses the variable `name` (the office's password, say).
    pub fn needs(&self, name: &str) -> bool {
        self.steps
            .iter()
            .any(|s| s.inputs().iter().any(|i| i == name))
    }

    /// Where a run re-enters the portal to redo step `index`: the nearest step at or before it
    /// that opens the portal's entry page (a fresh or signed-out browser cannot deep-link).
    pub fn entry_before(&self, index: usize) -> usize {
        (0..=index.min(self.steps.len().saturating_sub(1)))
            .rev()
            .find(|&i| matches!(self.steps[i].actions.first(), Some(Action::Goto(_))))
            .unwrap_or(0)
    }
}
