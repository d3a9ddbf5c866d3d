//! The minimal local ISC stand-in the request-overhead and upload benchmarks talk to.
//!
//! It runs on its own thread with a single-threaded tokio runtime (so its scheduling does not
//! mix with the clients') and serves:
//!
//! * `POST /oauth/token`: a fixed token (the ergonomic client's client-credentials grant);
//! * `GET /{version}/account-aggregations/{id}/status`: a fixed `AccountAggregationStatus` body,
//!   counting requests and whether they carried `Authorization`;
//! * `POST /{version}/sources/{id}/load-accounts`: a multipart sink that streams the `file` part
//!   through SHA-256 (never buffering it) and answers 202 with a `LoadAccountsTask` whose `task.id`
//!   is that hash; every upload is also recorded for the parent to check.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_service::Service;

/// The client id and secret the servers accept.
pub const CLIENT_ID: &str = "bench-client";
/// See [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "bench-secret";
/// The bearer token the raw and generated clients send (the server does not check it).
pub const STATIC_TOKEN: &str = "bench-static-token";

/// The fixed status body (a finished v2025 aggregation with every field set).
pub const STATUS_BODY: &str = r#"{"start":"2026-01-31T14:30:05.104Z","status":"COMPLETED","totalAccounts":520,"processedAccounts":520,"totalAccountsMarkedForDeletion":10,"deletedAccounts":10,"totalIdentities":300,"processedIdentities":300}"#;

const TOKEN_BODY: &str = r#"{"access_token":"bench-issued-token","token_type":"bearer","expires_in":749,"scope":"sp:scopes:all","tenant_id":"bench","pod":"bench","strong_auth_supported":false,"org":"bench","identity_id":"bench","user_name":"bench","strong_auth":false,"jti":"bench"}"#;

/// One upload the sink received.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    /// Lowercase hex SHA-256 of the `file` part (also the `task.id` answered).
    pub sha256: String,
    /// Bytes in the `file` part.
    pub file_bytes: u64,
}

/// Counters and records shared with the server thread.
#[derive(Debug, Default)]
pub struct ServerState {
    /// Status requests received.
    pub status_requests: AtomicU64,
    /// Status requests with an `Authorization` header.
    pub well_formed_status_requests: AtomicU64,
    /// Token requests received.
    pub token_requests: AtomicU64,
    /// Uploads received, in order.
    pub uploads: Mutex<Vec<SinkRecord>>,
}

/// A running server; dropping it stops the thread.
pub struct BenchServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BenchServer {
    /// Binds `127.0.0.1:0` and starts serving on a dedicated thread.
    pub fn start() -> Result<BenchServer> {
        let state = Arc::new(ServerState::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr>>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let addr = listener.local_addr().map_err(anyhow::Error::from);
                    let _ = ready_tx.send(addr);
                    serve(listener, router(thread_state), shutdown_rx).await;
                });
            })
            .context("cannot spawn the server thread")?;
        let addr = ready_rx
            .recv()
            .context("the server thread ended before binding")??;
        Ok(BenchServer {
            addr,
            state,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`, without a version segment.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared counters and records.
    pub fn state(&self) -> &ServerState {
        &self.state
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/{version}/account-aggregations/{id}/status", get(status))
        .route("/{version}/sources/{id}/load-accounts", post(sink))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn serve(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let router = router.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let mut router = router.clone();
                        async move { router.call(req).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn token(State(state): State<Arc<ServerState>>) -> Response {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    json_response(StatusCode::OK, Bytes::from_static(TOKEN_BODY.as_bytes()))
}

async fn status(State(state): State<Arc<ServerState>>, req: Request) -> Response {
    state.status_requests.fetch_add(1, Ordering::Relaxed);
    let headers = req.headers();
    if headers.contains_key(header::AUTHORIZATION) {
        state
            .well_formed_status_requests
            .fetch_add(1, Ordering::Relaxed);
    }
    json_response(StatusCode::OK, Bytes::from_static(STATUS_BODY.as_bytes()))
}

async fn sink(State(state): State<Arc<ServerState>>, mut form: Multipart) -> Response {
    let mut file: Option<SinkRecord> = None;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        };
        let is_file = field.name() == Some("file");
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if is_file {
                        hasher.update(&chunk);
                    }
                    bytes += chunk.len() as u64;
                }
                Ok(None) => break,
                Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
            }
        }
        if is_file {
            file = Some(SinkRecord {
                sha256: hex(&hasher.finalize()),
                file_bytes: bytes,
            });
        }
    }
    let Some(record) = file else {
        return (StatusCode::BAD_REQUEST, "no file part").into_response();
    };
    let body = serde_json::json!({
        "success": true,
        "task": {
            "id": record.sha256,
            "type": "QUARTZ",
            "name": "Cloud Account Aggregation",
            "description": "Aggregate from the specified application",
            "launcher": "System",
            "created": "2026-01-31T14:30:05.104Z",
            "launched": "2026-01-31T14:30:05.104Z",
            "completed": null,
            "completionStatus": null,
            "messages": [],
            "progress": "Initializing...",
            "attributes": {"appId": "bench-source", "optimizedAggregation": "enabled"},
            "returns": []
        }
    });
    if let Ok(mut uploads) = state.uploads.lock() {
        uploads.push(record);
    }
    json_response(StatusCode::ACCEPTED, body.to_string())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
