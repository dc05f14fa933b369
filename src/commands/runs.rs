//! `cigna-setup runs` and `cigna-setup show RUN`: what runs there are, and one run in detail.

use anyhow::Result;
use serde_json::json;

use crate::cli::{RunsArgs, ShowArgs};
use crate::journal::{Journal, Status};
use crate::report;
use crate::settings;

fn failed_step(j: &Journal) -> Option<&str> {
    j.steps
        .iter()
        .find(|s| s.status == Status::Failed)
        .map(|s| s.id.as_str())
}

fn age(started_at: &str) -> String {
    let Ok(t) =
        time::OffsetDateTime::parse(started_at, &time::format_description::well_known::Rfc3339)
    else {
        return "?".into();
    };
    let secs = (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn status_text(s: &Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn runs(args: RunsArgs) -> Result<()> {
    let dir = args.runs_dir.unwrap_or_else(settings::default_runs_dir);
    let runs = Journal::list(&dir);
    if args.json {
        let list: Vec<_> = runs
            .iter()
            .map(|j| {
                json!({
                    "run_id": j.run_id, "flow": j.flow(),
                    "tin": j.input("tin"), "status": j.status(),
                    "failed_step": failed_step(j), "started_at": j.started_at(),
                    "next": report::next_command(j),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!("no runs in {}", dir.display());
        return Ok(());
    }
    println!(
        "{:<36} {:<9} {:<10} {:<17} {:<26} {:>5}",
        "RUN", "FLOW", "TIN", "STATUS", "FAILED STEP", "AGE"
    );
    for j in &runs {
        println!(
            "{:<36} {:<9} {:<10} {:<17} {:<26} {:>5}",
            j.run_id,
            j.flow(),
            j.input("tin").and_then(|v| v.as_str()).unwrap_or("-"),
            status_text(j.status()),
            failed_step(j).unwrap_or("-"),
            age(j.started_at())
        );
    }
    Ok(())
}

pub fn show(args: ShowArgs) -> Result<()> {
    let dir = args.runs_dir.unwrap_or_else(settings::default_runs_dir);
    let j = Journal::open(&dir, &args.run)?;
    report::write(&j)?;
    if args.json {
        let steps: Vec<_> = j.steps.iter().map(|s| json!(s)).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_id": j.run_id, "flow": j.flow(), "status": j.status(),
                "dir": j.dir, "steps": steps, "next": report::next_command(&j),
                "report": report::path(&j.dir),
            }))?
        );
        return Ok(());
    }
    println!(
        "run {} — flow {}, status {}, started {}",
        j.run_id,
        j.flow(),
        status_text(j.status()),
        j.started_at()
    );
    for (i, s) in j.steps.iter().enumerate() {
        let took = s.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default();
        println!(
            "{:>3}. {:<26} {:<8} {:>9}  attempts {}",
            i + 1,
            s.id,
            status_text(&s.status),
            took,
            s.attempts
        );
        if let Some(err) = &s.error {
            println!("       {err}");
        }
        let artifacts = j.dir.join("artifacts").join(&s.id);
        if artifacts.is_dir() {
            println!("       artifacts: {}", artifacts.display());
        }
    }
    if let Some(p) = report::path(&j.dir) {
        println!("report: {}", p.display());
    }
    if let Some(next) = report::next_command(&j) {
        println!("next: {next}");
    }
    Ok(())
}
