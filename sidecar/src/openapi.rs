//! The OpenAPI 3 document served at `/openapi.json`, generated from the same [`EndpointSpec`]
//! table the server is built from, so every documented route is served and every served route
//! documented. Request bodies are described by the schemas derived from the very types the
//! handlers read them into (`schemars`), success answers by the schema each route declares,
//! and errors by one shared `Error` schema.

use schemars::generate::SchemaSettings;
use schemars::{json_schema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::auth::Access;
use crate::routes::{specs, BodyKind, EndpointSpec};

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

/// The pattern of an entity name (the config refuses any other).
pub const ENTITY_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]{0,62}$";

/// The OpenAPI document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for spec in specs() {
        let op = operation(&spec, &mut generator);
        let item = paths
            .entry(spec.path.to_owned())
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = item {
            methods.insert(spec.verb.as_str().to_ascii_lowercase(), op);
        }
    }
    for (path, summary, ok, schema) in [
        (
            "/healthz",
            "Liveness: the process is up",
            "The process is up",
            json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}}),
        ),
        (
            "/readyz",
            "Readiness: every store answers a ping (checked at most once a second)",
            "Every store answered (503 when one did not); each store's state and error only for a token with `ops = true`, or when no tokens are configured",
            json!({"type": "object", "required": ["status"], "properties": {
                "status": {"type": "string", "enum": ["ready"]},
                "stores": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/StorePing"}},
            }}),
        ),
        (
            "/metrics",
            "Prometheus metrics (text format); with tokens configured, a token with `ops = true` is required",
            "Metrics in the Prometheus text format",
            json!({"type": "string"}),
        ),
        (
            "/openapi.json",
            "This document",
            "The OpenAPI document",
            json!({"type": "object", "required": ["openapi", "paths"], "properties": {
                "openapi": {"type": "string"},
                "paths": {"type": "object", "additionalProperties": {}},
            }}),
        ),
    ] {
        let media = if path == "/metrics" {
            "text/plain"
        } else {
            "application/json"
        };
        let mut responses =
            json!({ "200": { "description": ok, "content": { media: { "schema": schema } } } });
        let mut security = json!([]);
        if path == "/readyz" {
            responses["503"] = json!({ "description": "A store did not answer, or the sidecar is shutting down", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NotReady" } } } });
        }
        if path == "/metrics" {
            // With tokens configured, metrics need a token with `ops = true`.
            security = json!([{}, { "bearer": [] }]);
            let error = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
            responses["401"] = json!({ "description": "Tokens are configured and the request carries none, or an unknown one", "content": error.clone() });
            responses["403"] = json!({ "description": "The token does not have `ops = true`", "content": error });
        }
        paths.insert(
            path.to_owned(),
            json!({ "get": { "summary": summary, "operationId": path.trim_start_matches('/').replace('.', "_"), "security": security, "responses": responses } }),
        );
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert("Error".into(), error_schema());
    schemas.insert(
        "StorePing".into(),
        json!({"type": "object", "required": ["up"], "properties": {
            "up": {"type": "boolean"},
            "millis": {"type": "number", "description": "how long the ping took"},
            "error": {"type": "string", "description": "why the store did not answer"},
        }}),
    );
    schemas.insert(
        "NotReady".into(),
        json!({"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "enum": ["not_ready", "shutting_down"]},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "stores": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/StorePing"}},
        }}),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "polyroute sidecar",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every store kind's operations over HTTP: /v1/{kind}/{entity}/…. Bodies are JSON objects (Content-Type: application/json) except line protocol; unknown fields are refused. Errors are JSON {code, message, field?}. Writes accept an Idempotency-Key header.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
        "security": [{ "bearer": [] }],
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": { "type": "string", "description": "stable machine-readable code" },
            "message": { "type": "string", "description": "what is wrong and how to fix it" },
            "field": { "type": "string", "description": "the request field it is about" },
        },
    })
}

/// `schema` with the generator's OpenAPI 3.0 transforms applied (definitions get them when
/// taken; a schema returned inline needs them here).
fn finished(generator: &mut SchemaGenerator, mut schema: Schema) -> Value {
    for transform in generator.transforms_mut() {
        transform.transform(&mut schema);
    }
    schema.to_value()
}

