//! Getting a logged-in IMAP session: TCP with timeouts, TLS or STARTTLS, the capabilities
//! offered, LOGIN or a SASL login (a password or an OAuth2 token), SELECT.
//!
//! Every failure here is the environment's (exit 5) unless the user's own input is at fault (an
//! unreadable `--imap-ca` file): the message names the mailbox URL, never the password.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use imap::extensions::idle::SetReadTimeout;

use super::sasl::{Bearer, BearerMechanism, Plain};
use super::{ImapAuth, MailboxConfig, MailboxUrl, Security, TokenSource};
use crate::error::{bad_input, environment};

/// The longest a single server reply may take before the connection counts as dead. IDLE waits
/// set their own, shorter timeouts.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) type Session = imap::Session<Stream>;

/// The socket under the IMAP session, plain or TLS, with the read timeout commands fall back to.
pub(crate) struct Stream {
    inner: Inner,
    reply_timeout: Duration,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(s) => s,
            Inner::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.read(buf),
            Inner::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.write(buf),
            Inner::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(s) => s.flush(),
            Inner::Tls(s) => s.flush(),
        }
    }
}

impl SetReadTimeout for Stream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::Result<()> {
        // The imap crate clears the timeout after an IDLE wait ("None"); a command must still
        // not hang forever on a dead server, so "None" means the reply timeout.
        let timeout = timeout.unwrap_or(self.reply_timeout);
        self.tcp()
            .set_read_timeout(Some(timeout))
            .map_err(imap::Error::Io)
    }
}

/// Connects, secures and logs in (no mailbox selected).
pub(crate) fn login(config: &MailboxConfig) -> anyhow::Result<Session> {
    authenticate(config, reach(config)?)
}

/// An IMAP client before login: TCP connected, secured, greeted.
pub(crate) type Unauthenticated = imap::Client<Stream>;

/// A secured, greeted connection and what the server offers before login.
pub(crate) struct Reached {
    pub client: Unauthenticated,
    /// The capabilities over the secured connection (the greeting's, else CAPABILITY's).
    pub capabilities: Vec<String>,
}

impl Reached {
    /// The SASL mechanisms offered (`AUTH=XOAUTH2` → `XOAUTH2`), as the server spells them.
    pub fn mechanisms(&self) -> Vec<String> {
        mechanisms(&self.capabilities)
    }
}

fn mechanisms(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter_map(|c| {
            c.get(..5)
                .filter(|p| p.eq_ignore_ascii_case("AUTH="))
                .map(|_| c[5..].to_string())
        })
        .collect()
}

/// Connects and secures the connection, up to the server's greeting and its capabilities.
pub(crate) fn reach(config: &MailboxConfig) -> anyhow::Result<Reached> {
    let url = &config.url;
    let reply_timeout = REPLY_TIMEOUT.max(config.connect_timeout);
    let tcp = connect_tcp(url, config.connect_timeout)?;
    tcp.set_read_timeout(Some(reply_timeout))
        .and_then(|()| tcp.set_write_timeout(Some(reply_timeout)))
        .map_err(|e| {
            environment(format!(
                "cannot use the connection to the mailbox {url}: {e}"
            ))
        })?;

    let (mut stream, greeting) = match url.security {
        Security::Tls => {
            let tls = tls_handshake(config, tcp)?;
            let mut stream = Stream {
                inner: Inner::Tls(Box::new(tls)),
                reply_timeout,
            };
            let greeting = read_line(&mut stream)
                .map_err(|e| unreachable_server(url, &format!("no IMAP greeting: {e}")))?;
            check_greeting(url, &greeting)?;
            (stream, Some(greeting))
        }
        Security::StartTls => {
            let (tcp, offers_starttls) = negotiate_starttls(url, tcp)?;
            let inner = if offers_starttls {
                Inner::Tls(Box::new(tls_handshake(config, tcp)?))
            } else {
                plaintext_allowed(url)?;
                tracing::debug!(mailbox = %url, "no STARTTLS offered; plaintext to a loopback host");
                Inner::Plain(tcp)
            };
            // What was offered before TLS is not to be trusted (RFC 3501 6.2.1): asked again.
            (
                Stream {
                    inner,
                    reply_timeout,
                },
                None,
            )
        }
    };
    let capabilities = match greeting.as_deref().and_then(greeting_capabilities) {
        Some(capabilities) => capabilities,
        None => ask_capabilities(&mut stream)
            .map_err(|e| unreachable_server(url, &format!("CAPABILITY failed: {e}")))?,
    };
    Ok(Reached {
        client: imap::Client::new(stream),
        capabilities,
    })
}

