//! The signals that stop a run: Ctrl-C (SIGINT), `kill` (SIGTERM: what `timeout`, systemd, a CI
//! cancel and a pod stop send) and a closed terminal (SIGHUP). Each is handled like the others:
//! the browser is closed, the journal kept, and the exit code says which signal it was. Without
//! this, SIGTERM and SIGHUP ended the process at once and left its Chromium running.

use crate::error::{Exit, Failure};

/// The stop signals, listened for from the moment this is made (a signal that arrives before
/// `stopped` is awaited is kept, not lost).
pub struct StopSignals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Takes over SIGINT, SIGTERM and SIGHUP for the rest of the process's life. A signal that
    /// cannot be listened for keeps its default action (it ends the process).
    pub fn listen() -> StopSignals {
        use tokio::signal::unix::{signal, SignalKind};
        StopSignals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Resolves with the exit code for the first stop signal received.
    pub async fn stopped(&mut self) -> Exit {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.interrupt) => Exit::Interrupted,
            _ = next(&mut self.terminate) => Exit::Terminated,
            _ = next(&mut self.hangup) => Exit::HungUp,
        }
    }

    /// `stopped`, as the error that ends the run: `what` says what was going on.
    pub async fn failure(&mut self, what: &str) -> anyhow::Error {
        let exit = self.stopped().await;
        let by = match exit {
            Exit::Terminated => " by SIGTERM",
            Exit::HungUp => " by SIGHUP (the terminal closed)",
            _ => "",
        };
        Failure::error(exit, format!("interrupted{by} {what}"))
    }
}
