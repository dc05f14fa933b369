//! DevTools over a pipe: Chromium opens no port; its protocol is relayed to one WebSocket that
//! only this user's processes may open, once.
//!
//! With `--remote-debugging-port` any local account could read `/json/list` and drive the
//! logged-in portal page. With `--remote-debugging-pipe` Chromium reads commands from fd 3 and
//! writes answers to fd 4, NUL-terminated JSON, and listens on nothing. chromiumoxide only
//! speaks WebSocket, so a loopback listener at an unguessable path hands the pipe to the first
//! connection that comes from this user (its uid read from the kernel's socket table) and then
//! closes: the door exists for the few milliseconds chromiumoxide takes to connect, and is shut
//! to other users even then.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::net::TcpListener;

/// The descriptors Chromium's `--remote-debugging-pipe` reads commands from and writes answers
/// to.
const COMMANDS_FD: RawFd = 3;
const ANSWERS_FD: RawFd = 4;

/// How long the listener waits for chromiumoxide to connect before giving up.
const CONNECT_WITHIN: Duration = Duration::from_secs(30);

/// Our ends of the two pipes.
pub struct OurEnds {
    commands: OwnedFd,
    answers: OwnedFd,
}

/// The browser's ends, installed as fds 3 and 4 in the child.
pub struct BrowserEnds {
    commands: OwnedFd,
    answers: OwnedFd,
}

/// Two pipes, close-on-exec on both sides until the child installs its ends.
pub fn pipes() -> io::Result<(OurEnds, BrowserEnds)> {
    let (commands_read, commands_write) = pipe_pair()?;
    let (answers_read, answers_write) = pipe_pair()?;
    Ok((
        OurEnds {
            commands: commands_write,
            answers: answers_read,
        },
        BrowserEnds {
            commands: commands_read,
            answers: answers_write,
        },
    ))
}

