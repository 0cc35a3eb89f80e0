//! Wide-column routes: put rows (one row or a batch; TTL, write timestamp), get one row, slice
//! a partition (clustering range, order, limit), delete a row or a whole partition.
//!
//! A row is written as one JSON object: the entity's key columns by name (its `partition_key`
//! and `clustering_key`), every other member a cell (`null` deletes the cell). Reads answer rows
//! the same way. Keys in `get`, `slice` and `delete` are lists of values in key-column order.
//!
//! A write's `timestamp` (last write wins) is an instant like every timestamp of the API:
//! nanoseconds since the Unix epoch as an integer, or RFC 3339 text. It is kept to the
//! microsecond (rounded down), the unit of Cassandra's write timestamps; without it the store
//! stamps the write with its clock, in the same unit, so a write made after a delete without
//! a timestamp is visible.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::extract::State;
use axum::Json;
use polyroute::backend::kinds::wide_column::{
    micros_from_nanos, SliceQuery, WideRow, WriteOptions,
};
use polyroute::document::Order;
use polyroute::wide_column::WideColumn;
use polyroute::Value;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::JsonBody;
use crate::errors::ApiError;
use crate::openapi::{object, written_count};
use crate::values::{timestamp, to_json, to_value, to_values};

/// The wide-column routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Post "/v1/wide_column/{entity}/rows", "wide_column.put", WideColumn, Write,
                BodyKind::json::<PutBody>(r#"{"rows": [{"user_id": 7, "at": 1714564800000, "page": "/cart"}], "ttl": "30d"}"#), &[],
                "Upsert rows (key columns by name, other members are cells) in one atomic batch, with an optional `ttl` and write `timestamp` for every row (nanoseconds since the epoch or RFC 3339 text, kept to the microsecond; omitted: the store's clock)")
                .answers(written_count),
            put,
        ),
        Endpoint::new(
            spec!(Post "/v1/wide_column/{entity}/get", "wide_column.get", WideColumn, Read,
                BodyKind::json::<KeyBody>(r#"{"partition": [7], "clustering": [1714564800000]}"#), &[],
                "Read one row by its full key (404 when absent)")
                .answers(|_| object(&[("row", json!({"type": "object", "description": "key columns by name, then cells", "additionalProperties": crate::openapi::any_value()}))])),
            get,
        ),
        Endpoint::new(
            spec!(Post "/v1/wide_column/{entity}/slice", "wide_column.slice", WideColumn, Read,
                BodyKind::json::<SliceBody>(r#"{"partition": [7], "start": {"key": [1714560000000], "inclusive": true}, "order": "desc", "limit": 100}"#), &[],
                "Rows of one partition in clustering order, within optional start/end bounds (a bound key may be a prefix): at most `limit` (default and most: the sidecar's `max_results`), and a `next` to read on from")
                .answers(|_| object(&[
                    ("rows", json!({"type": "array", "items": {"type": "object", "description": "key columns by name, then cells", "additionalProperties": crate::openapi::any_value()}})),
                    ("next", next_schema()),
                ])),
            slice,
        ),
        Endpoint::new(
            spec!(Post "/v1/wide_column/{entity}/delete", "wide_column.delete", WideColumn, Write,
                BodyKind::json::<KeyBody>(r#"{"partition": [7], "clustering": [1714564800000]}"#), &[],
                "Delete one row, or the whole partition when `clustering` is omitted")
                .answers(|_| object(&[("deleted", json!({"type": "string", "enum": ["row", "partition"]}))])),
            delete,
        ),
    ]
}

/// A slice's `next`: the bound past the last row answered (`start` in ascending order, `end`
/// in descending order), excluded.
fn next_schema() -> JsonValue {
    let bound = json!({"type": "object", "required": ["key", "inclusive"], "properties": {
        "key": {"type": "array", "items": crate::openapi::any_value()},
        "inclusive": {"type": "boolean"},
    }});
    let mut schema = super::page::next_schema(
        &[],
        "send the same request with this `start` (ascending) or `end` (descending) bound",
    );
    schema["properties"] = json!({"start": bound.clone(), "end": bound});
    schema
}

/// A row: the entity's key columns by name, every other member a cell (`null` deletes it).
fn row_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "description": "key columns by name, then cells", "additionalProperties": crate::openapi::any_value()})
}

