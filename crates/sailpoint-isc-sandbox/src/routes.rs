//! Routes, the per-operation middleware (counting, faults, auth, rate limit) and the API handlers.

use axum::extract::{DefaultBodyLimit, Extension, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::aggregation::StartRequest;
use crate::auth::{self, Authenticated};
use crate::config::{ApiVersion, Operation};
use crate::csv::{ScannedFile, Snapshot, UploadScanner};
use crate::faults::Fault;
use crate::recording::{RequestRecord, Upload, UploadedFile};
use crate::responses::{self, REQUEST_ID_HEADER, RequestId};
use crate::server::ConnHandle;
use crate::state::AppState;

/// Header that marks a call to an experimental operation.
const EXPERIMENTAL_HEADER: &str = "x-sailpoint-experimental";

/// What the per-operation middleware needs to know about its route.
#[derive(Clone)]
struct OpContext {
    state: AppState,
    operation: Operation,
    version: Option<ApiVersion>,
}

/// Builds the tenant's router.
pub(crate) fn router(state: AppState) -> Router {
    let layer = |operation, version| {
        middleware::from_fn_with_state(
            OpContext {
                state: state.clone(),
                operation,
                version,
            },
            operation_layer,
        )
    };
    use ApiVersion::{Beta, V2025};
    use Operation::{GetStatus, ImportAccounts, Token};
    Router::new()
        .route(
            "/oauth/token",
            post(auth::token).route_layer(layer(Token, None)),
        )
        .route(
            "/beta/sources/{source_id}/load-accounts",
            post(import_beta).route_layer(layer(ImportAccounts, Some(Beta))),
        )
        .route(
            "/v2025/sources/{id}/load-accounts",
            post(import_v2025).route_layer(layer(ImportAccounts, Some(V2025))),
        )
        .route(
            "/beta/account-aggregations/{id}/status",
            get(status_beta).route_layer(layer(GetStatus, Some(Beta))),
        )
        .route(
            "/v2025/account-aggregations/{id}/status",
            get(status_v2025).route_layer(layer(GetStatus, Some(V2025))),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(request_id_layer))
        .with_state(state)
}

/// Gives every request an id, and every response the `SLPT-Request-ID` header.
async fn request_id_layer(mut req: Request, next: Next) -> Response {
    let id = crate::ids::hex32();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    resp
}

fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// Drops the request's connection without a response and never returns.
async fn drop_connection(conn: Option<ConnHandle>) -> Response {
    match conn {
        Some(conn) => {
            conn.kill();
            std::future::pending().await
        }
        // Only reachable if the router is served by something other than `server::serve`.
        None => {
            tracing::warn!("cannot drop a connection that the sandbox does not own");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Reads and discards a request body before an early answer (fault, 401, 429), as a gateway in
/// front of ISC does. Answering while the client is still uploading would make the client see a
/// reset connection instead of the status, depending on timing.
async fn drain_body(req: Request) {
    use futures_util::StreamExt;
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        if chunk.is_err() {
            break;
        }
    }
}

/// Per-operation handling around the handler: count, inject faults, authenticate, rate-limit, record.
async fn operation_layer(State(ctx): State<OpContext>, mut req: Request, next: Next) -> Response {
    let OpContext {
        state,
        operation,
        version,
    } = ctx;
    state.recorder.count(operation);
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let finish = |status: Option<u16>| {
        tracing::debug!(%operation, ?version, ?status, "request handled");
        state.recorder.finish(RequestRecord {
            operation,
            api_version: version,
            status,
        });
    };

    let mut drop_after = false;
    match state.faults.take(operation) {
        Some(Fault::Status {
            status,
            retry_after,
            body,
        }) => {
            tracing::debug!(%operation, status, "injecting status fault");
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match body {
                Some(body) => {
                    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
                }
                None => responses::default_for_status(code, &request_id(&req)),
            };
            if let Some(secs) = retry_after {
                responses::set_retry_after(&mut resp, secs);
            }
            drain_body(req).await;
            finish(Some(code.as_u16()));
            return resp;
        }
        Some(Fault::Delay(delay)) => {
            tracing::debug!(%operation, ?delay, "injecting delay");
            tokio::time::sleep(delay).await;
        }
        Some(Fault::DropConnection) => {
            tracing::debug!(%operation, "injecting connection drop before the body");
            finish(None);
            return drop_connection(conn).await;
        }
        Some(Fault::DropAfterProcessing) => drop_after = true,
        None => {}
    }

    if let Some(version) = version {
        let client_id = match state.tokens.authenticate(req.headers()) {
            Ok(client_id) => client_id,
            Err(failure) => {
                drain_body(req).await;
                finish(Some(401));
                return auth::reject(failure);
            }
        };
        if let Err(retry_after) = state.limiter.check(&client_id, version) {
            tracing::debug!(%client_id, %version, retry_after, "rate limited");
            drain_body(req).await;
            finish(Some(429));
            return responses::rate_limited(retry_after);
        }
        req.extensions_mut().insert(Authenticated { client_id });
    }

    let resp = next.run(req).await;
    if drop_after {
        tracing::debug!(%operation, "injecting connection drop after processing");
        finish(None);
        return drop_connection(conn).await;
    }
    finish(Some(resp.status().as_u16()));
    resp
}

/// Unknown routes: 404 `ErrorResponseDto`.
async fn not_found(Extension(rid): Extension<RequestId>) -> Response {
    responses::error_dto(
        StatusCode::NOT_FOUND,
        &rid.0,
        "The sandbox has no resource at this URL.",
    )
}

async fn import_beta(
    State(state): State<AppState>,
    Path(source_id): Path<String>,
    Extension(auth): Extension<Authenticated>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    import(state, ApiVersion::Beta, source_id, auth, rid, req).await
}

async fn import_v2025(
    State(state): State<AppState>,
    Path(source_id): Path<String>,
    Extension(auth): Extension<Authenticated>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    import(state, ApiVersion::V2025, source_id, auth, rid, req).await
}

/// The parsed body of an import request.
#[derive(Debug, Default)]
struct ImportBody {
    file: Option<(Option<String>, ScannedFile)>,
    disable_optimization: Option<String>,
}

/// A 400 with an `ErrorResponseDto` body; the text is the message.
struct BadRequest(String);

/// Largest text field accepted (`disableOptimization`).
const MAX_TEXT_FIELD: usize = 1024;

async fn read_import_body(version: ApiVersion, req: Request) -> Result<ImportBody, BadRequest> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "multipart/form-data" => read_multipart(req).await,
        "application/x-www-form-urlencoded" if version == ApiVersion::Beta => {
            let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, &())
                .await
                .map_err(|e| BadRequest(e.body_text()))?;
            let disable_optimization = fields
                .into_iter()
                .rev()
                .find(|(k, _)| k == "disableOptimization")
                .map(|(_, v)| v);
            Ok(ImportBody {
                file: None,
                disable_optimization,
            })
        }
        "" => {
            // No content type: there must be no body.
            let bytes = axum::body::to_bytes(req.into_body(), MAX_TEXT_FIELD)
                .await
                .map_err(|_| BadRequest("A request body needs a Content-Type.".into()))?;
            if bytes.is_empty() {
                Ok(ImportBody::default())
            } else {
                Err(BadRequest("A request body needs a Content-Type.".into()))
            }
        }
        other => Err(BadRequest(format!("Unsupported Content-Type '{other}'."))),
    }
}

