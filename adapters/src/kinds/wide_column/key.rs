//! The order-preserving encoding of row keys: comparing two encoded keys byte by byte gives
//! the same answer as comparing their values one by one, so a clustering range is one range of
//! the ordered store.
//!
//! Each value is a type tag followed by its bytes; values of different types order by tag
//! (`bool < int < float < timestamp < text < bytes`). Within a type:
//!
//! - `bool`: one byte, `false < true`;
//! - `int` and `timestamp`: the sign bit flipped, big-endian, so negative numbers come first;
//! - `float`: [`f64::total_cmp`] order (`-NaN < -inf < … < -0.0 < 0.0 < … < inf < NaN`): the
//!   bits of a negative float all flipped, of a positive one the sign bit flipped;
//! - `text` (by code point, which is UTF-8 byte order) and `bytes`: every `0x00` written as
//!   `0x00 0xFF`, then the terminator `0x00 0x01`, so a value orders before every longer value
//!   it is a prefix of and the next value's bytes never mix with its own.
//!
//! Every encoding is self-delimiting, so the encoding of a tuple is its values' encodings one
//! after the other, and the encoding of a tuple's prefix is a byte prefix of the tuple's.
//!
//! These are the wide-column kind's ordered bytes of a value (`kinds::wide_column::order`), the
//! same bytes that order cells: one encoding, written once.

use super::order;
use crate::{Result, StoreError, Value};

/// Appends the encoding of `values`, the key columns `columns` (for error messages), to `out`.
/// Null, lists and maps cannot be key values.
pub(crate) fn encode_into(out: &mut Vec<u8>, columns: &[String], values: &[Value]) -> Result<()> {
    for (column, value) in columns.iter().zip(values) {
        encode_value(out, column, value)?;
    }
    Ok(())
}

fn encode_value(out: &mut Vec<u8>, column: &str, value: &Value) -> Result<()> {
    if !is_key_value(value) {
        return Err(StoreError::invalid(format!(
            "key column `{column}` holds a {} value; key values must be bool, int, float, timestamp, text or bytes",
            value.type_name()
        )));
    }
    order::encode_into(out, value);
    Ok(())
}

/// Whether `value` can be part of a row key: null, lists and maps cannot.
fn is_key_value(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::List(_) | Value::Map(_))
}

/// Decodes every value of an encoded key (or of its tail). Bytes that are not the encoding of
/// key values, including the encoding of a null, a list or a map (which no key holds), are
/// reported corrupt.
pub(crate) fn decode(mut bytes: &[u8]) -> Result<Vec<Value>> {
    let mut values = Vec::new();
    while !bytes.is_empty() {
        let (value, rest) = order::decode_value(bytes)
            .filter(|(value, _)| is_key_value(value))
            .ok_or_else(|| StoreError::backend("a stored row key is corrupt"))?;
        values.push(value);
        bytes = rest;
    }
    Ok(values)
}

