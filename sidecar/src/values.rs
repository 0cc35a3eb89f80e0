//! JSON ⇄ [`Value`]: numbers, strings, booleans, lists and objects map to themselves; the types
//! JSON lacks are written as one-key objects, `{"$timestamp": ns or "RFC 3339"}` and
//! `{"$bytes": "base64"}`, both ways, so a value read back is the value written.

use base64::Engine as _;
use polyroute::Value;
use serde_json::Value as Json;

use crate::errors::ApiError;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `json` as a value; `field` names it in errors.
pub fn to_value(json: Json, field: &str) -> Result<Value, ApiError> {
    Ok(match json {
        Json::Object(map) if map.len() == 1 && map.contains_key("$timestamp") => {
            let inner = map.get("$timestamp").cloned().unwrap_or(Json::Null);
            Value::Timestamp(timestamp(&inner, field)?)
        }
        Json::Object(map) if map.len() == 1 && map.contains_key("$bytes") => {
            let text = map.get("$bytes").and_then(Json::as_str).ok_or_else(|| {
                ApiError::bad_request("invalid_value", "`$bytes` takes base64 text")
                    .with_field(field)
            })?;
            Value::Bytes(decode_base64(text, field)?)
        }
        Json::Object(map) => {
            let mut out = std::collections::BTreeMap::new();
            for (key, value) in map {
                let path = format!("{field}.{key}");
                out.insert(key, to_value(value, &path)?);
            }
            Value::Map(out)
        }
        Json::Array(items) => Value::List(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| to_value(item, &format!("{field}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => Value::from_json(other),
    })
}

/// `value` as JSON, timestamps and bytes in their one-key object forms.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Timestamp(ns) => serde_json::json!({ "$timestamp": ns }),
        Value::Bytes(bytes) => serde_json::json!({ "$bytes": BASE64.encode(bytes) }),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), to_json(value)))
                .collect(),
        ),
        other => other.to_json(),
    }
}

/// A timestamp in nanoseconds since the epoch, from an integer or RFC 3339 text.
pub fn timestamp(json: &Json, field: &str) -> Result<i64, ApiError> {
    match json {
        Json::Number(n) => n.as_i64(),
        Json::String(text) => humantime::parse_rfc3339_weak(text).ok().and_then(|at| {
            at.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_nanos()).ok())
        }),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_timestamp",
            "expected a timestamp: nanoseconds since the Unix epoch as an integer, or RFC 3339 text such as \"2024-05-01T12:00:00Z\"",
        )
        .with_field(field)
    })
}

/// Base64 text as bytes.
pub fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    BASE64.decode(text).map_err(|error| {
        ApiError::bad_request(
            "invalid_value",
            format!("not standard base64 ({error}); encode the bytes with padding"),
        )
        .with_field(field)
    })
}

/// Bytes as base64 text.
pub fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// A list of JSON values as values, `field[i]` naming each in errors.
pub fn to_values(items: Vec<Json>, field: &str) -> Result<Vec<Value>, ApiError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| to_value(item, &format!("{field}[{i}]")))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn typed_values_round_trip() {
        for value in [
            Value::Int(3),
            Value::Float(1.5),
            Value::Text("x".into()),
            Value::Timestamp(1_700_000_000_000_000_000),
            Value::Bytes(vec![0, 1, 255]),
            Value::List(vec![Value::Null, Value::Bool(true)]),
        ] {
            assert_eq!(to_value(to_json(&value), "v").unwrap(), value);
        }
    }

    #[test]
    fn timestamps_accept_rfc3339() {
        assert_eq!(
            timestamp(&json!("1970-01-01T00:00:01Z"), "t").unwrap(),
            1_000_000_000
        );
        let error = timestamp(&json!(true), "points[0].timestamp").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("points[0].timestamp"));
    }

    #[test]
    fn bad_bytes_name_their_field() {
        let error = to_value(json!({"a": {"$bytes": "!!"}}), "cells").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("cells.a"));
    }
}