/// A list of rows.
fn rows_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let row = row_schema(generator);
    schemars::json_schema!({"type": "array", "items": row})
}

/// Rows to upsert as one batch.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WideColumnPut")]
struct PutBody {
    /// The rows.
    #[schemars(schema_with = "rows_schema")]
    rows: Vec<serde_json::Map<String, JsonValue>>,
    /// How long the rows live (default: the entity's `ttl`).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::duration")]
    ttl: Option<String>,
    /// The write time of every cell (default: now); the latest write of a cell wins.
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::timestamp")]
    timestamp: Option<JsonValue>,
}

/// A row's key: the partition key's values, then the clustering key's, in key-column order.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WideColumnKey")]
struct KeyBody {
    /// The partition key's values.
    #[schemars(schema_with = "crate::openapi::value_list")]
    partition: Vec<JsonValue>,
    /// The clustering key's values (for `delete`, omit it to delete the whole partition).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::value_list")]
    clustering: Option<Vec<JsonValue>>,
}

/// One end of a slice.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WideColumnBound")]
struct BoundBody {
    /// Clustering values (a prefix of the clustering key).
    #[schemars(schema_with = "crate::openapi::value_list")]
    key: Vec<JsonValue>,
    /// Whether the bound itself is included (default true).
    #[serde(default = "yes")]
    inclusive: bool,
}

fn yes() -> bool {
    true
}

/// Clustering order.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "WideColumnOrder")]
enum OrderBody {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A slice of one partition.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WideColumnSlice")]
struct SliceBody {
    /// The partition key's values.
    #[schemars(schema_with = "crate::openapi::value_list")]
    partition: Vec<JsonValue>,
    /// The first row's bound (default: the partition's start).
    #[serde(default)]
    start: Option<BoundBody>,
    /// The last row's bound (default: the partition's end).
    #[serde(default)]
    end: Option<BoundBody>,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    order: Option<OrderBody>,
    /// At most this many rows (default and most: the sidecar's `max_results`).
    #[serde(default)]
    #[schemars(range(min = 1))]
    limit: Option<usize>,
}

fn row(
    handle: &WideColumn,
    mut object: serde_json::Map<String, JsonValue>,
    field: &str,
) -> Result<WideRow, ApiError> {
    let settings = handle.settings();
    let mut take = |columns: &[String]| -> Result<Vec<Value>, ApiError> {
        columns
            .iter()
            .map(|column| {
                let here = format!("{field}.{column}");
                let json = object.remove(column).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_body",
                        format!("the row has no key column `{column}`; every row names each of its key columns"),
                    )
                    .with_field(here.clone())
                })?;
                to_value(json, &here)
            })
            .collect()
    };
    let partition = take(&settings.partition_key)?;
    let clustering = take(&settings.clustering_key)?;
    let mut cells = BTreeMap::new();
    for (name, json) in object {
        let value = to_value(json, &format!("{field}.{name}"))?;
        cells.insert(name, value);
    }
    Ok(WideRow {
        partition,
        clustering,
        cells,
    })
}

fn row_json(handle: &WideColumn, row: &WideRow) -> JsonValue {
    let settings = handle.settings();
    let mut object = serde_json::Map::new();
    for (name, value) in settings.partition_key.iter().zip(&row.partition) {
        object.insert(name.clone(), to_json(value));
    }
    for (name, value) in settings.clustering_key.iter().zip(&row.clustering) {
        object.insert(name.clone(), to_json(value));
    }
    for (name, value) in &row.cells {
        object.insert(name.clone(), to_json(value));
    }
    JsonValue::Object(object)
}