/// The `[CAPABILITY …]` a greeting may carry.
fn greeting_capabilities(greeting: &str) -> Option<Vec<String>> {
    let upper = greeting.to_ascii_uppercase();
    let start = upper.find("[CAPABILITY ")? + "[CAPABILITY ".len();
    let end = start + upper[start..].find(']')?;
    Some(
        greeting[start..end]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// One line from the server, read a byte at a time so nothing after it is consumed before the
/// imap crate takes over the stream.
fn read_line(stream: &mut Stream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        if line.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a line longer than 64 KiB",
            ));
        }
        match stream.read(&mut byte)? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ))
            }
            _ => line.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// CAPABILITY before login, on the stream the imap crate will use (its own tags start at a1).
fn ask_capabilities(stream: &mut Stream) -> io::Result<Vec<String>> {
    stream.write_all(b"c0 CAPABILITY\r\n")?;
    stream.flush()?;
    let mut capabilities = Vec::new();
    loop {
        let line = read_line(stream)?;
        if let Some(rest) = line.strip_prefix("c0 ") {
            if !rest.to_ascii_uppercase().starts_with("OK") {
                return Err(io::Error::other(format!(
                    "the server answered {}",
                    rest.trim()
                )));
            }
            return Ok(capabilities);
        }
        if let Some(listed) = line
            .get(..13)
            .filter(|p| p.eq_ignore_ascii_case("* CAPABILITY "))
            .map(|_| &line[13..])
        {
            capabilities.extend(listed.split_whitespace().map(str::to_string));
        }
    }
}

/// A failed login, and whether the server refused the credentials: the one distinction a
/// caller branches on. A session reconnecting while it waits for the code stops at a refusal
/// (the same password or token would only be refused again, and a provider may lock an account
/// that keeps trying) and tries anything else again.
pub(crate) struct LoginError {
    pub error: anyhow::Error,
    pub refused: bool,
}

impl From<anyhow::Error> for LoginError {
    fn from(error: anyhow::Error) -> Self {
        LoginError {
            error,
            refused: false,
        }
    }
}

fn refusal(error: anyhow::Error) -> LoginError {
    LoginError {
        error,
        refused: true,
    }
}

/// A NO to a login that says the server cannot check it now (RFC 5530's `[UNAVAILABLE]`, as a
/// restarting server answers before its authentication is up), not that it was wrong.
fn temporary(text: &str) -> bool {
    let text = text.trim_start().to_ascii_uppercase();
    ["[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]", "[LIMIT]"]
        .iter()
        .any(|code| text.starts_with(code))
}

/// Logs in as configured (see `sign_in`).
pub(crate) fn authenticate(config: &MailboxConfig, reached: Reached) -> anyhow::Result<Session> {
    sign_in(config, reached).map_err(|e| e.error)
}

