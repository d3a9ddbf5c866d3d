//! A raw-TCP HTTP/1.1 server on loopback that plays a scripted ISC tenant, so tests can misbehave
//! at the connection level (resets, truncated bodies, headers that never end) where an HTTP
//! framework would not let them.
//!
//! Every connection carries one request and is closed after the answer (`Connection: close`), so
//! no request is ever replayed on a reused connection behind the client's back. The server reads
//! each request in full (body included) before it acts, so for an import "processed" means the
//! whole upload arrived and was not refused with 429: that is what starts an aggregation.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /oauth/token`.
    Token,
    /// `POST /{version}/sources/{id}/load-accounts`.
    Import,
    /// `GET /{version}/account-aggregations/{id}/status`.
    Status,
    /// Anything else.
    Other,
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// The normal answer for the route (a token, a 202 task, a COMPLETED status).
    Normal,
    /// Reset the connection (RST) without a byte of response.
    ResetBeforeResponse,
    /// Send the status line, then reset.
    ResetAfterStatusLine,
    /// A complete response whose JSON body is cut in the middle (`Content-Length` matches).
    TruncatedJson,
    /// `Content-Length` announces more bytes than are sent, then the connection closes.
    ContentLengthTooLong,
    /// Start the headers and never finish them (the connection stays open).
    HeadersNeverFinish,
    /// A gateway's HTML 502 page.
    Html502,
    /// 429 with this `Retry-After` value (`None`: no header).
    RateLimited(Option<String>),
    /// 429 with `Retry-After` as an HTTP-date this many seconds from the moment of the answer
    /// (negative: in the past).
    RateLimitedUntil(i64),
    /// This status and body (`Content-Type: application/json`).
    Status(u16, String),
    /// 307 to this absolute URL.
    Redirect(String),
    /// 502 whose HTML body echoes the request head (headers included), like a debug gateway.
    EchoHead502,
    /// 400 whose body echoes the request body, like a careless token endpoint.
    EchoBody400,
    /// This status, these extra headers, and this exact body (for fuzzing).
    Raw {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body bytes.
        body: Vec<u8>,
    },
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// What it was for.
    pub route: Route,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Body length in bytes.
    pub body_len: usize,
    /// For imports: whether it was processed (read in full and not refused), i.e. started an
    /// aggregation.
    pub processed: bool,
}

#[derive(Default)]
struct Inner {
    scripts: HashMap<Route, VecDeque<Behaviour>>,
    /// Answer every request of a route this way once its script is used up.
    fallback: HashMap<Route, Behaviour>,
    seen: Vec<Seen>,
    /// Issued tokens with their expiry.
    tokens: Vec<(String, Instant)>,
    token_ttl_secs: u64,
    /// The `expires_in` announced, when it differs from the real lifetime.
    announced_ttl_secs: Option<u64>,
    /// Reject expired or unknown bearer tokens with 401.
    check_tokens: bool,
}

/// The scripted server. Dropping it stops accepting connections.
pub struct WireServer {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for WireServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl WireServer {
    /// Starts a server on `127.0.0.1:0`.
    pub async fn start() -> WireServer {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts a server on the given loopback address.
    pub async fn start_on(addr: &str) -> WireServer {
        let listener = TcpListener::bind(addr).await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            token_ttl_secs: 749,
            ..Default::default()
        }));
        let shared = inner.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, shared).await;
                });
            }
        });
        WireServer {
            addr,
            inner,
            accept,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next requests of `route` are answered with these behaviours, in order.
    pub fn script(&self, route: Route, behaviours: impl IntoIterator<Item = Behaviour>) {
        let mut inner = self.inner.lock().unwrap();
        inner.scripts.entry(route).or_default().extend(behaviours);
    }

    /// Once its script is used up, every request of `route` is answered with `behaviour`.
    pub fn always(&self, route: Route, behaviour: Behaviour) {
        self.inner.lock().unwrap().fallback.insert(route, behaviour);
    }

    /// Tokens issued from now on live this long.
    pub fn token_ttl(&self, secs: u64) {
        self.inner.lock().unwrap().token_ttl_secs = secs;
    }

    /// Announce this `expires_in` while tokens really live as long as [`token_ttl`](Self::token_ttl)
    /// says (a token revoked early, as the client sees it).
    pub fn announce_ttl(&self, secs: u64) {
        self.inner.lock().unwrap().announced_ttl_secs = Some(secs);
    }

    /// Reject unknown or expired bearer tokens with 401 (off by default).
    pub fn check_tokens(&self, on: bool) {
        self.inner.lock().unwrap().check_tokens = on;
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// Requests of one route so far.
    pub fn count(&self, route: Route) -> usize {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.route == route)
            .count()
    }

    /// Requests other than token requests.
    pub fn api_requests(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.route != Route::Token)
            .count()
    }

    /// Imports that were processed (each started an aggregation).
    pub fn processed_imports(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.route == Route::Import && s.processed)
            .count()
    }

    /// Every token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap()
            .tokens
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

