//! Routes, the per-operation middleware (counting, faults, auth, rate limit, experimental
//! header, deprecation) and the API handlers.
//!
//! The API routes are data: every operation of every version of the generated table
//! ([`ApiVersion::all`]) for which the sandbox has a handler (chosen by the operation's
//! cross-version name) is served at the version's base path plus the operation's path, with the
//! method the spec gives. Nothing here names a version.

use std::collections::HashSet;

use axum::extract::{
    DefaultBodyLimit, Extension, FromRequest, Multipart, Path, Query, Request, State,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on, post};
use axum::{Json, Router};
use sailpoint_isc_api::{ApiVersion, Operation as OperationSpec};
use serde_json::Value;

use crate::aggregation::{Kind, TASK_FILTERS, TASK_SORTERS};
use crate::auth::{self, Authenticated};
use crate::collection::Params;
use crate::config::{Config, Operation};
use crate::csv::{ScannedFile, Snapshot, UploadScanner};
use crate::faults::Fault;
use crate::recording::{RequestRecord, Upload, UploadedFile};
use crate::registry::StartRequest;
use crate::responses::{self, DEPRECATED_HEADER, REQUEST_ID_HEADER, RequestId, TOTAL_COUNT_HEADER};
use crate::schema::SchemaKind;
use crate::server::ConnHandle;
use crate::sources;
use crate::state::AppState;

/// Header that marks a call to an experimental operation.
const EXPERIMENTAL_HEADER: &str = "x-sailpoint-experimental";

/// One served API route: an operation of a version, and the handler that serves it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub version: ApiVersion,
    pub spec: OperationSpec,
    pub operation: Operation,
}

