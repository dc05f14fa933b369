//! An OAuth2 token introspection endpoint (RFC 7662) on loopback, for Dovecot's `oauth2`
//! passdb: a few lines of HTTP that say which tokens are active and whose they are, and
//! remember which tokens were asked about.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Tokens {
    /// Active token → its user.
    active: HashMap<String, String>,
    /// Every token asked about, in order.
    asked: Vec<String>,
}

/// The running endpoint (clones share it); stopped when the last clone is dropped.
#[derive(Clone)]
pub struct Introspection {
    url: String,
    tokens: Arc<Mutex<Tokens>>,
    _task: Arc<Serving>,
}

/// The serving task, aborted when dropped.
struct Serving(tokio::task::JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Introspection {
    /// Serves on a fresh loopback port.
    pub async fn start() -> Introspection {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/introspect",
            listener.local_addr().expect("a bound address")
        );
        let tokens = Arc::new(Mutex::new(Tokens::default()));
        let task = tokio::spawn(serve(listener, tokens.clone()));
        Introspection {
            url,
            tokens,
            _task: Arc::new(Serving(task)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `token` is active for `user` from now on.
    pub fn activate(&self, token: &str, user: &str) {
        let mut tokens = self.tokens.lock().unwrap();
        tokens.active.insert(token.into(), user.into());
    }

    /// `token` is no longer active (expired, revoked).
    pub fn deactivate(&self, token: &str) {
        self.tokens.lock().unwrap().active.remove(token);
    }

    /// Every token Dovecot asked about so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.tokens.lock().unwrap().asked.clone()
    }
}

async fn serve(listener: TcpListener, tokens: Arc<Mutex<Tokens>>) {
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(answer(socket, tokens.clone()));
    }
}

/// One request (`POST` with `token=…` in a form body), one JSON answer, then the connection
/// closes.
async fn answer(mut socket: TcpStream, tokens: Arc<Mutex<Tokens>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let (head_end, length) = loop {
        let Ok(n) = socket.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while request.len() < head_end + length {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&request[head_end..head_end + length]).into_owned();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let answer = {
        let mut tokens = tokens.lock().unwrap();
        tokens.asked.push(token.clone());
        match tokens.active.get(&token) {
            Some(user) => serde_json::json!({
                "active": true,
                "username": user,
                "scope": "https://mail.google.com/",
            }),
            None => serde_json::json!({ "active": false }),
        }
    }
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}
