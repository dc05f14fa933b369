//! Getting a logged-in IMAP session: TCP with timeouts, TLS or STARTTLS, LOGIN, SELECT.
//!
//! Every failure here is the environment's (exit 5) unless the user's own input is at fault (an
//! unreadable `--imap-ca` file): the message names the mailbox URL, never the password.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use imap::extensions::idle::SetReadTimeout;

use super::{ImapAuth, MailboxConfig, MailboxUrl, Security};
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

/// Connects and secures the connection, up to the server's greeting.
pub(crate) fn reach(config: &MailboxConfig) -> anyhow::Result<Unauthenticated> {
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

    Ok(match url.security {
        Security::Tls => {
            let tls = tls_handshake(config, tcp)?;
            let mut client = imap::Client::new(Stream {
                inner: Inner::Tls(Box::new(tls)),
                reply_timeout,
            });
            let greeting = client
                .read_greeting()
                .map_err(|e| unreachable_server(url, &format!("no IMAP greeting: {e}")))?;
            check_greeting(url, &String::from_utf8_lossy(&greeting))?;
            client
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
            imap::Client::new(Stream {
                inner,
                reply_timeout,
            })
        }
    })
}

/// Logs in (LOGIN or AUTHENTICATE PLAIN, as configured).
pub(crate) fn authenticate(
    config: &MailboxConfig,
    stream: Unauthenticated,
) -> anyhow::Result<Session> {
    let url = &config.url;
    let refused = |e: imap::Error| match e {
        imap::Error::No(text) | imap::Error::Bad(text) => environment(format!(
            "the mailbox {url} refused the login of `{}`: {}. Check the IMAP password \
             (CIGNA_IMAP_PASSWORD or --imap-password-file) and the user in --imap-url{}",
            url.user,
            text.trim().trim_end_matches('.'),
            match config.auth {
                ImapAuth::Login => "; a server that disables LOGIN needs --imap-auth plain",
                ImapAuth::Plain => "",
            }
        )),
        imap::Error::Validate(_) => environment(format!(
            "the IMAP user or password for {url} contains a line break, which IMAP LOGIN cannot \
             send: check CIGNA_IMAP_PASSWORD or --imap-password-file (a trailing newline in the \
             file is fine, an inner one is not), or use --imap-auth plain"
        )),
        other => unreachable_server(url, &format!("the login failed: {other}")),
    };
    match config.auth {
        ImapAuth::Login => stream
            .login(&url.user, config.password.expose())
            .map_err(|(e, _client)| refused(e)),
        ImapAuth::Plain => stream
            .authenticate(
                "PLAIN",
                &Plain {
                    user: &url.user,
                    password: config.password.expose(),
                },
            )
            .map_err(|(e, _client)| refused(e)),
    }
}

/// SASL PLAIN (RFC 4616): authorization identity empty, then user and password, NUL-separated.
struct Plain<'a> {
    user: &'a str,
    password: &'a str,
}

impl imap::Authenticator for Plain<'_> {
    type Response = Vec<u8>;

    fn process(&self, _challenge: &[u8]) -> Vec<u8> {
        format!("\0{}\0{}", self.user, self.password).into_bytes()
    }
}

/// Connects, logs in and selects the mailbox; returns the session and whether it has IDLE.
pub(crate) fn open(config: &MailboxConfig) -> anyhow::Result<(Session, Selected)> {
    let mut session = login(config)?;
    let selected = select(&mut session, &config.url)?;
    Ok((session, selected))
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
    /// greeting, CAPABILITY, then the imap crate's LOGIN.
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
            ["s1 CAPABILITY", "a1 LOGIN \"u\" \"pw\""]
        );
    }
}
