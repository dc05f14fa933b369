//! The run report: one HTML page a support engineer opens offline — steps, timings,
//! screenshots, the failure, and the command to run next.

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;

use crate::html::escape;
use crate::journal::{self, Journal, Status};
use crate::secrets;

fn status_word(status: &Status) -> &'static str {
    match status {
        Status::Pending => "pending",
        Status::Running => "running",
        Status::Done => "done",
        Status::Failed => "failed",
        Status::PendingApproval => "pending approval",
        Status::NotAccessManager => "not an access manager",
        Status::Active => "active",
        Status::Skipped => "skipped",
    }
}

/// Whether the run's flow is finished by another (a registration) and its step that submits
/// (`on-resume = "probe"`) was done: what is left is `activate`'s.
fn submitted(journal: &Journal) -> bool {
    let Ok(flow) = crate::flow::recorded(&journal.dir, journal.flow()) else {
        return false;
    };
    flow.then.is_some()
        && flow.steps.iter().filter(|s| s.probe_on_resume).any(|s| {
            journal
                .steps
                .iter()
                .any(|r| r.id == s.id && r.status == Status::Done)
        })
}

/// The registration that stands in for an existing-account run whose office login cannot add
/// users: the same TIN, email and phone (and portal, when not the default).
pub fn register_command(journal: &Journal) -> String {
    let text = |name: &str| shell_word(journal.input(name).and_then(|v| v.as_str()).unwrap_or("…"));
    let mut command = format!(
        "cigna-setup register --tin {} --email {} --phone {}",
        text("tin"),
        text("email"),
        text("phone")
    );
    let portal = text("portal_url");
    if portal != crate::cli::DEFAULT_PORTAL_URL {
        command.push_str(&format!(" --portal-url {portal}"));
    }
    // The mailbox `activate` will read the registration's codes from (never a password).
    for (input, flag) in [("imap_url", "--imap-url"), ("imap_ca", "--imap-ca")] {
        if let Some(value) = journal.input(input).and_then(|v| v.as_str()) {
            command.push_str(&format!(" {flag} {}", shell_word(value)));
        }
    }
    command
}