impl Route {
    /// The axum path: the base path plus the operation's path, each `{placeholder}` renamed
    /// by position (`{p0}`, `{p1}`, ...) so that operations naming the same segment differently
    /// (`{id}`, `{sourceId}`) never conflict.
    pub(crate) fn axum_path(&self) -> String {
        let mut out = String::from(self.version.base_path());
        let mut rest = self.spec.path;
        let mut n = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            out.push_str(&rest[..open]);
            out.push_str(&format!("{{p{n}}}"));
            n += 1;
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// The API routes: every table operation the sandbox has a handler for, with the configured
/// replacements and additions ([`SandboxBuilder::serve_operation`](crate::SandboxBuilder::serve_operation)).
pub(crate) fn api_routes(config: &Config) -> Vec<Route> {
    let extra = |version: ApiVersion, name: &str| {
        config
            .extra_operations
            .iter()
            .rev()
            .find(|(v, o)| *v == version && o.name == name)
            .map(|(_, o)| *o)
    };
    let mut specs: Vec<(ApiVersion, OperationSpec)> = Vec::new();
    for version in ApiVersion::all() {
        for op in version.spec().operations {
            specs.push((version, extra(version, op.name).unwrap_or(*op)));
        }
    }
    for (version, op) in &config.extra_operations {
        if !specs.iter().any(|(v, o)| v == version && o.name == op.name) {
            specs.push((*version, *op));
        }
    }
    specs
        .into_iter()
        .filter_map(|(version, spec)| {
            let operation = Operation::from_name(spec.name);
            if operation.is_none() {
                tracing::debug!(%version, operation = spec.name, "no sandbox handler; not served");
            }
            Some(Route {
                version,
                spec,
                operation: operation?,
            })
        })
        .collect()
}

/// What the per-operation middleware needs to know about its route.
#[derive(Clone)]
struct OpContext {
    state: AppState,
    operation: Operation,
    route: Option<Route>,
}

/// Builds the tenant's router.
pub(crate) fn router(state: AppState) -> Router {
    let layer = |operation, route| {
        middleware::from_fn_with_state(
            OpContext {
                state: state.clone(),
                operation,
                route,
            },
            operation_layer,
        )
    };
    let mut router = Router::new().route(
        "/oauth/token",
        post(auth::token).route_layer(layer(Operation::Token, None)),
    );
    let mut seen = HashSet::new();
    for route in api_routes(&state.config) {
        let Some(handler) = handler(route) else {
            continue;
        };
        let path = route.axum_path();
        if !seen.insert((route.spec.method, path.clone())) {
            tracing::warn!(%path, method = route.spec.method, "duplicate route; first one kept");
            continue;
        }
        tracing::trace!(%path, method = route.spec.method, operation = route.spec.name, "route");
        router = router.route(
            &path,
            handler.route_layer(layer(route.operation, Some(route))),
        );
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(request_id_layer))
        .with_state(state)
}

/// The method router serving `route`, by the operation's name and the spec's method.
fn handler(route: Route) -> Option<MethodRouter<AppState>> {
    let Some(filter) = Method::from_bytes(route.spec.method.as_bytes())
        .ok()
        .and_then(|m| MethodFilter::try_from(m).ok())
    else {
        tracing::warn!(
            method = route.spec.method,
            operation = route.spec.name,
            "unknown method; not served"
        );
        return None;
    };
    Some(match route.operation {
        Operation::Token => return None,
        Operation::ImportAccounts => on(filter, import),
        Operation::GetStatus => on(filter, status),
        Operation::GetTaskStatus => on(filter, task_status),
        Operation::GetTaskStatusList => on(filter, task_status_list),
        Operation::ListSources => on(filter, list_sources),
        Operation::ImportEntitlements => on(filter, import_entitlements),
        Operation::GetAccountsSchema => on(filter, accounts_schema),
        Operation::GetEntitlementsSchema => on(filter, entitlements_schema),
        Operation::GetSourceSchemas => on(filter, source_schemas),
    })
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

/// Reads a request body until `limit` bytes of it have arrived (or it ends, or fails), then
/// stops reading from the connection; returns the unread rest of the body and how many bytes
/// were read.
///
/// The connection itself yields no more than the body's first `limit` bytes (see
/// [`ReadLimit`](crate::link::ReadLimit)); without a connection handle, the body is read in
/// the pieces the HTTP layer delivers, which may overshoot `limit`.
async fn read_body_prefix(
    req: Request,
    limit: u64,
    conn: Option<&ConnHandle>,
) -> (axum::body::BodyDataStream, u64) {
    use futures_util::StreamExt;
    let mut body = req.into_body().into_data_stream();
    let mut read = 0u64;
    if let Some(conn) = conn {
        conn.reads().limit_body(limit);
    }
    let reached = async {
        match conn {
            Some(conn) => conn.reads().reached().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(reached);
    while read < limit {
        tokio::select! {
            biased;
            chunk = body.next() => match chunk {
                Some(Ok(chunk)) => read += chunk.len() as u64,
                Some(Err(_)) | None => break,
            },
            // The connection gave all it may (with chunked encoding, part was framing).
            () = &mut reached => break,
        }
    }
    (body, read)
}

/// The 400 ISC answers when `op` is experimental and the request lacks
/// `X-SailPoint-Experimental: true`; `None` when the call may go ahead.
pub(crate) fn experimental_rejection(op: &OperationSpec, headers: &HeaderMap) -> Option<Response> {
    if !op.experimental {
        return None;
    }
    let ok = headers
        .get(EXPERIMENTAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    (!ok).then(|| {
        responses::inline_error(
            StatusCode::BAD_REQUEST,
            "Experimental Header is missing or invalid.",
        )
    })
}

/// The response of an injected status fault.
fn fault_response(
    status: u16,
    retry_after: Option<u64>,
    body: Option<String>,
    rid: &str,
) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        Some(body) => (code, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => responses::default_for_status(code, rid),
    };
    if let Some(secs) = retry_after {
        responses::set_retry_after(&mut resp, secs);
    }
    resp
}

/// Per-operation handling around the handler; adds `X-Deprecated: true` where configured.
async fn operation_layer(State(ctx): State<OpContext>, req: Request, next: Next) -> Response {
    let deprecated = ctx.route.is_some_and(|r| {
        ctx.state
            .config
            .deprecated
            .contains(&(r.version.name().to_owned(), r.spec.name.to_owned()))
    });
    let mut resp = handle_operation(ctx, req, next).await;
    if deprecated {
        resp.headers_mut()
            .insert(DEPRECATED_HEADER, HeaderValue::from_static("true"));
    }
    resp
}

/// Count, inject faults, authenticate, rate-limit, check the experimental header, record.
async fn handle_operation(ctx: OpContext, mut req: Request, next: Next) -> Response {
    let OpContext {
        state,
        operation,
        route,
    } = ctx;
    let version = route.map(|r| r.version);
    let received = std::time::Instant::now();
    state.recorder.count(operation);
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let rid = request_id(&req);
    let finish = |status: Option<u16>| {
        tracing::debug!(%operation, ?version, ?status, "request handled");
        state.recorder.finish(RequestRecord {
            operation,
            api_version: version,
            status,
            received,
        });
    };

    let mut after = None;
    match state.faults.take(operation) {
        Some(Fault::Status {
            status,
            retry_after,
            body,
        }) => {
            tracing::debug!(%operation, status, "injecting status fault");
            let resp = fault_response(status, retry_after, body, &rid);
            drain_body(req).await;
            finish(Some(resp.status().as_u16()));
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
        Some(Fault::CutBody { after_bytes }) => {
            let (_rest, read) = read_body_prefix(req, after_bytes, conn.as_ref()).await;
            tracing::debug!(%operation, after_bytes, read, "injecting connection cut mid-body");
            finish(None);
            return drop_connection(conn).await;
        }
        Some(Fault::StopReading { after_bytes }) => {
            let (_rest, read) = read_body_prefix(req, after_bytes, conn.as_ref()).await;
            tracing::debug!(%operation, after_bytes, read, "injecting a hang mid-body");
            finish(None);
            // The connection's read limit keeps anything more from being read; the connection
            // task (and this future with it) is aborted when the sandbox shuts down.
            return std::future::pending().await;
        }
        Some(
            fault @ (Fault::DropAfterProcessing
            | Fault::StatusAfterProcessing { .. }
            | Fault::DelayAfterProcessing(_)),
        ) => {
            after = Some(fault);
        }
        None => {}
    }

    if let Some(route) = route {
        let client_id = match state.tokens.authenticate(req.headers()) {
            Ok(client_id) => client_id,
            Err(failure) => {
                drain_body(req).await;
                finish(Some(401));
                return auth::reject(failure);
            }
        };
        if let Err(retry_after) = state.limiter.check(&client_id, route.version) {
            tracing::debug!(%client_id, version = %route.version, retry_after, "rate limited");
            drain_body(req).await;
            finish(Some(429));
            return responses::rate_limited(retry_after);
        }
        if let Some(resp) = experimental_rejection(&route.spec, req.headers()) {
            drain_body(req).await;
            finish(Some(resp.status().as_u16()));
            return resp;
        }
        req.extensions_mut().insert(Authenticated { client_id });
        req.extensions_mut().insert(route);
    }

    let resp = next.run(req).await;
    match after {
        Some(Fault::StatusAfterProcessing {
            status,
            retry_after,
            body,
        }) => {
            tracing::debug!(%operation, status, real = %resp.status(), "injecting status after processing");
            let resp = fault_response(status, retry_after, body, &rid);
            finish(Some(resp.status().as_u16()));
            resp
        }
        Some(Fault::DelayAfterProcessing(delay)) => {
            tracing::debug!(%operation, ?delay, "holding the response back after processing");
            tokio::time::sleep(delay).await;
            finish(Some(resp.status().as_u16()));
            resp
        }
        Some(_) => {
            tracing::debug!(%operation, "injecting connection drop after processing");
            finish(None);
            drop_connection(conn).await
        }
        None => {
            finish(Some(resp.status().as_u16()));
            resp
        }
    }
}

/// Unknown routes: 404 `ErrorResponseDto`.
async fn not_found(Extension(rid): Extension<RequestId>) -> Response {
    responses::error_dto(
        StatusCode::NOT_FOUND,
        &rid.0,
        "The sandbox has no resource at this URL.",
    )
}

/// A success body with only the properties the route's operation documents.
fn ok_json(route: &Route, body: serde_json::Value) -> Response {
    let status = StatusCode::from_u16(route.spec.success_status).unwrap_or(StatusCode::OK);
    let body = responses::project(body, route.spec.response_properties);
    (status, Json(body)).into_response()
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

/// Reads an import body: `multipart/form-data` (streamed), `application/x-www-form-urlencoded`
/// (`disableOptimization` only; beta documents it, and every version accepts it alike), or none.
async fn read_import_body(req: Request, key_column: usize) -> Result<ImportBody, BadRequest> {
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
        "multipart/form-data" => read_multipart(req, key_column).await,
        "application/x-www-form-urlencoded" => {
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

async fn read_multipart(req: Request, key_column: usize) -> Result<ImportBody, BadRequest> {
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
                let mut scanner = UploadScanner::new(key_column);
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

/// `importAccounts`.
async fn import(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Path(source_id): Path<String>,
    Extension(auth): Extension<Authenticated>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    let key_column = state.sources.key_column(&source_id, SchemaKind::Account);
    let body = match read_import_body(req, key_column).await {
        Ok(body) => body,
        Err(BadRequest(text)) => {
            return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text);
        }
    };
    if let Some((_, scanned)) = &body.file
        && let Err(text) =
            state
                .sources
                .check_header(&source_id, SchemaKind::Account, &scanned.header)
    {
        tracing::debug!(%source_id, %text, "accounts file refused");
        return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text);
    }
    // A string field: "true" (any case) disables optimisation, anything else leaves it on.
    let disable_optimization = body
        .disable_optimization
        .as_deref()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));

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
    let source = state.sources.ensure(&source_id);
    let (aggregation_id, accepted, task) = state.aggregations.start(StartRequest {
        kind: Kind::Accounts,
        source_id: source_id.clone(),
        source_name: source.name,
        api_version: route.version,
        rows,
        snapshot,
        disable_optimization,
    });
    state.recorder.upload(Upload {
        source_id,
        api_version: route.version,
        client_id: auth.client_id,
        disable_optimization: body.disable_optimization,
        file,
        aggregation_id,
        accepted,
    });
    ok_json(&route, task)
}

/// Spring's text for a multipart request without the part, which ISC answers with.
const MISSING_FILE: &str = "Required request part 'file' is not present";

/// `importEntitlements`: a CSV `file` part (required, not empty), streamed like an accounts
/// file; answers the flat `LoadEntitlementTask` with the fields real responses carry.
async fn import_entitlements(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Path(source_id): Path<String>,
    Extension(auth): Extension<Authenticated>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    let key_column = state.sources.key_column(&source_id, SchemaKind::Group);
    let body = match read_import_body(req, key_column).await {
        Ok(body) => body,
        Err(BadRequest(text)) => {
            return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text);
        }
    };
    let Some((file_name, scanned)) = body.file else {
        return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, MISSING_FILE);
    };
    if scanned.bytes == 0 {
        return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, "The 'file' part is empty.");
    }
    if let Err(text) = state
        .sources
        .check_header(&source_id, SchemaKind::Group, &scanned.header)
    {
        tracing::debug!(%source_id, %text, "entitlements file refused");
        return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text);
    }
    let source = state.sources.ensure(&source_id);
    let (task_id, accepted, task) = state.aggregations.start(StartRequest {
        kind: Kind::Entitlements,
        source_id: source_id.clone(),
        source_name: source.name,
        api_version: route.version,
        rows: scanned.rows,
        snapshot: scanned.snapshot,
        disable_optimization: false,
    });
    state.recorder.entitlement_upload(Upload {
        source_id,
        api_version: route.version,
        client_id: auth.client_id,
        disable_optimization: None,
        file: Some(UploadedFile {
            file_name,
            bytes: scanned.bytes,
            sha256: scanned.sha256,
            rows: scanned.rows,
        }),
        aggregation_id: task_id,
        accepted,
    });
    // Not projected onto the documented properties: the real body carries more (and `name`
    // where the spec says `uniqueName`).
    let status = StatusCode::from_u16(route.spec.success_status).unwrap_or(StatusCode::ACCEPTED);
    (status, Json(task)).into_response()
}

/// The source id of a schema request; the error is the 400's text (an id that is not valid
/// UTF-8 once decoded, or a blank one).
fn path_id(
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, String> {
    match path {
        Ok(Path(id)) if !id.trim().is_empty() => Ok(id),
        Ok(_) => Err("The source id must not be blank.".to_owned()),
        Err(e) => Err(e.body_text()),
    }
}

/// The 404 of a schema request for a source the tenant does not have.
fn no_source(rid: &RequestId, id: &str) -> Response {
    responses::error_dto(
        StatusCode::NOT_FOUND,
        &rid.0,
        &format!("Source with id '{id}' was not found."),
    )
}

/// A `text/csv` answer: a schema's header line (empty when the source has no such schema yet).
fn csv_header(route: &Route, line: String) -> Response {
    let status = StatusCode::from_u16(route.spec.success_status).unwrap_or(StatusCode::OK);
    (
        status,
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        line,
    )
        .into_response()
}

/// The last value of a query parameter.
fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `getAccountsSchema`: the account schema's header line.
async fn accounts_schema(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Extension(rid): Extension<RequestId>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let id = match path_id(path) {
        Ok(id) => id,
        Err(text) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text),
    };
    if !state.sources.exists(&id) {
        return no_source(&rid, &id);
    }
    let line = state
        .sources
        .schema(&id, SchemaKind::Account)
        .map(|s| s.header_line())
        .unwrap_or_default();
    csv_header(&route, line)
}

/// `getEntitlementsSchema`: the header line of the schema `schemaName` (default `group`).
async fn entitlements_schema(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Extension(rid): Extension<RequestId>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: CollectionQuery,
) -> Response {
    let id = match path_id(path) {
        Ok(id) => id,
        Err(text) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text),
    };
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &e.body_text()),
    };
    if !state.sources.exists(&id) {
        return no_source(&rid, &id);
    }
    let name = query_value(&query, "schemaName").unwrap_or("group");
    // The spec's example writes the parameter as `?schemaName=group`; a value with the name
    // repeated means the same.
    let name = name.strip_prefix("?schemaName=").unwrap_or(name);
    let name = if name.is_empty() { "group" } else { name };
    let Some(kind) = SchemaKind::from_name(name) else {
        return responses::error_dto(
            StatusCode::NOT_FOUND,
            &rid.0,
            &format!("Source '{id}' has no schema named '{name}'."),
        );
    };
    let line = state
        .sources
        .schema(&id, kind)
        .map(|s| s.header_line())
        .unwrap_or_default();
    csv_header(&route, line)
}