/// Logs in as configured: LOGIN, AUTHENTICATE PLAIN, or a bearer-token mechanism with a token
/// from the configured source (asked again once when the server refuses one).
pub(crate) fn sign_in(config: &MailboxConfig, reached: Reached) -> Result<Session, LoginError> {
    let url = &config.url;
    let mechanism = match config.auth {
        ImapAuth::XOAuth2 => BearerMechanism::XOAuth2,
        ImapAuth::OAuthBearer => BearerMechanism::OAuthBearer,
        ImapAuth::Login | ImapAuth::Plain => return password_login(config, reached),
    };
    let name = mechanism.sasl_name();
    let source = config.token.as_ref().ok_or_else(|| {
        refusal(bad_input(format!(
            "--imap-auth {} signs in with an access token, and none was given: set \
             CIGNA_IMAP_TOKEN, or pass --imap-token-file FILE or --imap-token-command PROGRAM",
            config.auth.name()
        )))
    })?;
    let offered = reached.mechanisms();
    // A server that lists its mechanisms and not this one is told so before any token is
    // asked for or sent.
    if !offered.is_empty() && !offered.iter().any(|m| m.eq_ignore_ascii_case(name)) {
        return Err(refusal(environment(format!(
            "the mailbox {url} does not offer {name} (--imap-auth {}); it offers {}: choose \
             one of those with --imap-auth",
            config.auth.name(),
            offered.join(", ")
        ))));
    }
    let mut client = reached.client;
    let mut token = source.fetch()?;
    let mut asked_again = false;
    loop {
        let bearer = Bearer::new(mechanism, &url.user, &url.host, url.port, token.expose());
        match client.authenticate(name, &bearer) {
            Ok(session) => return Ok(session),
            Err((imap::Error::No(text) | imap::Error::Bad(text), back)) => {
                let refused = TokenRefused {
                    config,
                    source,
                    mechanism,
                    server: bearer.refusal(),
                    text: &text,
                    asked_again,
                };
                // Tokens expire within the hour: a file or a program may have a newer one.
                if !asked_again && source.refreshes() {
                    asked_again = true;
                    let fresh = source.fetch().map_err(|e| {
                        refusal(environment(format!(
                            "{}; asking for a new token then failed: {e:#}",
                            refused.message()
                        )))
                    })?;
                    if fresh != token {
                        tracing::debug!(mailbox = %url, source = %source.describe(), "token refused; trying the one asked for again");
                        token = fresh;
                        client = back;
                        continue;
                    }
                }
                let error = environment(
                    TokenRefused {
                        asked_again,
                        ..refused
                    }
                    .message(),
                );
                return Err(LoginError {
                    error,
                    refused: !temporary(&text),
                });
            }
            Err((other, _)) => {
                return Err(unreachable_server(url, &format!("the login failed: {other}")).into())
            }
        }
    }
}

/// What is known when a server refused a token, for the message.
struct TokenRefused<'a> {
    config: &'a MailboxConfig,
    source: &'a TokenSource,
    mechanism: BearerMechanism,
    server: Option<crate::mail::Refusal>,
    text: &'a str,
    asked_again: bool,
}

impl TokenRefused<'_> {
    fn message(&self) -> String {
        let url = &self.config.url;
        format!(
            "the mailbox {url} refused the access token of `{}` from {}{} ({}): {}{}. Check \
             that the token is fresh (they expire after about an hour) and was issued for this \
             user with the mailbox scope: https://mail.google.com/ for Google Workspace, \
             IMAP.AccessAsApp (or IMAP.AccessAsUser.All) for Microsoft 365; README's mailbox \
             section shows a token command for each",
            url.user,
            self.source.describe(),
            if self.asked_again {
                ", asked for again after the first refusal"
            } else {
                ""
            },
            self.mechanism.sasl_name(),
            match &self.server {
                Some(refusal) => format!("the server said {}; ", refusal.describe()),
                None => String::new(),
            },
            crate::error::without_controls(self.text.trim().trim_end_matches('.')),
        )
    }
}

