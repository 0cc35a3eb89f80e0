//! The HTTP server: the API routes behind one layer (load shedding → authentication → scope →
//! idempotency → deadline, with metrics and a log line per request), the operational endpoints
//! (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`), request ids, and JSON answers for
//! unknown paths and methods.

use std::time::{Duration, Instant};

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

use crate::auth::Access;
use crate::errors::ApiError;
use crate::idempotency::{Answer, Idempotency, RecordKey};
use crate::routes::{self, RouteSpec, Shared};

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
    State((app, spec)): State<(Shared, RouteSpec)>,
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
    spec: RouteSpec,
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
        None => {
            let known: Vec<&str> = app.kinds.keys().map(String::as_str).collect();
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_entity",
                format!(
                    "unknown entity `{entity}`; routed entities: {}",
                    known.join(", ")
                ),
            )
            .with_field("entity"));
        }
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

async fn idempotent(
    app: &Shared,
    spec: RouteSpec,
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
    let request = Request::from_parts(parts, Body::from(bytes.clone()));
    match app
        .idempotency
        .run(record, &bytes, || next.run(request))
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

/// How long readiness waits for one store's ping.
const READY_PING_TIMEOUT: Duration = Duration::from_secs(2);

async fn readyz(State(app): State<Shared>) -> Response {
    if app.shutdown.is_draining() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the sidecar is draining in-flight requests before it exits",
        )
        .into_response();
    }
    let names: Vec<String> = app.router.stores().map(|s| s.name.to_owned()).collect();
    let pings = names.iter().map(|name| {
        let router = app.router.clone();
        async move {
            let started = Instant::now();
            let result = tokio::time::timeout(READY_PING_TIMEOUT, router.ping(name)).await;
            let outcome = match result {
                Ok(Ok(())) => Ok(started.elapsed()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("no answer within {READY_PING_TIMEOUT:?}")),
            };
            (name.clone(), outcome)
        }
    });
    let results = futures_util::future::join_all(pings).await;
    let mut stores = serde_json::Map::new();
    let mut down = Vec::new();
    for (name, outcome) in results {
        app.metrics.set_store_up(&name, outcome.is_ok());
        let entry = match outcome {
            Ok(elapsed) => json!({ "up": true, "millis": elapsed.as_secs_f64() * 1000.0 }),
            Err(error) => {
                down.push(name.clone());
                json!({ "up": false, "error": error })
            }
        };
        stores.insert(name, entry);
    }
    if down.is_empty() {
        Json(json!({ "status": "ready", "stores": stores })).into_response()
    } else {
        let body = json!({
            "code": "not_ready",
            "message": format!("unreachable stores: {}", down.join(", ")),
            "stores": stores,
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn metrics(State(app): State<Shared>) -> Response {
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
