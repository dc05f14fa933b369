//! Benchmark: the whole existing-account flow against the fixture portal and a real Dovecot,
//! run by the release binary as a user would. Prints wall time (browser start included), peak
//! RSS of our own process (VmHWM; Chromium excluded), and the time from the mailbox's IDLE
//! notice to the code being returned. Figures only — nothing here asserts on time.
//!
//! Run: `cargo bench --bench existing_flow` (RUNS=10 to change the count).

mod support;

use std::time::{Duration, Instant};

use cigna_setup::dovecot::{Dovecot, DovecotOptions};
use cigna_setup::fixture::{PortalConfig, RunningPortal};
use cigna_setup::secrets::Secret;

const OFFICE_PASSWORD: &str = "Office#Pass2026";
const MAILBOX_PASSWORD: &str = "bench-mailbox-pw";

struct Sample {
    wall: Duration,
    peak_rss_kib: u64,
    idle_to_code_ms: Option<f64>,
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
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn,cigna_setup::mail=debug".into()),
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
        for line in log
            .lines()
            .filter(|l| all || l.starts_with('[') || l.contains("elapsed_us"))
        {
            println!("    {line}");
        }
    }
    let idle_to_code_ms = log
        .lines()
        .filter(|l| l.contains("idle_to_code_us="))
        .filter_map(|l| {
            l.split("idle_to_code_us=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map(|us| us / 1000.0)
        .next_back();
    Sample {
        wall,
        peak_rss_kib: peak,
        idle_to_code_ms,
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
        let portal = RunningPortal::start(PortalConfig {
            office_user: "office.manager".into(),
            office_password: Secret::new(OFFICE_PASSWORD),
            office_tins: vec!["123456789".into(), "987654321".into()],
            office_name: "Zuub Family Dental".into(),
            mailbox: Some(dovecot.mailbox("codes")),
            // No artificial delays: the figure is the tool's, not the fixture's habits'.
            late_render_max_ms: std::env::var("LATE_RENDER_MAX_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            auto_approve_after: None,
            faults: Vec::new(),
            office_2fa: false,
            skin: cigna_setup::fixture::Skin::Classic,
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
        portal.stop().await.ok();
    });
}