/// `getSourceSchemas`: the source's schemas, filtered by `include-types` and `include-names`.
async fn source_schemas(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Extension(rid): Extension<RequestId>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: CollectionQuery,
) -> Response {
    let id = match path_id(path) {
        Ok(id) => id,
        Err(text) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text),
    };
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &e.body_text()),
    };
    let include_type = query_value(&query, "include-types");
    if let Some(t) = include_type
        && t != "group"
        && t != "user"
    {
        return responses::error_dto(
            StatusCode::BAD_REQUEST,
            &rid.0,
            &format!("'{t}' is not a valid value for include-types: expected 'group' or 'user'."),
        );
    }
    let names: Option<Vec<String>> = query_value(&query, "include-names").map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    });
    match state
        .sources
        .schemas_json(&id, include_type, names.as_deref())
    {
        Some(items) => ok_json(&route, Value::Array(items)),
        None => no_source(&rid, &id),
    }
}

/// `getAccountAggregationStatus`: the fields the version's schema lists.
async fn status(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
) -> Response {
    match state.aggregations.status_json(&id) {
        Some(body) => ok_json(&route, body),
        None => responses::error_dto(
            StatusCode::NOT_FOUND,
            &rid.0,
            &format!("No account aggregation with id '{id}' exists (or its status has expired)."),
        ),
    }
}

