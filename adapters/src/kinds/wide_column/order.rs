//! The order of cell values, which decides between two writes of one cell stamped with the same
//! timestamp, and its byte form: an encoding whose bytewise order is that order.
//!
//! Cassandra breaks such a tie by the greater value, compared as the column's type compares:
//! text bytewise as UTF-8 (which is code point order: `"b"` after `"aa"`), numbers numerically
//! (`128` after `127`), blobs bytewise. Every wide-column backend uses [`cell_order`]: the ones
//! that merge cells themselves (embedded, PostgreSQL) call it, and the Cassandra backend stores
//! each cell as [`encode`]'s bytes, so the server's bytewise comparison of stored cells is the
//! same order.
//!
//! A cell has no declared type, so values of different types order by type first:
//! `null < bool < int < float < timestamp < text < bytes < list < map`. Within a type:
//!
//! - `bool`: `false < true`; `int` and `timestamp`: numerically, negative numbers first;
//! - `float`: [`f64::total_cmp`] (`-NaN < -inf < … < -0.0 < 0.0 < … < inf < NaN`);
//! - `text`: bytewise as UTF-8; `bytes`: bytewise; a value is before every longer value it is a
//!   prefix of;
//! - `list`: element by element, a list before every longer list it is a prefix of; `map`: entry
//!   by entry in key order, each entry by key and then by value.
//!
//! The byte form is each value's type tag and then its bytes: integers and timestamps big-endian
//! with the sign bit flipped, floats with their bits mapped to total order, text and bytes with
//! every `0x00` written `0x00 0xFF` and closed by `0x00 0x01`, list elements and map entries each
//! after a `0x01` and closed by `0x00`. Every value's bytes are self-delimiting, so a
//! sequence of values (a row key) encodes as their bytes one after the other and orders value by
//! value. Tags start at `0x0F`, above the first byte of any value in the older `postcard` form
//! (`0x00`–`0x08`), so a reader can tell the two apart.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::Value;

const TAG_NULL: u8 = 0x0F;
const TAG_BOOL: u8 = 0x10;
const TAG_INT: u8 = 0x20;
const TAG_FLOAT: u8 = 0x30;
const TAG_TIMESTAMP: u8 = 0x40;
const TAG_TEXT: u8 = 0x50;
const TAG_BYTES: u8 = 0x60;
const TAG_LIST: u8 = 0x70;
const TAG_MAP: u8 = 0x80;

/// The smallest tag: a first byte below it is not this encoding.
#[cfg_attr(not(feature = "scylla"), allow(dead_code))]
pub(crate) const FIRST_TAG: u8 = TAG_NULL;

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;
const MORE: u8 = 0x01;
const END: u8 = 0x00;

const SIGN: u64 = 1 << 63;

/// Nesting deeper than this is refused when decoding, so corrupt bytes cannot exhaust the
/// stack.
const MAX_DEPTH: usize = 64;

/// How two values of one cell order when their writes tie on timestamp: the greater one wins.
/// See the module docs for the order.
pub fn cell_order(a: &Value, b: &Value) -> Ordering {
    encode(a).cmp(&encode(b))
}

/// The bytes of `value` whose bytewise order is [`cell_order`].
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, value);
    out
}

/// Appends the bytes of `value` to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(b) => out.extend([TAG_BOOL, u8::from(*b)]),
        Value::Int(i) => {
            out.push(TAG_INT);
            out.extend((*i as u64 ^ SIGN).to_be_bytes());
        }
        Value::Timestamp(ns) => {
            out.push(TAG_TIMESTAMP);
            out.extend((*ns as u64 ^ SIGN).to_be_bytes());
        }
        Value::Float(f) => {
            let bits = f.to_bits();
            let ordered = if bits & SIGN != 0 { !bits } else { bits ^ SIGN };
            out.push(TAG_FLOAT);
            out.extend(ordered.to_be_bytes());
        }
        Value::Text(text) => escaped(out, TAG_TEXT, text.as_bytes()),
        Value::Bytes(bytes) => escaped(out, TAG_BYTES, bytes),
        Value::List(items) => {
            out.push(TAG_LIST);
            for item in items {
                out.push(MORE);
                encode_into(out, item);
            }
            out.push(END);
        }
        Value::Map(entries) => {
            out.push(TAG_MAP);
            for (key, item) in entries {
                out.push(MORE);
                escaped_body(out, key.as_bytes());
                encode_into(out, item);
            }
            out.push(END);
        }
    }
}

fn escaped(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.reserve(bytes.len() + 3);
    out.push(tag);
    escaped_body(out, bytes);
}

fn escaped_body(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        out.push(byte);
        if byte == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.extend([ESCAPE, TERMINATOR]);
}

/// Decodes one value from the front of `bytes`; returns it and the bytes after it, or `None`
/// when the bytes are not this encoding.
pub(crate) fn decode_value(bytes: &[u8]) -> Option<(Value, &[u8])> {
    decode_at(bytes, 0)
}

