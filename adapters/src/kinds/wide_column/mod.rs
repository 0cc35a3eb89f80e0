//! Wide-column stores: Cassandra's data model. Rows live in partitions and are ordered inside
//! a partition by their clustering key, so "the newest 100 events of a user" is one ordered
//! read of one partition.
//!
//! # Contract
//!
//! Every backend of this kind follows these rules, and the behaviour suite checks them:
//!
//! - Key values must be bool, int, float, timestamp, text or bytes (null, list and map are
//!   invalid requests naming the column), and a row key gives exactly one value per declared
//!   key column. A key column should hold one type; clustering order within a type is the
//!   natural one (text by code point, bytes bytewise, floats in IEEE total order).
//! - Writes are upserts: the cells a write names replace those cells, others keep their values.
//!   A null cell value deletes the cell. A row written with no cells exists.
//! - Last write wins per cell by write timestamp: a write with an older timestamp never
//!   overwrites a newer cell. Write timestamps are **microseconds** since the Unix epoch, as
//!   CQL's `USING TIMESTAMP`; a caller holding nanoseconds (a [`Value::Timestamp`], an HTTP
//!   body) converts with [`micros_from_nanos`].
//! - Writes with equal timestamps resolve the same way whatever order they arrive in, as in
//!   Cassandra: a deletion wins, then the greater value by [`cell_order`] (numbers
//!   numerically, so `128` beats `127`; text bytewise as UTF-8, so `"b"` beats `"aa"`; bytes
//!   bytewise; values of different types by type), then the later expiry. The embedded and
//!   PostgreSQL backends merge with [`cell_order`]; the Cassandra backend stores each cell in
//!   bytes that order as [`cell_order`] does, so the server's own tie-break agrees.
//! - Writes without an explicit timestamp get the store's clock: the wall clock in
//!   microseconds, never repeating or going back within the process, on every backend, so one
//!   caller's successive writes apply in call order.
//! - A TTL expires what that write wrote (the row's liveness and its cells); a row is visible
//!   while anything written to it is unexpired. A TTL of zero is an invalid request.
//! - A delete removes the row as it is at the time of the call, and a later write stamped at
//!   or before the delete's timestamp stays deleted.
//! - A row key's values hold at most [`MAX_KEY_BYTES`] together; every operation refuses a
//!   longer key as an invalid request before the store sees it.

pub(crate) mod clock;
pub(crate) mod key;
pub(crate) mod order;
pub(crate) mod record;
pub(crate) mod rules;

pub use order::cell_order;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::time::Duration;

use async_trait::async_trait;

use crate::kinds::document::Order;
use crate::{Result, StoreError, Value};

/// The most bytes a row key's values may hold together (text and bytes by their length, every
/// other value as 8), in every backend: with its encoding it fits a PostgreSQL B-tree entry and
/// stays far below an LSM key's and Cassandra's 64 KiB.
pub const MAX_KEY_BYTES: usize = 1024;

fn key_bytes(values: &[Value]) -> usize {
    values
        .iter()
        .map(|value| match value {
            Value::Text(text) => text.len(),
            Value::Bytes(bytes) => bytes.len(),
            _ => 8,
        })
        .sum()
}

fn check_size(bytes: usize) -> Result<()> {
    if bytes > MAX_KEY_BYTES {
        return Err(StoreError::invalid(format!(
            "the row key (`partition` and `clustering` values) is {bytes} bytes: it may be at \
             most {MAX_KEY_BYTES} bytes together; use shorter key values (such as a hash of a \
             long one)"
        )));
    }
    Ok(())
}

/// Refuses a row key whose values hold more than [`MAX_KEY_BYTES`].
pub fn check_key(partition: &[Value], clustering: &[Value]) -> Result<()> {
    check_size(key_bytes(partition) + key_bytes(clustering))
}

/// [`check_key`] for every row of a batch.
pub fn check_rows(rows: &[WideRow]) -> Result<()> {
    rows.iter()
        .try_for_each(|row| check_key(&row.partition, &row.clustering))
}