/// `getTaskStatus`.
async fn task_status(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
) -> Response {
    match state
        .aggregations
        .task_json(&id, state.task_delays.lookup())
    {
        Some(body) => ok_json(&route, body),
        None => responses::error_dto(
            StatusCode::NOT_FOUND,
            &rid.0,
            &format!("TaskStatus with id '{id}' was not found."),
        ),
    }
}

/// The query of a collection request, as extracted (a malformed query is a rejection).
type CollectionQuery =
    Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// Reads the collection parameters; the error is the 400's text.
fn collection_params(
    query: CollectionQuery,
    filters: crate::collection::Supported,
    sorters: &[&str],
) -> Result<Params, String> {
    let Query(query) = query.map_err(|e| e.body_text())?;
    Params::parse(&query, filters, sorters)
}

/// A collection page, with `X-Total-Count` when asked for.
fn list_response(
    route: &Route,
    items: Vec<serde_json::Value>,
    total: usize,
    params: &Params,
) -> Response {
    let mut resp = ok_json(route, serde_json::Value::Array(items));
    if params.paging.count {
        resp.headers_mut()
            .insert(TOTAL_COUNT_HEADER, HeaderValue::from(total));
    }
    resp
}

/// `getTaskStatusList`.
async fn task_status_list(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Extension(rid): Extension<RequestId>,
    query: CollectionQuery,
) -> Response {
    let params = match collection_params(query, TASK_FILTERS, TASK_SORTERS) {
        Ok(p) => p,
        Err(text) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text),
    };
    let (items, total) = state
        .aggregations
        .tasks_json(&params, state.task_delays.list());
    list_response(&route, items, total, &params)
}

