//! The mailbox session: one std::thread owning the blocking IMAP connection, driven from async
//! code through a request channel.
//!
//! The imap crate blocks, and a blocked IDLE inside `spawn_blocking` would hold up the runtime's
//! shutdown; a plain thread that checks a shutdown flag between short IDLE slices does not.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{oneshot, watch};

use super::connect::{self, Selected, Session};
use super::matching::{self, Arrival, Wanted};
use super::{parse_message, MailboxConfig, Mark, VerificationCode};
use crate::error::{bad_input, environment, verification_code, Exit, Failure};

/// The longest one IDLE wait lasts before the thread looks at its shutdown flag. The server's
/// notice ends a wait at once, so this bounds only how long a drop or cancel takes to be seen.
/// (It also re-issues IDLE far more often than the 25 minutes after which servers may drop an
/// idling client.)
const IDLE_SLICE: Duration = Duration::from_secs(1);
/// Between searches when the server has no IDLE.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often a sleeping poll looks at its shutdown flag.
const POLL_STEP: Duration = Duration::from_millis(50);

/// A mailbox session on its own std::thread. `open` returns at once; TCP connect, TLS, greeting,
/// LOGIN and SELECT proceed in the background so they overlap the browser's start.
pub struct Mailbox {
    requests: mpsc::Sender<Request>,
    shutdown: Arc<AtomicBool>,
    ready: watch::Receiver<Option<Result<(), Shared>>>,
    config: MailboxConfig,
}

/// An error that crossed from the thread: kind and complete message.
#[derive(Clone)]
struct Shared(Exit, String);

impl Shared {
    fn from(err: &anyhow::Error) -> Shared {
        let exit = err
            .chain()
            .find_map(|e| e.downcast_ref::<Failure>())
            .map_or(Exit::Environment, |f| f.exit);
        Shared(exit, format!("{err:#}"))
    }

    fn into_error(self) -> anyhow::Error {
        Failure::error(self.0, self.1)
    }
}

enum Request {
    Mark(oneshot::Sender<anyhow::Result<Mark>>),
    Wait {
        mark: Mark,
        wanted: Wanted,
        timeout: Duration,
        reply: oneshot::Sender<anyhow::Result<VerificationCode>>,
    },
}

