//! Column codecs: delta-of-delta timestamps, XOR (Gorilla) floats, delta integers, bit-packed
//! booleans and length-prefixed strings, plus the varints and byte reader they share.
//!
//! Every decoder checks its input and fails with [`Corrupt`] instead of panicking, so a damaged
//! file is reported rather than crashing the process.

use std::fmt;

/// Encoded bytes that do not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt;

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("corrupt time-series data")
    }
}

impl std::error::Error for Corrupt {}

pub(crate) type Decoded<T> = Result<T, Corrupt>;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as a LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over encoded bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn u8(&mut self) -> Decoded<u8> {
        let (&first, rest) = self.bytes.split_first().ok_or(Corrupt)?;
        self.bytes = rest;
        Ok(first)
    }

    pub(crate) fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(Corrupt);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn uvarint(&mut self) -> Decoded<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(Corrupt)
    }

    pub(crate) fn varint(&mut self) -> Decoded<i64> {
        self.uvarint().map(unzigzag)
    }

    /// A count or length, bounded by the bytes left so a corrupt length cannot make a caller
    /// allocate without limit.
    pub(crate) fn len(&mut self) -> Decoded<usize> {
        let n = usize::try_from(self.uvarint()?).map_err(|_| Corrupt)?;
        if n > self.bytes.len().saturating_mul(8).saturating_add(64) {
            return Err(Corrupt);
        }
        Ok(n)
    }

    pub(crate) fn bytes(&mut self) -> Decoded<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    pub(crate) fn string(&mut self) -> Decoded<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| Corrupt)
    }
}

/// Timestamps as first value, first delta, then zigzag varints of delta-of-delta: a regular
/// interval costs one byte per point. Wrapping arithmetic makes any sequence round-trip.
pub(crate) fn encode_timestamps(ts: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ts.len() + 16);
    let mut prev = 0i64;
    let mut prev_delta = 0i64;
    for &t in ts {
        let delta = t.wrapping_sub(prev);
        put_varint(&mut out, delta.wrapping_sub(prev_delta));
        prev = t;
        prev_delta = delta;
    }
    out
}

pub(crate) fn decode_timestamps(bytes: &[u8], n: usize) -> Decoded<Vec<i64>> {
    let mut reader = Reader::new(bytes);
    let mut out = Vec::with_capacity(n);
    let (mut prev, mut prev_delta) = (0i64, 0i64);
    for _ in 0..n {
        let delta = prev_delta.wrapping_add(reader.varint()?);
        prev = prev.wrapping_add(delta);
        prev_delta = delta;
        out.push(prev);
    }
    Ok(out)
}

/// Integers as zigzag varints of their wrapping deltas.
pub(crate) fn encode_ints(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 2);
    let mut prev = 0i64;
    for &v in values {
        put_varint(&mut out, v.wrapping_sub(prev));
        prev = v;
    }
    out
}

pub(crate) fn decode_ints(bytes: &[u8], n: usize) -> Decoded<Vec<i64>> {
    let mut reader = Reader::new(bytes);
    let mut out = Vec::with_capacity(n);
    let mut prev = 0i64;
    for _ in 0..n {
        prev = prev.wrapping_add(reader.varint()?);
        out.push(prev);
    }
    Ok(out)
}

/// Booleans, eight to a byte.
pub(crate) fn encode_bools(values: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; values.len().div_ceil(8)];
    for (i, _) in values.iter().enumerate().filter(|(_, v)| **v) {
        out[i / 8] |= 1 << (i % 8);
    }
    out
}

pub(crate) fn decode_bools(bytes: &[u8], n: usize) -> Decoded<Vec<bool>> {
    if bytes.len() != n.div_ceil(8) {
        return Err(Corrupt);
    }
    Ok((0..n).map(|i| bytes[i / 8] & (1 << (i % 8)) != 0).collect())
}

/// Strings, each length-prefixed.
pub(crate) fn encode_strings(values: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        put_bytes(&mut out, v.as_bytes());
    }
    out
}