/// [`check_key`] for a slice's partition with each of its bounds.
pub fn check_slice(query: &SliceQuery) -> Result<()> {
    for bound in [&query.start, &query.end] {
        if let Bound::Included(values) | Bound::Excluded(values) = bound {
            check_key(&query.partition, values)?;
        }
    }
    check_key(&query.partition, &[])
}

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

/// Options of a write: both apply to every row of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Expire what this write wrote this long after it; zero is an invalid request.
    pub ttl: Option<Duration>,
    /// The write's timestamp for last-write-wins, in **microseconds** since the Unix epoch
    /// (convert nanoseconds with [`micros_from_nanos`]); `None` is the store's clock.
    pub timestamp: Option<i64>,
}

/// A write timestamp in microseconds from an instant in nanoseconds since the Unix epoch (the
/// unit of [`Value::Timestamp`]), rounded down to the microsecond, so an instant never maps to
/// a later write than it is.
pub fn micros_from_nanos(nanos: i64) -> i64 {
    nanos.div_euclid(1_000)
}

/// A read of one partition: a clustering range, in order, limited.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceQuery {
    /// The partition key's values.
    pub partition: Vec<Value>,
    /// Lower bound on the clustering key. A prefix of it is allowed: `Included(p)` starts at
    /// the first row whose key starts with `p`, `Excluded(p)` after the last one.
    pub start: Bound<Vec<Value>>,
    /// Upper bound on the clustering key. A prefix of it is allowed: `Included(p)` ends at the
    /// last row whose key starts with `p`, `Excluded(p)` before the first one.
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

    /// Starts the slice at `start`.
    pub fn from(mut self, start: Bound<Vec<Value>>) -> Self {
        self.start = start;
        self
    }

    /// Ends the slice at `end`.
    pub fn to(mut self, end: Bound<Vec<Value>>) -> Self {
        self.end = end;
        self
    }

    /// Returns rows in descending clustering order (newest first for a time clustering key).
    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }

    /// Returns at most `limit` rows.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The query of the page after `last`, the last row a page of this query returned: the
    /// same slice, bounded to the rows past `last` in the query's order (the start bound becomes
    /// `Excluded(last)` in ascending order, the end bound in descending order). Clustering keys
    /// are unique within a partition, so following pages reads every row once, in order, and
    /// rows written meanwhile past `last` are read too.
    pub fn after(&self, last: &WideRow) -> Self {
        let mut next = self.clone();
        let bound = Bound::Excluded(last.clustering.clone());
        match self.order {
            Order::Ascending => next.start = bound,
            Order::Descending => next.end = bound,
        }
        next
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

    /// Writes many rows as one batch: atomic where the backend has
    /// [`batch_writes`](crate::Capabilities::batch_writes); every row is checked before any is
    /// written, so one invalid row fails the whole batch.
    async fn put_batch(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()>;

    /// The row at `(partition, clustering)`, if it exists.
    async fn get(&self, partition: &[Value], clustering: &[Value]) -> Result<Option<WideRow>>;

    /// Rows of one partition in clustering order (or its reverse), within the bounds, limited;
    /// clustering bounds longer than the clustering key are invalid requests.
    async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>>;

    /// Removes one row. Returns whether it existed where the backend can tell, else `true`.
    async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool>;

    /// Removes every row of a partition.
    async fn delete_partition(&self, partition: &[Value]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(clustering: i64) -> WideRow {
        WideRow {
            partition: vec![Value::Int(1)],
            clustering: vec![Value::Int(clustering)],
            cells: BTreeMap::new(),
        }
    }

    #[test]
    fn the_next_page_starts_after_the_last_row_in_the_query_order() {
        let ascending = SliceQuery::partition(vec![Value::Int(1)])
            .to(Bound::Included(vec![Value::Int(9)]))
            .limit(2);
        let next = ascending.after(&row(4));
        assert_eq!(next.start, Bound::Excluded(vec![Value::Int(4)]));
        assert_eq!(next.end, ascending.end);
        assert_eq!(next.limit, Some(2));
        let descending = SliceQuery::partition(vec![Value::Int(1)])
            .from(Bound::Included(vec![Value::Int(0)]))
            .descending();
        let next = descending.after(&row(4));
        assert_eq!(next.end, Bound::Excluded(vec![Value::Int(4)]));
        assert_eq!(next.start, descending.start);
    }
}
