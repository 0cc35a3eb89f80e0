//! Stored values: a node's label and properties, an edge's properties.
//!
//! Each value is one format-version byte followed by the postcard encoding of the record.
//! postcard is compact (varint integers, no field names), has a documented wire format that is
//! stable across its 1.x releases, and is fast both ways. It encodes enum variants by their
//! index, so the order of [`Value`]'s variants is part of the on-disk format: the unit tests pin
//! the bytes of each variant, and a future format change gets a new version byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Result, StoreError, Value};

/// The format written today.
const VERSION: u8 = 1;

/// A node's stored record (its id is the key).
#[derive(Serialize, Deserialize)]
pub(super) struct NodeRecord {
    pub label: String,
    pub properties: BTreeMap<String, Value>,
}

fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    let mut bytes = vec![VERSION];
    postcard::to_io(record, &mut bytes)
        .map_err(|err| StoreError::invalid(format!("cannot encode properties: {err}")))?;
    Ok(bytes)
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &dyn Fn() -> String) -> Result<T> {
    match bytes.split_first() {
        Some((&VERSION, body)) => postcard::from_bytes(body).map_err(|err| {
            StoreError::backend_with(format!("stored {} cannot be read", what()), err)
        }),
        Some((version, _)) => Err(StoreError::backend(format!(
            "stored {} has format version {version}; this build reads version {VERSION}",
            what()
        ))),
        None => Err(StoreError::backend(format!("stored {} is empty", what()))),
    }
}

/// Encodes a node's label and properties.
pub(super) fn encode_node(label: &str, properties: &BTreeMap<String, Value>) -> Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        label: &'a str,
        properties: &'a BTreeMap<String, Value>,
    }
    encode(&Borrowed { label, properties })
}

/// Decodes the record of node `id`.
pub(super) fn decode_node(id: &str, bytes: &[u8]) -> Result<NodeRecord> {
    decode(bytes, &|| format!("node `{id}`"))
}

/// Encodes an edge's properties.
pub(super) fn encode_edge(properties: &BTreeMap<String, Value>) -> Result<Vec<u8>> {
    encode(properties)
}

/// Decodes the properties of the edge `(from, label, to)`.
pub(super) fn decode_edge(
    from: &str,
    label: &str,
    to: &str,
    bytes: &[u8],
) -> Result<BTreeMap<String, Value>> {
    decode(bytes, &|| format!("edge `{from}` -[{label}]-> `{to}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        let properties: BTreeMap<String, Value> = [
            ("null", Value::Null),
            ("bool", Value::Bool(true)),
            ("int", Value::Int(i64::MIN)),
            ("float", Value::Float(-0.1)),
            ("text", Value::Text("héllo\0".into())),
            ("bytes", Value::Bytes(vec![0, 255])),
            ("ts", Value::Timestamp(1_700_000_000_000_000_000)),
            ("list", Value::List(vec![Value::Int(1), Value::Null])),
            (
                "map",
                Value::Map([("k".to_owned(), Value::Bool(false))].into()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let bytes = encode_node("person", &properties).unwrap();
        let record = decode_node("n", &bytes).unwrap();
        assert_eq!(record.label, "person");
        assert_eq!(record.properties, properties);
        let bytes = encode_edge(&properties).unwrap();
        assert_eq!(decode_edge("a", "l", "b", &bytes).unwrap(), properties);
    }

    /// The bytes of each variant are the on-disk format: this fails if `Value` is reordered.
    #[test]
    fn the_format_is_pinned() {
        let one = |value: Value| encode_edge(&[("p".to_owned(), value)].into()).unwrap();
        // version 1, one entry, key "p", then the variant index and its payload.
        let head = [1, 1, 1, b'p'];
        let cases: [(Value, &[u8]); 9] = [
            (Value::Null, &[0]),
            (Value::Bool(true), &[1, 1]),
            (Value::Int(-1), &[2, 1]),
            (Value::Float(1.0), &[3, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]),
            (Value::Text("x".into()), &[4, 1, b'x']),
            (Value::Bytes(vec![7]), &[5, 1, 7]),
            (Value::Timestamp(1), &[6, 2]),
            (Value::List(vec![]), &[7, 0]),
            (Value::Map(BTreeMap::new()), &[8, 0]),
        ];
        for (value, tail) in cases {
            assert_eq!(one(value.clone()), [&head[..], tail].concat(), "{value:?}");
        }
    }

    #[test]
    fn unknown_versions_and_garbage_are_backend_errors() {
        for bytes in [&[][..], &[2, 0], &[1, 0xFF, 0xFF]] {
            let err = decode_edge("a", "l", "b", bytes).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Backend, "{err}");
        }
    }
}