async fn read_multipart(req: Request) -> Result<ImportBody, BadRequest> {
    // Some clients (reqwest among them) send an empty body for a form without parts.
    let empty = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    if empty {
        return Ok(ImportBody::default());
    }
    let bad = |e: axum::extract::multipart::MultipartError| BadRequest(e.body_text());
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| BadRequest(e.body_text()))?;
    let mut body = ImportBody::default();
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => {
                if body.file.is_some() {
                    return Err(BadRequest("Only one 'file' part is allowed.".into()));
                }
                let file_name = field.file_name().map(str::to_owned);
                let mut scanner = UploadScanner::default();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    scanner.feed(&chunk);
                }
                body.file = Some((file_name, scanner.finish()));
            }
            Some("disableOptimization") => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    text.extend_from_slice(&chunk);
                    if text.len() > MAX_TEXT_FIELD {
                        return Err(BadRequest("'disableOptimization' is too long.".into()));
                    }
                }
                let text = String::from_utf8(text)
                    .map_err(|_| BadRequest("'disableOptimization' is not UTF-8.".into()))?;
                body.disable_optimization = Some(text);
            }
            _ => while field.chunk().await.map_err(bad)?.is_some() {},
        }
    }
    Ok(body)
}

/// `importAccounts`, both versions.
async fn import(
    state: AppState,
    version: ApiVersion,
    source_id: String,
    auth: Authenticated,
    rid: RequestId,
    req: Request,
) -> Response {
    let body = match read_import_body(version, req).await {
        Ok(body) => body,
        Err(BadRequest(text)) => {
            return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text);
        }
    };
    let disable_optimization = match (version, body.disable_optimization.as_deref()) {
        (_, None) => false,
        (ApiVersion::Beta, Some("true")) => true,
        (ApiVersion::Beta, Some("false")) => false,
        (ApiVersion::Beta, Some(other)) => {
            return responses::error_dto(
                StatusCode::BAD_REQUEST,
                &rid.0,
                &format!("'disableOptimization' must be \"true\" or \"false\", not \"{other}\"."),
            );
        }
        (ApiVersion::V2025, Some(v)) => v.trim().eq_ignore_ascii_case("true"),
    };

    let (rows, snapshot, file) = match body.file {
        Some((file_name, scanned)) => (
            scanned.rows,
            scanned.snapshot,
            Some(UploadedFile {
                file_name,
                bytes: scanned.bytes,
                sha256: scanned.sha256,
                rows: scanned.rows,
            }),
        ),
        None => {
            let n = state.config.direct_connect_accounts;
            (u64::from(n), Snapshot::synthetic(n), None)
        }
    };
    let (aggregation_id, accepted, task) = state.aggregations.start(StartRequest {
        source_id: source_id.clone(),
        api_version: version,
        rows,
        snapshot,
        disable_optimization,
    });
    state.recorder.upload(Upload {
        source_id,
        api_version: version,
        client_id: auth.client_id,
        disable_optimization: body.disable_optimization,
        file,
        aggregation_id,
        accepted,
    });
    (StatusCode::ACCEPTED, Json(task)).into_response()
}

async fn status_beta(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
) -> Response {
    status(&state, ApiVersion::Beta, &id, &rid)
}

async fn status_v2025(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    if state.config.require_experimental_header {
        let ok = headers
            .get(EXPERIMENTAL_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if !ok {
            return responses::inline_error(
                StatusCode::BAD_REQUEST,
                "Experimental Header is missing or invalid.",
            );
        }
    }
    status(&state, ApiVersion::V2025, &id, &rid)
}

/// `getAccountAggregationStatus`, both versions.
fn status(state: &AppState, version: ApiVersion, id: &str, rid: &RequestId) -> Response {
    match state.aggregations.status_json(id, version) {
        Some(body) => (StatusCode::OK, Json(body)).into_response(),
        None => responses::error_dto(
            StatusCode::NOT_FOUND,
            &rid.0,
            &format!("No account aggregation with id '{id}' exists (or its status has expired)."),
        ),
    }
}
