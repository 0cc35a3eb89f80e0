//! The seven store kinds: one object-safe async trait each, with its request and response types.
//!
//! These traits are the backend-author API: every backend implements the trait of its kind, and
//! the router hands services typed handles over them. Each trait is small on purpose; what a
//! backend cannot do is declared in its [`Capabilities`](crate::Capabilities), not left as a
//! method that fails at run time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod document;
pub mod graph;
pub mod key_value;
pub mod relational;
pub mod search;
pub mod time_series;
pub mod wide_column;

/// What separates a namespace the router makes (`cache__<entity>`) from the entity it serves.
/// Entity names cannot contain it ([`is_entity_name`]), so no entity can be named like
/// another's namespace.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// Whether `name` can name an entity: an identifier without [`NAMESPACE_SEPARATOR`]. The
/// router's config and the workload specs of the decision framework apply this one rule.
pub fn is_entity_name(name: &str) -> bool {
    is_identifier(name) && !name.contains(NAMESPACE_SEPARATOR)
}

/// Whether `name` is safe to use as a table, collection or prefix name in every backend.
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok && name.len() <= 63 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The kind of a store: which data model and which trait it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// Keys to opaque values, with optional expiry: sessions, caches, counters.
    KeyValue,
    /// Timestamped measurements with tags: metrics, telemetry, events aggregated by window.
    TimeSeries,
    /// Nodes and labelled edges: relationships, traversals, paths.
    Graph,
    /// Tables, SQL and transactions: the usual system of record.
    Relational,
    /// Partitions of rows ordered by clustering key: append-heavy, partition-scoped reads.
    WideColumn,
    /// JSON documents with filters on nested fields.
    Document,
    /// Full-text relevance search with filters.
    Search,
}

impl StoreKind {
    /// Every kind, in a fixed order.
    pub const ALL: [StoreKind; 7] = [
        StoreKind::KeyValue,
        StoreKind::TimeSeries,
        StoreKind::Graph,
        StoreKind::Relational,
        StoreKind::WideColumn,
        StoreKind::Document,
        StoreKind::Search,
    ];

    /// The name used in config files and output (`key_value`, `time_series`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::KeyValue => "key_value",
            StoreKind::TimeSeries => "time_series",
            StoreKind::Graph => "graph",
            StoreKind::Relational => "relational",
            StoreKind::WideColumn => "wide_column",
            StoreKind::Document => "document",
            StoreKind::Search => "search",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no store kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown store kind `{0}`; expected one of: key_value, time_series, graph, relational, wide_column, document, search")]
pub struct UnknownKind(pub String);

impl FromStr for StoreKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StoreKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in StoreKind::ALL {
            assert_eq!(kind.as_str().parse::<StoreKind>(), Ok(kind));
        }
        let err = "keyvalue".parse::<StoreKind>().unwrap_err();
        assert!(err.to_string().contains("key_value"));
    }
}
