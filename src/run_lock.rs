//! One process at a time per run: `resume`, `step` and `activate` of a run that is running
//! elsewhere are refused instead of racing it for the journal and the browser profile.
//!
//! The lock is `flock(2)` on `run.lock` in the run's directory, which holds the owner's pid for
//! the message. The kernel drops it when the owner exits however it exits (kill -9 included), so
//! a lock is never stale: a browser found on a run's profile while we hold its lock is an orphan
//! (`browser::release_profile` may stop it), never a live run's.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error;

/// Held for as long as a run is being worked on; dropped, the lock is released.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the run's lock, or fails with exit 2 naming the process that has it.
    pub fn take(run_dir: &Path, run_id: &str) -> Result<RunLock> {
        let path = run_dir.join("run.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock(2) on a descriptor we own; no memory is passed.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !taken {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("process {holder}")
            };
            return Err(error::bad_input(format!(
                "run {run_id} is being worked on by {who}: wait until it ends (`cigna-setup \
                 runs` shows its status), or stop it first (kill {})",
                if holder.is_empty() { "PID" } else { holder }
            )));
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::RunLock;

    #[test]
    fn a_second_taker_is_refused_naming_the_holder_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::take(dir.path(), "existing-1").unwrap();
        let err = RunLock::take(dir.path(), "existing-1").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("run existing-1 is being worked on"), "{text}");
        assert_eq!(crate::error::exit_code(&err), 2, "{text}");
        drop(first);
        RunLock::take(dir.path(), "existing-1").expect("free once the first let go");
    }
}
