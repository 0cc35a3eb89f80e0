//! Wide-column stores: Cassandra's data model. Rows live in partitions and are ordered inside
//! a partition by their clustering key, so "the newest 100 events of a user" is one ordered
//! read of one partition.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::time::Duration;

use async_trait::async_trait;

use crate::kinds::document::Order;
use crate::{Result, Value};

/// One row: its key and its cells.
#[derive(Clone, Debug, PartialEq)]
pub struct WideRow {
    /// The partition key's values, in the order of [`WideColumnSettings::partition_key`].
    pub partition: Vec<Value>,
    /// The clustering key's values, in the order of [`WideColumnSettings::clustering_key`].
    pub clustering: Vec<Value>,
    /// The other columns.
    pub cells: BTreeMap<String, Value>,
}

/// Options of a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Expire the row this long after the write.
    pub ttl: Option<Duration>,
    /// The write's timestamp (microseconds since the epoch) for last-write-wins; `None` is now.
    pub timestamp: Option<i64>,
}

/// A read of one partition: a clustering range, in order, limited.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceQuery {
    /// The partition key's values.
    pub partition: Vec<Value>,
    /// Lower bound on the clustering key (a prefix of it is allowed).
    pub start: Bound<Vec<Value>>,
    /// Upper bound on the clustering key (a prefix of it is allowed).
    pub end: Bound<Vec<Value>>,
    /// Clustering order to return rows in.
    pub order: Order,
    /// Return at most this many rows.
    pub limit: Option<usize>,
}

impl SliceQuery {
    /// The whole partition, in clustering order.
    pub fn partition(partition: Vec<Value>) -> Self {
        SliceQuery {
            partition,
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            order: Order::Ascending,
            limit: None,
        }
    }
}

/// The table shape of one wide-column entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WideColumnSettings {
    /// Column names of the partition key, in order; at least one.
    pub partition_key: Vec<String>,
    /// Column names of the clustering key, in order.
    pub clustering_key: Vec<String>,
    /// Default row TTL.
    pub ttl: Option<Duration>,
}

impl WideColumnSettings {
    /// Settings for a table keyed by `partition_key` and ordered by `clustering_key`.
    pub fn new(partition_key: Vec<String>, clustering_key: Vec<String>) -> Self {
        WideColumnSettings {
            partition_key,
            clustering_key,
            ttl: None,
        }
    }
}

/// A wide-column store, scoped to one entity (a table).
#[async_trait]
pub trait WideColumnStore: Send + Sync + fmt::Debug {
    /// Writes one row (an upsert: cells not given keep their values).
    async fn put(&self, row: WideRow, options: WriteOptions) -> Result<()>;

    /// Writes many rows as one batch.
    async fn put_batch(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()>;

    /// The row at `(partition, clustering)`, if it exists.
    async fn get(&self, partition: &[Value], clustering: &[Value]) -> Result<Option<WideRow>>;

    /// Rows of one partition in clustering order.
    async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>>;

    /// Removes one row. Returns whether it existed where the backend can tell, else `true`.
    async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool>;

    /// Removes a whole partition.
    async fn delete_partition(&self, partition: &[Value]) -> Result<()>;
}