fn operation(spec: &EndpointSpec, generator: &mut SchemaGenerator) -> Value {
    let mut parameters: Vec<Value> = path_parameters(spec.path)
        .into_iter()
        .map(|name| {
            let schema = if name == "entity" {
                json!({ "type": "string", "pattern": ENTITY_PATTERN })
            } else {
                json!({ "type": "string", "minLength": 1 })
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    let query = spec.query_schema.map(|schema| {
        let mut inline = SchemaSettings::openapi3()
            .with(|settings| settings.inline_subschemas = true)
            .into_generator();
        let schema = schema(&mut inline);
        finished(&mut inline, schema)
    });
    for (name, description) in spec.query {
        let schema = query
            .as_ref()
            .and_then(|query| query["properties"].get(*name))
            .cloned()
            .unwrap_or_else(|| json!({ "type": "string" }));
        parameters.push(json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema }));
    }
    if spec.access == Access::Write {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "a retried write with the same key is applied once; the first answer is replayed",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
        }));
    }
    let answer = match spec.answer {
        Some(schema) => {
            let schema = schema(generator);
            finished(generator, schema)
        }
        None => json!({ "type": "object" }),
    };
    let mut responses = Map::new();
    let success = if spec.op == "document.insert" {
        ("201", "Created")
    } else {
        ("200", "Success")
    };
    responses.insert(
        success.0.into(),
        json!({ "description": success.1, "content": { "application/json": { "schema": answer } } }),
    );
    for (status, description) in ERRORS {
        if *status == "415" && !matches!(spec.body, BodyKind::Json { .. }) {
            continue;
        }
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
        BodyKind::Json { example, schema } => {
            let schema = schema(generator);
            Some(json!({
                "required": true,
                "content": { "application/json": {
                    "schema": finished(generator, schema),
                    "example": serde_json::from_str::<Value>(example).unwrap_or(Value::Null),
                } },
            }))
        }
        BodyKind::Text(example) => Some(json!({
            "required": true,
            "content": { "text/plain": { "schema": { "type": "string", "minLength": 1 }, "example": example } },
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

/// An object whose listed members are all present, each described by its schema.
pub fn object(members: &[(&str, Value)]) -> Schema {
    let required: Vec<&str> = members.iter().map(|(name, _)| *name).collect();
    let properties: Map<String, Value> = members
        .iter()
        .map(|(name, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    json_schema!({ "type": "object", "required": required, "properties": properties })
}

/// Any JSON value, in the sidecar's value encoding: JSON's own types map to themselves,
/// `{"$timestamp": ns or "RFC 3339"}` is a timestamp and `{"$bytes": "base64"}` bytes.
pub fn any_value() -> Value {
    json!({ "description": "a value: JSON's own types, or {\"$timestamp\": nanoseconds} or {\"$bytes\": \"base64\"}" })
}

/// A positive duration: a whole number and a unit (what `ttl` and `every` take).
pub const DURATION_PATTERN: &str = "^[1-9][0-9]{0,5}(ms|s|m|h|d)$";

/// Standard base64 with padding, as the server decodes it (unused trailing bits zero).
pub const BASE64_PATTERN: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// A duration such as `30s`, `5m` or `7d`.
pub fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": DURATION_PATTERN, "description": "a positive duration: a number and a unit (ms, s, m, h, d), such as `30s` or `7d`" })
}

/// Bytes as standard base64 text.
pub fn base64(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": BASE64_PATTERN, "description": "bytes as standard base64 with padding" })
}

/// A timestamp: nanoseconds since the Unix epoch, or RFC 3339 text.
pub fn timestamp(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "nanoseconds since the Unix epoch, or RFC 3339 text such as \"2024-05-01T12:00:00Z\"",
        "oneOf": [
            { "type": "integer", "format": "int64" },
            { "type": "string", "format": "date-time" },
        ],
    })
}

/// An object of named values (properties, cells, fields).
pub fn values(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "additionalProperties": any_value() })
}

/// A list of values.
pub fn value_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": any_value() })
}

/// `{"written": true}`.
pub fn written_flag(_: &mut SchemaGenerator) -> Schema {
    object(&[("written", json!({"type": "boolean"}))])
}

/// `{"written": n}`: how many items were written.
pub fn written_count(_: &mut SchemaGenerator) -> Schema {
    object(&[("written", json!({"type": "integer", "minimum": 0}))])
}

/// `{"deleted": true}`.
pub fn deleted_flag(_: &mut SchemaGenerator) -> Schema {
    object(&[("deleted", json!({"type": "boolean"}))])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every schema in `value`, with where it is, that is an object with nothing said about
    /// its members: the kind of description that lets any body through.
    fn bare_objects(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if map.get("type") == Some(&json!("object"))
                    && !map.contains_key("properties")
                    && !map.contains_key("additionalProperties")
                {
                    found.push(at.to_owned());
                }
                for (key, inner) in map {
                    bare_objects(inner, &format!("{at}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (index, inner) in items.iter().enumerate() {
                    bare_objects(inner, &format!("{at}/{index}"), found);
                }
            }
            _ => {}
        }
    }

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
                !matches!(spec.body, BodyKind::None),
                "{}",
                spec.op
            );
        }
    }

    #[test]
    fn every_body_and_answer_is_described() {
        let doc = document();
        for spec in specs() {
            assert!(
                spec.answer.is_some(),
                "{} does not describe its answer",
                spec.op
            );
        }
        let mut found = Vec::new();
        bare_objects(&doc["paths"], "#/paths", &mut found);
        bare_objects(&doc["components"], "#/components", &mut found);
        assert!(
            found.is_empty(),
            "schemas that describe nothing: {found:#?}"
        );
        let text = doc.to_string();
        assert!(!text.contains("$defs"), "references outside components");
        assert!(!text.contains("\"const\""), "OpenAPI 3.0 has no const");
    }
}
