//! Property maps as one Neo4j byte-array property.
//!
//! Neo4j properties cannot hold maps, nested lists, nulls or lists of mixed types, and have no
//! type telling an integer timestamp from an integer; so each node's and edge's properties are
//! stored whole as one `props` byte array: a format-version byte, then the postcard encoding of
//! the map. It round-trips every [`Value`] exactly (float bits included), at the price of not
//! being readable by Cypher predicates.

use std::collections::BTreeMap;

use crate::{Result, StoreError, Value};

const VERSION: u8 = 1;

/// Encodes a property map.
pub(crate) fn encode(properties: &BTreeMap<String, Value>) -> Result<Vec<u8>> {
    let mut bytes = vec![VERSION];
    postcard::to_io(properties, &mut bytes)
        .map_err(|err| StoreError::backend_with("cannot encode graph properties", err))?;
    Ok(bytes)
}

/// Decodes a property map written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<BTreeMap<String, Value>> {
    match bytes.split_first() {
        Some((&VERSION, body)) => postcard::from_bytes(body)
            .map_err(|err| StoreError::backend_with("stored graph properties are unreadable", err)),
        Some((version, _)) => Err(StoreError::backend(format!(
            "stored graph properties have unknown format version {version}"
        ))),
        None => Err(StoreError::backend("stored graph properties are empty")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_type_round_trips() {
        let mut nested = BTreeMap::new();
        nested.insert(
            "k\0\"'`".to_owned(),
            Value::List(vec![Value::Null, 1.into()]),
        );
        let props: BTreeMap<String, Value> = [
            ("null", Value::Null),
            ("bool", Value::Bool(true)),
            ("int", Value::Int(i64::MIN)),
            ("float", Value::Float(-0.0)),
            ("nan", Value::Float(f64::NAN)),
            ("text", Value::Text("é\n\0`) DETACH DELETE n".into())),
            ("bytes", Value::Bytes(vec![0, 255, 10])),
            ("ts", Value::Timestamp(-5)),
            (
                "list",
                Value::List(vec![Value::Int(1), Value::Text("a".into())]),
            ),
            ("map", Value::Map(nested)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let back = decode(&encode(&props).unwrap()).unwrap();
        assert_eq!(back.len(), props.len());
        for (name, value) in &props {
            match (value, &back[name]) {
                (Value::Float(a), Value::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                (a, b) => assert_eq!(a, b),
            }
        }
    }

    #[test]
    fn damaged_bytes_are_backend_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1]).is_err());
        assert!(decode(&[VERSION, 0xff, 0xff]).is_err());
    }
}
