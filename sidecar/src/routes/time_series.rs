//! Time-series routes: write points (JSON or InfluxDB line protocol), range, window aggregates,
//! last point per series, and delete-before.
//!
//! Timestamps are nanoseconds since the Unix epoch, or RFC 3339 text in JSON bodies.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use polyroute::backend::kinds::time_series::{
    cut_page, Aggregate, FieldValue, Point, RangeQuery, TagFilter, WindowQuery,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::line_protocol::{self, Precision};
use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::{JsonBody, QueryArgs, TextBody};
use crate::errors::ApiError;
use crate::openapi::{object, written_count};
use crate::values::timestamp;

/// The time-series routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Post "/v1/time_series/{entity}/points", "time_series.write", TimeSeries, Write,
                BodyKind::json::<WriteBody>(r#"{"points": [{"measurement": "cpu", "tags": {"host": "web-1"}, "fields": {"usage": 0.42, "cores": 8}, "timestamp": "2024-05-01T12:00:00Z"}]}"#), &[],
                "Write points as JSON (integers stay integers, other numbers are floats)")
                .answers(written_count),
            write,
        ),
        Endpoint::new(
            spec!(Post "/v1/time_series/{entity}/lines", "time_series.write_lines", TimeSeries, Write,
                BodyKind::Text("cpu,host=web-1 usage=0.42,cores=8i 1714564800000000000"),
                &[("precision", "unit of the timestamps: ns (default), us, ms or s")],
                "Write points in InfluxDB line protocol")
                .query_schema(super::schema_of::<LinesQuery>)
                .answers(written_count),
            write_lines,
        ),
        Endpoint::new(
            spec!(Post "/v1/time_series/{entity}/range", "time_series.range", TimeSeries, Read,
                BodyKind::json::<RangeBody>(r#"{"measurement": "cpu", "start": 0, "end": "2030-01-01T00:00:00Z", "tags": {"host": ["web-1", "web-2"]}, "fields": ["usage"], "limit": 1000}"#), &[],
                "Raw points in [start, end) per series, oldest first: at most `limit` per series (default and most: the sidecar's `max_results`); when a series has more, every series stops before the same instant, which `next` gives as the next page's `start`")
                .answers(|_| object(&[
                    ("series", json!({"type": "array", "items": {
                        "type": "object", "required": ["tags", "timestamps", "fields"], "properties": {
                            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                            "timestamps": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                            "fields": {"type": "object", "additionalProperties": {"type": "array", "items": field_value_schema(true)}},
                        }}})),
                    ("next", super::page::next_schema(
                        &[("start", json!({"type": "integer", "format": "int64", "description": "nanoseconds since the Unix epoch, inclusive"}))],
                        "send the same request with this `start`",
                    )),
                ])),
            range,
        ),
        Endpoint::new(
            spec!(Post "/v1/time_series/{entity}/window", "time_series.window", TimeSeries, Read,
                BodyKind::json::<WindowBody>(r#"{"measurement": "cpu", "field": "usage", "start": 0, "end": "2030-01-01T00:00:00Z", "every": "1m", "aggregate": "mean", "group_by": ["host"]}"#), &[],
                "Aggregate (mean, min, max, sum, count, first, last) per time window, grouped by tags")
                .answers(|_| object(&[("groups", json!({"type": "array", "items": {
                    "type": "object", "required": ["group", "windows"], "properties": {
                        "group": {"type": "object", "additionalProperties": {"type": "string"}},
                        "windows": {"type": "array", "items": {"type": "object", "required": ["start", "value"], "properties": {
                            "start": {"type": "integer", "format": "int64"},
                            "value": {"type": "number", "nullable": true},
                        }}},
                    }}}))])),
            window,
        ),
        Endpoint::new(
            spec!(Post "/v1/time_series/{entity}/last", "time_series.last", TimeSeries, Read,
                BodyKind::json::<LastBody>(r#"{"measurement": "cpu", "tags": {"host": "web-1"}}"#), &[],
                "The latest point of each matching series")
                .answers(|_| object(&[("points", json!({"type": "array", "items": {
                    "type": "object", "required": ["tags", "timestamp", "fields"], "properties": {
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                        "timestamp": {"type": "integer", "format": "int64"},
                        "fields": {"type": "object", "additionalProperties": field_value_schema(false)},
                    }}}))])),
            last,
        ),
        Endpoint::new(
            spec!(Post "/v1/time_series/{entity}/delete_before", "time_series.delete_before", TimeSeries, Write,
                BodyKind::json::<DeleteBeforeBody>(r#"{"before": "2024-01-01T00:00:00Z"}"#), &[],
                "Delete points older than `before` (the backend may keep a partially covered partition)")
                .answers(|_| object(&[("deleted", json!({"type": "integer", "minimum": 0}))])),
            delete_before,
        ),
    ]
}

/// A field value's schema: a number, a boolean or text (or null in a range's columns, where a
/// point lacks the field).
fn field_value_schema(nullable: bool) -> JsonValue {
    json!({
        "nullable": nullable,
        "oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}],
    })
}

/// The schema of `tags`: tag names to non-empty values.
fn point_tags(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "tag names to values (neither empty)",
        "additionalProperties": {"type": "string", "minLength": 1},
    })
}

