//! Benchmark: the whole existing-account flow against the fixture portal and a real Dovecot,
//! run by the release binary as a user would. Prints wall time (browser start included), peak
//! RSS of our own process (VmHWM; Chromium excluded), and the time from the mailbox's IDLE
//! notice to the code being returned. Figures only — nothing here asserts on time.
//!
//! Then where the wall time went, summed over the run from the tool's debug log: starting the
//! browser (and the mailbox beside it), the steps split into waiting on the page (navigations,
//! documents loading, content appearing), our own round trips (requests less their in-page
//! waits, mouse and key events), the code email, and the engine's own work; the step
//! pictures; closing the browser; and the rest (process start and exit).
//!
//! Run: `cargo bench --bench existing_flow` (RUNS=10 to change the count; CIGNA_BROWSER=PATH
//! to run another browser).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cigna_fixture::dovecot::{Dovecot, DovecotOptions};
use cigna_fixture::{PortalConfig, RunningPortal};

const OFFICE_PASSWORD: &str = "Office#Pass2026";
const MAILBOX_PASSWORD: &str = "bench-mailbox-pw";

struct Sample {
    wall: Duration,
    peak_rss_kib: u64,
    idle_to_code_ms: Option<f64>,
    split: Split,
}

/// Where one run's time went, in milliseconds (see the module's header).
#[derive(Default)]
struct Split {
    start: f64,
    steps: f64,
    page: f64,
    round_trips: f64,
    mailbox: f64,
    engine: f64,
    pictures: f64,
    close: f64,
}

impl Split {
    fn of(log: &str) -> Split {
        let ms = |line: &str, name: &str| field(line, name).map_or(0.0, |us| us / 1000.0);
        let mut split = Split::default();
        for line in log.lines() {
            if line.contains("step figures") {
                split.steps += ms(line, "duration_us");
                split.page += ms(line, "page_wait_us");
                split.round_trips += ms(line, "round_trip_us");
                split.mailbox += ms(line, "mailbox_us");
                split.engine += ms(line, "other_us");
                split.pictures += ms(line, "picture_us");
            } else if line.contains("browser started") {
                split.start += ms(line, "elapsed_us");
            } else if line.contains("browser closed") {
                split.close += ms(line, "elapsed_us");
            }
        }
        split
    }
}

/// One line of the split: a run's share of the wall time.
type Part = fn(&Sample) -> f64;

