//! What the benchmarks share: the one way figures are summarised and printed, and the tool's
//! settings for a throwaway Dovecot's mailbox.

use cigna_fixture::dovecot::Dovecot;
use cigna_setup::mail::{MailboxConfig, Security};

/// A MailboxConfig for `user` of the throwaway Dovecot (imaps, its CA trusted, its password).
#[allow(dead_code)] // locate_cost has no mailbox.
pub fn mailbox(dovecot: &Dovecot, user: &str) -> MailboxConfig {
    cigna_setup::commands::dovecot_mailbox(dovecot, user, Security::Tls)
}

/// The `p`-th percentile (0.0–1.0) of sorted samples, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One line: median, p95, min, max and the sample count.
pub fn summary(name: &str, unit: &str, mut v: Vec<f64>) {
    if v.is_empty() {
        println!("{name:<34} n/a");
        return;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name:<34} median {:>8.1} {unit}   p95 {:>8.1} {unit}   min {:>8.1}   max {:>8.1}   (n={})",
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        v[0],
        v[v.len() - 1],
        v.len()
    );
}