/// LOGIN or AUTHENTICATE PLAIN with the password.
fn password_login(config: &MailboxConfig, reached: Reached) -> Result<Session, LoginError> {
    let url = &config.url;
    let oauth_offered: Vec<String> = reached
        .mechanisms()
        .into_iter()
        .filter(|m| m.eq_ignore_ascii_case("XOAUTH2") || m.eq_ignore_ascii_case("OAUTHBEARER"))
        .collect();
    let refused = |e: imap::Error| match e {
        imap::Error::No(text) | imap::Error::Bad(text) => LoginError {
            refused: !temporary(&text),
            error: environment(format!(
                "the mailbox {url} refused the login of `{}`: {}. Check the IMAP password \
             (CIGNA_IMAP_PASSWORD or --imap-password-file) and the user in --imap-url{}{}",
                url.user,
                crate::error::without_controls(text.trim().trim_end_matches('.')),
                match config.auth {
                    ImapAuth::Login => "; a server that disables LOGIN needs --imap-auth plain",
                    _ => "",
                },
                if oauth_offered.is_empty() {
                    String::new()
                } else {
                    format!(
                        ". This server also offers OAuth2 sign-in ({}), and may take no passwords \
                     at all, as Microsoft 365 and most Google Workspace mailboxes do not: then \
                     pass --imap-auth {} with an access token from CIGNA_IMAP_TOKEN, \
                     --imap-token-file or --imap-token-command (README: the mailbox section)",
                        oauth_offered
                            .iter()
                            .map(|m| format!("AUTH={m}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if oauth_offered
                            .iter()
                            .any(|m| m.eq_ignore_ascii_case("XOAUTH2"))
                        {
                            "xoauth2"
                        } else {
                            "oauthbearer"
                        }
                    )
                }
            )),
        },
        imap::Error::Validate(_) => refusal(environment(format!(
            "the IMAP user or password for {url} contains a line break, which IMAP LOGIN cannot \
             send: check CIGNA_IMAP_PASSWORD or --imap-password-file (a trailing newline in the \
             file is fine, an inner one is not), or use --imap-auth plain"
        ))),
        other => unreachable_server(url, &format!("the login failed: {other}")).into(),
    };
    let client = reached.client;
    match config.auth {
        ImapAuth::Plain => client
            .authenticate(
                "PLAIN",
                &Plain {
                    user: &url.user,
                    password: config.password.expose(),
                },
            )
            .map_err(|(e, _client)| refused(e)),
        _ => client
            .login(&url.user, config.password.expose())
            .map_err(|(e, _client)| refused(e)),
    }
}

/// Connects, logs in and selects the mailbox, telling a refused login apart.
pub(crate) fn open_checked(config: &MailboxConfig) -> Result<(Session, Selected), LoginError> {
    let mut session = sign_in(config, reach(config)?)?;
    let selected = select(&mut session, &config.url)?;
    Ok((session, selected))
}

/// Connects, logs in and selects the mailbox; returns the session and whether it has IDLE.
pub(crate) fn open(config: &MailboxConfig) -> anyhow::Result<(Session, Selected)> {
    open_checked(config).map_err(|e| e.error)
}

/// Where the selected mailbox stands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selected {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub idle: bool,
}

/// (Re-)selects the mailbox: a fresh SELECT reports the current UIDVALIDITY and UIDNEXT.
pub(crate) fn select(session: &mut Session, url: &MailboxUrl) -> anyhow::Result<Selected> {
    let mailbox = session.select(&url.mailbox).map_err(|e| match e {
        imap::Error::No(text) | imap::Error::Bad(text) => environment(format!(
            "the mailbox folder `{}` cannot be opened at {url}: {}. Check the /MAILBOX part of \
             --imap-url (the default is INBOX)",
            url.mailbox,
            text.trim()
        )),
        other => unreachable_server(url, &format!("SELECT failed: {other}")),
    })?;
    let (uid_validity, uid_next) = match (mailbox.uid_validity, mailbox.uid_next) {
        (Some(validity), Some(next)) => (validity, next),
        // Servers must send both in SELECT; ask explicitly when one did not.
        _ => {
            let status = session
                .status(&url.mailbox, "(UIDNEXT UIDVALIDITY)")
                .map_err(|e| unreachable_server(url, &format!("STATUS failed: {e}")))?;
            match (status.uid_validity, status.uid_next) {
                (Some(validity), Some(next)) => (validity, next),
                _ => {
                    return Err(environment(format!(
                    "the mailbox server at {url} reports no UIDNEXT/UIDVALIDITY, which this tool \
                         needs to tell new messages from old ones: use a standard IMAP server"
                )))
                }
            }
        }
    };
    let idle = session
        .capabilities()
        .map(|caps| caps.has_str("IDLE"))
        .map_err(|e| unreachable_server(url, &format!("CAPABILITY failed: {e}")))?;
    Ok(Selected {
        uid_validity,
        uid_next,
        idle,
    })
}

/// A password and a code in clear text may only travel inside this machine.
fn plaintext_allowed(url: &MailboxUrl) -> anyhow::Result<()> {
    if url.is_loopback() {
        return Ok(());
    }
    Err(environment(format!(
        "the mailbox server at {url} does not offer STARTTLS, and plaintext IMAP is only allowed \
         to this machine: use imaps://{}:993 (TLS) in --imap-url instead",
        url_host_for_message(url)
    )))
}

fn url_host_for_message(url: &MailboxUrl) -> String {
    format!(
        "{}@{}",
        url.user,
        if url.host.contains(':') {
            format!("[{}]", url.host)
        } else {
            url.host.clone()
        }
    )
}

fn unreachable_server(url: &MailboxUrl, what: &str) -> anyhow::Error {
    environment(format!(
        "the mailbox {url} is not usable: {what}. Check the host and port in --imap-url (imaps:// \
         defaults to port 993, imap:// to 143) and that this machine can reach the server"
    ))
}

fn connect_tcp(url: &MailboxUrl, timeout: Duration) -> anyhow::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| {
            environment(format!(
                "cannot resolve the mailbox host `{}` of {url}: {e}. Check the host in --imap-url",
                url.host
            ))
        })?
        .collect();
    let mut last_error = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    let what = match last_error {
        Some((addr, e)) if e.kind() == io::ErrorKind::TimedOut => {
            format!(
                "connecting to {addr} timed out after {}s",
                timeout.as_secs_f32()
            )
        }
        Some((addr, e)) => format!("cannot connect to {addr}: {e}"),
        None => format!("the host `{}` has no address", url.host),
    };
    Err(unreachable_server(url, &what))
}

