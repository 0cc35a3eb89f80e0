//! [`Op`]: what an access does, and which fields each op takes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What one access of an entity does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Point lookup by key.
    Get,
    /// Insert or replace one record by key.
    Put,
    /// Change part of one record by key.
    Update,
    /// Remove one record by key.
    Delete,
    /// Several point lookups at once.
    BatchGet,
    /// Atomic increment of a number.
    Counter,
    /// Time-ordered insert (events, measurements, log lines).
    Append,
    /// Records in a key or time range (`range`).
    RangeScan,
    /// The newest item per key or series.
    Latest,
    /// Aggregates per time window (`range`, `every`, `group_by`).
    WindowAggregate,
    /// Ad-hoc group-by over many records (`group_by`).
    Aggregate,
    /// Records combined with other entities' records (`entities`).
    Join,
    /// Multi-row or multi-entity ACID change (`entities`).
    Transaction,
    /// Query on secondary attributes (`fields`).
    Filter,
    /// Walk relationships out to `depth` hops.
    Traverse,
    /// Shortest path between two records, at most `depth` hops.
    ShortestPath,
    /// Relevance-ranked text search (`fields`).
    FullText,
    /// Every row of one partition, in order.
    PartitionScan,
    /// Records that expire on their own (`ttl`).
    Expire,
}

/// The op-specific fields of an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpField {
    /// `range`: a time span.
    Range,
    /// `every`: a window width.
    Every,
    /// `group_by`: field names.
    GroupBy,
    /// `entities`: entity names.
    Entities,
    /// `fields`: field names.
    Fields,
    /// `depth`: hops.
    Depth,
    /// `ttl`: time to live.
    Ttl,
}

impl OpField {
    /// Every op-specific field.
    pub const ALL: [OpField; 7] = [
        OpField::Range,
        OpField::Every,
        OpField::GroupBy,
        OpField::Entities,
        OpField::Fields,
        OpField::Depth,
        OpField::Ttl,
    ];

    /// Its key in the spec.
    pub fn name(self) -> &'static str {
        match self {
            OpField::Range => "range",
            OpField::Every => "every",
            OpField::GroupBy => "group_by",
            OpField::Entities => "entities",
            OpField::Fields => "fields",
            OpField::Depth => "depth",
            OpField::Ttl => "ttl",
        }
    }

    /// An example value, for fixes.
    pub fn example(self) -> &'static str {
        match self {
            OpField::Range => "range: 24h",
            OpField::Every => "every: 5m",
            OpField::GroupBy => "group_by: [device_id]",
            OpField::Entities => "entities: [orders, payments]",
            OpField::Fields => "fields: [title, body]",
            OpField::Depth => "depth: 2",
            OpField::Ttl => "ttl: 30m",
        }
    }
}

impl Op {
    /// Every op, in the order of the spec reference.
    pub const ALL: [Op; 19] = [
        Op::Get,
        Op::Put,
        Op::Update,
        Op::Delete,
        Op::BatchGet,
        Op::Counter,
        Op::Append,
        Op::RangeScan,
        Op::Latest,
        Op::WindowAggregate,
        Op::Aggregate,
        Op::Join,
        Op::Transaction,
        Op::Filter,
        Op::Traverse,
        Op::ShortestPath,
        Op::FullText,
        Op::PartitionScan,
        Op::Expire,
    ];

    /// Its name in the spec and in every output.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::BatchGet => "batch_get",
            Op::Counter => "counter",
            Op::Append => "append",
            Op::RangeScan => "range_scan",
            Op::Latest => "latest",
            Op::WindowAggregate => "window_aggregate",
            Op::Aggregate => "aggregate",
            Op::Join => "join",
            Op::Transaction => "transaction",
            Op::Filter => "filter",
            Op::Traverse => "traverse",
            Op::ShortestPath => "shortest_path",
            Op::FullText => "full_text",
            Op::PartitionScan => "partition_scan",
            Op::Expire => "expire",
        }
    }

    /// The op-specific fields it must have.
    pub fn required(self) -> &'static [OpField] {
        match self {
            Op::WindowAggregate => &[OpField::Range, OpField::Every],
            Op::Join | Op::Transaction => &[OpField::Entities],
            Op::Filter | Op::FullText => &[OpField::Fields],
            Op::Traverse | Op::ShortestPath => &[OpField::Depth],
            Op::Expire => &[OpField::Ttl],
            _ => &[],
        }
    }

    /// The op-specific fields it may have.
    pub fn optional(self) -> &'static [OpField] {
        match self {
            Op::RangeScan => &[OpField::Range],
            Op::WindowAggregate | Op::Aggregate => &[OpField::GroupBy],
            _ => &[],
        }
    }

    /// Whether it changes data (and so every projection of the entity must take it too).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Op::Put
                | Op::Update
                | Op::Delete
                | Op::Counter
                | Op::Append
                | Op::Transaction
                | Op::Expire
        )
    }

    /// Whether one call reads or combines many records (a query, not a lookup).
    pub fn is_heavy(self) -> bool {
        matches!(
            self,
            Op::WindowAggregate
                | Op::Aggregate
                | Op::Join
                | Op::FullText
                | Op::Traverse
                | Op::ShortestPath
        )
    }

    /// Whether it reads records in time order.
    pub fn is_time_ordered(self) -> bool {
        matches!(
            self,
            Op::Append | Op::RangeScan | Op::Latest | Op::WindowAggregate | Op::PartitionScan
        )
    }

    /// One line on what it does, for the reference.
    pub fn summary(self) -> &'static str {
        match self {
            Op::Get => "point lookup by key",
            Op::Put => "insert or replace one record by key",
            Op::Update => "change part of one record by key",
            Op::Delete => "remove one record by key",
            Op::BatchGet => "several point lookups in one call",
            Op::Counter => "atomic increment",
            Op::Append => "time-ordered insert",
            Op::RangeScan => "records in a key or time range",
            Op::Latest => "newest item per key or series",
            Op::WindowAggregate => "aggregates per time window",
            Op::Aggregate => "ad-hoc group-by over many records",
            Op::Join => "records combined with other entities' records",
            Op::Transaction => "multi-row or multi-entity ACID change",
            Op::Filter => "query on secondary attributes",
            Op::Traverse => "walk relationships out to a depth",
            Op::ShortestPath => "shortest path between two records",
            Op::FullText => "relevance-ranked text search",
            Op::PartitionScan => "all rows of one partition, in order",
            Op::Expire => "records expire after a time to live",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Op {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Op::ALL.into_iter().find(|op| op.name() == text).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fields_do_not_overlap() {
        for op in Op::ALL {
            assert_eq!(op.name().parse::<Op>(), Ok(op));
            for field in op.required() {
                assert!(!op.optional().contains(field), "{op} {}", field.name());
            }
        }
        assert!("scan".parse::<Op>().is_err());
    }
}
