//! One watched folder: a std::thread owning a blocking IMAP connection with that folder
//! selected, driven from async code through a request channel.
//!
//! The imap crate blocks, and a blocked IDLE inside `spawn_blocking` would hold up the runtime's
//! shutdown; a plain thread that checks a shutdown flag between short IDLE slices does not.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{oneshot, watch};

use super::connect::{self, Selected, Session};
use super::matching::{self, Arrival, Wanted};
use super::{parse_message, FolderMark, MailboxConfig, VerificationCode};
use crate::error::{environment, verification_code, Exit, Failure};

/// The longest one IDLE wait lasts before the thread looks at its shutdown flag. The server's
/// notice ends a wait at once, so this bounds only how long a drop or cancel takes to be seen.
/// It also re-issues IDLE far more often than the 29 minutes after which servers may drop an
/// idling client (RFC 2177).
const IDLE_SLICE: Duration = Duration::from_secs(1);
/// For this long after a wait begins (the code was just asked for), new mail is looked for with
/// `NOOP` every `NOOP_EVERY` instead of IDLE: Dovecot answers a NOOP with `EXISTS` at once but
/// tells an idling client only about half a second after a delivery. Past the window, IDLE.
pub(crate) const NOOP_WINDOW: Duration = Duration::from_secs(10);
/// How often a NOOP asks for news inside the window.
pub(crate) const NOOP_EVERY: Duration = Duration::from_millis(125);
/// At most this many commands in any one second while a wait asks with NOOP: a NOOP is sent only
/// while fewer than `MAX_PER_SECOND - 2` went out in the last second, leaving room for the
/// search and fetch that follow news. Servers see a client, not a flood.
pub(crate) const MAX_PER_SECOND: usize = 10;
/// How often a sleeping poll or reconnect pause looks at its shutdown flag.
const POLL_STEP: Duration = Duration::from_millis(50);
/// The first pause before reconnecting to a mailbox that dropped the connection; it doubles up
/// to `RECONNECT_MAX`, and reconnecting goes on until the code timeout.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How the folder learns of new mail, known once the session is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watch {
    Idle,
    Polling(Duration),
}

/// A folder session on its own std::thread. `open` returns at once; TCP connect, TLS, greeting,
/// login and SELECT proceed in the background so they overlap the browser's start.
pub(crate) struct Folder {
    requests: mpsc::Sender<Request>,
    shutdown: Arc<AtomicBool>,
    ready: watch::Receiver<Option<Result<Watch, Shared>>>,
    config: MailboxConfig,
    commands: Arc<AtomicU64>,
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
    Mark(oneshot::Sender<anyhow::Result<FolderMark>>),
    Wait {
        mark: FolderMark,
        at: time::OffsetDateTime,
        wanted: Wanted,
        timeout: Duration,
        reply: oneshot::Sender<anyhow::Result<VerificationCode>>,
    },
}