fn tls_handshake(
    config: &MailboxConfig,
    tcp: TcpStream,
) -> anyhow::Result<native_tls::TlsStream<TcpStream>> {
    let url = &config.url;
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(ca_file) = &config.ca_file {
        let pem = std::fs::read(ca_file).map_err(|e| {
            bad_input(format!(
                "cannot read the CA file {} given with --imap-ca: {e}",
                ca_file.display()
            ))
        })?;
        let certs = native_tls::Certificate::stack_from_pem(&pem)
            .ok()
            .filter(|certs| !certs.is_empty())
            .ok_or_else(|| {
                bad_input(format!(
                    "the CA file {} given with --imap-ca holds no PEM certificate \
                     (-----BEGIN CERTIFICATE-----)",
                    ca_file.display()
                ))
            })?;
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    let connector = builder
        .build()
        .map_err(|e| environment(format!("cannot set up TLS for {url}: {e}")))?;
    connector.connect(&url.host, tcp).map_err(|e| {
        let why = match e {
            native_tls::HandshakeError::Failure(e) => e.to_string(),
            native_tls::HandshakeError::WouldBlock(_) => "the server did not answer in time".into(),
        };
        environment(format!(
            "the TLS handshake with the mailbox {url} failed: {why}. Check the port (imaps:// needs \
             the server's TLS port, usually 993; imap:// its STARTTLS port, usually 143), that the \
             host name matches the server's certificate, and pass a private CA's certificate with \
             --imap-ca FILE"
        ))
    })
}

fn check_greeting(url: &MailboxUrl, greeting: &str) -> anyhow::Result<()> {
    if greeting.starts_with("* BYE") {
        return Err(unreachable_server(
            url,
            &format!("the server refused the connection: {}", greeting.trim()),
        ));
    }
    Ok(())
}

/// Reads the greeting, asks for the capabilities and, when offered, starts TLS. Done by hand
/// because the imap crate (without its own TLS feature) cannot hand the socket back.
fn negotiate_starttls(url: &MailboxUrl, tcp: TcpStream) -> anyhow::Result<(TcpStream, bool)> {
    let fail = |what: String| unreachable_server(url, &what);
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    let read_line = |reader: &mut BufReader<TcpStream>, line: &mut String| {
        line.clear();
        match reader.read_line(line) {
            Ok(0) => Err(fail("the server closed the connection".into())),
            Ok(_) => Ok(()),
            Err(e) => Err(fail(format!("reading from the server failed: {e}"))),
        }
    };
    read_line(&mut reader, &mut line)?;
    check_greeting(url, &line)?;
    let mut offered = has_starttls(&line);

    let command = |reader: &mut BufReader<TcpStream>, tag: &str, text: &str| {
        reader
            .get_mut()
            .write_all(format!("{tag} {text}\r\n").as_bytes())
            .map_err(|e| unreachable_server(url, &format!("writing to the server failed: {e}")))
    };
    command(&mut reader, "s1", "CAPABILITY")?;
    loop {
        read_line(&mut reader, &mut line)?;
        // The capabilities come in a CAPABILITY line, or in a late greeting's [CAPABILITY …].
        offered |= line.starts_with('*') && line.contains("CAPABILITY") && has_starttls(&line);
        if line.starts_with("s1 ") {
            break;
        }
    }
    if !offered {
        return Ok((finish_plain(url, reader)?, false));
    }
    command(&mut reader, "s2", "STARTTLS")?;
    loop {
        read_line(&mut reader, &mut line)?;
        if let Some(status) = line.strip_prefix("s2 ") {
            if !status.to_ascii_uppercase().starts_with("OK") {
                return Err(fail(format!("STARTTLS was refused: {}", status.trim())));
            }
            break;
        }
    }
    Ok((finish_plain(url, reader)?, true))
}

/// The socket back from the reader. Anything the server sent ahead of the handshake would be
/// trusted as if it came over TLS (a known STARTTLS injection), so it is refused.
fn finish_plain(url: &MailboxUrl, reader: BufReader<TcpStream>) -> anyhow::Result<TcpStream> {
    if !reader.buffer().is_empty() {
        return Err(unreachable_server(
            url,
            "the server sent unexpected data during STARTTLS negotiation",
        ));
    }
    Ok(reader.into_inner())
}

fn has_starttls(line: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .any(|word| word.eq_ignore_ascii_case("STARTTLS"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;
    use std::net::TcpListener;

    #[test]
    fn plaintext_only_to_loopback() {
        for ok in [
            "imap://u@127.0.0.1",
            "imap://u@127.1.2.3:1143",
            "imap://u@LocalHost",
            "imap://u@[::1]",
        ] {
            plaintext_allowed(&ok.parse().unwrap()).unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        }
        for refused in [
            "imap://u@mail.zuub.com",
            "imap://u@10.0.0.5",
            "imap://u@[2001:db8::1]",
        ] {
            let err = plaintext_allowed(&refused.parse().unwrap()).expect_err(refused);
            assert_eq!(crate::error::exit_code(&err), 5);
            assert!(format!("{err:#}").contains("use imaps://u@"), "{err:#}");
        }
    }

    /// A loopback server without STARTTLS: the session is plaintext, and the exchange is the
    /// greeting, CAPABILITY (for STARTTLS), CAPABILITY again (what is offered on the
    /// connection as it will be used), then the imap crate's LOGIN.
    #[test]
    fn plaintext_login_to_a_loopback_server_without_starttls() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut writer = socket;
            let mut line = String::new();
            writer.write_all(b"* OK fake IMAP ready\r\n").unwrap();
            let mut heard = Vec::new();
            for reply in [
                "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\ns1 OK done\r\n",
                "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2\r\nc0 OK done\r\n",
                "a1 OK logged in\r\n",
            ] {
                line.clear();
                reader.read_line(&mut line).unwrap();
                heard.push(line.trim().to_string());
                writer.write_all(reply.as_bytes()).unwrap();
            }
            heard
        });
        let mut config = MailboxConfig::new(
            format!("imap://u@127.0.0.1:{port}/INBOX").parse().unwrap(),
            Secret::new("pw"),
        );
        config.connect_timeout = Duration::from_secs(2);
        login(&config).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            server.join().unwrap(),
            ["s1 CAPABILITY", "c0 CAPABILITY", "a1 LOGIN \"u\" \"pw\""]
        );
    }
}

