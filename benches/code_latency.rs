//! Benchmark: how soon a code email is returned once it is in the mailbox. For each delivery,
//! the time from the IMAP APPEND of the code email (sent over a second, already logged-in
//! session, as the portal's mail server would deliver it) to `Mailbox::wait_code` returning the
//! code; median and p95 over DELIVERIES deliveries, with IDLE and with polling (a Dovecot
//! without IDLE, `--poll-every` at its default 2 s). Each email is sent at a random moment up to
//! one poll interval after the wait began, as real mail arrives at any phase of the polling.
//! Figures only: nothing here asserts on time.
//!
//! Then, with IDLE, one delivery each 5, 20 and 60 s after the mark (inside and past the window
//! in which new mail is looked for with NOOP), printing the pickup and the IMAP commands the
//! wait sent per second (its commands over its length, counting a wait shorter than a second as
//! one second: the rule is at most 10 in any second).
//!
//! Run: `cargo bench --bench code_latency` (DELIVERIES=50 by default; POLL_EVERY=2s;
//! LATE=5,20,60 in seconds, LATE= to skip).

mod support;

use std::time::{Duration, Instant};

use cigna_fixture::dovecot::{Dovecot, DovecotOptions};
use cigna_setup::mail::{Appender, Mailbox};

/// The portal's sender and subject, as the bench's emails carry them.
const PORTAL_SENDER: &str = "no-reply@cignaforhcp.cigna.com";
const PORTAL_SUBJECT: &str = "Your Cigna for HCP verification code";
const USER: &str = "codes@zuub.com";
const PASSWORD: &str = "bench-mailbox-pw";
const OFFICE: &str = "office.admin@zuub.com";

fn code_email(to: &str, code: &str) -> Vec<u8> {
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    format!(
        "From: Cigna for HCP <{PORTAL_SENDER}>\r\nTo: {to}\r\nSubject: {PORTAL_SUBJECT}\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your Cigna for HCP verification code is: {code}\r\nIt is valid for 24 hours.\r\n"
    )
    .into_bytes()
}

/// APPEND → code, in milliseconds, and the wait's IMAP commands per second, for each delivery.
/// `at`: when each email arrives after the mark; `None` is at random within one poll interval.
async fn measure(
    idle: bool,
    deliveries: usize,
    poll_every: Duration,
    at: Option<&[Duration]>,
) -> Vec<(f64, f64)> {
    let dovecot = tokio::task::spawn_blocking(move || {
        Dovecot::start(DovecotOptions {
            users: vec![(USER.into(), PASSWORD.into())],
            idle,
            ..DovecotOptions::default()
        })
    })
    .await
    .unwrap()
    .expect("Dovecot must start (apt-get install -y dovecot-imapd)");
    let mut config = support::mailbox(&dovecot, USER);
    config.poll_every = poll_every;
    let mailbox = Mailbox::open(config.clone());
    mailbox.ready().await.expect("mailbox ready");
    let deliverer = config.clone();
    let mut appender = tokio::task::spawn_blocking(move || Appender::connect(&deliverer))
        .await
        .unwrap()
        .expect("delivering session");

    let mut samples = Vec::with_capacity(deliveries);
    for i in 0..deliveries {
        let mark = mailbox.mark().await.expect("mark");
        // A decoy for another office first, as the portal's mail often comes.
        let code = format!("{:06}", 100_000 + i * 7919 % 900_000);
        let decoy = code_email("front.desk@smiles.example", "222222");
        let real = code_email(OFFICE, &code);
        // The mail's arrival time, not a wait for anything.
        let arrival = match at {
            Some(at) => at[i],
            None => poll_every.mul_f64(rand::random::<f64>()),
        };
        let commands_before = mailbox.commands_sent();
        let waited = Instant::now();
        let (found, (appender_back, appended_at)) = tokio::join!(
            mailbox.wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(90)),
            async move {
                tokio::time::sleep(arrival).await;
                tokio::task::spawn_blocking(move || {
                    appender.append(&decoy).expect("APPEND");
                    let at = Instant::now();
                    appender.append(&real).expect("APPEND");
                    (appender, at)
                })
                .await
                .unwrap()
            }
        );
        appender = appender_back;
        let found = found.expect("the code arrives");
        let elapsed = appended_at.elapsed();
        let per_sec = (mailbox.commands_sent() - commands_before) as f64
            / waited.elapsed().as_secs_f64().max(1.0);
        assert_eq!(found.code, code, "delivery {i}: the right code");
        samples.push((elapsed.as_secs_f64() * 1000.0, per_sec));
    }
    appender.close();
    drop(mailbox);
    let _ = tokio::task::spawn_blocking(move || drop(dovecot)).await;
    samples
}

fn main() {
    let deliveries: usize = std::env::var("DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let poll_every = std::env::var("POLL_EVERY")
        .ok()
        .map(|v| cigna_setup::settings::parse_duration(&v, "POLL_EVERY").expect("POLL_EVERY"))
        .unwrap_or(cigna_setup::mail::DEFAULT_POLL_EVERY);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!(
            "code latency: IMAP APPEND of the code email → code returned, {deliveries} deliveries"
        );
        let idle = measure(true, deliveries, poll_every, None).await;
        support::summary("with IDLE", "ms", idle.iter().map(|s| s.0).collect());
        support::summary(
            "  IMAP commands per second",
            "/s",
            idle.iter().map(|s| s.1).collect(),
        );
        let polled = measure(false, deliveries, poll_every, None).await;
        support::summary(
            &format!("polling every {}s (no IDLE)", poll_every.as_secs_f32()),
            "ms",
            polled.iter().map(|s| s.0).collect(),
        );
        support::summary(
            "  IMAP commands per second",
            "/s",
            polled.iter().map(|s| s.1).collect(),
        );
        let late: Vec<Duration> = std::env::var("LATE")
            .unwrap_or_else(|_| "5,20,60".into())
            .split(',')
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .map(Duration::from_secs_f64)
            .collect();
        if !late.is_empty() {
            let samples = measure(true, late.len(), poll_every, Some(&late)).await;
            for (after, (pickup, per_sec)) in late.iter().zip(samples) {
                println!(
                    "with IDLE, delivered {:>4.0} s after the mark   pickup {pickup:7.1} ms   {per_sec:4.1} IMAP commands/s",
                    after.as_secs_f64()
                );
            }
        }
    });
}
