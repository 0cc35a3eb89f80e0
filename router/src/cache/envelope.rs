//! The bytes of one cache entry in the cache store.
//!
//! ```text
//! byte 0       format version, 1
//! bytes 1..9   fresh until: milliseconds since the Unix epoch, unsigned, big-endian
//! byte 9       1: a value is present; 0: the system of record had nothing (negative entry)
//! bytes 10..   the value, as the system of record gave it (empty for a negative entry)
//! ```
//!
//! The fresh-until time travels with the value, so every process sharing the cache store
//! agrees when an entry turns stale, and the store's own expiry (fresh time plus the stale
//! window) only has to clean up. Bytes that are not an entry of this version (another
//! version, a truncated write, a value put there by something else) read as a miss and are
//! overwritten by the next load.

use bytes::{BufMut, Bytes, BytesMut};

/// The format version written in byte 0.
pub(crate) const VERSION: u8 = 1;

const HEADER: usize = 10;

/// One cache entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Milliseconds since the Unix epoch until which the entry is fresh.
    pub(crate) fresh_until: u64,
    /// The cached value; `None` for a negative entry.
    pub(crate) value: Option<Bytes>,
}

impl Entry {
    /// The entry's bytes.
    pub(crate) fn encode(&self) -> Bytes {
        let payload = self.value.as_ref().map_or(0, Bytes::len);
        let mut out = BytesMut::with_capacity(HEADER + payload);
        out.put_u8(VERSION);
        out.put_u64(self.fresh_until);
        out.put_u8(u8::from(self.value.is_some()));
        if let Some(value) = &self.value {
            out.put_slice(value);
        }
        out.freeze()
    }

    /// The entry in `bytes`, or `None` when they are not an entry of this version.
    pub(crate) fn decode(bytes: &Bytes) -> Option<Entry> {
        if bytes.len() < HEADER || bytes[0] != VERSION {
            return None;
        }
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&bytes[1..9]);
        let fresh_until = u64::from_be_bytes(stamp);
        let value = match bytes[9] {
            1 => Some(bytes.slice(HEADER..)),
            0 if bytes.len() == HEADER => None,
            _ => return None,
        };
        Some(Entry { fresh_until, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for entry in [
            Entry {
                fresh_until: 1_700_000_000_123,
                value: Some(Bytes::from_static(b"hello")),
            },
            Entry {
                fresh_until: 7,
                value: Some(Bytes::new()),
            },
            Entry {
                fresh_until: u64::MAX,
                value: None,
            },
        ] {
            assert_eq!(Entry::decode(&entry.encode()), Some(entry));
        }
    }

    #[test]
    fn the_layout_is_as_documented() {
        let bytes = Entry {
            fresh_until: 0x0102,
            value: Some(Bytes::from_static(b"v")),
        }
        .encode();
        assert_eq!(&bytes[..], &[1, 0, 0, 0, 0, 0, 0, 1, 2, 1, b'v']);
    }

    #[test]
    fn foreign_bytes_are_not_entries() {
        for bytes in [
            &b""[..],
            b"plain value",
            &[2, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'x'],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 9],
        ] {
            assert_eq!(
                Entry::decode(&Bytes::copy_from_slice(bytes)),
                None,
                "{bytes:?}"
            );
        }
    }
}
