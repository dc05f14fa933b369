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
        Status::Active => "active",
        Status::Skipped => "skipped",
    }
}

/// What to run next for a run in this state.
pub fn next_command(journal: &Journal) -> Option<String> {
    let id = &journal.run_id;
    match journal.status() {
        Status::Active | Status::Done => None,
        Status::PendingApproval => Some(format!("cigna-setup activate {id}")),
        _ if journal.flow() == "register"
            && journal
                .steps
                .iter()
                .any(|s| s.id == "review-submit" && s.status == Status::Done) =>
        {
            Some(format!("cigna-setup activate {id}"))
        }
        _ => Some(format!("cigna-setup resume {id}")),
    }
}

/// Writes `report.html` into the run directory; every text passes the redactor.
pub fn write(journal: &Journal) -> Result<()> {
    let mut html = String::new();
    let title = format!("cigna-setup run {}", journal.run_id);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}}\
         .failed{{color:#b00020;font-weight:600}}.done,.active{{color:#1b5e20}}\
         img{{max-width:640px;border:1px solid #ccc;margin:.5rem 0}}pre{{background:#f6f6f6;padding:.5rem;white-space:pre-wrap}}</style>\
         </head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
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
    html.push_str(
        "<h2>Steps</h2><table><tr><th>#</th><th>step</th><th>status</th><th>attempts</th>\
         <th>duration</th><th>error</th></tr>",
    );
    for (i, s) in journal.steps.iter().enumerate() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td><a href=\"#{id}\">{id}</a></td><td class=\"{cls}\">{st}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            s.attempts,
            s.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default(),
            escape(s.error.as_deref().unwrap_or("")),
            id = escape(&s.id),
            cls = status_word(&s.status).replace(' ', "-"),
            st = status_word(&s.status),
        );
    }
    html.push_str("</table>");
    let artifacts = journal.dir.join("artifacts");
    for s in &journal.steps {
        let dir = artifacts.join(&s.id);
        if !dir.is_dir() {
            continue;
        }
        let _ = write!(html, "<h2 id=\"{id}\">{id}</h2>", id = escape(&s.id));
        if let Some(err) = &s.error {
            let _ = write!(html, "<p class=\"failed\">{}</p>", escape(err));
        }
        if dir.join("screenshot.png").is_file() {
            let _ = write!(
                html,
                "<img alt=\"screenshot of step {id}\" src=\"artifacts/{id}/screenshot.png\">\
                 <p><a href=\"artifacts/{id}/page.html\">page (secrets redacted)</a></p>",
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