/// The schema of `fields`: at least one field, each a number, a boolean or text.
fn point_fields(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "field names to values; integers stay integers, other numbers are floats",
        "minProperties": 1,
        "additionalProperties": field_value_schema(false),
    })
}

/// One point.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesPoint")]
struct PointBody {
    /// What it measures (not empty).
    #[schemars(length(min = 1))]
    measurement: String,
    /// Its series' tags.
    #[serde(default)]
    #[schemars(schema_with = "point_tags")]
    tags: BTreeMap<String, String>,
    /// Its values.
    #[schemars(schema_with = "point_fields")]
    fields: BTreeMap<String, JsonValue>,
    /// When (default: the time of the request).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::timestamp")]
    timestamp: Option<JsonValue>,
}

/// Points to write.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesWrite")]
struct WriteBody {
    /// The points, written as one batch.
    points: Vec<PointBody>,
}

/// One accepted value of a tag, or a list of them.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "TimeSeriesTagValues")]
enum TagValues {
    /// One value.
    One(String),
    /// Any of these values.
    Many(Vec<String>),
}

/// Raw points of one measurement in a time range.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesRange")]
struct RangeBody {
    /// The measurement.
    measurement: String,
    /// From this time (inclusive).
    #[schemars(schema_with = "crate::openapi::timestamp")]
    start: JsonValue,
    /// To this time (exclusive).
    #[schemars(schema_with = "crate::openapi::timestamp")]
    end: JsonValue,
    /// Only series whose tags have one of these values.
    #[serde(default)]
    tags: BTreeMap<String, TagValues>,
    /// Only these fields (default: all).
    #[serde(default)]
    fields: Vec<String>,
    /// At most this many points per series (default and most: the sidecar's `max_results`).
    #[serde(default)]
    #[schemars(range(min = 1))]
    limit: Option<usize>,
}

/// An aggregate function.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(rename = "TimeSeriesAggregate")]
enum AggregateBody {
    Mean,
    Min,
    Max,
    Sum,
    Count,
    First,
    Last,
}

/// An aggregate of one field per time window.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesWindow")]
struct WindowBody {
    /// The measurement.
    measurement: String,
    /// The field to aggregate.
    field: String,
    /// From this time (inclusive).
    #[schemars(schema_with = "crate::openapi::timestamp")]
    start: JsonValue,
    /// To this time (exclusive).
    #[schemars(schema_with = "crate::openapi::timestamp")]
    end: JsonValue,
    /// The width of a window.
    #[schemars(schema_with = "crate::openapi::duration")]
    every: String,
    /// The aggregate function.
    aggregate: AggregateBody,
    /// Tags to group by.
    #[serde(default)]
    group_by: Vec<String>,
    /// Only series whose tags have one of these values.
    #[serde(default)]
    tags: BTreeMap<String, TagValues>,
}

/// The latest point of each series.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesLast")]
struct LastBody {
    /// The measurement.
    measurement: String,
    /// Only series whose tags have one of these values.
    #[serde(default)]
    tags: BTreeMap<String, TagValues>,
}

/// Where to cut.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesDeleteBefore")]
struct DeleteBeforeBody {
    /// Points older than this are deleted.
    #[schemars(schema_with = "crate::openapi::timestamp")]
    before: JsonValue,
}

/// The line protocol's query string.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TimeSeriesLinesQuery")]
struct LinesQuery {
    #[serde(default)]
    #[schemars(schema_with = "precision_schema")]
    precision: Option<String>,
}

/// The precisions [`Precision::parse`] reads.
fn precision_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["ns", "us", "ms", "s", "n", "u"]})
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

fn field_value(json: JsonValue, field: &str) -> Result<FieldValue, ApiError> {
    match json {
        JsonValue::Bool(b) => Ok(FieldValue::Bool(b)),
        JsonValue::String(s) => Ok(FieldValue::Text(s)),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => Ok(FieldValue::Int(i)),
            None => n.as_f64().map(FieldValue::Float).ok_or_else(|| {
                ApiError::bad_request("invalid_value", "not a finite number").with_field(field)
            }),
        },
        _ => Err(ApiError::bad_request(
            "invalid_value",
            "a field value is a number, a boolean or a string",
        )
        .with_field(field)),
    }
}

fn field_json(value: &FieldValue) -> JsonValue {
    match value {
        FieldValue::Float(x) => json!(x),
        FieldValue::Int(i) => json!(i),
        FieldValue::Bool(b) => json!(b),
        FieldValue::Text(s) => json!(s),
    }
}

fn tag_filter(tags: BTreeMap<String, TagValues>) -> TagFilter {
    TagFilter {
        any_of: tags
            .into_iter()
            .map(|(tag, values)| {
                let values = match values {
                    TagValues::One(value) => vec![value],
                    TagValues::Many(values) => values,
                };
                (tag, values)
            })
            .collect(),
    }
}

