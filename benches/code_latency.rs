//! Benchmark: how soon a code email is returned once it is in the mailbox. For each delivery,
//! the time from the IMAP APPEND of the code email (sent over a second, already logged-in
//! session, as the portal's mail server would deliver it) to `Mailbox::wait_code` returning the
//! code; median and p95 over DELIVERIES deliveries, with IDLE and with polling (a Dovecot
//! without IDLE, `--poll-every` at its default 2 s). Each email is sent at a random moment up to
//! one poll interval after the wait began, as real mail arrives at any phase of the polling.
//! Figures only: nothing here asserts on time.
//!
//! Run: `cargo bench --bench code_latency` (DELIVERIES=50 by default; POLL_EVERY=2s).

mod support;

use std::time::{Duration, Instant};

use cigna_setup::dovecot::{Dovecot, DovecotOptions};
use cigna_setup::mail::{Appender, Mailbox, PORTAL_SENDER, PORTAL_SUBJECT};

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

/// APPEND → code, in milliseconds, for each delivery.
async fn measure(idle: bool, deliveries: usize, poll_every: Duration) -> Vec<f64> {
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
    let mut config = dovecot.mailbox(USER);
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
        let arrival = poll_every.mul_f64(rand::random::<f64>());
        let (found, (appender_back, appended_at)) = tokio::join!(
            mailbox.wait_code(&mark, OFFICE, Duration::from_secs(30)),
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
        assert_eq!(found.code, code, "delivery {i}: the right code");
        samples.push(elapsed.as_secs_f64() * 1000.0);
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
        let idle = measure(true, deliveries, poll_every).await;
        support::summary("with IDLE", "ms", idle);
        let polled = measure(false, deliveries, poll_every).await;
        support::summary(
            &format!("polling every {}s (no IDLE)", poll_every.as_secs_f32()),
            "ms",
            polled,
        );
    });
}
