//! What a backend can do, so the router can refuse a route it cannot serve.

use std::fmt;

/// The optional abilities of one backend.
///
/// Every backend returns one of these from [`Store::info`](crate::Store::info). The router
/// compares an entity's needs (an expiry, secondary indexes, …) against it when the config is
/// loaded, and the behaviour suites use it to choose which cases a backend must pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Entries can expire after a time-to-live.
    pub ttl: bool,
    /// Multi-statement or multi-item ACID transactions.
    pub transactions: bool,
    /// Range reads return items in key or time order.
    pub ordered_scan: bool,
    /// Acknowledged writes survive a process restart.
    pub durable: bool,
    /// Secondary (non-key) indexes that queries use.
    pub secondary_indexes: bool,
    /// Atomic read-modify-write increments.
    pub atomic_increment: bool,
    /// Full-text queries with relevance ranking.
    pub full_text: bool,
    /// Shortest paths weighted by an edge property.
    pub weighted_paths: bool,
    /// Several writes sent and applied as one batch.
    pub batch_writes: bool,
    /// Memory-bounded with eviction: entries may disappear before their TTL.
    pub evicts: bool,
}

/// One named ability, for error messages and capability checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// See [`Capabilities::ttl`].
    Ttl,
    /// See [`Capabilities::transactions`].
    Transactions,
    /// See [`Capabilities::ordered_scan`].
    OrderedScan,
    /// See [`Capabilities::durable`].
    Durable,
    /// See [`Capabilities::secondary_indexes`].
    SecondaryIndexes,
    /// See [`Capabilities::atomic_increment`].
    AtomicIncrement,
    /// See [`Capabilities::full_text`].
    FullText,
    /// See [`Capabilities::weighted_paths`].
    WeightedPaths,
    /// See [`Capabilities::batch_writes`].
    BatchWrites,
}

impl Capabilities {
    /// Whether this backend has `capability`.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::Ttl => self.ttl,
            Capability::Transactions => self.transactions,
            Capability::OrderedScan => self.ordered_scan,
            Capability::Durable => self.durable,
            Capability::SecondaryIndexes => self.secondary_indexes,
            Capability::AtomicIncrement => self.atomic_increment,
            Capability::FullText => self.full_text,
            Capability::WeightedPaths => self.weighted_paths,
            Capability::BatchWrites => self.batch_writes,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Ttl => "ttl",
            Capability::Transactions => "transactions",
            Capability::OrderedScan => "ordered scans",
            Capability::Durable => "durability",
            Capability::SecondaryIndexes => "secondary indexes",
            Capability::AtomicIncrement => "atomic increments",
            Capability::FullText => "full-text search",
            Capability::WeightedPaths => "weighted shortest paths",
            Capability::BatchWrites => "batch writes",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_reads_the_matching_flag() {
        let caps = Capabilities {
            ttl: true,
            ..Capabilities::default()
        };
        assert!(caps.has(Capability::Ttl));
        assert!(!caps.has(Capability::Transactions));
        assert_eq!(
            Capability::SecondaryIndexes.to_string(),
            "secondary indexes"
        );
    }
}
