//! YCSB's core workload data: records of 1 KB (ten 100-byte fields in YCSB; here one 1000-byte
//! value) under keys `user<n>`, requested with a scrambled zipfian distribution (θ = 0.99), so a
//! few keys are hot and the hot ones are spread over the key space.

use crate::rng::{scramble, Rng, Zipf};

/// Bytes per record.
pub const RECORD_BYTES: usize = 1000;

/// The key of record `n`.
pub fn key(n: u64) -> String {
    format!("user{n:012}")
}

/// The value of record `n` at `version` (0 when loaded; updates write later versions).
pub fn value(n: u64, version: u64) -> Vec<u8> {
    let mut rng = Rng::new(n.wrapping_mul(0x9E37_79B9).wrapping_add(version));
    (0..RECORD_BYTES)
        .map(|_| b'a' + (rng.below(26) as u8))
        .collect()
}

/// The request stream over `records` records: which record each request touches.
#[derive(Clone, Debug)]
pub struct Requests {
    zipf: Zipf,
    records: u64,
    rng: Rng,
}

impl Requests {
    /// Requests over `records` records, from `seed`.
    pub fn new(records: u64, seed: u64) -> Self {
        Requests {
            zipf: Zipf::new(records, 0.99),
            records,
            rng: Rng::new(seed),
        }
    }

    /// The next record requested.
    pub fn next_record(&mut self) -> u64 {
        scramble(self.zipf.sample(&mut self.rng), self.records)
    }

    /// Whether the next request is an update, with probability `ratio`.
    pub fn is_update(&mut self, ratio: f64) -> bool {
        self.rng.chance(ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_deterministic_and_1kb() {
        assert_eq!(value(5, 0), value(5, 0));
        assert_ne!(value(5, 0), value(5, 1));
        assert_eq!(value(9, 0).len(), RECORD_BYTES);
        let mut a = Requests::new(1000, 1);
        let mut b = Requests::new(1000, 1);
        assert!((0..100).all(|_| a.next_record() == b.next_record()));
        assert!((0..100).all(|_| a.next_record() < 1000));
    }
}
