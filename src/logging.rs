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

/// Warnings by default (errors only with `quiet`); `-v` debug, `-vv` trace for our crate;
/// RUST_LOG overrides all. With `json`, one JSON object per event (for CI).
pub fn init(verbose: u8, quiet: bool, json: bool) {
    let default = match verbose {
        0 if quiet => "error,chromiumoxide=off",
        0 => "warn,chromiumoxide=off",
        1 => "warn,cigna_setup=debug,chromiumoxide=off",
        _ => "info,cigna_setup=trace,chromiumoxide=warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting)
        .with_ansi(false)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
