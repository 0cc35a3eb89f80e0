//! The state of a cheapest-path search, shared by the backends that search by weight in
//! process (the embedded engine, and PostgreSQL over the edges it loads): ordered so that a
//! max-heap pops the cheapest state first, then the one with fewer hops, then the earliest
//! reached, which makes every backend pick the same path among equally cheap ones.

use std::cmp::Ordering;

/// A search state: a node reached with some cost in some number of hops.
pub(crate) struct State {
    pub(crate) cost: f64,
    pub(crate) hops: u32,
    /// Index of this state in the arena of reached states.
    pub(crate) index: usize,
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for State {}
impl PartialOrd for State {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for State {
    /// Reversed, so the max-heap pops the cheapest state first (then the one with fewer hops).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .cost
            .total_cmp(&self.cost)
            .then(other.hops.cmp(&self.hops))
            .then(other.index.cmp(&self.index))
    }
}