/// `listSources`.
async fn list_sources(
    State(state): State<AppState>,
    Extension(route): Extension<Route>,
    Extension(rid): Extension<RequestId>,
    query: CollectionQuery,
) -> Response {
    let params = match collection_params(query, sources::FILTERS, sources::SORTERS) {
        Ok(p) => p,
        Err(text) => return responses::error_dto(StatusCode::BAD_REQUEST, &rid.0, &text),
    };
    let (items, total) = state.sources.list_json(&params);
    list_response(&route, items, total, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_operation() -> (ApiVersion, OperationSpec) {
        let version = ApiVersion::all().next().unwrap();
        (version, version.spec().operations[0])
    }

    #[test]
    fn the_experimental_header_is_needed_exactly_on_experimental_operations() {
        let (_, mut op) = some_operation();
        let mut with = HeaderMap::new();
        with.insert(EXPERIMENTAL_HEADER, HeaderValue::from_static(" TRUE "));
        let mut wrong = HeaderMap::new();
        wrong.insert(EXPERIMENTAL_HEADER, HeaderValue::from_static("false"));
        let without = HeaderMap::new();

        op.experimental = false;
        for headers in [&with, &wrong, &without] {
            assert!(experimental_rejection(&op, headers).is_none());
        }
        op.experimental = true;
        assert!(experimental_rejection(&op, &with).is_none());
        for headers in [&wrong, &without] {
            let resp = experimental_rejection(&op, headers).expect("refused");
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn paths_come_from_the_table_with_positional_placeholders() {
        let (version, mut op) = some_operation();
        op.path = "/sources/{sourceId}/things/{thingId}";
        let route = Route {
            version,
            spec: op,
            operation: Operation::GetStatus,
        };
        assert_eq!(
            route.axum_path(),
            format!("{}/sources/{{p0}}/things/{{p1}}", version.base_path())
        );
    }

    #[test]
    fn every_table_operation_with_a_handler_is_routed() {
        let routes = api_routes(&Config::default());
        let expected: usize = ApiVersion::all()
            .map(|v| {
                v.spec()
                    .operations
                    .iter()
                    .filter(|o| Operation::from_name(o.name).is_some())
                    .count()
            })
            .sum();
        assert_eq!(routes.len(), expected);
        assert!(
            expected >= ApiVersion::all().len(),
            "each version serves something"
        );
        for route in &routes {
            assert_eq!(route.operation.name(), Some(route.spec.name));
            assert!(route.axum_path().starts_with(route.version.base_path()));
        }
    }

    #[test]
    fn configured_operations_replace_or_add() {
        let (version, op) = some_operation();
        let mut replaced = op;
        replaced.experimental = true;
        let mut added = op;
        added.name = "getTaskStatus";
        added.path = "/made-up/{id}";
        let config = Config {
            extra_operations: vec![(version, replaced), (version, added)],
            ..Config::default()
        };
        let routes = api_routes(&config);
        let find = |name: &str| {
            routes
                .iter()
                .filter(|r| r.version == version && r.spec.name == name)
                .collect::<Vec<_>>()
        };
        let same = find(op.name);
        assert_eq!(same.len(), 1);
        assert!(same[0].spec.experimental);
        let new = find("getTaskStatus");
        assert!(!new.is_empty());
        assert!(new.iter().any(|r| r.spec.path == "/made-up/{id}"));
    }
}