struct Request {
    method: String,
    path: String,
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn route(&self) -> Route {
        let path = self.path.split('?').next().unwrap_or("");
        if self.method == "POST" && path == "/oauth/token" {
            Route::Token
        } else if self.method == "POST" && path.ends_with("/load-accounts") {
            Route::Import
        } else if self.method == "GET" && path.ends_with("/status") {
            Route::Status
        } else {
            Route::Other
        }
    }
}

/// Reads one request: the head up to the blank line, then the body by `Content-Length` or
/// chunked encoding.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut request = Request {
        method,
        path,
        head,
        headers,
        body: buf[head_end + 4..].to_vec(),
    };
    if let Some(len) = request
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while request.body.len() < len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            request.body.extend_from_slice(&chunk[..n]);
        }
        request.body.truncate(len);
    } else if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut raw = std::mem::take(&mut request.body);
        loop {
            if let Some(body) = dechunk(&raw) {
                request.body = body;
                break;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            raw.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some(request))
}

/// The decoded body once `raw` holds a complete chunked body, else `None`.
fn dechunk(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let line_end = at + find(&raw[at..], b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            return find(&raw[at..], b"\r\n").map(|_| out);
        }
        if raw.len() < at + size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[at..at + size]);
        at += size + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn serve(mut stream: TcpStream, shared: Arc<Mutex<Inner>>) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let route = request.route();
    let (behaviour, token_reply, auth_ok) = {
        let mut inner = shared.lock().unwrap();
        let behaviour = inner
            .scripts
            .get_mut(&route)
            .and_then(VecDeque::pop_front)
            .or_else(|| inner.fallback.get(&route).cloned())
            .unwrap_or(Behaviour::Normal);
        let auth_ok = !inner.check_tokens || route == Route::Token || {
            let now = Instant::now();
            let presented = request
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            inner
                .tokens
                .iter()
                .any(|(t, expires)| t == presented && now < *expires)
        };
        // Refused requests (429, a redirect, another 4xx) start nothing.
        let refused = match &behaviour {
            Behaviour::RateLimited(_) | Behaviour::RateLimitedUntil(_) | Behaviour::Redirect(_) => {
                true
            }
            Behaviour::Status(status, _) | Behaviour::Raw { status, .. } => {
                (300..500).contains(status)
            }
            _ => false,
        };
        let processed = route == Route::Import && auth_ok && !refused;
        let mut token_reply = None;
        if route == Route::Token && matches!(behaviour, Behaviour::Normal) {
            let token = format!(
                "wire-token-{}-{:016x}",
                inner.tokens.len() + 1,
                fastrand_u64()
            );
            let real = inner.token_ttl_secs;
            let ttl = inner.announced_ttl_secs.unwrap_or(real);
            inner
                .tokens
                .push((token.clone(), Instant::now() + Duration::from_secs(real)));
            token_reply = Some(format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{ttl},"scope":"sp:scopes:all"}}"#
            ));
        }
        inner.seen.push(Seen {
            route,
            authorization: request.header("authorization").map(str::to_owned),
            body_len: request.body.len(),
            processed,
        });
        (behaviour, token_reply, auth_ok)
    };
    if !auth_ok {
        return respond(
            &mut stream,
            401,
            "application/json",
            &[],
            br#"{"error":"JWT validation failed: JWT is expired"}"#,
        )
        .await;
    }
    match behaviour {
        Behaviour::Normal => {
            let body = match route {
                Route::Token => token_reply.unwrap_or_default(),
                Route::Import => format!(
                    r#"{{"success":"true","task":{{"id":"{:032x}","type":"QUARTZ","name":"Cloud Account Aggregation","launcher":"fault-suite","created":"2026-11-21T10:00:00.000Z","completionStatus":null,"messages":[],"attributes":{{"optimizedAggregation":"enabled"}},"returns":[]}}}}"#,
                    fastrand_u64() as u128 * 31 + 7
                ),
                Route::Status => r#"{"start":"2026-11-21T10:00:00.000Z","status":"COMPLETED","totalAccounts":3,"processedAccounts":3,"totalIdentities":1,"processedIdentities":1}"#.to_owned(),
                Route::Other => r#"{"error":"no such route"}"#.to_owned(),
            };
            let status = match route {
                Route::Import => 202,
                Route::Other => 404,
                _ => 200,
            };
            respond(
                &mut stream,
                status,
                "application/json",
                &[],
                body.as_bytes(),
            )
            .await
        }
        Behaviour::ResetBeforeResponse => reset(stream),
        Behaviour::ResetAfterStatusLine => {
            let status = if route == Route::Import { 202 } else { 200 };
            stream
                .write_all(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes())
                .await?;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            reset(stream)
        }
        Behaviour::TruncatedJson => {
            let (status, body): (u16, &[u8]) = match route {
                Route::Import => (202, br#"{"success":"true","task":{"id":"2c918084"#),
                _ => (200, br#"{"status":"COMPLETED","totalAcc"#),
            };
            respond(&mut stream, status, "application/json", &[], body).await
        }
        Behaviour::ContentLengthTooLong => {
            let status = if route == Route::Import { 202 } else { 200 };
            let body = br#"{"status":"COMPLETED","#;
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                reason(status),
                body.len() + 400
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            stream.flush().await?;
            stream.shutdown().await
        }
        Behaviour::HeadersNeverFinish => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                .await?;
            stream.flush().await?;
            // Hold the connection open far beyond any timeout the tests use.
            tokio::time::sleep(Duration::from_secs(120)).await;
            Ok(())
        }
        Behaviour::Html502 => {
            let page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
            respond(&mut stream, 502, "text/html", &[], page).await
        }
        Behaviour::RateLimitedUntil(offset) => {
            let at = chrono::Utc::now() + chrono::Duration::seconds(offset);
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            respond(
                &mut stream,
                429,
                "application/json",
                &[("Retry-After".to_owned(), date)],
                br#"{"message":" Rate Limit Exceeded "}"#,
            )
            .await
        }
        Behaviour::RateLimited(retry_after) => {
            let headers: Vec<(String, String)> = retry_after
                .map(|v| vec![("Retry-After".to_owned(), v)])
                .unwrap_or_default();
            respond(
                &mut stream,
                429,
                "application/json",
                &headers,
                br#"{"message":" Rate Limit Exceeded "}"#,
            )
            .await
        }
        Behaviour::Status(status, body) => {
            respond(
                &mut stream,
                status,
                "application/json",
                &[],
                body.as_bytes(),
            )
            .await
        }
        Behaviour::Redirect(location) => {
            respond(
                &mut stream,
                307,
                "text/plain",
                &[("Location".to_owned(), location)],
                b"moved",
            )
            .await
        }
        Behaviour::EchoHead502 => {
            let page = format!(
                "<html><body><h1>502 Bad Gateway</h1><pre>{}</pre></body></html>",
                request.head
            );
            respond(&mut stream, 502, "text/html", &[], page.as_bytes()).await
        }
        Behaviour::EchoBody400 => {
            let text = String::from_utf8_lossy(&request.body).into_owned();
            let body = serde_json::json!({
                "error": "invalid_request",
                "error_description": format!("could not parse {text}"),
            })
            .to_string();
            respond(&mut stream, 400, "application/json", &[], body.as_bytes()).await
        }
        Behaviour::Raw {
            status,
            headers,
            body,
        } => write_response(&mut stream, status, &headers, &body).await,
    }
}

/// A complete response with a content type and an `SLPT-Request-ID`, then FIN.
async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut all = vec![
        ("Content-Type".to_owned(), content_type.to_owned()),
        (
            "SLPT-Request-ID".to_owned(),
            format!("wire-{:08x}", fastrand_u64() as u32),
        ),
    ];
    all.extend_from_slice(headers);
    write_response(stream, status, &all, body).await
}

/// A complete response with exactly these headers (plus `Content-Length` and
/// `Connection: close`), then FIN.
async fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// Closes with RST instead of FIN.
fn reset(stream: TcpStream) -> std::io::Result<()> {
    stream.set_zero_linger()?;
    drop(stream);
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A random u64 without another dependency: hashes the time and a counter.
pub fn fastrand_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}