fn decode_at(bytes: &[u8], depth: usize) -> Option<(Value, &[u8])> {
    let (&tag, bytes) = bytes.split_first()?;
    match tag {
        TAG_NULL => Some((Value::Null, bytes)),
        TAG_BOOL => {
            let (&b, rest) = bytes.split_first()?;
            Some((Value::Bool(b != 0), rest))
        }
        TAG_INT => fixed(bytes).map(|(u, rest)| (Value::Int((u ^ SIGN) as i64), rest)),
        TAG_TIMESTAMP => fixed(bytes).map(|(u, rest)| (Value::Timestamp((u ^ SIGN) as i64), rest)),
        TAG_FLOAT => fixed(bytes).map(|(u, rest)| {
            let bits = if u & SIGN != 0 { u ^ SIGN } else { !u };
            (Value::Float(f64::from_bits(bits)), rest)
        }),
        TAG_TEXT => {
            let (raw, rest) = unescape(bytes)?;
            Some((Value::Text(String::from_utf8(raw).ok()?), rest))
        }
        TAG_BYTES => unescape(bytes).map(|(raw, rest)| (Value::Bytes(raw), rest)),
        TAG_LIST if depth < MAX_DEPTH => {
            let mut items = Vec::new();
            let mut rest = bytes;
            loop {
                let (&marker, after) = rest.split_first()?;
                match marker {
                    END => return Some((Value::List(items), after)),
                    MORE => {
                        let (item, after) = decode_at(after, depth + 1)?;
                        items.push(item);
                        rest = after;
                    }
                    _ => return None,
                }
            }
        }
        TAG_MAP if depth < MAX_DEPTH => {
            let mut entries = BTreeMap::new();
            let mut rest = bytes;
            loop {
                let (&marker, after) = rest.split_first()?;
                match marker {
                    END => return Some((Value::Map(entries), after)),
                    MORE => {
                        let (key, after) = unescape(after)?;
                        let (item, after) = decode_at(after, depth + 1)?;
                        entries.insert(String::from_utf8(key).ok()?, item);
                        rest = after;
                    }
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

fn fixed(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}

fn unescape(bytes: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut raw = Vec::new();
    let mut i = 0;
    loop {
        let byte = *bytes.get(i)?;
        if byte != ESCAPE {
            raw.push(byte);
            i += 1;
            continue;
        }
        match *bytes.get(i + 1)? {
            ESCAPED_ZERO => raw.push(ESCAPE),
            TERMINATOR => return Some((raw, bytes.get(i + 2..)?)),
            _ => return None,
        }
        i += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_as_cassandra_compares_the_type() {
        let greater =
            |a: Value, b: Value| assert_eq!(cell_order(&a, &b), Ordering::Greater, "{a:?} > {b:?}");
        greater(Value::Int(128), Value::Int(127));
        greater(Value::Int(1), Value::Int(-1));
        greater(Value::Int(256), Value::Int(255));
        greater(Value::from("b"), Value::from("aa"));
        greater(Value::from("é"), Value::from("z"));
        greater(Value::from("ab"), Value::from("a"));
        greater(Value::Bytes(vec![2]), Value::Bytes(vec![1, 9, 9]));
        greater(Value::Float(2.5), Value::Float(-3.0));
        greater(Value::Timestamp(10), Value::Timestamp(-10));
        greater(Value::Bool(true), Value::Bool(false));
        greater(
            Value::List(vec![Value::Int(2)]),
            Value::List(vec![Value::Int(1), Value::Int(9)]),
        );
        greater(
            Value::List(vec![Value::Int(1), Value::Int(0)]),
            Value::List(vec![Value::Int(1)]),
        );
        let map = |k: &str, v: i64| Value::Map(BTreeMap::from([(k.to_owned(), Value::Int(v))]));
        greater(map("b", 0), map("a", 9));
        greater(map("a", 2), map("a", 1));
        assert_eq!(cell_order(&Value::Int(5), &Value::Int(5)), Ordering::Equal);
    }

    #[test]
    fn every_value_round_trips_and_is_self_delimiting() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Float(-0.0),
            Value::Float(f64::INFINITY),
            Value::Timestamp(1_700_000_000_000_000_000),
            Value::Text("a\0b".into()),
            Value::Bytes(vec![0, 0xFF, 0, 1]),
            Value::List(vec![Value::from("x"), Value::List(vec![]), Value::Null]),
            Value::Map(BTreeMap::from([
                ("k\0".to_owned(), Value::Bytes(vec![0])),
                ("z".to_owned(), Value::Map(BTreeMap::new())),
            ])),
        ];
        for value in &values {
            let mut bytes = encode(value);
            assert!(bytes[0] >= FIRST_TAG);
            bytes.extend([0xAB, 0xCD]);
            let (back, rest) = decode_value(&bytes).unwrap();
            assert_eq!(&back, value);
            assert_eq!(rest, &[0xAB, 0xCD]);
        }
        assert_eq!(decode_value(&[TAG_TEXT, b'a']), None);
        assert_eq!(decode_value(&[TAG_LIST, MORE]), None);
        assert_eq!(decode_value(&[0x02, 0x00]), None);
        let deep = [TAG_LIST, MORE].repeat(MAX_DEPTH + 1);
        assert_eq!(decode_value(&deep), None);
    }
}
