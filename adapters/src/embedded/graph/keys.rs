//! Key encoding of the adjacency partitions: a tuple of strings as bytes that sort like the tuple
//! and that no other tuple shares a prefix with.
//!
//! Each component is written with every `0x00` byte escaped as `0x00 0xFF`, then closed by
//! `0x00 0x01`. The terminator sorts below every byte a component can continue with (`0x01..`
//! or an escaped `0x00 0xFF`), so the encoded tuples sort component by component in byte order,
//! and the encoding of `(a)` is a prefix of `(a, b)`'s but never of `(a', …)` for another `a'`:
//! the neighbours of one node, or of one node along one label, are exactly one prefix scan.

use std::borrow::Cow;

const ESCAPE: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// Appends one component to `key`.
pub(super) fn push(key: &mut Vec<u8>, component: &str) {
    for &byte in component.as_bytes() {
        if byte == 0 {
            key.extend_from_slice(&[0, ESCAPE]);
        } else {
            key.push(byte);
        }
    }
    key.extend_from_slice(&[0, TERMINATOR]);
}

/// The encoding of `components`.
pub(super) fn encode(components: &[&str]) -> Vec<u8> {
    let len = components.iter().map(|c| c.len() + 2).sum();
    let mut key = Vec::with_capacity(len);
    for component in components {
        push(&mut key, component);
    }
    key
}

/// Splits an encoded key back into its components; `None` if it is not a well-formed encoding
/// of UTF-8 strings.
#[cfg(test)]
fn decode(mut key: &[u8]) -> Option<Vec<String>> {
    let mut components = Vec::with_capacity(3);
    while !key.is_empty() {
        components.push(next(&mut key)?.into_owned());
    }
    Some(components)
}

/// The three components of an adjacency key, borrowed from it unless one holds an escaped
/// `0x00`: reading a whole partition this way allocates nothing per key.
pub(super) fn split_triple(mut key: &[u8]) -> Option<[Cow<'_, str>; 3]> {
    let triple = [next(&mut key)?, next(&mut key)?, next(&mut key)?];
    key.is_empty().then_some(triple)
}

/// Takes the first component off `key`.
fn next<'k>(key: &mut &'k [u8]) -> Option<Cow<'k, str>> {
    let bytes: &'k [u8] = key;
    let end = bytes.windows(2).position(|pair| pair == [0, TERMINATOR])?;
    let (raw, rest) = (&bytes[..end], &bytes[end + 2..]);
    *key = rest;
    if !raw.contains(&0) {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut component = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if byte == 0 && bytes.next() != Some(&ESCAPE) {
            return None;
        }
        component.push(byte);
    }
    String::from_utf8(component).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_text() {
        for parts in [
            vec!["a", "knows", "b"],
            vec!["", "", ""],
            vec!["a\0b", "\0", "\0\0x"],
            vec!["naïve", "😀", "\u{1}\u{ff}"],
        ] {
            let key = encode(&parts);
            assert_eq!(decode(&key).unwrap(), parts);
        }
        assert_eq!(decode(&[0]), None);
        assert_eq!(decode(&[b'a', 0, 7]), None);
        assert_eq!(decode(b"a"), None);
    }

    #[test]
    fn sorts_like_the_tuples() {
        let mut tuples = vec![
            vec!["a", "x", "b"],
            vec!["a", "", "z"],
            vec!["a\0", "a", "a"],
            vec!["a\u{1}", "a", "a"],
            vec!["", "z", "z"],
            vec!["ab", "a", "a"],
            vec!["a", "x", "a\0"],
            vec!["a", "x", "a"],
        ];
        let mut keys: Vec<Vec<u8>> = tuples.iter().map(|t| encode(t)).collect();
        tuples.sort();
        keys.sort();
        let decoded: Vec<Vec<String>> = keys.iter().map(|k| decode(k).unwrap()).collect();
        assert_eq!(decoded, tuples);
    }

    #[test]
    fn one_node_is_one_prefix() {
        let prefix = encode(&["a"]);
        assert!(encode(&["a", "knows", "b"]).starts_with(&prefix));
        for other in ["a\0", "a\0b", "ab", ""] {
            assert!(
                !encode(&[other, "knows", "b"]).starts_with(&prefix),
                "{other:?}"
            );
        }
        let labelled = encode(&["a", "knows"]);
        assert!(encode(&["a", "knows", "b"]).starts_with(&labelled));
        assert!(!encode(&["a", "knows_not", "b"]).starts_with(&labelled));
    }
}
