//! JSON documents to and from BSON.
//!
//! Values map to their natural BSON types: integers that fit to `Int64`, larger unsigned
//! integers (up to `u64::MAX`) to an exact `Decimal128` (MongoDB compares and sorts it with the
//! other numbers by value), other numbers to `Double`, strings, booleans, `null`, arrays and
//! objects to their BSON counterparts. Reading back gives the same JSON: `Int32`/`Int64` as
//! integers, `Double` as a float, the `Decimal128`s written here as the integer they hold.
//!
//! Field names are *escaped* on the way in: MongoDB gives `$` at the start of a name and `.`
//! anywhere in it a meaning in queries and updates, and BSON names cannot hold U+0000. So `%`,
//! `$`, `.` and U+0000 in a name are written as `%25`, `%24`, `%2E` and `%00`, and the empty
//! name as a lone `%` (which escaping never produces otherwise). Names made of letters, digits
//! and `_` — every [`FieldPath`](crate::kinds::document::FieldPath) segment — are unchanged, so
//! filter paths need no escaping and can never reach an escaped name.

use std::borrow::Cow;

use mongodb::bson::{Bson, Decimal128, Document as BsonDocument};
use serde_json::{Map, Number, Value as Json};

use crate::{Result, StoreError};

/// A field name as stored: `%`, `$`, `.` and U+0000 escaped, the empty name as `%`.
pub(super) fn escape_key(key: &str) -> Cow<'_, str> {
    if key.is_empty() {
        return Cow::Borrowed("%");
    }
    if !key.contains(['%', '$', '.', '\0']) {
        return Cow::Borrowed(key);
    }
    let mut escaped = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '$' => escaped.push_str("%24"),
            '.' => escaped.push_str("%2E"),
            '\0' => escaped.push_str("%00"),
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// The field name an escaped name stands for.
pub(super) fn unescape_key(key: &str) -> Result<Cow<'_, str>> {
    if key == "%" {
        return Ok(Cow::Borrowed(""));
    }
    if !key.contains('%') {
        return Ok(Cow::Borrowed(key));
    }
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3);
        let c = match code {
            Some("25") => '%',
            Some("24") => '$',
            Some("2E") => '.',
            Some("00") => '\0',
            _ => {
                return Err(StoreError::backend(format!(
                    "stored field name `{key}` is not one this backend wrote (bad escape)"
                )))
            }
        };
        out.push(c);
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// A JSON value as BSON (names escaped).
pub(super) fn to_bson(value: &Json) -> Bson {
    match value {
        Json::Null => Bson::Null,
        Json::Bool(b) => Bson::Boolean(*b),
        Json::Number(n) => number_to_bson(n),
        Json::String(s) => Bson::String(s.clone()),
        Json::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Json::Object(fields) => Bson::Document(to_document(fields)),
    }
}

fn number_to_bson(n: &Number) -> Bson {
    if let Some(i) = n.as_i64() {
        return Bson::Int64(i);
    }
    if let Some(u) = n.as_u64() {
        // Above i64::MAX: an exact decimal integer (exponent 0) instead of a rounded double.
        if let Ok(decimal) = u.to_string().parse::<Decimal128>() {
            return Bson::Decimal128(decimal);
        }
    }
    Bson::Double(n.as_f64().unwrap_or(f64::NAN))
}

/// A JSON object as a BSON document (names escaped).
pub(super) fn to_document(fields: &Map<String, Json>) -> BsonDocument {
    fields
        .iter()
        .map(|(key, value)| (escape_key(key).into_owned(), to_bson(value)))
        .collect()
}

/// A BSON value as JSON (names unescaped). Types this backend never writes are read as the
/// closest JSON: other `Decimal128`s as numbers when they parse, else as their text.
pub(super) fn from_bson(value: Bson) -> Result<Json> {
    Ok(match value {
        Bson::Null | Bson::Undefined => Json::Null,
        Bson::Boolean(b) => Json::Bool(b),
        Bson::Int32(i) => Json::from(i),
        Bson::Int64(i) => Json::from(i),
        Bson::Double(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        Bson::Decimal128(d) => {
            let text = d.to_string();
            if let Ok(u) = text.parse::<u64>() {
                Json::from(u)
            } else if let Ok(i) = text.parse::<i64>() {
                Json::from(i)
            } else {
                Json::String(text)
            }
        }
        Bson::String(s) | Bson::Symbol(s) => Json::String(s),
        Bson::Array(items) => Json::Array(
            items
                .into_iter()
                .map(from_bson)
                .collect::<Result<Vec<_>>>()?,
        ),
        Bson::Document(document) => Json::Object(from_document(document)?),
        other => other.into_relaxed_extjson(),
    })
}

/// A BSON document as a JSON object (names unescaped).
pub(super) fn from_document(document: BsonDocument) -> Result<Map<String, Json>> {
    document
        .into_iter()
        .map(|(key, value)| Ok((unescape_key(&key)?.into_owned(), from_bson(value)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: Json) {
        let Json::Object(fields) = &value else {
            panic!("not an object");
        };
        let bson = to_document(fields);
        assert_eq!(Json::Object(from_document(bson).unwrap()), value);
    }

    #[test]
    fn every_json_type_round_trips() {
        round_trip(json!({
            "text": "hello", "empty_text": "", "int": -42, "zero": 0,
            "max": i64::MAX, "min": i64::MIN, "huge": u64::MAX, "above": (i64::MAX as u64) + 1,
            "float": 3.25, "one_float": 1.0, "tiny": 1.5e-300, "big_float": 6.02e23,
            "yes": true, "no": false, "nothing": null,
            "list": [1, "two", null, [3], {"four": 4}], "empty_list": [], "empty_object": {},
            "nested": {"a": {"b": {"c": "deep"}}},
            "unicode ключ 日本 🦀": "NUL \u{0} quote \" backslash \\ newline \n",
        }));
    }

    #[test]
    fn numbers_take_exact_bson_types() {
        assert_eq!(to_bson(&json!(1)), Bson::Int64(1));
        assert_eq!(to_bson(&json!(1.0)), Bson::Double(1.0));
        let Bson::Decimal128(huge) = to_bson(&json!(u64::MAX)) else {
            panic!("u64::MAX is not a Decimal128");
        };
        assert_eq!(huge.to_string(), u64::MAX.to_string());
    }

    #[test]
    fn hostile_names_are_escaped_and_restored() {
        let names = [
            "$where",
            "a.b",
            "",
            "%",
            "%24",
            "$",
            ".",
            "..",
            "a\0b",
            "'quoted\"",
            "名前",
            "[0]",
            "%2",
            "_id",
        ];
        for name in names {
            let escaped = escape_key(name);
            assert!(!escaped.starts_with('$'), "{name:?} -> {escaped}");
            assert!(!escaped.contains(['.', '\0']), "{name:?} -> {escaped}");
            assert!(!escaped.is_empty());
            assert_eq!(unescape_key(&escaped).unwrap(), name, "{escaped}");
        }
        assert_eq!(escape_key("$where"), "%24where");
        assert_eq!(escape_key("a.b"), "a%2Eb");
        assert_eq!(escape_key("customer_1"), "customer_1");
        // Escaping is injective: `%24` written by a user is not `$`.
        assert_ne!(escape_key("%24"), escape_key("$"));
        round_trip(json!({"a.b": 1, "$where": 2, "": 3, "%": {"$gt": 4, "x.y": [{"$in": 5}]}}));
        assert!(unescape_key("%zz").is_err());
    }
}