fn pipe_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl BrowserEnds {
    /// Makes the child start with the pipes as fds 3 and 4. The parent's copies are closed when
    /// `self` is dropped after the spawn.
    pub fn install(&self, command: &mut tokio::process::Command) {
        let commands = self.commands.as_raw_fd();
        let answers = self.answers.as_raw_fd();
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Moved above 4 first, so that installing one cannot overwrite the other.
                let high_commands = libc::fcntl(commands, libc::F_DUPFD_CLOEXEC, 10);
                let high_answers = libc::fcntl(answers, libc::F_DUPFD_CLOEXEC, 10);
                if high_commands < 0
                    || high_answers < 0
                    || libc::dup2(high_commands, COMMANDS_FD) < 0
                    || libc::dup2(high_answers, ANSWERS_FD) < 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// A listener waiting for chromiumoxide, and the URL to give it.
pub struct Relay {
    pub url: String,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the relay: `url` is where chromiumoxide connects; the task carries messages until
/// either side closes.
pub async fn start(ours: OurEnds) -> io::Result<Relay> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = listener.local_addr()?.port();
    let path = format!("/devtools/browser/{:032x}", rand::random::<u128>());
    let url = format!("ws://127.0.0.1:{port}{path}");
    let to_browser = pipe::Sender::from_owned_fd(ours.commands)?;
    let from_browser = pipe::Receiver::from_owned_fd(ours.answers)?;
    let task = tokio::spawn(async move {
        let Ok(Some(ws)) = tokio::time::timeout(CONNECT_WITHIN, admit(listener, &path)).await
        else {
            tracing::warn!("nothing connected to the browser's DevTools relay in time");
            return;
        };
        carry(ws, to_browser, from_browser).await;
    });
    Ok(Relay { url, task })
}

type Socket = async_tungstenite::WebSocketStream<
    async_tungstenite::tokio::TokioAdapter<tokio::net::TcpStream>,
>;

fn unlimited() -> WebSocketConfig {
    // Screenshots come as one message of several megabytes.
    WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None)
}

/// The first connection from this user that asks for `path`; others are dropped unanswered.
/// The listener is closed on return.
async fn admit(listener: TcpListener, path: &str) -> Option<Socket> {
    let own = crate::owner::own_uid()?;
    let here = listener.local_addr().ok()?;
    loop {
        let (stream, peer) = listener.accept().await.ok()?;
        match peer_uid(peer, here) {
            Some(uid) if uid == own => {}
            uid => {
                tracing::warn!(
                    ?uid,
                    %peer,
                    "refused a connection to the browser's DevTools relay from another user"
                );
                continue;
            }
        }
        // Each DevTools message is small and awaited: Nagle's algorithm would hold answers
        // back for the peer's delayed acknowledgement.
        let _ = stream.set_nodelay(true);
        let wanted = path.to_string();
        // The shape is tungstenite's handshake callback, refusal included.
        #[allow(clippy::result_large_err)]
        let check = move |request: &Request, response: Response| {
            if request.uri().path() == wanted {
                Ok(response)
            } else {
                let mut refusal = ErrorResponse::new(None);
                *refusal.status_mut() = async_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
                Err(refusal)
            }
        };
        match async_tungstenite::tokio::accept_hdr_async_with_config(
            stream,
            check,
            Some(unlimited()),
        )
        .await
        {
            Ok(ws) => return Some(ws),
            Err(e) => tracing::warn!(error = %e, "refused a DevTools relay handshake"),
        }
    }
}

/// Messages both ways until one side closes: each WebSocket text goes to the browser followed
/// by a NUL; each NUL-terminated answer comes back as one text.
async fn carry(ws: Socket, mut to_browser: pipe::Sender, mut from_browser: pipe::Receiver) {
    let (mut sink, mut stream) = ws.split();
    let commands = async {
        while let Some(Ok(message)) = stream.next().await {
            let bytes = match message {
                Message::Text(text) => text.as_bytes().to_vec(),
                Message::Binary(bytes) => bytes.to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if to_browser.write_all(&bytes).await.is_err()
                || to_browser.write_all(b"\0").await.is_err()
            {
                break;
            }
        }
    };
    let answers = async {
        let mut pending = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        'read: loop {
            let n = match from_browser.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.iter().position(|&b| b == 0) {
                let rest = pending.split_off(end + 1);
                pending.truncate(end);
                let text = String::from_utf8_lossy(&pending).into_owned();
                pending = rest;
                if sink.send(Message::text(text)).await.is_err() {
                    break 'read;
                }
            }
        }
        let _ = sink.close(None).await;
    };
    // Either side ending ends the relay: a closed browser or a dropped connection.
    tokio::select! {
        _ = commands => {}
        _ = answers => {}
    }
}

/// The uid owning the TCP socket at `peer` connected to `here`, from `/proc/net/tcp{,6}`.
pub fn peer_uid(peer: SocketAddr, here: SocketAddr) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            text.lines().skip(1).find_map(|row| {
                let cols: Vec<&str> = row.split_whitespace().collect();
                let local = parse_socket(cols.get(1)?)?;
                let remote = parse_socket(cols.get(2)?)?;
                (local == peer && remote == here)
                    .then(|| cols.get(7)?.parse().ok())
                    .flatten()
            })
        })
}