async fn write(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<WriteBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let ts = app.router.time_series(&entity)?;
    let now = now_ns();
    let mut points = Vec::with_capacity(body.points.len());
    for (index, point) in body.points.into_iter().enumerate() {
        let path = format!("points[{index}]");
        let mut fields = BTreeMap::new();
        for (name, value) in point.fields {
            let value = field_value(value, &format!("{path}.fields.{name}"))?;
            fields.insert(name, value);
        }
        let timestamp = match point.timestamp {
            None => now,
            Some(json) => timestamp(&json, &format!("{path}.timestamp"))?,
        };
        let point = Point {
            measurement: point.measurement,
            tags: point.tags,
            fields,
            timestamp,
        };
        point
            .check_shape()
            .map_err(|error| ApiError::from(error).with_field(path))?;
        points.push(point);
    }
    let count = points.len();
    ts.write(points).await?;
    Ok(Json(json!({ "written": count })))
}

async fn write_lines(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    QueryArgs(query): QueryArgs<LinesQuery>,
    TextBody(text): TextBody,
) -> Result<Json<JsonValue>, ApiError> {
    let ts = app.router.time_series(&entity)?;
    let precision = match query.precision.as_deref() {
        None => Precision::Nanoseconds,
        Some(text) => Precision::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("precision `{text}` is not ns, us, ms or s"),
            )
            .with_field("precision")
        })?,
    };
    let points = line_protocol::parse(&text, precision, now_ns()).map_err(|error| {
        ApiError::bad_request(
            "invalid_line_protocol",
            format!("line {}: {}", error.line, error.message),
        )
        .with_field(format!("line {}", error.line))
    })?;
    let count = points.len();
    ts.write(points).await?;
    Ok(Json(json!({ "written": count })))
}

async fn range(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<RangeBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let ts = app.router.time_series(&entity)?;
    let limit = super::page::limit(body.limit, app.config.max_results)?;
    let query = RangeQuery {
        measurement: body.measurement,
        start: timestamp(&body.start, "start")?,
        end: timestamp(&body.end, "end")?,
        tags: tag_filter(body.tags),
        fields: body.fields,
        limit: Some(super::page::probe(limit)),
    };
    let mut found = ts.range(&query).await?;
    let next = cut_page(&mut found, limit).map(|start| json!({ "start": start }));
    let series: Vec<JsonValue> = found
        .into_iter()
        .map(|series| {
            let fields: serde_json::Map<String, JsonValue> = series
                .fields
                .iter()
                .map(|(name, values)| {
                    let values = values
                        .iter()
                        .map(|v| v.as_ref().map_or(JsonValue::Null, field_json))
                        .collect();
                    (name.clone(), JsonValue::Array(values))
                })
                .collect();
            json!({ "tags": series.tags, "timestamps": series.timestamps, "fields": fields })
        })
        .collect();
    Ok(Json(json!({ "series": series, "next": next })))
}

async fn window(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<WindowBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let ts = app.router.time_series(&entity)?;
    let every = super::key_value::ttl(Some(body.every), "every")?.unwrap_or_default();
    let query = WindowQuery {
        measurement: body.measurement,
        field: body.field,
        start: timestamp(&body.start, "start")?,
        end: timestamp(&body.end, "end")?,
        every,
        aggregate: match body.aggregate {
            AggregateBody::Mean => Aggregate::Mean,
            AggregateBody::Min => Aggregate::Min,
            AggregateBody::Max => Aggregate::Max,
            AggregateBody::Sum => Aggregate::Sum,
            AggregateBody::Count => Aggregate::Count,
            AggregateBody::First => Aggregate::First,
            AggregateBody::Last => Aggregate::Last,
        },
        group_by: body.group_by,
        tags: tag_filter(body.tags),
    };
    let groups: Vec<JsonValue> = ts
        .window(&query)
        .await?
        .into_iter()
        .map(|series| {
            let windows: Vec<JsonValue> = series
                .windows
                .iter()
                .map(|(start, value)| json!({ "start": start, "value": value }))
                .collect();
            json!({ "group": series.group, "windows": windows })
        })
        .collect();
    Ok(Json(json!({ "groups": groups })))
}

async fn last(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<LastBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let ts = app.router.time_series(&entity)?;
    let points: Vec<JsonValue> = ts
        .last(&body.measurement, &tag_filter(body.tags))
        .await?
        .into_iter()
        .map(|point| {
            let fields: serde_json::Map<String, JsonValue> = point
                .fields
                .iter()
                .map(|(name, value)| (name.clone(), field_json(value)))
                .collect();
            json!({ "tags": *point.tags, "timestamp": point.timestamp, "fields": fields })
        })
        .collect();
    Ok(Json(json!({ "points": points })))
}

async fn delete_before(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<DeleteBeforeBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let ts = app.router.time_series(&entity)?;
    let before = timestamp(&body.before, "before")?;
    let deleted = ts.delete_before(before).await?;
    Ok(Json(json!({ "deleted": deleted })))
}
