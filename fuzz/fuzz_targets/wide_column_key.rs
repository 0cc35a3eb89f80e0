//! Wide-column row keys: arbitrary stored bytes decode to values or a corruption error, never
//! a panic; encoding then decoding gives back the very values (floats bit for bit); byte order
//! of encoded keys is the order of their values; a key's prefix of values encodes to a byte
//! prefix, and the prefix's end bound sorts after every key that starts with it.

#![no_main]

use std::cmp::Ordering;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use polyroute::Value;
use polyroute_adapters::fuzzing::{wc_decode_key, wc_encode_key, wc_prefix_end};

#[derive(Arbitrary, Debug)]
enum KeyValue {
    Bool(bool),
    Int(i64),
    Float(u64),
    Timestamp(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl KeyValue {
    fn value(&self) -> Value {
        match self {
            KeyValue::Bool(b) => Value::Bool(*b),
            KeyValue::Int(i) => Value::Int(*i),
            KeyValue::Float(bits) => Value::Float(f64::from_bits(*bits)),
            KeyValue::Timestamp(t) => Value::Timestamp(*t),
            KeyValue::Text(s) => Value::Text(s.clone()),
            KeyValue::Bytes(b) => Value::Bytes(b.clone()),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Input {
    Decode(Vec<u8>),
    Pair(Vec<KeyValue>, Vec<KeyValue>),
}

fn rank(value: &Value) -> u8 {
    match value {
        Value::Bool(_) => 0,
        Value::Int(_) => 1,
        Value::Float(_) => 2,
        Value::Timestamp(_) => 3,
        Value::Text(_) => 4,
        _ => 5,
    }
}

/// The order keys must keep: by type, then by value (floats in total order, text by code
/// point, bytes lexicographically); a tuple before every longer tuple it starts.
fn order(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Int(x), Value::Int(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
            (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
            (Value::Text(x), Value::Text(y)) => x.chars().cmp(y.chars()),
            (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
            _ => rank(x).cmp(&rank(y)),
        };
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
            _ => x == y,
        })
}

fuzz_target!(|input: Input| match input {
    Input::Decode(bytes) => {
        if let Ok(values) = wc_decode_key(&bytes) {
            // What decodes re-encodes and decodes to the same values.
            let again = wc_encode_key(&values).expect("decoded values are key values");
            let back = wc_decode_key(&again).expect("a re-encoded key decodes");
            assert!(same(&values, &back), "{values:?} != {back:?}");
        }
        if let Some(end) = wc_prefix_end(&bytes) {
            assert!(
                end.as_slice() > bytes.as_slice(),
                "a prefix end before its prefix"
            );
        }
    }
    Input::Pair(a, b) => {
        let a: Vec<Value> = a.iter().map(KeyValue::value).collect();
        let b: Vec<Value> = b.iter().map(KeyValue::value).collect();
        let ka = wc_encode_key(&a).expect("key values encode");
        let kb = wc_encode_key(&b).expect("key values encode");
        let back = wc_decode_key(&ka).expect("an encoded key decodes");
        assert!(same(&a, &back), "round trip: {a:?} came back as {back:?}");
        assert_eq!(
            ka.cmp(&kb),
            order(&a, &b),
            "byte order differs from value order: {a:?} vs {b:?}"
        );
        for cut in 0..=a.len() {
            let prefix = wc_encode_key(&a[..cut]).expect("key values encode");
            assert!(
                ka.starts_with(&prefix),
                "a value prefix is not a byte prefix"
            );
            if let Some(end) = wc_prefix_end(&prefix) {
                assert!(ka < end, "a key sorts after its prefix's end");
                if !kb.starts_with(&prefix) {
                    assert!(
                        kb < prefix || kb >= end,
                        "a key outside the prefix falls in its range"
                    );
                }
            }
        }
    }
});
