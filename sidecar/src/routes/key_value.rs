//! Key-value routes: get, set (TTL, if-absent/if-present), delete, get-many, set-many, increment.
//!
//! Values are bytes. In JSON they travel as `value` (UTF-8 text) or `value_base64` (any bytes);
//! a read answers `value` when the bytes are UTF-8 and `value_base64` otherwise.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use bytes::Bytes;
use polyroute::key_value::{SetCondition, SetOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};

use super::{spec, BodyKind, Endpoint, PathArgs, Shared};
use crate::body::JsonBody;
use crate::errors::ApiError;
use crate::openapi::{deleted_flag, object, written_count, written_flag};
use crate::values::{decode_base64, encode_base64};

/// The key-value routes.
pub fn routes() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            spec!(Get "/v1/key_value/{entity}/keys/{key}", "key_value.get", KeyValue, Read,
                BodyKind::None, &[], "Read a key's value (404 when absent or expired)")
                .answers(|_| value_answer(false)),
            get,
        ),
        Endpoint::new(
            spec!(Put "/v1/key_value/{entity}/keys/{key}", "key_value.set", KeyValue, Write,
                BodyKind::json::<SetBody>(r#"{"value": "alice", "ttl": "30m", "condition": "always"}"#), &[],
                "Set a key (`value` text or `value_base64`; optional `ttl`; `condition` always, if_absent or if_present: 409 when not met)")
                .answers(written_flag),
            set,
        ),
        Endpoint::new(
            spec!(Delete "/v1/key_value/{entity}/keys/{key}", "key_value.delete", KeyValue, Write,
                BodyKind::None, &[], "Delete a key (404 when absent)")
                .answers(deleted_flag),
            delete,
        ),
        Endpoint::new(
            spec!(Post "/v1/key_value/{entity}/keys/{key}/increment", "key_value.increment", KeyValue, Write,
                BodyKind::json::<IncrementBody>(r#"{"delta": 1}"#), &[],
                "Add `delta` to a key holding a decimal integer (absent: 0) and return the result")
                .answers(|_| object(&[("value", json!({"type": "integer", "format": "int64"}))])),
            increment,
        ),
        Endpoint::new(
            spec!(Post "/v1/key_value/{entity}/get_many", "key_value.get_many", KeyValue, Read,
                BodyKind::json::<GetManyBody>(r#"{"keys": ["a", "b"]}"#), &[],
                "Read many keys at once; absent keys answer null")
                .answers(|_| object(&[("values", json!({"type": "array", "items": value_answer(true).to_value()}))])),
            get_many,
        ),
        Endpoint::new(
            spec!(Post "/v1/key_value/{entity}/set_many", "key_value.set_many", KeyValue, Write,
                BodyKind::json::<SetManyBody>(r#"{"entries": [{"key": "a", "value": "1"}, {"key": "b", "value_base64": "AAE="}], "ttl": "1h"}"#), &[],
                "Set many keys at once, with one optional `ttl`")
                .answers(written_count),
            set_many,
        ),
    ]
}

/// When a set writes.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "KeyValueCondition")]
enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// A key's new value (exactly one of `value` and `value_base64`) and how to write it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyValueSet", extend("oneOf" = [{ "required": ["value"] }, { "required": ["value_base64"] }]))]
struct SetBody {
    /// The value as UTF-8 text.
    #[serde(default)]
    #[schemars(with = "String")]
    value: Option<String>,
    /// The value as bytes, in base64.
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::base64")]
    value_base64: Option<String>,
    /// How long the key lives (default: the entity's `ttl`).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::duration")]
    ttl: Option<String>,
    /// `always` (default), `if_absent` or `if_present`; 409 when not met.
    #[serde(default)]
    condition: Option<Condition>,
}

/// One key and its value (exactly one of `value` and `value_base64`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyValueEntry", extend("oneOf" = [{ "required": ["value"] }, { "required": ["value_base64"] }]))]
struct Entry {
    /// The key.
    key: String,
    /// The value as UTF-8 text.
    #[serde(default)]
    #[schemars(with = "String")]
    value: Option<String>,
    /// The value as bytes, in base64.
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::base64")]
    value_base64: Option<String>,
}

/// Keys to set at once.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyValueSetMany")]
struct SetManyBody {
    /// The keys and their values.
    entries: Vec<Entry>,
    /// How long every key lives (default: the entity's `ttl`).
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::duration")]
    ttl: Option<String>,
}

/// Keys to read at once.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyValueGetMany")]
struct GetManyBody {
    /// The keys, answered in this order.
    keys: Vec<String>,
}

/// How much to add.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyValueIncrement")]
struct IncrementBody {
    /// Added to the key's integer (may be negative).
    delta: i64,
}

/// A key and its value: `value` when the bytes are UTF-8, else `value_base64`; with `absent`,
/// `value` may be null (the key is absent).
fn value_answer(absent: bool) -> schemars::Schema {
    let text = if absent {
        json!({"type": "string", "nullable": true})
    } else {
        json!({"type": "string"})
    };
    schemars::json_schema!({
        "type": "object",
        "required": ["key"],
        "properties": {
            "key": {"type": "string"},
            "value": text,
            "value_base64": {"type": "string"},
        },
    })
}

/// The JSON of a stored value.
fn value_json(bytes: &Bytes) -> JsonValue {
    match std::str::from_utf8(bytes) {
        Ok(text) => json!({ "value": text }),
        Err(_) => json!({ "value_base64": encode_base64(bytes) }),
    }
}

fn value_bytes(
    value: Option<String>,
    base64: Option<String>,
    field: &str,
) -> Result<Bytes, ApiError> {
    match (value, base64) {
        (Some(text), None) => Ok(Bytes::from(text)),
        (None, Some(b64)) => Ok(Bytes::from(decode_base64(
            &b64,
            &format!("{field}value_base64"),
        )?)),
        _ => Err(ApiError::bad_request(
            "invalid_body",
            "give exactly one of `value` (text) and `value_base64` (bytes)",
        )
        .with_field(format!("{field}value"))),
    }
}

/// A TTL from text such as `30s`.
pub(crate) fn ttl(text: Option<String>, field: &str) -> Result<Option<Duration>, ApiError> {
    text.map(|text| match polyroute::backend::units::parse_duration(&text) {
        Ok(ttl) if !ttl.is_zero() => Ok(ttl),
        _ => Err(ApiError::bad_request(
            "invalid_body",
            format!("`{text}` is not a positive duration; write a number and a unit, such as `30s` or `1h`"),
        )
        .with_field(field)),
    })
    .transpose()
}

async fn get(
    State(app): State<Shared>,
    PathArgs((entity, key)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let kv = app.router.key_value(&entity)?;
    match kv.get(&key).await? {
        Some(bytes) => {
            let mut body = value_json(&bytes);
            body["key"] = JsonValue::String(key);
            Ok(Json(body))
        }
        None => {
            Err(ApiError::not_found(format!("key `{key}` is not in `{entity}`")).with_field("key"))
        }
    }
}

async fn set(
    State(app): State<Shared>,
    PathArgs((entity, key)): PathArgs<(String, String)>,
    JsonBody(body): JsonBody<SetBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let kv = app.router.key_value(&entity)?;
    let value = value_bytes(body.value, body.value_base64, "")?;
    let options = SetOptions {
        ttl: ttl(body.ttl, "ttl")?,
        condition: match body.condition {
            None | Some(Condition::Always) => SetCondition::Always,
            Some(Condition::IfAbsent) => SetCondition::IfAbsent,
            Some(Condition::IfPresent) => SetCondition::IfPresent,
        },
    };
    let condition = options.condition;
    if kv.set_with(&key, value, options).await? {
        Ok(Json(json!({ "written": true })))
    } else {
        let why = match condition {
            SetCondition::IfAbsent => "the key already exists",
            _ => "the key does not exist",
        };
        Err(
            ApiError::conflict("condition_failed", format!("not written: {why}"))
                .with_field("condition"),
        )
    }
}

async fn delete(
    State(app): State<Shared>,
    PathArgs((entity, key)): PathArgs<(String, String)>,
) -> Result<Json<JsonValue>, ApiError> {
    let kv = app.router.key_value(&entity)?;
    if kv.delete(&key).await? {
        Ok(Json(json!({ "deleted": true })))
    } else {
        Err(ApiError::not_found(format!("key `{key}` is not in `{entity}`")).with_field("key"))
    }
}

async fn increment(
    State(app): State<Shared>,
    PathArgs((entity, key)): PathArgs<(String, String)>,
    JsonBody(body): JsonBody<IncrementBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let kv = app.router.key_value(&entity)?;
    let value = kv.increment(&key, body.delta).await?;
    Ok(Json(json!({ "value": value })))
}

async fn get_many(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<GetManyBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let kv = app.router.key_value(&entity)?;
    let values = kv.get_many(body.keys.iter().cloned()).await?;
    let items: Vec<JsonValue> = body
        .keys
        .into_iter()
        .zip(values)
        .map(|(key, value)| match value {
            Some(bytes) => {
                let mut item = value_json(&bytes);
                item["key"] = JsonValue::String(key);
                item
            }
            None => json!({ "key": key, "value": null }),
        })
        .collect();
    Ok(Json(json!({ "values": items })))
}

async fn set_many(
    State(app): State<Shared>,
    PathArgs(entity): PathArgs<String>,
    JsonBody(body): JsonBody<SetManyBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let kv = app.router.key_value(&entity)?;
    let ttl = ttl(body.ttl, "ttl")?;
    let mut entries = Vec::with_capacity(body.entries.len());
    for (index, entry) in body.entries.into_iter().enumerate() {
        let value = value_bytes(
            entry.value,
            entry.value_base64,
            &format!("entries[{index}]."),
        )?;
        entries.push((entry.key, value));
    }
    let count = entries.len();
    kv.set_many_with_ttl(entries, ttl).await?;
    Ok(Json(json!({ "written": count })))
}
