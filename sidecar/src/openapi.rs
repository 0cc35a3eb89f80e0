//! The OpenAPI 3 document served at `/openapi.json`, generated from the same [`RouteSpec`]
//! table the server is built from, so every documented route is served and every served route
//! documented.

use serde_json::{json, Map, Value};

use crate::auth::Access;
use crate::routes::{specs, BodyKind, RouteSpec};

/// Every error status an API route may answer, and when.
const ERRORS: &[(&str, &str)] = &[
    ("400", "The request is malformed or invalid; `field` names the part to fix"),
    ("401", "No valid bearer token (when tokens are configured)"),
    ("403", "The token's scope does not cover this entity and access, or the request carries an `Origin` that `[sidecar] allowed_origins` does not list"),
    ("404", "Unknown entity, or the named key, document, node or row does not exist"),
    ("409", "The write conflicts with current state, or an Idempotency-Key was reused for another body"),
    ("413", "The body is larger than `max_body`"),
    ("415", "A JSON route got a body without `Content-Type: application/json`"),
    ("421", "A sidecar without tokens was addressed by a host name other than `localhost` (`Host`)"),
    ("503", "A store is unavailable, or the sidecar is at its concurrency limit (retry after Retry-After)"),
    ("504", "The request did not finish within its deadline; a write may or may not have applied"),
];

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for spec in specs() {
        let item = paths
            .entry(spec.path.to_owned())
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = item {
            methods.insert(spec.verb.as_str().to_ascii_lowercase(), operation(&spec));
        }
    }
    for (path, summary, ok) in [
        (
            "/healthz",
            "Liveness: the process is up",
            "The process is up",
        ),
        (
            "/readyz",
            "Readiness: every store answers a ping (checked at most once a second)",
            "Every store answered (503 when one did not); each store's state and error only for a token with `ops = true`, or when no tokens are configured",
        ),
        (
            "/metrics",
            "Prometheus metrics (text format); with tokens configured, a token with `ops = true` is required",
            "Metrics in the Prometheus text format",
        ),
        ("/openapi.json", "This document", "The OpenAPI document"),
    ] {
        paths.insert(
            path.to_owned(),
            json!({ "get": { "summary": summary, "operationId": path.trim_start_matches('/').replace('.', "_"), "security": [], "responses": { "200": { "description": ok } } } }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "polyroute sidecar",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every store kind's operations over HTTP: /v1/{kind}/{entity}/…. Errors are JSON {code, message, field?}. Writes accept an Idempotency-Key header.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "description": "stable machine-readable code" },
                        "message": { "type": "string", "description": "what is wrong and how to fix it" },
                        "field": { "type": "string", "description": "the request field it is about" },
                    },
                },
            },
        },
        "security": [{ "bearer": [] }],
    })
}

fn operation(spec: &RouteSpec) -> Value {
    let mut parameters: Vec<Value> = path_parameters(spec.path)
        .into_iter()
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect();
    for (name, description) in spec.query {
        parameters.push(json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } }));
    }
    if spec.access == Access::Write {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "a retried write with the same key is applied once; the first answer is replayed",
            "schema": { "type": "string", "maxLength": 255 },
        }));
    }
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "Success", "content": { "application/json": { "schema": { "type": "object" } } } }),
    );
    if spec.op == "document.insert" {
        responses.insert(
            "201".into(),
            json!({ "description": "Created", "content": { "application/json": { "schema": { "type": "object" } } } }),
        );
    }
    for (status, description) in ERRORS {
        responses.insert(
            (*status).into(),
            json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    let mut op = json!({
        "operationId": spec.op,
        "summary": spec.summary,
        "tags": [spec.kind.as_str()],
        "x-polyroute-access": spec.access.as_str(),
        "parameters": parameters,
        "responses": responses,
    });
    let body = match spec.body {
        BodyKind::None => None,
        BodyKind::Json(example) => Some(json!({
            "required": true,
            "content": { "application/json": {
                "schema": { "type": "object" },
                "example": serde_json::from_str::<Value>(example).unwrap_or(Value::Null),
            } },
        })),
        BodyKind::Text(example) => Some(json!({
            "required": true,
            "content": { "text/plain": { "schema": { "type": "string" }, "example": example } },
        })),
    };
    if let (Some(body), Value::Object(map)) = (body, &mut op) {
        map.insert("requestBody".into(), body);
    }
    op
}

/// The `{name}` parameters of `path`, in order.
pub fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_parameters() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        for spec in specs() {
            let op = &doc["paths"][spec.path][spec.verb.as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], spec.op);
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, path_parameters(spec.path));
            assert_eq!(
                op.get("requestBody").is_some(),
                spec.body != BodyKind::None,
                "{}",
                spec.op
            );
        }
    }
}