/// `word` as a shell reads it back: as it is when it holds nothing a shell treats specially,
/// else in single quotes (a phone like "(555) 123-4567" must be pasted as one argument).
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._+-:/=,%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What to run next for a run in this state.
pub fn next_command(journal: &Journal) -> Option<String> {
    let id = &journal.run_id;
    match journal.status() {
        Status::Active | Status::Done => None,
        Status::PendingApproval => Some(format!("cigna-setup activate {id}")),
        Status::NotAccessManager => Some(register_command(journal)),
        _ if submitted(journal) => Some(format!("cigna-setup activate {id}")),
        _ => Some(format!("cigna-setup resume {id}")),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
.failed{color:#b00020;font-weight:600}.done,.active{color:#1b5e20}\
.timeline{list-style:none;padding:0;margin:0}\
.timeline li{display:grid;grid-template-columns:16rem 1fr 12rem;gap:.6rem;align-items:center;margin:.15rem 0}\
.track{background:#f1f1f1;height:1.1rem;position:relative}\
.bar{display:block;height:100%;background:#4a7bd0;position:relative;min-width:2px}\
.bar.failed{background:#b00020}.bar.skipped,.bar.pending{background:#bbb}\
.mail{position:absolute;right:0;top:0;height:100%;\
background:repeating-linear-gradient(45deg,#f2b233 0 6px,#ffd98a 6px 12px)}\
.legend span{display:inline-block;width:1rem;height:.8rem;vertical-align:middle;margin:0 .3rem 0 1rem}\
.strip{display:flex;gap:.8rem;overflow-x:auto;list-style:none;padding:.5rem 0;margin:0}\
.strip figure{margin:0;flex:none}.strip img{width:192px;height:135px;object-fit:cover;border:1px solid #ccc}\
.strip figure.failed img{border:3px solid #b00020}\
.strip figcaption{font-size:.8rem;max-width:192px}\
.failure{border-left:4px solid #b00020;padding:.2rem 1rem;margin:1rem 0}\
.failure img,.shot{max-width:960px;width:100%;border:1px solid #ccc;margin:.5rem 0}\
pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap}";

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The step's picture for the strip: the full screenshot when one was kept, else the small one.
fn picture(artifacts: &Path, id: &str) -> Option<&'static str> {
    ["thumb.jpg", "screenshot.png"]
        .into_iter()
        .find(|name| artifacts.join(id).join(name).is_file())
}

/// Writes `report.html` into the run directory: a timeline of the steps (bars by duration, the
/// wait for a code email marked), the strip of what each step left on the screen, the failure
/// with its screenshot and what the page offered instead, then each step's details. Every text
/// passes the redactor.
pub fn write(journal: &Journal) -> Result<()> {
    let mut html = String::new();
    let title = format!("cigna-setup run {}", journal.run_id);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = escape(&title),
    );
    let _ = write!(
        html,
        "<p>Flow <b>{}</b> — status <b class=\"{}\">{}</b></p>",
        escape(journal.flow()),
        status_word(journal.status()).replace(' ', "-"),
        escape(status_word(journal.status()))
    );
    if let Some(next) = next_command(journal) {
        let _ = write!(html, "<p>Next: <code>{}</code></p>", escape(&next));
    }
    let artifacts = journal.dir.join("artifacts");

    // The failure first: it is what the reader came for.
    if let Some(failed) = journal.steps.iter().find(|s| s.status == Status::Failed) {
        let id = escape(&failed.id);
        let _ = write!(
            html,
            "<section class=\"failure\" id=\"failure\" aria-labelledby=\"failure-title\">\
             <h2 id=\"failure-title\">Failed at step {id}</h2>"
        );
        if let Some(err) = &failed.error {
            let _ = write!(html, "<p class=\"failed\">{}</p>", escape(err));
        }
        if artifacts.join(&failed.id).join("screenshot.png").is_file() {
            let _ = write!(
                html,
                "<img alt=\"the page when step {id} failed\" \
                 src=\"artifacts/{id}/screenshot.png\">\
                 <p><a href=\"artifacts/{id}/page.html\">the page (secrets redacted)</a> · \
                 <a href=\"#{id}\">the step's log</a></p>"
            );
        }
        html.push_str("</section>");
    }

    let longest = journal
        .steps
        .iter()
        .filter_map(|s| s.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    html.push_str(
        "<section aria-labelledby=\"timeline-title\"><h2 id=\"timeline-title\">Timeline</h2>\
         <p class=\"legend\"><span style=\"background:#4a7bd0\"></span>the browser\
         <span style=\"background:#f2b233\"></span>waiting for the code email</p>\
         <ol class=\"timeline\">",
    );
    for (i, s) in journal.steps.iter().enumerate() {
        let id = escape(&s.id);
        let word = status_word(&s.status);
        let class = word.replace(' ', "-");
        let (width, said) = match s.duration_ms {
            Some(ms) => {
                let mail = s.mailbox_wait_ms.unwrap_or(0).min(ms);
                let said = if mail > 0 {
                    format!(
                        "{}, {} of it waiting for the code email",
                        seconds(ms),
                        seconds(mail)
                    )
                } else {
                    seconds(ms)
                };
                (ms as f64 * 100.0 / longest as f64, said)
            }
            None => (0.0, word.to_string()),
        };
        let mail = match (s.duration_ms, s.mailbox_wait_ms) {
            (Some(ms), Some(mail)) if ms > 0 && mail > 0 => format!(
                "<span class=\"mail\" style=\"width:{:.1}%\"></span>",
                mail.min(ms) as f64 * 100.0 / ms as f64
            ),
            _ => String::new(),
        };
        let _ = write!(
            html,
            "<li><a href=\"#{id}\">{n}. {id}</a><span class=\"track\">\
             <span class=\"bar {class}\" role=\"img\" aria-label=\"{id}: {said_e}\" \
             data-ms=\"{ms}\" data-mailbox-ms=\"{mail_ms}\" style=\"width:{width:.2}%\">{mail}</span>\
             </span><span class=\"{class}\">{said_e}</span></li>",
            n = i + 1,
            said_e = escape(&if s.duration_ms.is_some() && s.status != Status::Done {
                format!("{word}, {said}")
            } else {
                said
            }),
            ms = s.duration_ms.unwrap_or(0),
            mail_ms = s.mailbox_wait_ms.unwrap_or(0),
        );
    }
    html.push_str("</ol></section>");

    let pictured: Vec<(usize, &crate::journal::StepRecord, &str)> = journal
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| picture(&artifacts, &s.id).map(|p| (i, s, p)))
        .collect();
    if !pictured.is_empty() {
        html.push_str(
            "<section aria-labelledby=\"strip-title\"><h2 id=\"strip-title\">How each step left \
             the page</h2><ol class=\"strip\">",
        );
        for (i, s, file) in pictured {
            let id = escape(&s.id);
            let word = status_word(&s.status);
            let _ = write!(
                html,
                "<li><figure class=\"{class}\"><a href=\"artifacts/{id}/{file}\">\
                 <img src=\"artifacts/{id}/{file}\" alt=\"step {n}, {id}, as it ended ({word})\"></a><figcaption>{n}. {id}</figcaption></figure></li>",
                class = word.replace(' ', "-"),
                n = i + 1,
            );
        }
        html.push_str("</ol></section>");
    }

    html.push_str(
        "<h2>Steps</h2><table><tr><th>#</th><th>step</th><th>status</th><th>attempts</th>\
         <th>duration</th><th>waiting on the page</th><th>round trips</th><th>code email</th>\
         <th>error</th></tr>",
    );
    let ms = |d: Option<u64>| d.map(|d| format!("{d} ms")).unwrap_or_default();
    for (i, s) in journal.steps.iter().enumerate() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td><a href=\"#{id}\">{id}</a></td><td class=\"{cls}\">{st}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            s.attempts,
            ms(s.duration_ms),
            ms(s.page_wait_ms),
            ms(s.round_trip_ms),
            ms(s.mailbox_wait_ms),
            escape(s.error.as_deref().unwrap_or("")),
            id = escape(&s.id),
            cls = status_word(&s.status).replace(' ', "-"),
            st = status_word(&s.status),
        );
    }
    html.push_str("</table>");
    for s in &journal.steps {
        let dir = artifacts.join(&s.id);
        if !dir.is_dir() {
            continue;
        }
        let _ = write!(html, "<h2 id=\"{id}\">{id}</h2>", id = escape(&s.id));
        if let Some(err) = &s.error {
            let _ = write!(html, "<p class=\"failed\">{}</p>", escape(err));
        }
        if dir.join("screenshot.png").is_file() && s.status != Status::Failed {
            let _ = write!(
                html,
                "<img class=\"shot\" alt=\"screenshot of step {id}\" \
                 src=\"artifacts/{id}/screenshot.png\" loading=\"lazy\">",
                id = escape(&s.id)
            );
        }
        if dir.join("page.html").is_file() {
            let _ = write!(
                html,
                "<p><a href=\"artifacts/{id}/page.html\">page (secrets redacted)</a></p>",
                id = escape(&s.id)
            );
        }
        if let Ok(log) = std::fs::read_to_string(dir.join("log.txt")) {
            let _ = write!(html, "<pre>{}</pre>", escape(&log));
        }
    }
    html.push_str("</body></html>\n");
    let html = secrets::global().redact(&html);
    journal::write_atomic(&journal.dir.join("report.html"), html.as_bytes(), 0o600)
}

/// The report's path, if the run has one.
pub fn path(run_dir: &Path) -> Option<std::path::PathBuf> {
    let p = run_dir.join("report.html");
    p.is_file().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn a_pasted_command_keeps_each_value_one_word() {
        assert_eq!(shell_word("admin@zuub.com"), "admin@zuub.com");
        assert_eq!(shell_word("https://x.example/"), "https://x.example/");
        assert_eq!(shell_word("(555) 123-4567"), "'(555) 123-4567'");
        assert_eq!(shell_word("o'neil@zuub.com"), "'o'\\''neil@zuub.com'");
        assert_eq!(shell_word(""), "''");
    }
}
