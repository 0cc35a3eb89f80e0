//! Property maps to and from `jsonb`, losslessly.
//!
//! A property map is a JSON object whose members are encoded values: `null`, booleans and text
//! are themselves, a list is an array; every other variant is a one-member object tagged by its
//! type, since JSON alone would lose it: `{"i": 5}` (`Int`), `{"f": 2.5}` or `{"f": "NaN"}`,
//! `{"f": "Infinity"}`, `{"f": "-Infinity"}` (`Float`), `{"b": "<hex>"}` (`Bytes`),
//! `{"t": <ns>}` (`Timestamp`), `{"m": {…}}` (`Map`). PostgreSQL's `jsonb` cannot hold the
//! character U+0000, so text holding it is an invalid request.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value as Json};

use crate::{Result, StoreError, Value};

/// Encodes a property map.
pub(super) fn encode(properties: &BTreeMap<String, Value>) -> Result<Json> {
    let mut out = Map::new();
    for (name, value) in properties {
        check_text(name)?;
        out.insert(name.clone(), encode_value(value)?);
    }
    Ok(Json::Object(out))
}

fn check_text(text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(StoreError::invalid(
            "PostgreSQL cannot store the character U+0000 in a property name or text value",
        ));
    }
    Ok(())
}

fn tagged(tag: &str, value: Json) -> Json {
    Json::Object(Map::from_iter([(tag.to_owned(), value)]))
}

fn encode_value(value: &Value) -> Result<Json> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Text(s) => {
            check_text(s)?;
            Json::String(s.clone())
        }
        Value::Int(i) => tagged("i", Json::from(*i)),
        Value::Float(f) => tagged(
            "f",
            if f.is_nan() {
                Json::from("NaN")
            } else if f.is_infinite() {
                Json::from(if *f > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                Json::from(*f)
            },
        ),
        Value::Bytes(bytes) => {
            let mut hex = String::with_capacity(bytes.len() * 2);
            for byte in bytes {
                let _ = write!(hex, "{byte:02x}");
            }
            tagged("b", Json::String(hex))
        }
        Value::Timestamp(ns) => tagged("t", Json::from(*ns)),
        Value::List(items) => Json::Array(items.iter().map(encode_value).collect::<Result<_>>()?),
        Value::Map(map) => tagged("m", encode(map)?),
    })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::backend(format!("stored graph properties hold an unreadable {what}"))
}

/// Decodes a property map.
pub(super) fn decode(json: Json) -> Result<BTreeMap<String, Value>> {
    match json {
        Json::Object(members) => members
            .into_iter()
            .map(|(name, value)| Ok((name, decode_value(value)?)))
            .collect(),
        _ => Err(corrupt("property map")),
    }
}

/// Decodes one encoded value.
pub(super) fn decode_value(json: Json) -> Result<Value> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::String(s) => Value::Text(s),
        Json::Array(items) => {
            Value::List(items.into_iter().map(decode_value).collect::<Result<_>>()?)
        }
        Json::Number(_) => return Err(corrupt("untagged number")),
        Json::Object(members) => {
            let mut members = members.into_iter();
            let (Some((tag, value)), None) = (members.next(), members.next()) else {
                return Err(corrupt("tagged value"));
            };
            match (tag.as_str(), value) {
                ("i", Json::Number(n)) => Value::Int(n.as_i64().ok_or_else(|| corrupt("integer"))?),
                ("f", Json::Number(n)) => Value::Float(n.as_f64().ok_or_else(|| corrupt("float"))?),
                ("f", Json::String(s)) => Value::Float(match s.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => return Err(corrupt("float")),
                }),
                ("t", Json::Number(n)) => {
                    Value::Timestamp(n.as_i64().ok_or_else(|| corrupt("timestamp"))?)
                }
                ("b", Json::String(hex)) => {
                    Value::Bytes(unhex(&hex).ok_or_else(|| corrupt("bytes"))?)
                }
                ("m", map) => Value::Map(decode(map)?),
                _ => return Err(corrupt("tagged value")),
            }
        }
    })
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips() {
        let properties = BTreeMap::from([
            ("n".to_owned(), Value::Null),
            ("b".to_owned(), Value::Bool(true)),
            ("i".to_owned(), Value::Int(i64::MIN)),
            ("f".to_owned(), Value::Float(4.0)),
            ("inf".to_owned(), Value::Float(f64::NEG_INFINITY)),
            ("s".to_owned(), Value::Text("ünï".into())),
            ("y".to_owned(), Value::Bytes(vec![0, 255, 16])),
            ("t".to_owned(), Value::Timestamp(-5)),
            (
                "l".to_owned(),
                Value::List(vec![Value::Int(1), Value::Float(0.1)]),
            ),
            (
                "m".to_owned(),
                Value::Map(BTreeMap::from([("k".to_owned(), Value::Int(2))])),
            ),
        ]);
        let json = encode(&properties).unwrap();
        let text = serde_json::to_string(&json).unwrap();
        let back = decode(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, properties);
        match decode_value(encode_value(&Value::Float(f64::NAN)).unwrap()).unwrap() {
            Value::Float(f) => assert!(f.is_nan()),
            other => panic!("{other:?}"),
        }
    }
}