/// The number after `name=` in a log line.
fn field(line: &str, name: &str) -> Option<f64> {
    line.split(&format!("{name}="))
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn one_run(
    dovecot: &Dovecot,
    portal: &RunningPortal,
    i: usize,
    runs: &std::path::Path,
) -> Sample {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cigna-setup"))
        .args([
            "existing",
            "--tin",
            "123456789",
            "--email",
            &format!("bench{i}@codes.zuub.test"),
            "--phone",
            "5551234567",
            "--portal-url",
            portal.url(),
            "--office-user",
            "office.manager",
            "--imap-url",
            &dovecot.imaps_url("codes"),
            "--imap-ca",
            &dovecot.ca_file().to_string_lossy(),
            "--runs-dir",
            &runs.to_string_lossy(),
            // One portal serves every run: distinct User IDs keep runs alike.
            "--user-id",
            &format!("benchuser{i}"),
        ])
        .env("CIGNA_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("CIGNA_IMAP_PASSWORD", MAILBOX_PASSWORD)
        .env(
            "RUST_LOG",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| {
                "warn,cigna_setup::mail=debug,cigna_setup::engine=debug,\
                 cigna_setup::commands::run=debug,cigna_setup::browser=debug"
                    .into()
            }),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cigna-setup");
    let pid = child.id().expect("pid");
    let mut stderr = child.stderr.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut s)
            .await
            .ok();
        s
    });
    // VmHWM only grows: the last reading before exit is the peak (to within the poll).
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        tokio::select! {
            st = child.wait() => break st.expect("wait"),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    };
    let wall = started.elapsed();
    let log = reader.await.unwrap();
    assert!(status.success(), "run {i} failed:\n{log}");
    if let Some(show) = std::env::var_os("SHOW_STEPS") {
        // SHOW_STEPS=all prints the whole log (timestamps show what happens between actions).
        let all = show == "all";
        for line in log.lines().filter(|l| {
            all || l.starts_with('[') || l.contains("elapsed_us") || l.contains("figures")
        }) {
            println!("    {line}");
        }
    }
    let idle_to_code_ms = log
        .lines()
        .filter_map(|l| field(l, "idle_to_code_us"))
        .map(|us| us / 1000.0)
        .next_back();
    Sample {
        wall,
        peak_rss_kib: peak,
        idle_to_code_ms,
        split: Split::of(&log),
    }
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dovecot = tokio::task::spawn_blocking(|| {
            Dovecot::start(DovecotOptions {
                users: vec![("codes".into(), MAILBOX_PASSWORD.into())],
                ..DovecotOptions::default()
            })
        })
        .await
        .unwrap()
        .expect("Dovecot");
        let mailbox = support::mailbox(&dovecot, "codes");
        let portal = RunningPortal::start(PortalConfig {
            office_user: "office.manager".into(),
            office_password: OFFICE_PASSWORD.into(),
            office_tins: vec!["123456789".into(), "987654321".into()],
            office_name: "Zuub Family Dental".into(),
            deliver: Some(Arc::new(move |raw: &[u8]| {
                cigna_setup::mail::append(&mailbox, raw)
            })),
            // No artificial delays: the figure is the tool's, not the fixture's habits'.
            late_render_max_ms: std::env::var("LATE_RENDER_MAX_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            auto_approve_after: None,
            faults: Vec::new(),
            office_2fa: false,
            skin: cigna_fixture::Skin::Classic,
            office_role: cigna_fixture::OfficeRole::AccessManager,
        })
        .await
        .expect("fixture portal");
        let runs_dir = tempfile::tempdir().unwrap();
        let mut samples = Vec::new();
        for i in 0..runs {
            let s = one_run(&dovecot, &portal, i, runs_dir.path()).await;
            println!(
                "run {i}: wall {:.0} ms, peak RSS {:.1} MiB, IDLE notice → code {}",
                s.wall.as_secs_f64() * 1000.0,
                s.peak_rss_kib as f64 / 1024.0,
                s.idle_to_code_ms
                    .map_or("n/a".to_string(), |ms| format!("{ms:.1} ms"))
            );
            samples.push(s);
        }
        println!("existing flow, {runs} runs, fixture portal + Dovecot on loopback:");
        support::summary(
            "wall (incl. browser start)",
            "ms",
            samples
                .iter()
                .map(|s| s.wall.as_secs_f64() * 1000.0)
                .collect(),
        );
        support::summary(
            "peak RSS, cigna-setup",
            "MiB",
            samples
                .iter()
                .map(|s| s.peak_rss_kib as f64 / 1024.0)
                .collect(),
        );
        support::summary(
            "IDLE notice → code",
            "ms",
            samples.iter().filter_map(|s| s.idle_to_code_ms).collect(),
        );
        println!("where the wall time went, per run:");
        let parts: [(&str, Part); 10] = [
            ("  browser start (+ mailbox)", |s| s.split.start),
            ("  steps", |s| s.split.steps),
            ("    waiting on the page", |s| s.split.page),
            ("    our round trips", |s| s.split.round_trips),
            ("    the code email", |s| s.split.mailbox),
            ("    engine (journal, …)", |s| s.split.engine),
            ("  step pictures", |s| s.split.pictures),
            ("  browser close", |s| s.split.close),
            ("  process start and exit", |s| {
                s.wall.as_secs_f64() * 1000.0
                    - s.split.start
                    - s.split.steps
                    - s.split.pictures
                    - s.split.close
            }),
            ("  page's share of waits + trips %", |s| {
                100.0 * s.split.page / (s.split.page + s.split.round_trips).max(1e-9)
            }),
        ];
        for (name, part) in parts {
            let unit = if name.ends_with('%') { "%" } else { "ms" };
            support::summary(name, unit, samples.iter().map(part).collect());
        }
        portal.stop().await.ok();
    });
}