impl Mailbox {
    pub fn open(config: MailboxConfig) -> Mailbox {
        let (requests, receiver) = mpsc::channel();
        let shutdown = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = watch::channel(None);
        let worker = Worker {
            config: config.clone(),
            session: None,
            shutdown: shutdown.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("mailbox".into())
            .spawn(move || worker.run(receiver, ready_tx));
        if let Err(e) = spawned {
            // The unspawned closure drops the watch sender: ready() reports the session stopped.
            tracing::error!("cannot start the mailbox thread: {e}");
        }
        Mailbox {
            requests,
            shutdown,
            ready,
            config,
        }
    }

    /// Resolves when login+select finished. Unreachable host, TLS failure or refused login →
    /// an environment error (exit 5) naming the mailbox URL (no password) and the fix.
    pub async fn ready(&self) -> anyhow::Result<()> {
        let mut ready = self.ready.clone();
        let state = ready
            .wait_for(Option::is_some)
            .await
            .map_err(|_| self.stopped())?;
        match state.clone() {
            Some(Ok(())) => Ok(()),
            Some(Err(shared)) => Err(shared.into_error()),
            None => Err(self.stopped()),
        }
    }

    /// UIDVALIDITY + UIDNEXT of the mailbox now (a fresh SELECT), and the time now.
    pub async fn mark(&self) -> anyhow::Result<Mark> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Mark(reply))
            .map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Waits for the newest message with UID >= `mark.uid_next` from the portal's sender to
    /// `to`, arrived after the mark, carrying a code. See `matching` for the rules and the
    /// timeout message (exit 4).
    pub async fn wait_code(
        &self,
        mark: &Mark,
        to: &str,
        timeout: Duration,
    ) -> anyhow::Result<VerificationCode> {
        if !to.contains('@') {
            return Err(bad_input(format!(
                "`{to}` is not an email address: the verification code is looked up by the \
                 account's email address"
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Wait {
                mark: mark.clone(),
                wanted: Wanted::new(to, mark),
                timeout,
                reply,
            })
            .map_err(|_| self.stopped())?;
        // The thread keeps its own deadline; this one only guards against a server that stops
        // answering mid-command (the reply timeout is 30 s).
        let guard = timeout + self.config.connect_timeout + Duration::from_secs(35);
        match tokio::time::timeout(guard, answer).await {
            Ok(answer) => answer.map_err(|_| self.stopped())?,
            Err(_) => Err(environment(format!(
                "the mailbox {} stopped answering while waiting for the verification code",
                self.config.url
            ))),
        }
    }

    fn stopped(&self) -> anyhow::Error {
        environment(format!(
            "the mailbox session for {} stopped unexpectedly (see the log above)",
            self.config.url
        ))
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // The channel closing wakes an idle thread; the flag stops a wait between slices. Not
        // joined: the thread may be inside a one-second IDLE slice and the caller is async.
        self.shutdown.store(true, Ordering::SeqCst);
    }
}

/// Blocking: connect+login and APPEND one raw RFC 5322 message to the configured mailbox.
pub fn append(config: &MailboxConfig, raw: &[u8]) -> anyhow::Result<()> {
    let url = &config.url;
    let mut session = connect::login(config)?;
    session.append(&url.mailbox, raw).map_err(|e| {
        environment(format!(
            "cannot deliver a message to {url}: {e}. Check that the mailbox folder `{}` exists",
            url.mailbox
        ))
    })?;
    let _ = session.logout();
    Ok(())
}

/// Blocking: connect, log in, select the mailbox and log out; `Ok` means the mailbox is usable.
pub fn probe(config: &MailboxConfig) -> anyhow::Result<()> {
    let (mut session, _) = connect::open(config)?;
    let _ = session.logout();
    Ok(())
}

/// The state owned by the mailbox thread.
struct Worker {
    config: MailboxConfig,
    session: Option<(Session, Selected)>,
    shutdown: Arc<AtomicBool>,
}

enum Waited {
    Found(VerificationCode),
    Failed(anyhow::Error),
    Abandoned,
}

impl Worker {
    fn run(
        mut self,
        requests: mpsc::Receiver<Request>,
        ready: watch::Sender<Option<Result<(), Shared>>>,
    ) {
        let started = Instant::now();
        let state = match self.connect() {
            Ok(()) => {
                tracing::debug!(mailbox = %self.config.url, elapsed_ms = started.elapsed().as_millis() as u64, "mailbox ready");
                Ok(())
            }
            Err(e) => Err(Shared::from(&e)),
        };
        ready.send_replace(Some(state));

        while let Ok(request) = requests.recv() {
            match request {
                Request::Mark(reply) => {
                    let _ = reply.send(self.mark());
                }
                Request::Wait {
                    mark,
                    wanted,
                    timeout,
                    reply,
                } => match self.wait(&mark, &wanted, timeout, &reply) {
                    Waited::Found(code) => {
                        let _ = reply.send(Ok(code));
                    }
                    Waited::Failed(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Waited::Abandoned => {}
                },
            }
            if self.shutdown.load(Ordering::SeqCst) {
                break;
            }
        }
        if let Some((mut session, _)) = self.session.take() {
            let _ = session.logout();
        }
        tracing::debug!(mailbox = %self.config.url, "mailbox session closed");
    }

    fn connect(&mut self) -> anyhow::Result<()> {
        self.session = None;
        let (session, selected) = connect::open(&self.config)?;
        self.session = Some((session, selected));
        Ok(())
    }

    fn session(&mut self) -> anyhow::Result<&mut (Session, Selected)> {
        if self.session.is_none() {
            self.connect()?;
        }
        Ok(self.session.as_mut().expect("connected above"))
    }

    /// A fresh SELECT; a connection that died since (server timeout, network) is reopened once.
    fn mark(&mut self) -> anyhow::Result<Mark> {
        let url = self.config.url.clone();
        let mut retried = false;
        loop {
            let (session, selected) = self.session()?;
            match connect::select(session, &url) {
                Ok(now) => {
                    *selected = now;
                    let mark = Mark {
                        uid_validity: now.uid_validity,
                        uid_next: now.uid_next,
                        at: time::OffsetDateTime::now_utc(),
                    };
                    tracing::debug!(mailbox = %url, uid_validity = mark.uid_validity, uid_next = mark.uid_next, "mailbox marked");
                    return Ok(mark);
                }
                Err(e) if !retried => {
                    tracing::debug!(mailbox = %url, "reconnecting after: {e:#}");
                    self.session = None;
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn cancelled<T>(&self, reply: &oneshot::Sender<T>) -> bool {
        self.shutdown.load(Ordering::SeqCst) || reply.is_closed()
    }

    fn wait<T>(
        &mut self,
        mark: &Mark,
        wanted: &Wanted,
        timeout: Duration,
        reply: &oneshot::Sender<T>,
    ) -> Waited {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut seen: BTreeMap<u32, Arrival> = BTreeMap::new();
        let mut failures = 0;
        let mut woke_at: Option<Instant> = None;
        let mut mark = mark.clone();
        loop {
            if self.cancelled(reply) {
                return Waited::Abandoned;
            }
            match self.look(&mut mark, wanted, &mut seen) {
                Ok(Some(code)) => {
                    // The code itself is never logged.
                    tracing::debug!(
                        uid = code.uid,
                        idle_to_code_us = woke_at.map(|w| w.elapsed().as_micros() as u64),
                        waited_ms = started.elapsed().as_millis() as u64,
                        "verification email found"
                    );
                    return Waited::Found(code);
                }
                Ok(None) => failures = 0,
                Err(e) => {
                    failures += 1;
                    self.session = None;
                    woke_at = None;
                    if failures > 1 {
                        // Exit 5 whatever failed: the mailbox, not the portal, is at fault.
                        return Waited::Failed(environment(format!(
                            "lost the mailbox {} while waiting for the verification code: {e:#}",
                            self.config.url
                        )));
                    }
                    tracing::warn!(mailbox = %self.config.url, "mailbox connection lost, reconnecting: {e:#}");
                    continue;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Waited::Failed(verification_code(matching::timeout_message(
                    &seen,
                    wanted,
                    &mark,
                    &self.config.url,
                    timeout,
                )));
            }
            woke_at = match self.pause(deadline - now, reply) {
                Ok(true) => Some(Instant::now()),
                Ok(false) => None,
                Err(e) => {
                    tracing::warn!(mailbox = %self.config.url, "mailbox wait interrupted: {e:#}");
                    self.session = None;
                    None
                }
            };
        }
    }

    /// Fetches what arrived since the mark and has not been seen; returns the newest match.
    fn look(
        &mut self,
        mark: &mut Mark,
        wanted: &Wanted,
        seen: &mut BTreeMap<u32, Arrival>,
    ) -> anyhow::Result<Option<VerificationCode>> {
        let url = self.config.url.clone();
        let (session, selected) = self.session()?;
        // A new UIDVALIDITY means UIDs were renumbered: the UID mark means nothing any more and
        // only the arrival time can tell new from old.
        if selected.uid_validity != mark.uid_validity {
            tracing::warn!(mailbox = %url, "UIDVALIDITY changed since the mark; relying on arrival times");
            seen.clear();
            mark.uid_validity = selected.uid_validity;
            mark.uid_next = 1;
        }
        let first_uid = mark.uid_next;
        if !selected.idle {
            // Some servers (Dovecot with maildir among them) only look for mail delivered by
            // other sessions when a command asks them to sync; IDLE and DONE do that, a bare
            // search may not.
            session.noop().context("NOOP failed")?;
        }
        let found = session
            .uid_search(format!("UID {first_uid}:*"))
            .context("UID SEARCH failed")?;
        // `UID n:*` always matches the highest UID, even one below n.
        let mut new: Vec<u32> = found
            .into_iter()
            .filter(|uid| *uid >= first_uid && !seen.contains_key(uid))
            .collect();
        if !new.is_empty() {
            new.sort_unstable();
            let set = new.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let fetched = session
                .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
                .context("UID FETCH failed")?;
            for fetch in fetched.iter() {
                let Some(uid) = fetch.uid else { continue };
                let message = fetch.body().and_then(|raw| parse_message(raw).ok());
                let arrival = Arrival {
                    uid,
                    arrived: fetch.internal_date().map(|d| d.timestamp()),
                    message,
                };
                if let Some(m) = &arrival.message {
                    tracing::debug!(
                        uid,
                        from = %m.from.join(","),
                        to = %m.to.join(","),
                        has_code = m.code.is_some(),
                        verdict = ?arrival.verdict(wanted),
                        "new message"
                    );
                }
                seen.insert(uid, arrival);
            }
        }
        Ok(matching::best(seen, wanted))
    }

    /// Waits up to `limit` for the mailbox to change: one IDLE slice, or a poll interval.
    /// Returns whether the server said something changed.
    fn pause<T>(&mut self, limit: Duration, reply: &oneshot::Sender<T>) -> anyhow::Result<bool> {
        let idle = self.session()?.1.idle;
        if idle {
            let (session, _) = self.session()?;
            // A zero read timeout is refused by the OS; a few ms is as good as none.
            let slice = limit.clamp(Duration::from_millis(5), IDLE_SLICE);
            let outcome = session
                .idle()
                .context("IDLE failed")?
                .wait_with_timeout(slice)
                .context("IDLE failed")?;
            // Whatever the outcome, the caller searches again: a notice that arrived while the
            // slice was ending was read (and dropped) by the crate's DONE handling.
            Ok(outcome == imap::extensions::idle::WaitOutcome::MailboxChanged)
        } else {
            let until = Instant::now() + limit.min(POLL_INTERVAL);
            while Instant::now() < until && !self.cancelled(reply) {
                std::thread::sleep(POLL_STEP.min(until - Instant::now()));
            }
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time: a Mailbox can be shared between tasks and its futures spawned.
    #[allow(dead_code)]
    fn usable_from_spawned_tasks(mailbox: &Mailbox, mark: &Mark) {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        send_sync(mailbox);
        send(mailbox.ready());
        send(mailbox.mark());
        send(mailbox.wait_code(mark, "a@b.c", Duration::ZERO));
    }
}
