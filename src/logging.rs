//! Log output: tracing to stderr, every line passed through the redactor first.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::secrets;

/// Buffers one formatted event and writes it redacted when dropped.
pub struct RedactingWriter {
    buf: Vec<u8>,
}

impl Write for RedactingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        crate::progress::write_log(&secrets::global().redact(&text));
    }
}

pub struct Redacting;

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { buf: Vec::new() }
    }
}

/// Crates whose debug and trace lines carry the browser protocol's traffic: what pages return
/// (a temporary password on the page) before anything registered it as a secret.
const PROTOCOL_TARGETS: &[&str] = &["chromiumoxide", "tungstenite", "async_tungstenite"];

/// Whether an event of `target` at `level` may be logged: the protocol's crates only at warn
/// and above, unless `log_cdp`.
pub fn protocol_allows(target: &str, level: &tracing::Level, log_cdp: bool) -> bool {
    log_cdp
        || *level <= tracing::Level::WARN
        || !PROTOCOL_TARGETS.iter().any(|t| {
            target.strip_prefix(t).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with("::") || rest.starts_with('_')
            })
        })
}

/// Warnings by default (errors only with `quiet`); `-v` debug, `-vv` trace for our crate;
/// RUST_LOG overrides all, except that the browser protocol's crates stay at warnings unless
/// `log_cdp` (which warns that secrets will show). With `json`, one JSON object per event.
pub fn init(verbose: u8, quiet: bool, json: bool, log_cdp: bool) {
    let default = match verbose {
        0 if quiet => "error,chromiumoxide=off",
        0 => "warn,chromiumoxide=off",
        1 => "warn,cigna_setup=debug,chromiumoxide=off",
        _ => "info,cigna_setup=trace,chromiumoxide=warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A filter of its own, after RUST_LOG's: no directive there (not even
    // `chromiumoxide::conn=trace`) can lift it.
    let cap = tracing_subscriber::filter::filter_fn(move |meta| {
        protocol_allows(meta.target(), meta.level(), log_cdp)
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting)
        .with_ansi(false)
        .with_target(false);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = if json {
        builder.json().finish().with(cap).try_init()
    } else {
        builder.finish().with(cap).try_init()
    };
    if log_cdp {
        tracing::warn!(
            "--log-cdp: the browser protocol is logged as RUST_LOG asks; its lines can show \
             passwords and codes from the portal's pages before they are known as secrets"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::protocol_allows;
    use tracing::Level;

    #[test]
    fn the_protocol_crates_are_capped_at_warnings_unless_asked() {
        for target in [
            "chromiumoxide",
            "chromiumoxide::conn",
            "chromiumoxide_cdp::cdp",
            "tungstenite::protocol",
            "async_tungstenite",
        ] {
            assert!(!protocol_allows(target, &Level::TRACE, false), "{target}");
            assert!(!protocol_allows(target, &Level::DEBUG, false), "{target}");
            assert!(!protocol_allows(target, &Level::INFO, false), "{target}");
            assert!(protocol_allows(target, &Level::WARN, false), "{target}");
            assert!(protocol_allows(target, &Level::TRACE, true), "{target}");
        }
        for target in ["cigna_setup::engine", "chromiumoxidex", "tungstenite2"] {
            assert!(protocol_allows(target, &Level::TRACE, false), "{target}");
        }
    }
}
