//! Relational routes: only the named, parameterised statements declared in
//! `[sidecar.queries.ENTITY]` can run. A client names one and passes its `$1…$n` parameters; it
//! can never send SQL text. Read statements need read scope, write statements write scope.
//!
//! A read statement (declared without `write = true`) is proven to only read when the sidecar
//! starts ([`check_read_statements`]: a statement that can write is a startup error naming it)
//! and runs through the store's read-only path, which refuses any write at run time too (on
//! PostgreSQL, a `READ ONLY` transaction). A read token can therefore never change data.
//!
//! A read statement answers at most `[sidecar] max_results` rows: the store stops reading past
//! them, and the answer says `"truncated": true`. SQL cannot be paged generically (only the
//! statement knows its order), so `next` is always null; a statement meant to read many rows
//! pages itself (`ORDER BY id LIMIT $2` with `WHERE id > $1`, the last id read as `$1`).

use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::JsonBody;
use crate::errors::ApiError;
use crate::openapi::object;
use crate::values::{to_json, to_values};
use crate::{SidecarConfig, SidecarError};

/// The relational routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Post "/v1/relational/{entity}/queries/{name}", "relational.query", Relational, Read,
                BodyKind::json::<ParamsBody>(r#"{"params": ["alice"]}"#), &[],
                "Run a named read statement with its parameters: columns and at most the sidecar's `max_results` rows (`truncated` when the statement had more, which are not read; page in SQL)")
                .answers(|_| object(&[
                    ("columns", json!({"type": "array", "items": {"type": "string"}})),
                    ("rows", json!({"type": "array", "items": {"type": "array", "items": crate::openapi::any_value()}})),
                    ("truncated", json!({"type": "boolean", "description": "true when the statement had more rows than the sidecar's `max_results`: the rest were not read. Page in the statement itself (`ORDER BY key LIMIT $n`, the last key read as a parameter)"})),
                    ("next", json!({"nullable": true, "description": "always null: SQL cannot be paged generically, so a named statement pages itself with its parameters (see `truncated`)"})),
                ])),
            query,
        ),
        Endpoint::new(
            spec!(Post "/v1/relational/{entity}/statements/{name}", "relational.execute", Relational, Write,
                BodyKind::json::<ParamsBody>(r#"{"params": ["alice", 42.5]}"#), &[],
                "Run a named write statement with its parameters: rows affected")
                .answers(|_| object(&[("affected", json!({"type": "integer", "minimum": 0}))])),
            execute,
        ),
        Endpoint::new(
            spec!(Get "/v1/relational/{entity}/queries", "relational.list", Relational, Read,
                BodyKind::None, &[], "The entity's named statements: name, parameter count, read or write")
                .answers(|_| object(&[("statements", json!({"type": "array", "items": {"type": "object", "required": ["name", "params", "write"], "properties": {
                    "name": {"type": "string"},
                    "params": {"type": "integer", "minimum": 0},
                    "write": {"type": "boolean"},
                }}}))])),
            list,
        ),
    ]
}

/// A named statement's parameters.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RelationalParams")]
struct ParamsBody {
    /// `$1…$n`, exactly as many as the statement takes.
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::value_list")]
    params: Vec<JsonValue>,
}

fn named<'a>(
    app: &'a Shared,
    entity: &str,
    name: &str,
    write: bool,
) -> Result<&'a crate::config::NamedQuery, ApiError> {
    let statement = app
        .config
        .queries
        .get(entity)
        .and_then(|queries| queries.get(name))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "`{entity}` has no named statement `{name}`; declare it under `[sidecar.queries.{entity}]`, or list them with GET /v1/relational/{entity}/queries"
            ))
            .with_field("name")
        })?;
    if statement.write != write {
        let (route, kind) = if statement.write {
            ("statements", "a write statement")
        } else {
            ("queries", "a read statement")
        };
        return Err(ApiError::bad_request(
            "wrong_route",
            format!("`{name}` is {kind}; call POST /v1/relational/{entity}/{route}/{name}"),
        )
        .with_field("name"));
    }
    Ok(statement)
}

fn params(body: ParamsBody, expected: usize) -> Result<Vec<polyroute::Value>, ApiError> {
    if body.params.len() != expected {
        return Err(ApiError::bad_request(
            "invalid_params",
            format!(
                "this statement takes {expected} parameter(s) ($1…${expected}), {} given",
                body.params.len()
            ),
        )
        .with_field("params"));
    }
    to_values(body.params, "params")
}

async fn query(
    State(app): State<Shared>,
    PathArgs((entity, name)): PathArgs<(String, String)>,
    JsonBody(body): JsonBody<ParamsBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let handle = app.router.relational(&entity)?;
    let statement = named(&app, &entity, &name, false)?;
    let params = params(body, statement.params)?;
    let max = app.config.max_results;
    let mut rows = handle
        .query_read_only_at_most(&statement.sql, &params, max.saturating_add(1))
        .await?;
    let truncated = rows.rows.len() > max;
    rows.rows.truncate(max);
    let data: Vec<JsonValue> = rows
        .rows
        .iter()
        .map(|row| JsonValue::Array(row.iter().map(to_json).collect()))
        .collect();
    Ok(Json(json!({
        "columns": rows.columns,
        "rows": data,
        "truncated": truncated,
        "next": JsonValue::Null,
    })))
}

async fn execute(
    State(app): State<Shared>,
    PathArgs((entity, name)): PathArgs<(String, String)>,
    JsonBody(body): JsonBody<ParamsBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let handle = app.router.relational(&entity)?;
    let statement = named(&app, &entity, &name, true)?;
    let params = params(body, statement.params)?;
    let affected = handle.execute(&statement.sql, &params).await?;
    Ok(Json(json!({ "affected": affected })))
}

async fn list(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
) -> Result<Json<JsonValue>, ApiError> {
    app.router.relational(&entity)?;
    let statements: Vec<JsonValue> = app
        .config
        .queries
        .get(&entity)
        .into_iter()
        .flatten()
        .map(|(name, q)| json!({ "name": name, "params": q.params, "write": q.write }))
        .collect();
    Ok(Json(json!({ "statements": statements })))
}

/// Checks every read statement of `[sidecar.queries]` with its store: each must be proven to
/// only read, since read tokens may run it. The first that is not is the error, naming it and
/// the fix.
pub async fn check_read_statements(
    router: &polyroute::Router,
    config: &SidecarConfig,
) -> Result<(), SidecarError> {
    for (entity, statements) in &config.queries {
        for (name, statement) in statements.iter().filter(|(_, s)| !s.write) {
            let refused = |message: String| SidecarError::ReadStatement {
                entity: entity.clone(),
                name: name.clone(),
                message,
            };
            let handle = router
                .relational(entity)
                .map_err(|error| refused(error.to_string()))?;
            handle
                .check_read_only(&statement.sql)
                .await
                .map_err(|error| {
                    let why = match &error {
                        polyroute::StoreError::InvalidRequest { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    refused(format!(
                        "{why}. A statement without `write = true` runs with read tokens, so it \
                     must only read; if it is meant to change data, declare it \
                     `{name} = {{ sql = \"…\", write = true }}` and call it with \
                     POST /v1/relational/{entity}/statements/{name}"
                    ))
                })?;
        }
    }
    Ok(())
}