/// The smallest key greater than every key that starts with `prefix`, or `None` if there is
/// none (the prefix is all `0xFF`, which no encoded key is).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    #[test]
    fn encoded_values_no_key_holds_are_corrupt_keys() {
        // Found by fuzzing: the kind's value encoding also writes nulls, lists and maps, which
        // decoded as key values though no key can hold them.
        for value in [
            Value::Null,
            Value::List(vec![Value::Int(1)]),
            Value::Map(Default::default()),
        ] {
            let mut bytes = Vec::new();
            super::encode_into(&mut bytes, &["c0".to_owned()], &[Value::Int(7)]).unwrap();
            order::encode_into(&mut bytes, &value);
            assert!(
                super::decode(&bytes).is_err(),
                "{value:?} decoded as a key value"
            );
        }
    }

    use super::*;

    /// A small deterministic generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn bytes(&mut self) -> Vec<u8> {
            // Few distinct bytes, with 0x00, 0x01 and 0xFF often, so prefixes and escapes meet.
            const ALPHABET: [u8; 6] = [0x00, 0x01, 0x02, 0x7F, 0xFE, 0xFF];
            let len = self.below(6) as usize;
            (0..len)
                .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
                .collect()
        }

        fn value(&mut self) -> Value {
            const SPECIAL: [f64; 8] = [
                0.0,
                -0.0,
                1.5,
                -1.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN_POSITIVE,
                f64::NAN,
            ];
            const INTS: [i64; 6] = [i64::MIN, -1, 0, 1, i64::MAX, -256];
            match self.below(6) {
                0 => Value::Bool(self.below(2) == 1),
                1 if self.below(2) == 0 => Value::Int(INTS[self.below(6) as usize]),
                1 => Value::Int(self.next() as i64 >> self.below(64)),
                2 if self.below(2) == 0 => Value::Float(SPECIAL[self.below(8) as usize]),
                2 => Value::Float(f64::from_bits(self.next())),
                3 => Value::Timestamp(self.next() as i64 >> self.below(64)),
                4 => {
                    const CHARS: [char; 6] = ['\0', 'a', 'b', 'é', '日', '\u{10FFFF}'];
                    let len = self.below(5);
                    Value::Text((0..len).map(|_| CHARS[self.below(6) as usize]).collect())
                }
                _ => Value::Bytes(self.bytes()),
            }
        }
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

    /// The order the encoding must reproduce.
    fn value_order(a: &Value, b: &Value) -> Ordering {
        match (a, b) {
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Int(x), Value::Int(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
            (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
            (Value::Text(x), Value::Text(y)) => x.chars().cmp(y.chars()),
            (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
            _ => rank(a).cmp(&rank(b)),
        }
    }

    fn tuple_order(a: &[Value], b: &[Value]) -> Ordering {
        a.iter()
            .zip(b)
            .map(|(x, y)| value_order(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(a.len().cmp(&b.len()))
    }

    fn encode(values: &[Value]) -> Vec<u8> {
        let columns: Vec<String> = (0..values.len()).map(|i| format!("c{i}")).collect();
        let mut out = Vec::new();
        encode_into(&mut out, &columns, values).unwrap();
        out
    }

    fn same(a: &[Value], b: &[Value]) -> bool {
        // Float NaN payloads and -0.0 must survive exactly: compare bits, not `==`.
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
                _ => x == y,
            })
    }

    #[test]
    fn encoded_order_is_value_order_for_random_pairs() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..50_000 {
            let (a, b) = (rng.value(), rng.value());
            let expected = value_order(&a, &b);
            assert_eq!(
                encode(std::slice::from_ref(&a)).cmp(&encode(std::slice::from_ref(&b))),
                expected,
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn encoded_order_is_tuple_order_and_prefixes_come_first() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..20_000 {
            let a: Vec<Value> = (0..1 + rng.below(3)).map(|_| rng.value()).collect();
            let b: Vec<Value> = (0..1 + rng.below(3)).map(|_| rng.value()).collect();
            assert_eq!(
                encode(&a).cmp(&encode(&b)),
                tuple_order(&a, &b),
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn decode_inverts_encode() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..20_000 {
            let values: Vec<Value> = (0..1 + rng.below(4)).map(|_| rng.value()).collect();
            let decoded = decode(&encode(&values)).unwrap();
            assert!(same(&decoded, &values), "{values:?} decoded as {decoded:?}");
        }
    }

    #[test]
    fn prefix_ranges_hold_exactly_the_keys_with_the_prefix() {
        let mut rng = Rng(0xA076_1D64_78BD_642F);
        for _ in 0..20_000 {
            let prefix = encode(&[rng.value()]);
            let key = encode(&[rng.value(), rng.value()]);
            let end = prefix_end(&prefix).unwrap();
            let inside = key >= prefix && key < end;
            assert_eq!(inside, key.starts_with(&prefix), "{prefix:?} {key:?}");
        }
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
    }

    #[test]
    fn unkeyable_values_name_their_column() {
        for value in [
            Value::Null,
            Value::List(vec![]),
            Value::Map(Default::default()),
        ] {
            let err = encode_into(&mut Vec::new(), &["user".into()], &[value]).unwrap_err();
            assert!(matches!(err, StoreError::InvalidRequest { .. }));
            assert!(err.to_string().contains("`user`"), "{err}");
        }
    }

    #[test]
    fn corrupt_keys_are_backend_errors() {
        for bad in [&[0x99][..], &[0x20, 1, 2], &[0x50, b'a'], &[0x50, 0, 7]] {
            assert!(
                matches!(decode(bad), Err(StoreError::Backend { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stored_key_bytes_keep_their_format() {
        // Keys already on disk must still be found: the bytes of each type stay as they were.
        let bytes = encode(&[
            Value::Bool(true),
            Value::Int(1),
            Value::Float(1.0),
            Value::Timestamp(-1),
            "a\0".into(),
            Value::Bytes(vec![]),
        ]);
        let mut expected = vec![0x10, 1, 0x20, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x30];
        expected.extend((1.0f64.to_bits() ^ (1 << 63)).to_be_bytes());
        expected.extend([0x40, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        expected.extend([0x50, b'a', 0, 0xFF, 0, 1, 0x60, 0, 1]);
        assert_eq!(bytes, expected);
    }
}