pub(crate) fn decode_strings(bytes: &[u8], n: usize) -> Decoded<Vec<String>> {
    let mut reader = Reader::new(bytes);
    (0..n).map(|_| reader.string()).collect()
}

struct BitWriter {
    out: Vec<u8>,
    /// Bits used in the last byte (0 when a new byte is needed).
    used: usize,
}

impl BitWriter {
    /// Appends the low `bits` bits of `value`, most significant first, a byte at a time.
    fn write(&mut self, value: u64, bits: u8) {
        let mut remaining = usize::from(bits);
        while remaining > 0 {
            if self.used == 0 {
                self.out.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(remaining);
            let chunk = ((value >> (remaining - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.out.last_mut() {
                *last |= chunk << (free - take);
            }
            self.used = (self.used + take) % 8;
            remaining -= take;
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// Reads `bits` bits (at most 64), most significant first, a byte at a time.
    fn read(&mut self, bits: u8) -> Decoded<u64> {
        let mut remaining = usize::from(bits);
        if self.pos + remaining > self.bytes.len() * 8 {
            return Err(Corrupt);
        }
        let mut v = 0u64;
        while remaining > 0 {
            let byte = *self.bytes.get(self.pos / 8).ok_or(Corrupt)?;
            let avail = 8 - self.pos % 8;
            let take = avail.min(remaining);
            let chunk = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            v = (v << take) | chunk;
            self.pos += take;
            remaining -= take;
        }
        Ok(v)
    }
}

/// Floats as in Facebook's Gorilla: each value XORed with the previous one; an equal value costs
/// one bit, a value whose meaningful bits fit the previous window costs two bits plus those.
/// Works on the raw bit patterns, so NaN payloads, infinities and `-0.0` round-trip exactly.
pub(crate) fn encode_floats(values: &[f64]) -> Vec<u8> {
    let mut w = BitWriter {
        out: Vec::with_capacity(values.len() * 2),
        used: 0,
    };
    let mut prev = 0u64;
    let (mut lead, mut trail) = (u8::MAX, 0u8);
    for (i, v) in values.iter().enumerate() {
        let bits = v.to_bits();
        if i == 0 {
            w.write(bits, 64);
            prev = bits;
            continue;
        }
        let xor = bits ^ prev;
        prev = bits;
        if xor == 0 {
            w.write(0, 1);
            continue;
        }
        // At most 31 leading zeros, so the count fits the 5-bit field.
        let l = (xor.leading_zeros() as u8).min(31);
        let t = xor.trailing_zeros() as u8;
        if lead != u8::MAX && l >= lead && t >= trail {
            w.write(0b10, 2);
            w.write(xor >> trail, 64 - lead - trail);
        } else {
            let meaningful = 64 - l - t;
            w.write(0b11, 2);
            w.write(u64::from(l), 5);
            // 64 meaningful bits are stored as 0 in the 6-bit field.
            w.write(u64::from(meaningful % 64), 6);
            w.write(xor >> t, meaningful);
            (lead, trail) = (l, t);
        }
    }
    w.out
}

pub(crate) fn decode_floats(bytes: &[u8], n: usize) -> Decoded<Vec<f64>> {
    let mut r = BitReader { bytes, pos: 0 };
    let mut out = Vec::with_capacity(n);
    let mut prev = 0u64;
    let (mut lead, mut trail) = (0u8, 0u8);
    for i in 0..n {
        if i == 0 {
            prev = r.read(64)?;
        } else if r.read(1)? == 1 {
            if r.read(1)? == 1 {
                lead = r.read(5)? as u8;
                let meaningful = match r.read(6)? as u8 {
                    0 => 64,
                    m => m,
                };
                trail = 64u8.checked_sub(lead + meaningful).ok_or(Corrupt)?;
            }
            let meaningful = 64 - lead - trail;
            prev ^= r.read(meaningful)? << trail;
        }
        out.push(f64::from_bits(prev));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
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
    }

    const EDGE_FLOATS: [f64; 12] = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        1.5,
        -1.5,
        5e-324,
    ];

    const EDGE_INTS: [i64; 7] = [i64::MIN, i64::MAX, 0, -1, 1, i64::MIN + 1, i64::MAX - 1];

    fn float_round_trip(values: &[f64]) {
        let decoded = decode_floats(&encode_floats(values), values.len()).unwrap();
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&decoded), bits(values), "{values:?}");
    }

    #[test]
    fn floats_round_trip_bit_for_bit() {
        float_round_trip(&[]);
        float_round_trip(&EDGE_FLOATS);
        float_round_trip(&[f64::from_bits(0x7ff8_0000_0000_0001), f64::NAN, -0.0, 0.0]);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let len = (rng.next() % 300) as usize;
            let values: Vec<f64> = (0..len)
                .map(|i| match rng.next() % 5 {
                    0 => f64::from_bits(rng.next()),
                    1 => EDGE_FLOATS[(rng.next() % 12) as usize],
                    2 => i as f64 * 0.25,
                    3 => 20.0 + (rng.next() % 100) as f64 / 10.0,
                    _ => 42.0,
                })
                .collect();
            float_round_trip(&values);
        }
    }

    #[test]
    fn regular_floats_compress() {
        let values: Vec<f64> = (0..1000).map(|i| 20.0 + (i % 4) as f64 * 0.5).collect();
        assert!(encode_floats(&values).len() < 1000 * 3);
    }

    #[test]
    fn timestamps_and_ints_round_trip_at_the_extremes() {
        let mut rng = Rng(7);
        let mut cases: Vec<Vec<i64>> = vec![
            vec![],
            EDGE_INTS.to_vec(),
            vec![5, 5, 5, 5],
            vec![10, 9, 8, -100, i64::MAX, i64::MIN, 0],
        ];
        for _ in 0..200 {
            let len = (rng.next() % 200) as usize;
            let mut t = rng.next() as i64;
            cases.push(
                (0..len)
                    .map(|_| {
                        t = match rng.next() % 4 {
                            0 => rng.next() as i64,
                            1 => EDGE_INTS[(rng.next() % 7) as usize],
                            _ => t.wrapping_add((rng.next() % 1000) as i64 - 100),
                        };
                        t
                    })
                    .collect(),
            );
        }
        for values in cases {
            let n = values.len();
            assert_eq!(
                decode_timestamps(&encode_timestamps(&values), n).unwrap(),
                values
            );
            assert_eq!(decode_ints(&encode_ints(&values), n).unwrap(), values);
        }
    }

    #[test]
    fn regular_timestamps_cost_a_byte_each() {
        let ts: Vec<i64> = (0..1000)
            .map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000)
            .collect();
        assert!(encode_timestamps(&ts).len() < 1000 + 20);
    }

    #[test]
    fn bools_and_strings_round_trip() {
        let bools = [true, false, false, true, true, true, false, true, true];
        assert_eq!(decode_bools(&encode_bools(&bools), 9).unwrap(), bools);
        let strings = vec![String::new(), "héllo ☃".to_owned(), "x".repeat(300)];
        assert_eq!(
            decode_strings(&encode_strings(&strings), 3).unwrap(),
            strings
        );
    }

    #[test]
    fn truncated_input_is_corrupt_not_a_panic() {
        let floats = encode_floats(&EDGE_FLOATS);
        for cut in 0..floats.len() {
            let _ = decode_floats(&floats[..cut], EDGE_FLOATS.len());
        }
        assert!(decode_floats(&floats[..3], 2).is_err());
        let ts = encode_timestamps(&EDGE_INTS);
        assert!(decode_timestamps(&ts[..ts.len() - 1], EDGE_INTS.len()).is_err());
        assert!(decode_bools(&[0], 9).is_err());
        assert!(decode_strings(&[5, b'a'], 1).is_err());
        assert!(Reader::new(&[0xff; 11]).uvarint().is_err());
        let mut rng = Rng(99);
        for _ in 0..500 {
            let junk: Vec<u8> = (0..(rng.next() % 40)).map(|_| rng.next() as u8).collect();
            let _ = decode_floats(&junk, 30);
            let _ = decode_timestamps(&junk, 30);
            let _ = decode_strings(&junk, 3);
        }
    }
}
