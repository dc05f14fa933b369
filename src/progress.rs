//! What the person (or the CI log) sees while a run goes: a spinner with the current step and
//! its elapsed time on a terminal, plain `[3/16] fill-user-info ok 412ms` lines otherwise, one
//! JSON object per line with `--log-format json`, nothing with `--quiet`. Every line passes the
//! redactor.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::secrets;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One line per step and note.
    Lines,
    /// Lines, plus a spinner line for the step under way (stderr is a terminal).
    Spinner,
    /// One JSON object per line.
    Json,
    /// Nothing.
    Quiet,
}

static STYLE: OnceLock<Style> = OnceLock::new();

/// The step under way, for the spinner: its label and when it started.
static CURRENT: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// Chooses the style once, at start-up.
pub fn init(quiet: bool, json: bool) {
    let style = if quiet {
        Style::Quiet
    } else if json {
        Style::Json
    } else if std::io::stderr().is_terminal() {
        Style::Spinner
    } else {
        Style::Lines
    };
    if STYLE.set(style).is_ok() && style == Style::Spinner {
        let _ = std::thread::Builder::new()
            .name("spinner".into())
            .spawn(spin);
    }
}

fn style() -> Style {
    *STYLE.get().unwrap_or(&Style::Lines)
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        }
    }
}

/// A step begins: the spinner shows it.
pub fn step_started(n: usize, total: usize, id: &str) {
    if style() == Style::Spinner {
        *lock() = Some((format!("[{n}/{total}] {id}"), Instant::now()));
    }
}

/// Stops the spinner until the next step starts (a question is about to be asked).
pub fn pause_spinner() {
    if style() == Style::Spinner {
        let mut current = lock();
        if current.take().is_some() {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

/// A step ended: `[n/total] id ok 412ms` (with `why` for a skipped one).
pub fn step_finished(
    n: usize,
    total: usize,
    id: &str,
    outcome: Outcome,
    elapsed: Duration,
    why: Option<&str>,
) {
    if style() == Style::Spinner {
        *lock() = None;
    }
    match style() {
        Style::Quiet => {}
        Style::Json => emit(json!({
            "kind": "step", "step": id, "n": n, "total": total, "outcome": outcome.word(),
            "elapsed_ms": elapsed.as_millis() as u64, "note": why,
        })),
        Style::Lines | Style::Spinner => {
            let text = match (outcome, why) {
                (Outcome::Skipped, Some(why)) => format!("[{n}/{total}] {id} skipped: {why}"),
                (Outcome::Failed, _) => {
                    format!("[{n}/{total}] {id} FAILED after {}", human(elapsed))
                }
                _ => format!("[{n}/{total}] {id} {} {}", outcome.word(), human(elapsed)),
            };
            print_line(&text);
        }
    }
}

/// A note about the run (a retry, a resend, the run id): one line.
pub fn note(text: &str) {
    match style() {
        Style::Quiet => {}
        Style::Json => emit(json!({"kind": "note", "message": text.trim()})),
        Style::Lines | Style::Spinner => print_line(text),
    }
}

/// The error that ends the command: `error: …` (or a JSON object), redacted, printed once.
/// Shown even with `--quiet`.
pub fn error(err: &anyhow::Error) {
    let message = format!("{err:#}");
    if style() == Style::Json {
        emit(json!({
            "kind": "error", "message": message, "exit": crate::error::exit_code(err),
        }));
    } else {
        print_line(&format!("error: {message}"));
    }
}

fn emit(mut value: serde_json::Value) {
    value["timestamp"] = crate::journal::now_rfc3339().into();
    print_line(&value.to_string());
}

/// A formatted (and redacted) log event: written whole, after clearing the spinner's line.
pub fn write_log(text: &str) {
    let _guard = lock();
    let mut err = std::io::stderr().lock();
    if style() == Style::Spinner {
        let _ = write!(err, "\r\x1b[2K");
    }
    let _ = err.write_all(text.as_bytes());
}

/// Writes one redacted line, clearing the spinner's line first on a terminal.
fn print_line(text: &str) {
    write_log(&format!("{}\n", secrets::global().redact(text)));
}

fn lock() -> std::sync::MutexGuard<'static, Option<(String, Instant)>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Redraws the spinner line ten times a second while a step is under way.
fn spin() {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let mut frame = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let current = lock();
        if let Some((label, started)) = current.as_ref() {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K{} {label} {}",
                FRAMES[frame % FRAMES.len()],
                human(started.elapsed())
            );
            let _ = err.flush();
            frame += 1;
        }
    }
}

/// 412ms, 2.3s.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
