//! Raw HTTP/1.1 against the fixture portal over a Tokio `TcpStream`: enough to check pages,
//! redirects and cookies without a browser.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take before the test fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: status, headers (names lowercased, repeated headers in order), body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Location` of a redirect, or "".
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }
}

/// `GET url` without cookies: `(status, headers, body)`.
pub async fn http_get(url: &str) -> (u16, Vec<(String, String)>, String) {
    let r = request("GET", url, None, None).await;
    (r.status, r.headers, r.body)
}

/// `POST url` with a form body and an optional `Cookie` header.
pub async fn http_post_form(
    url: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let r = request("POST", url, Some(&form_body(fields)), cookie).await;
    (r.status, r.headers, r.body)
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// One request on a fresh connection (`Connection: close`).
pub async fn request(
    method: &str,
    url: &str,
    form: Option<&str>,
    cookie: Option<&str>,
) -> HttpResponse {
    let body = form.map(|f| ("application/x-www-form-urlencoded", f));
    request_with(method, url, body, cookie, &[]).await
}

/// One request with a body of any type (`(content type, body)`) and extra headers.
pub async fn request_with(
    method: &str,
    url: &str,
    body: Option<(&str, &str)>,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("bad URL {url}: {e}"));
    let host = parsed.host_str().expect("URL has a host");
    let port = parsed.port_or_known_default().expect("URL has a port");
    let mut target = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        target = format!("{target}?{q}");
    }
    let mut req = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    // A Host given among the headers replaces the URL's (a request as a rebinding page sends it).
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {host}:{port}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, body)) = body {
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await?;
        stream.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {url}: no response within {REQUEST_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    parse_response(&raw).unwrap_or_else(|| panic!("{method} {url}: malformed response"))
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A browser-like client for one session: keeps cookies, does not follow redirects.
pub struct Client {
    base: url::Url,
    cookies: HashMap<String, String>,
}

impl Client {
    /// A client for the portal at `base` (its `url()`), with no cookies yet.
    pub fn new(base: &str) -> Client {
        Client {
            base: url::Url::parse(base).expect("portal URL"),
            cookies: HashMap::new(),
        }
    }

    pub fn cookie_header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.sort();
        Some(pairs.join("; "))
    }

    /// Sets a cookie as a page's script would (`cookie_consent=accepted`).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_string(), value.to_string());
    }

    pub async fn get(&mut self, path: &str) -> HttpResponse {
        self.send("GET", path, None, &[]).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        self.send("POST", path, Some(&form_body(fields)), &[]).await
    }

    /// A form post the way a page's script sends it in the background, asking for JSON.
    pub async fn post_for_json(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let accept = [("Accept", "application/json")];
        self.send("POST", path, Some(&form_body(fields)), &accept)
            .await
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&str>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let url = self.base.join(path).expect("path joins the portal URL");
        let cookie = self.cookie_header();
        let body = form.map(|f| ("application/x-www-form-urlencoded", f));
        let r = request_with(method, url.as_str(), body, cookie.as_deref(), headers).await;
        for (k, v) in &r.headers {
            if k == "set-cookie" {
                if let Some((name, value)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                    self.cookies
                        .insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
        r
    }
}

/// The text of an HTML fragment with tags removed and whitespace collapsed, for "the page shows".
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