fn bound(body: Option<BoundBody>, field: &str) -> Result<Bound<Vec<Value>>, ApiError> {
    Ok(match body {
        None => Bound::Unbounded,
        Some(b) => {
            let key = to_values(b.key, &format!("{field}.key"))?;
            if b.inclusive {
                Bound::Included(key)
            } else {
                Bound::Excluded(key)
            }
        }
    })
}

/// A bound as a request gives it (`{"key": [...], "inclusive": bool}`), or `null` unbounded.
fn bound_json(bound: &Bound<Vec<Value>>) -> JsonValue {
    let (key, inclusive) = match bound {
        Bound::Included(key) => (key, true),
        Bound::Excluded(key) => (key, false),
        Bound::Unbounded => return JsonValue::Null,
    };
    let key: Vec<JsonValue> = key.iter().map(to_json).collect();
    json!({ "key": key, "inclusive": inclusive })
}

async fn put(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let handle = app.router.wide_column(&entity)?;
    let mut rows = Vec::with_capacity(body.rows.len());
    for (index, object) in body.rows.into_iter().enumerate() {
        rows.push(row(&handle, object, &format!("rows[{index}]"))?);
    }
    let options = WriteOptions {
        ttl: super::key_value::ttl(body.ttl, "ttl")?,
        // Nanoseconds or RFC 3339 in the body; the store takes microseconds.
        timestamp: body
            .timestamp
            .map(|json| timestamp(&json, "timestamp").map(micros_from_nanos))
            .transpose()?,
    };
    let count = rows.len();
    if count == 1 {
        if let Some(row) = rows.pop() {
            handle.put_with(row, options).await?;
        }
    } else if count > 1 {
        handle.put_batch_with(rows, options).await?;
    }
    Ok(Json(json!({ "written": count })))
}

async fn get(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<KeyBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let handle = app.router.wide_column(&entity)?;
    let partition = to_values(body.partition, "partition")?;
    let clustering = to_values(body.clustering.unwrap_or_default(), "clustering")?;
    match handle.get(&partition, &clustering).await? {
        Some(row) => Ok(Json(json!({ "row": row_json(&handle, &row) }))),
        None => {
            Err(ApiError::not_found(format!("no such row in `{entity}`")).with_field("clustering"))
        }
    }
}

async fn slice(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<SliceBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let handle = app.router.wide_column(&entity)?;
    let limit = super::page::limit(body.limit, app.config.max_results)?;
    let query = SliceQuery {
        partition: to_values(body.partition, "partition")?,
        start: bound(body.start, "start")?,
        end: bound(body.end, "end")?,
        order: match body.order {
            None | Some(OrderBody::Asc) => Order::Ascending,
            Some(OrderBody::Desc) => Order::Descending,
        },
        limit: Some(super::page::probe(limit)),
    };
    let mut rows = handle.slice(&query).await?;
    let mut next = JsonValue::Null;
    if rows.len() > limit {
        rows.truncate(limit);
        if let Some(last) = rows.last() {
            let after = query.after(last);
            next = match query.order {
                Order::Ascending => json!({ "start": bound_json(&after.start) }),
                Order::Descending => json!({ "end": bound_json(&after.end) }),
            };
        }
    }
    let rows: Vec<JsonValue> = rows.iter().map(|row| row_json(&handle, row)).collect();
    Ok(Json(json!({ "rows": rows, "next": next })))
}

async fn delete(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<KeyBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let handle = app.router.wide_column(&entity)?;
    let partition = to_values(body.partition, "partition")?;
    match body.clustering {
        None => {
            handle.delete_partition(&partition).await?;
            Ok(Json(json!({ "deleted": "partition" })))
        }
        Some(clustering) => {
            let clustering = to_values(clustering, "clustering")?;
            if handle.delete(&partition, &clustering).await? {
                Ok(Json(json!({ "deleted": "row" })))
            } else {
                Err(ApiError::not_found(format!("no such row in `{entity}`"))
                    .with_field("clustering"))
            }
        }
    }
}