#[cfg(test)]
mod capability_tests {
    #[test]
    fn a_server_that_cannot_check_a_login_now_has_not_refused_it() {
        assert!(super::temporary(
            " [UNAVAILABLE] Temporary authentication failure."
        ));
        assert!(!super::temporary(
            "[AUTHENTICATIONFAILED] Authentication failed."
        ));
        assert!(!super::temporary("LOGIN failed."));
    }

    #[test]
    fn the_greeting_may_carry_the_capabilities_and_auth_names_the_mechanisms() {
        let caps = super::greeting_capabilities(
            "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN auth=XOAUTH2 AUTH=OAUTHBEARER] ready\r\n",
        )
        .unwrap();
        assert_eq!(
            super::mechanisms(&caps),
            ["PLAIN", "XOAUTH2", "OAUTHBEARER"]
        );
        assert_eq!(super::greeting_capabilities("* OK Gimap ready\r\n"), None);
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use base64::Engine as _;
    use std::net::TcpListener;
    use std::os::unix::fs::PermissionsExt;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    /// A loopback server that refuses the first token with an error continuation, rewrites the
    /// token file meanwhile (as a refresher would), and takes the second. It returns every
    /// client line, base64 decoded where it was a SASL answer.
    fn refusing_once(
        port_tx: std::sync::mpsc::Sender<u16>,
        refusal: &'static str,
        file: std::path::PathBuf,
    ) -> Vec<String> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        port_tx.send(listener.local_addr().unwrap().port()).unwrap();
        let (socket, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(socket.try_clone().unwrap());
        let mut writer = socket;
        let mut heard = Vec::new();
        let mut line = String::new();
        let mut next = |reader: &mut BufReader<TcpStream>, heard: &mut Vec<String>| {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let text = line.trim_end().to_string();
            heard.push(match B64.decode(&text) {
                Ok(bytes) if !text.contains(' ') => {
                    format!("sasl:{}", String::from_utf8_lossy(&bytes))
                }
                _ => text.clone(),
            });
            text
        };
        let caps = "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n";
        writer.write_all(b"* OK fake IMAP ready\r\n").unwrap();
        next(&mut reader, &mut heard);
        writer
            .write_all(format!("{caps}s1 OK done\r\n").as_bytes())
            .unwrap();
        next(&mut reader, &mut heard);
        writer
            .write_all(format!("{caps}c0 OK done\r\n").as_bytes())
            .unwrap();
        // First attempt: refused with the error continuation, answered, then NO.
        next(&mut reader, &mut heard);
        writer.write_all(b"+ \r\n").unwrap();
        next(&mut reader, &mut heard);
        std::fs::write(&file, "tok-new\n").unwrap();
        writer
            .write_all(format!("+ {}\r\n", B64.encode(refusal)).as_bytes())
            .unwrap();
        next(&mut reader, &mut heard);
        writer
            .write_all(b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
            .unwrap();
        // Second attempt, on the same connection: accepted.
        next(&mut reader, &mut heard);
        writer.write_all(b"+ \r\n").unwrap();
        next(&mut reader, &mut heard);
        writer.write_all(b"a2 OK Logged in\r\n").unwrap();
        heard
    }

    #[test]
    fn a_refused_token_is_answered_then_its_source_asked_again_on_the_same_connection() {
        for (auth, refusal, answer, first) in [
            (
                ImapAuth::XOAuth2,
                r#"{"status":"401","schemes":"bearer","scope":"mail"}"#,
                "sasl:",
                "sasl:user=u\u{1}auth=Bearer tok-old\u{1}\u{1}",
            ),
            (
                ImapAuth::OAuthBearer,
                r#"{"status":"invalid_token"}"#,
                "sasl:\u{1}",
                "sasl:n,a=u,\u{1}host=127.0.0.1\u{1}port=PORT\u{1}auth=Bearer tok-old\u{1}\u{1}",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("token");
            std::fs::write(&path, "tok-old\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let (port_tx, port_rx) = std::sync::mpsc::channel();
            let file = path.clone();
            let server = std::thread::spawn(move || refusing_once(port_tx, refusal, file));
            let port = port_rx.recv().unwrap();
            // The file read again, or the program that prints it run again.
            let source = match auth {
                ImapAuth::XOAuth2 => TokenSource::File(path),
                _ => TokenSource::Command {
                    program: "/bin/cat".into(),
                    args: vec![path.display().to_string()],
                },
            };
            let mut config = MailboxConfig::with_token(
                format!("imap://u@127.0.0.1:{port}/INBOX").parse().unwrap(),
                auth,
                source,
            );
            config.connect_timeout = Duration::from_secs(2);
            login(&config).unwrap_or_else(|e| panic!("{e:#}"));
            let heard = server.join().unwrap();
            let mechanism = match auth {
                ImapAuth::XOAuth2 => "XOAUTH2",
                _ => "OAUTHBEARER",
            };
            assert_eq!(
                heard,
                [
                    "s1 CAPABILITY".to_string(),
                    "c0 CAPABILITY".to_string(),
                    format!("a1 AUTHENTICATE {mechanism}"),
                    first.replace("PORT", &port.to_string()),
                    // XOAUTH2 answers the error with an empty line, OAUTHBEARER with ^A.
                    answer.to_string(),
                    format!("a2 AUTHENTICATE {mechanism}"),
                    first
                        .replace("PORT", &port.to_string())
                        .replace("tok-old", "tok-new"),
                ]
            );
        }
    }

    /// A server that lists its mechanisms without this one is told so before the token
    /// program runs at all.
    #[test]
    fn a_mechanism_the_server_does_not_offer_is_refused_before_any_token_is_asked_for() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut writer = socket;
            let mut line = String::new();
            writer.write_all(b"* OK fake IMAP ready\r\n").unwrap();
            for tag in ["s1", "c0"] {
                line.clear();
                reader.read_line(&mut line).unwrap();
                writer
                    .write_all(
                        format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n")
                            .as_bytes(),
                    )
                    .unwrap();
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let mut config = MailboxConfig::with_token(
            format!("imap://u@127.0.0.1:{port}/INBOX").parse().unwrap(),
            ImapAuth::OAuthBearer,
            TokenSource::Command {
                program: "/usr/bin/touch".into(),
                args: vec![marker.display().to_string()],
            },
        );
        config.connect_timeout = Duration::from_secs(2);
        let err = login(&config).map(|_| ()).unwrap_err();
        server.join().unwrap();
        let msg = format!("{err:#}");
        assert_eq!(crate::error::exit_code(&err), 5);
        assert!(msg.contains("does not offer OAUTHBEARER"), "{msg}");
        assert!(msg.contains("it offers PLAIN"), "{msg}");
        assert!(!marker.exists(), "the token program ran");
    }
}
