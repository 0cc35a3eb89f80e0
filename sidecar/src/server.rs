//! The HTTP server: the browser checks in front of every route ([`browser`](crate::browser)),
//! the API routes behind one layer (load shedding → authentication → scope → idempotency →
//! deadline, with metrics and a log line per request), the operational endpoints (`/healthz`,
//! `/readyz`, `/metrics` and its details for operators only, `/openapi.json`), request ids, and
//! JSON answers for unknown paths and methods.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::json;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::auth::{Access, Caller};
use crate::errors::ApiError;
use crate::idempotency::{Answer, Idempotency, RecordKey};
use crate::routes::{self, EndpointSpec, Shared};

/// The request id header, set on every request (kept when the caller sent one) and response.
pub const REQUEST_ID: &str = "x-request-id";

/// The whole application for `state`.
pub fn app(state: Shared) -> axum::Router {
    let mut api = axum::Router::new();
    for route in routes::all() {
        let layer_state = (state.clone(), route.spec);
        api = api.route(
            route.spec.path,
            route
                .handler
                .route_layer(middleware::from_fn_with_state(layer_state, api_layer)),
        );
    }
    let max_body = state.config.max_body;
    axum::Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::browser::guard,
        ))
        .layer(PropagateRequestIdLayer::new(
            header::HeaderName::from_static(REQUEST_ID),
        ))
        .layer(SetRequestIdLayer::new(
            header::HeaderName::from_static(REQUEST_ID),
            Counter::new(),
        ))
        .with_state(state)
}

/// Request ids: a per-process random prefix and a counter, cheap and unique.
#[derive(Clone, Debug)]
struct Counter {
    prefix: u32,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Counter {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0);
        Counter {
            prefix: nanos ^ std::process::id().rotate_left(16),
            next: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The layer in front of every API route.
async fn api_layer(
    State((app, spec)): State<(Shared, EndpointSpec)>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let entity = request
        .uri()
        .path()
        .split('/')
        .nth(3)
        .unwrap_or("")
        .to_owned();
    let label = app.metrics.entity_label(&entity).to_owned();
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut caller_name = String::from("-");
    let response = guarded(&app, spec, &entity, &mut caller_name, request, next)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    let status = response.status();
    let elapsed = started.elapsed();
    app.metrics
        .record(&label, spec.op, status.as_u16(), elapsed);
    tracing::info!(
        request_id = %request_id,
        op = spec.op,
        entity = %entity,
        caller = %caller_name,
        status = status.as_u16(),
        micros = elapsed.as_micros() as u64,
        replayed = response.headers().contains_key(crate::idempotency::REPLAYED_HEADER),
        "request"
    );
    response
}

async fn guarded(
    app: &Shared,
    spec: EndpointSpec,
    entity: &str,
    caller_name: &mut String,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let _permit = app.slots.clone().try_acquire_owned().map_err(|_| {
        app.metrics.shed();
        ApiError::overloaded(app.config.max_concurrency)
    })?;
    let _in_flight = app.metrics.enter();
    let caller = app.auth.authenticate(request.headers())?;
    app.auth.name(caller).clone_into(caller_name);
    app.auth.authorize(caller, entity, spec.access)?;
    match app.kinds.get(entity) {
        Some(kind) if *kind == spec.kind => {}
        Some(kind) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_entity",
                format!("entity `{entity}` is {kind}; call /v1/{kind}/{entity}/…"),
            )
            .with_field("entity"))
        }
        None => return Err(unknown_entity(app, caller, entity)),
    }
    let deadline = app.config.request_timeout;
    let run = async {
        if spec.access == Access::Write {
            if let Some(key) = Idempotency::key(request.headers())? {
                return idempotent(app, spec, caller_name, key, request, next).await;
            }
        }
        Ok(next.run(request).await)
    };
    tokio::time::timeout(deadline, run)
        .await
        .map_err(|_| ApiError::timeout(deadline))?
}

/// 404 for an entity that is not routed, listing the entities this caller may read or write
/// (never the others: their names are not the caller's to know).
fn unknown_entity(app: &Shared, caller: Caller, entity: &str) -> ApiError {
    let known: Vec<&str> = app
        .kinds
        .keys()
        .map(String::as_str)
        .filter(|name| app.auth.may_see(caller, name))
        .collect();
    let listed = if known.is_empty() {
        "this caller may use no entity".to_owned()
    } else {
        format!("entities this caller may use: {}", known.join(", "))
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_entity",
        format!("unknown entity `{entity}`; {listed}"),
    )
    .with_field("entity")
}

async fn idempotent(
    app: &Shared,
    spec: EndpointSpec,
    caller: &str,
    key: String,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let record = RecordKey {
        caller: caller.to_owned(),
        target: format!("{} {}", spec.verb.as_str(), request.uri().path()),
        key,
    };
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, app.config.max_body)
        .await
        .map_err(|_| crate::body::too_large())?;
    let fingerprint = Idempotency::fingerprint(parts.uri.query(), &bytes);
    let request = Request::from_parts(parts, Body::from(bytes));
    match app
        .idempotency
        .run(record, fingerprint, || next.run(request))
        .await
    {
        Answer::Fresh(response) => Ok(response),
        Answer::Replayed(response) => {
            app.metrics.replayed();
            Ok(response)
        }
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: 200 `ready` when every store answered its last ping (at most a second old, see
/// [`readiness`](crate::readiness)), 503 `not_ready` otherwise. Each store's state and error
/// are added for operators only: an `ops` token, or anyone when no tokens are configured. A
/// probe sends no token and gets the status alone.
async fn readyz(State(app): State<Shared>, request: Request) -> Response {
    if app.shutdown.is_draining() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the sidecar is draining in-flight requests before it exits",
        )
        .into_response();
    }
    let operator = app
        .auth
        .authenticate(request.headers())
        .is_ok_and(|caller| app.auth.is_ops(caller));
    let report = app.readiness.check(&app.router, &app.metrics).await;
    let (status, mut body) = if report.ready() {
        (StatusCode::OK, json!({ "status": "ready" }))
    } else if operator {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "code": "not_ready",
                "message": format!("unreachable stores: {}", report.down().join(", ")),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "code": "not_ready",
                "message": "a store is unreachable; an `ops` token sees which, and why",
            }),
        )
    };
    if operator {
        body["stores"] = serde_json::Value::Object(report.details());
    }
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The Prometheus page: open when no tokens are configured, otherwise for `ops` tokens only
/// (it names every entity and store).
async fn metrics(State(app): State<Shared>, request: Request) -> Response {
    if let Err(error) = app.auth.require_ops(request.headers()) {
        return error.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn no_route(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no route {} {}; routes are /v1/{{kind}}/{{entity}}/…, listed in /openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn no_method(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; see /openapi.json for its methods",
            request.method(),
            request.uri().path()
        ),
    )
}
