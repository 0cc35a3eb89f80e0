//! A set of node numbers as one bit each: the visited and frontier sets of a search, and the
//! nodes whose links changed since the arrays were built.

/// A set of node numbers as one bit each; grows as larger numbers are inserted.
#[derive(Clone, Debug, Default)]
pub(super) struct Bits(Vec<u64>);

impl Bits {
    /// An empty set with room for numbers below `len`.
    pub(super) fn new(len: usize) -> Self {
        Bits(vec![0; len.div_ceil(64)])
    }

    /// Adds `n`; returns whether it was absent.
    #[inline]
    pub(super) fn insert(&mut self, n: u32) -> bool {
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }

    /// Whether `n` is in the set.
    #[inline]
    pub(super) fn contains(&self, n: u32) -> bool {
        self.0
            .get((n / 64) as usize)
            .is_some_and(|w| w & (1 << (n % 64)) != 0)
    }

    /// Empties the set, keeping its room.
    pub(super) fn clear(&mut self) {
        self.0.fill(0);
    }
}
