//! The synthetic data set of a replay: records derived from their number, so every store kind
//! holds the same records and the same ids, groups, times, attributes, text and neighbours.

/// Records per group (a partition, a series, a customer's rows).
pub const ROWS_PER_GROUP: usize = 50;
/// Neighbours per record in the relationship data.
pub const DEGREE: usize = 3;
/// Time of the first point of each group, in nanoseconds since the epoch (2024-01-01).
pub const BASE_NS: i64 = 1_704_067_200_000_000_000;
/// Time between two records of a group.
pub const STEP_NS: i64 = 60_000_000_000;
/// Distinct values of the filtered attribute.
pub const ATTRIBUTES: usize = 100;

const WORDS: [&str; 32] = [
    "order", "payment", "stock", "sensor", "device", "user", "post", "comment", "photo", "video",
    "music", "travel", "sport", "news", "market", "price", "review", "coffee", "garden", "winter",
    "summer", "river", "mountain", "city", "engine", "battery", "signal", "network", "storage",
    "search", "friend", "message",
];

/// The shape of one entity's synthetic data.
#[derive(Clone, Debug)]
pub struct Data {
    /// Records loaded.
    pub records: usize,
    /// The opaque payload each record carries (its size is the spec's, capped).
    pub payload: String,
}

impl Data {
    /// `records` records with payloads of `bytes` bytes.
    pub fn new(records: usize, bytes: usize) -> Data {
        Data {
            records: records.max(ROWS_PER_GROUP),
            payload: "x".repeat(bytes.max(1)),
        }
    }

    /// Groups in the data.
    pub fn groups(&self) -> usize {
        self.records.div_ceil(ROWS_PER_GROUP)
    }

    /// Record `i`'s id.
    pub fn id(i: usize) -> String {
        format!("r{i}")
    }

    /// Record `i`'s group.
    pub fn group(i: usize) -> i64 {
        i64::try_from(i / ROWS_PER_GROUP).unwrap_or(i64::MAX)
    }

    /// Record `i`'s time.
    pub fn time(i: usize) -> i64 {
        BASE_NS + i64::try_from(i % ROWS_PER_GROUP).unwrap_or(0) * STEP_NS
    }

    /// Record `i`'s filtered attribute.
    pub fn attribute(i: usize) -> i64 {
        i64::try_from(i % ATTRIBUTES).unwrap_or(0)
    }

    /// Record `i`'s text: eight words.
    pub fn text(i: usize) -> String {
        let mut seed = mix(i as u64);
        let mut words = Vec::with_capacity(8);
        for _ in 0..8 {
            words.push(WORDS[(seed % WORDS.len() as u64) as usize]);
            seed = mix(seed);
        }
        words.join(" ")
    }

    /// A word of the vocabulary, for text queries.
    pub fn word(k: usize) -> &'static str {
        WORDS[k % WORDS.len()]
    }

    /// Record `i`'s neighbours.
    pub fn neighbours(&self, i: usize) -> [usize; DEGREE] {
        let mut out = [0; DEGREE];
        let mut seed = mix(i as u64 ^ 0x9E37_79B9);
        for slot in &mut out {
            *slot = (seed % self.records as u64) as usize;
            seed = mix(seed);
        }
        out
    }
}

/// splitmix64's mixing step: a cheap, well-spread hash of a number.
pub fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic sequence of record numbers below a bound.
#[derive(Clone, Debug)]
pub struct Picker {
    state: u64,
}

impl Picker {
    /// A sequence seeded with `seed`.
    pub fn new(seed: u64) -> Picker {
        Picker { state: seed }
    }

    /// The next number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        self.state = mix(self.state);
        if bound == 0 {
            0
        } else {
            (self.state % bound as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_derived_from_their_number() {
        let data = Data::new(1000, 16);
        assert_eq!(data.groups(), 20);
        assert_eq!(Data::group(49), 0);
        assert_eq!(Data::group(50), 1);
        assert_eq!(Data::time(50), BASE_NS);
        assert_eq!(Data::text(7), Data::text(7));
        assert_eq!(Data::text(7).split(' ').count(), 8);
        assert!(data.neighbours(3).iter().all(|n| *n < 1000));
        let mut picker = Picker::new(1);
        assert!((0..100).all(|_| picker.below(10) < 10));
    }
}