impl Folder {
    /// `config` is already narrowed to this folder (`MailboxConfig::for_folder`).
    pub fn open(config: MailboxConfig) -> Folder {
        let (requests, receiver) = mpsc::channel();
        let shutdown = Arc::new(AtomicBool::new(false));
        let commands = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready) = watch::channel(None);
        let worker = Worker {
            config: config.clone(),
            session: None,
            shutdown: shutdown.clone(),
            commands: commands.clone(),
            recent: Default::default(),
            refused: false,
        };
        let spawned = std::thread::Builder::new()
            .name("mailbox".into())
            .spawn(move || worker.run(receiver, ready_tx));
        if let Err(e) = spawned {
            // The unspawned closure drops the watch sender: ready() reports the session stopped.
            tracing::error!("cannot start the mailbox thread: {e}");
        }
        Folder {
            requests,
            shutdown,
            ready,
            config,
            commands,
        }
    }

    /// IMAP commands the waits on this folder have sent so far.
    pub fn commands_sent(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Resolves when login+select finished, with how new mail will be noticed.
    pub async fn ready(&self) -> anyhow::Result<Watch> {
        let mut ready = self.ready.clone();
        let state = ready
            .wait_for(Option::is_some)
            .await
            .map_err(|_| self.stopped())?;
        match state.clone() {
            Some(Ok(watch)) => Ok(watch),
            Some(Err(shared)) => Err(shared.into_error()),
            None => Err(self.stopped()),
        }
    }

    pub async fn mark(&self) -> anyhow::Result<FolderMark> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Mark(reply))
            .map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Dropping the returned future abandons the wait (the thread sees its reply closed).
    pub async fn wait_code(
        &self,
        mark: FolderMark,
        at: time::OffsetDateTime,
        wanted: Wanted,
        timeout: Duration,
    ) -> anyhow::Result<VerificationCode> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Wait {
                mark,
                at,
                wanted,
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

impl Drop for Folder {
    fn drop(&mut self) {
        // The channel closing wakes an idle thread; the flag stops a wait between slices. Not
        // joined: the thread may be inside a one-second IDLE slice and the caller is async.
        self.shutdown.store(true, Ordering::SeqCst);
    }
}

/// Blocking: connect+login and APPEND one raw RFC 5322 message to the configured mailbox.
pub fn append(config: &MailboxConfig, raw: &[u8]) -> anyhow::Result<()> {
    let mut appender = Appender::connect(config)?;
    appender.append(raw)?;
    appender.close();
    Ok(())
}

/// A logged-in session that delivers messages into one folder (the fixture portal's outbox and
/// the latency benchmark, which must not count a login per delivery).
pub struct Appender {
    session: Session,
    config: MailboxConfig,
}

impl Appender {
    /// Blocking: connects and logs in.
    pub fn connect(config: &MailboxConfig) -> anyhow::Result<Appender> {
        Ok(Appender {
            session: connect::login(config)?,
            config: config.clone(),
        })
    }

    /// Blocking: APPENDs one raw RFC 5322 message to the URL's folder.
    pub fn append(&mut self, raw: &[u8]) -> anyhow::Result<()> {
        let url = &self.config.url;
        self.session.append(&url.mailbox, raw).map_err(|e| {
            environment(format!(
                "cannot deliver a message to {url}: {e}. Check that the mailbox folder `{}` exists",
                url.mailbox
            ))
        })
    }

    pub fn close(mut self) {
        let _ = self.session.logout();
    }
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
    /// IMAP commands sent by the waits, shared with `Folder::commands_sent` (the rate rule in
    /// README is measured by it).
    commands: Arc<AtomicU64>,
    /// When the last commands went out (the last second's worth).
    recent: std::collections::VecDeque<Instant>,
    /// Whether the last login was refused (not cut off): reconnecting cannot cure that.
    refused: bool,
}

/// What a pause learned about the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woke {
    /// The server said something arrived.
    Changed,
    /// An IDLE slice or poll interval ended: look, in case a notice was missed.
    SliceEnded,
    /// A NOOP answered with no news: nothing to look for.
    Quiet,
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
        ready: watch::Sender<Option<Result<Watch, Shared>>>,
    ) {
        let started = Instant::now();
        let state = match self.connect() {
            Ok(idle) => {
                let watch = if idle {
                    Watch::Idle
                } else {
                    Watch::Polling(self.config.poll_every)
                };
                tracing::info!(mailbox = %self.config.url, elapsed_ms = started.elapsed().as_millis() as u64, ?watch, "mailbox ready");
                Ok(watch)
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
                    at,
                    wanted,
                    timeout,
                    reply,
                } => match self.wait(mark, at, &wanted, timeout, &reply) {
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

    /// (Re)connects; returns whether the server offers IDLE.
    fn connect(&mut self) -> anyhow::Result<bool> {
        self.session = None;
        let (session, selected) = connect::open_checked(&self.config).map_err(|e| {
            self.refused = e.refused;
            e.error
        })?;
        self.refused = false;
        self.session = Some((session, selected));
        Ok(selected.idle)
    }

    fn session(&mut self) -> anyhow::Result<&mut (Session, Selected)> {
        if self.session.is_none() {
            self.connect()?;
        }
        Ok(self.session.as_mut().expect("connected above"))
    }

    /// A fresh SELECT; a connection that died since (server timeout, network) is reopened once.
    fn mark(&mut self) -> anyhow::Result<FolderMark> {
        let url = self.config.url.clone();
        let mut retried = false;
        loop {
            let (session, selected) = self.session()?;
            match connect::select(session, &url) {
                Ok(now) => {
                    *selected = now;
                    let mark = FolderMark {
                        folder: url.mailbox.clone(),
                        uid_validity: now.uid_validity,
                        uid_next: now.uid_next,
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
        mut mark: FolderMark,
        at: time::OffsetDateTime,
        wanted: &Wanted,
        timeout: Duration,
        reply: &oneshot::Sender<T>,
    ) -> Waited {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut seen: BTreeMap<u32, Arrival> = BTreeMap::new();
        let mut failures: u32 = 0;
        let mut woke_at: Option<Instant> = None;
        let commands_before = self.commands.load(Ordering::Relaxed);
        // The first look finds what came before the wait; later ones only follow a change, or
        // an IDLE slice's end (a notice read while it ended is lost in the crate's DONE).
        let mut must_look = true;
        loop {
            if self.cancelled(reply) {
                return Waited::Abandoned;
            }
            let looked = if must_look {
                self.look(&mut mark, wanted, &mut seen)
            } else {
                Ok(None)
            }
            .and_then(|found| match found {
                Some(code) => Ok(Some(code)),
                None if Instant::now() >= deadline => Ok(None),
                None => {
                    let in_window = started.elapsed() < NOOP_WINDOW;
                    self.pause(deadline - Instant::now(), reply, in_window)
                        .map(|woke| {
                            woke_at = (woke == Woke::Changed).then(Instant::now);
                            must_look = woke != Woke::Quiet;
                            None
                        })
                }
            });
            match looked {
                Ok(Some(code)) => {
                    // The code itself is never logged, and is redacted from here on wherever
                    // it shows (a subject that carries it, an error quoting the page).
                    crate::secrets::global().register(&code.code);
                    let waited = started.elapsed();
                    tracing::debug!(
                        uid = code.uid,
                        folder = %code.folder,
                        idle_to_code_us = woke_at.map(|w| w.elapsed().as_micros() as u64),
                        waited_ms = waited.as_millis() as u64,
                        commands = self.commands.load(Ordering::Relaxed) - commands_before,
                        "verification email found"
                    );
                    return Waited::Found(code);
                }
                Ok(None) => {
                    if failures > 0 {
                        tracing::warn!(mailbox = %self.config.url, "mailbox connection back after {failures} failed attempt(s)");
                    }
                    failures = 0;
                }
                Err(e) if self.refused => {
                    // The server refused the password, or the token even after asking its
                    // source again: trying again would only be refused again.
                    return Waited::Failed(environment(format!(
                        "lost the mailbox {} while waiting for the verification code, and it \
                         refused the login when reconnecting: {e:#}",
                        self.config.url
                    )));
                }
                Err(e) => {
                    // A dropped connection (server restart, network, idle timeout) is opened
                    // again with growing pauses for as long as the code timeout allows; what
                    // was seen before stays seen.
                    self.session = None;
                    woke_at = None;
                    must_look = true;
                    failures += 1;
                    let pause = RECONNECT_FIRST
                        .saturating_mul(1 << (failures - 1).min(5))
                        .min(RECONNECT_MAX);
                    if Instant::now() + pause >= deadline {
                        // Exit 5 whatever failed: the mailbox, not the portal, is at fault.
                        return Waited::Failed(environment(format!(
                            "lost the mailbox {} while waiting for the verification code, and \
                             could not get it back within the code timeout ({}s): {e:#}",
                            self.config.url,
                            timeout.as_secs()
                        )));
                    }
                    tracing::warn!(mailbox = %self.config.url, attempt = failures, "mailbox connection lost, reconnecting in {}ms: {e:#}", pause.as_millis());
                    if !self.sleep(pause, reply) {
                        return Waited::Abandoned;
                    }
                    continue;
                }
            }
            if Instant::now() >= deadline {
                return Waited::Failed(verification_code(matching::timeout_message(
                    &seen,
                    wanted,
                    &mark,
                    at,
                    &self.config.url,
                    timeout,
                )));
            }
        }
    }

    /// Counts commands sent, for the rate rule and `commands_sent`.
    fn sent(&mut self, n: u64) {
        self.commands.fetch_add(n, Ordering::Relaxed);
        let now = Instant::now();
        for _ in 0..n {
            self.recent.push_back(now);
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
    }

    /// How long until one more NOOP keeps within `MAX_PER_SECOND` (with room for a search
    /// and a fetch).
    fn noop_allowed_in(&self) -> Duration {
        let budget = MAX_PER_SECOND - 2;
        if self.recent.len() < budget {
            return Duration::ZERO;
        }
        let oldest = self.recent[self.recent.len() - budget];
        (oldest + Duration::from_secs(1)).saturating_duration_since(Instant::now())
    }

    /// Sleeps in short steps; false when the wait was cancelled meanwhile.
    fn sleep<T>(&self, pause: Duration, reply: &oneshot::Sender<T>) -> bool {
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if self.cancelled(reply) {
                return false;
            }
            std::thread::sleep(POLL_STEP.min(until - Instant::now()));
        }
        !self.cancelled(reply)
    }

    /// Fetches what arrived since the mark and has not been seen; returns the newest match.
    fn look(
        &mut self,
        mark: &mut FolderMark,
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
        let mut sent = 1;
        if !selected.idle {
            sent += 1;
            // Some servers (Dovecot with maildir among them) only look for mail delivered by
            // other sessions when a command asks them to sync; IDLE and DONE do that, a bare
            // search may not.
            session.noop().context("NOOP failed")?;
        }
        // From the first UID (a changed UIDVALIDITY, or `mail wait-code --after`), the whole
        // folder would be fetched: the server keeps to the days that can hold the message
        // (a day early, for time zones).
        let since = if first_uid <= 1 {
            time::OffsetDateTime::from_unix_timestamp(wanted.not_before - 86_400)
                .ok()
                .and_then(|d| {
                    d.format(time::macros::format_description!(
                        "[day]-[month repr:short]-[year]"
                    ))
                    .ok()
                })
                .map(|d| format!(" SINCE {d}"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let found = session
            .uid_search(format!("UID {first_uid}:*{since}"))
            .context("UID SEARCH failed")?;
        // `UID n:*` always matches the highest UID, even one below n.
        let mut new: Vec<u32> = found
            .into_iter()
            .filter(|uid| *uid >= first_uid && !seen.contains_key(uid))
            .collect();
        if !new.is_empty() {
            new.sort_unstable();
            let set = new.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            sent += 1;
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
        self.sent(sent);
        Ok(matching::best(seen, wanted, &url.mailbox))
    }

    /// Waits up to `limit` for the mailbox to change: one NOOP interval (inside the window
    /// after the code was asked for), one IDLE slice, or a poll interval.
    fn pause<T>(
        &mut self,
        limit: Duration,
        reply: &oneshot::Sender<T>,
        in_window: bool,
    ) -> anyhow::Result<Woke> {
        let idle = self.session()?.1.idle;
        if idle && in_window {
            if !self.sleep(limit.min(NOOP_EVERY), reply) {
                return Ok(Woke::Quiet);
            }
            let hold = self.noop_allowed_in();
            if !hold.is_zero() && !self.sleep(hold.min(limit), reply) {
                return Ok(Woke::Quiet);
            }
            self.sent(1);
            let (session, _) = self.session()?;
            session.noop().context("NOOP failed")?;
            // What earlier commands were told counts too (an EXISTS during the last search may
            // be of a message that search did not see): at worst one search too many.
            let mut changed = false;
            while let Ok(r) = session.unsolicited_responses.try_recv() {
                changed |= matches!(
                    r,
                    imap::types::UnsolicitedResponse::Exists(_)
                        | imap::types::UnsolicitedResponse::Recent(_)
                );
            }
            Ok(if changed { Woke::Changed } else { Woke::Quiet })
        } else if idle {
            self.sent(1);
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
            Ok(
                if outcome == imap::extensions::idle::WaitOutcome::MailboxChanged {
                    Woke::Changed
                } else {
                    Woke::SliceEnded
                },
            )
        } else {
            self.sleep(limit.min(self.config.poll_every), reply);
            Ok(Woke::SliceEnded)
        }
    }
}