/// `0100007F:1F90` (IPv4, the address in host byte order) or 32 hex digits of IPv6 in four
/// host-order words; v4-mapped IPv6 addresses are given as IPv4.
fn parse_socket(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(address, 16).ok()?.to_ne_bytes(),
        )),
        32 => {
            let mut octets = [0u8; 16];
            for (i, word) in octets.chunks_mut(4).enumerate() {
                let value = u32::from_str_radix(&address[i * 8..i * 8 + 8], 16).ok()?;
                word.copy_from_slice(&value.to_ne_bytes());
            }
            let v6 = Ipv6Addr::from(octets);
            v6.to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_socket_addresses() {
        assert_eq!(
            parse_socket("0100007F:1F90"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_socket("0000000000000000FFFF00000100007F:0050"),
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            parse_socket("00000000000000000000000001000000:0016"),
            Some("[::1]:22".parse().unwrap())
        );
        assert_eq!(parse_socket("zz:1"), None);
        assert_eq!(parse_socket("0100007F"), None);
    }

    #[tokio::test]
    async fn a_connection_of_ours_is_ours() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let here = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(here).await.unwrap();
        let (_server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(peer_uid(peer, here), crate::owner::own_uid());
    }

    /// Stands in for Chromium: reads what the relay writes to fd 3's pipe and answers on fd 4's.
    struct FakeBrowser {
        commands: pipe::Receiver,
        answers: pipe::Sender,
    }

    fn fake_browser(theirs: BrowserEnds) -> FakeBrowser {
        FakeBrowser {
            commands: pipe::Receiver::from_owned_fd(theirs.commands).unwrap(),
            answers: pipe::Sender::from_owned_fd(theirs.answers).unwrap(),
        }
    }

    /// What a WebSocket upgrade for `path` gets back, asked by `bash` running as `uid`.
    fn upgrade_as(uid: Option<u32>, port: u16, path: &str) -> String {
        use std::os::unix::process::CommandExt;
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} || exit 0; \
             printf 'GET {path} HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\n\
             Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\
             Sec-WebSocket-Version: 13\\r\\n\\r\\n' >&3; timeout 5 head -c 200 <&3"
        );
        let mut command = std::process::Command::new("bash");
        command.args(["-c", &script]);
        if let Some(uid) = uid {
            command.uid(uid).gid(uid);
        }
        let out = command.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_relay_admits_only_this_user_at_its_path_once_and_carries_both_ways() {
        let (ours, theirs) = pipes().unwrap();
        let mut browser = fake_browser(theirs);
        let relay = start(ours).await.unwrap();
        let url: url::Url = relay.url.parse().unwrap();
        let port = url.port().unwrap();
        let path = url.path().to_string();
        assert!(path.len() > 40, "the path is unguessable: {path}");

        // Another account, with the right path, gets the connection closed unanswered.
        if crate::owner::is_root() {
            // The control: as `nobody`, the same probe does reach a listener that answers.
            let control = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let control_port = control.local_addr().unwrap().port();
            let answering = std::thread::spawn(move || {
                use std::io::Read;
                use std::io::Write;
                let (mut stream, _) = control.accept().unwrap();
                // Read before answering: closing with the request unread would reset the
                // connection, and the answer with it.
                let mut request = Vec::new();
                let mut buf = [0u8; 512];
                while !request.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                stream.write_all(b"HTTP/1.1 200 control\r\n\r\n").unwrap();
            });
            let reached =
                tokio::task::spawn_blocking(move || upgrade_as(Some(65534), control_port, "/"))
                    .await
                    .unwrap();
            answering.join().unwrap();
            assert!(
                reached.contains("200 control"),
                "the probe cannot run: {reached:?}"
            );
            let answer =
                tokio::task::spawn_blocking(move || upgrade_as(Some(65534), port, url.path()))
                    .await
                    .unwrap();
            assert_eq!(answer, "", "another user got an answer");
        } else {
            // Becoming another user needs root (CI runs as root); the uid check itself is
            // covered by `a_connection_of_ours_is_ours`.
            eprintln!("not root: the other-user half of this test did not run");
        }
        // This user at a wrong path is refused, and the relay keeps waiting.
        let wrong = tokio::task::spawn_blocking(move || upgrade_as(None, port, "/json/list"))
            .await
            .unwrap();
        assert!(wrong.starts_with("HTTP/1.1 404"), "{wrong}");

        let (ws, _) = async_tungstenite::tokio::connect_async(relay.url.as_str())
            .await
            .unwrap();
        let (mut sink, mut stream) = ws.split();
        sink.send(Message::text(r#"{"id":1,"method":"Browser.getVersion"}"#))
            .await
            .unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"\0") {
            let mut buf = [0u8; 256];
            let n = browser.commands.read(&mut buf).await.unwrap();
            assert!(n > 0, "the relay closed the command pipe");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"{\"id\":1,\"method\":\"Browser.getVersion\"}\0");
        // Two answers in one write, the second split across writes, arrive as three messages.
        browser
            .answers
            .write_all(b"{\"id\":1,\"result\":{}}\0{\"method\":\"a\"}\0{\"meth")
            .await
            .unwrap();
        browser.answers.write_all(b"od\":\"b\"}\0").await.unwrap();
        let mut texts = Vec::new();
        for _ in 0..3 {
            let message = stream.next().await.unwrap().unwrap();
            texts.push(message.into_text().unwrap().to_string());
        }
        assert_eq!(
            texts,
            [
                r#"{"id":1,"result":{}}"#,
                r#"{"method":"a"}"#,
                r#"{"method":"b"}"#
            ]
        );

        // Admitted once, the listener is gone: nobody, this user included, connects again.
        let again = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        assert!(again.is_err(), "the relay still listens after admitting");

        // The browser closing its end closes the WebSocket.
        drop(browser);
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert!(
            end.is_ok(),
            "the WebSocket stayed open after the browser went"
        );
        relay.task.await.unwrap();
    }
}
