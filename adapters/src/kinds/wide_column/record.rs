//! One stored row: its cells with their write timestamps and expiry, its liveness marker, and
//! its deletion, merged last-write-wins the way Cassandra merges cells.
//!
//! - A write stamps the row's marker and every cell it names with its timestamp (and expiry).
//!   The marker keeps a row that has no cells alive.
//! - Merging keeps, per cell and for the marker, the version with the greater timestamp. On
//!   equal timestamps a deletion wins over a value, then the greater value by the kind's
//!   [`cell_order`] (Cassandra's order: `128` over `127`, `"b"` over `"aa"`), then the later
//!   expiry (never expiring counts as latest): the result does not depend on the order writes
//!   arrive in.
//! - A row deletion at timestamp `t` removes the marker and every cell written at or before
//!   `t`, and keeps `t` so that a later-arriving write stamped at or before it stays deleted.
//! - A row is visible while its marker or one of its value cells is unexpired.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cell_order;
use crate::{Result, StoreError, Value};

/// The first byte of every stored row, so the format can change without guessing.
const FORMAT: u8 = 1;

/// When a version was written and until when it lives (microseconds since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    pub timestamp: i64,
    pub expires_at: Option<i64>,
}

impl Stamp {
    fn live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    /// The later expiry is greater; never expiring is greatest.
    fn expiry_order(&self, other: &Stamp) -> Ordering {
        let key = |s: &Stamp| s.expires_at.map_or((1, 0), |at| (0, at));
        key(self).cmp(&key(other))
    }

    /// The last moment this version matters for: its timestamp or its expiry.
    fn newest(&self) -> i64 {
        self.expires_at
            .map_or(self.timestamp, |at| at.max(self.timestamp))
    }
}

/// One cell version: a value, or `None` for a deleted cell (a null written to it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cell {
    pub stamp: Stamp,
    pub value: Option<Value>,
}

impl Cell {
    /// Which of two versions of one cell wins: see the module docs.
    fn wins_over(&self, other: &Cell) -> bool {
        let order = self
            .stamp
            .timestamp
            .cmp(&other.stamp.timestamp)
            .then_with(|| {
                match (&self.value, &other.value) {
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(a), Some(b)) => cell_order(a, b),
                    (None, None) => Ordering::Equal,
                }
                .then_with(|| self.stamp.expiry_order(&other.stamp))
            });
        order == Ordering::Greater
    }
}

/// A stored row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The timestamp of the newest deletion of the row.
    pub deleted_at: Option<i64>,
    /// The row's liveness: written by every put, so a row without cells exists.
    pub marker: Option<Stamp>,
    /// The cells by column name.
    pub cells: BTreeMap<String, Cell>,
}

impl Record {
    /// The record a put of `cells` at `stamp` writes.
    pub fn write(stamp: Stamp, cells: BTreeMap<String, Value>) -> Record {
        let cells = cells
            .into_iter()
            .map(|(name, value)| {
                let value = (!value.is_null()).then_some(value);
                (name, Cell { stamp, value })
            })
            .collect();
        Record {
            deleted_at: None,
            marker: Some(stamp),
            cells,
        }
    }

    /// The record a deletion at `timestamp` writes.
    pub fn deletion(timestamp: i64) -> Record {
        Record {
            deleted_at: Some(timestamp),
            ..Record::default()
        }
    }

    /// Merges `other` into `self`: the result is the same whichever of the two came first.
    pub fn merge(&mut self, other: Record) {
        self.deleted_at = self.deleted_at.max(other.deleted_at);
        self.marker = match (self.marker, other.marker) {
            (Some(a), Some(b)) => {
                let b_wins = b.timestamp.cmp(&a.timestamp).then(b.expiry_order(&a));
                Some(if b_wins == Ordering::Greater { b } else { a })
            }
            (a, b) => a.or(b),
        };
        for (name, cell) in other.cells {
            match self.cells.get_mut(&name) {
                Some(mine) if !cell.wins_over(mine) => {}
                Some(mine) => *mine = cell,
                None => {
                    self.cells.insert(name, cell);
                }
            }
        }
        if let Some(deleted_at) = self.deleted_at {
            self.marker = self.marker.filter(|m| m.timestamp > deleted_at);
            self.cells
                .retain(|_, cell| cell.stamp.timestamp > deleted_at);
        }
    }

    /// Whether the row is visible at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.marker.is_some_and(|m| m.live(now))
            || self
                .cells
                .values()
                .any(|c| c.value.is_some() && c.stamp.live(now))
    }

    /// The row's visible cells at `now`, if the row is visible.
    pub fn into_visible(self, now: i64) -> Option<BTreeMap<String, Value>> {
        if !self.is_live(now) {
            return None;
        }
        Some(
            self.cells
                .into_iter()
                .filter(|(_, cell)| cell.stamp.live(now))
                .filter_map(|(name, cell)| cell.value.map(|value| (name, value)))
                .collect(),
        )
    }

    /// The newest timestamp written into the row, deletions included.
    pub fn newest_timestamp(&self) -> Option<i64> {
        let cells = self.cells.values().map(|c| c.stamp.timestamp);
        let marker = self.marker.map(|m| m.timestamp);
        cells.chain(marker).chain(self.deleted_at).max()
    }

    /// Deletes the row as it is: the deletion is stamped `clock`, or just after the row's newest
    /// write if that is later (a row written with a future timestamp is still removed).
    /// Returns whether the row was visible at `now`.
    pub fn delete(&mut self, clock: i64, now: i64) -> bool {
        let visible = self.is_live(now);
        let newest = self
            .newest_timestamp()
            .map_or(clock, |t| t.saturating_add(1));
        self.merge(Record::deletion(clock.max(newest)));
        visible
    }

    /// The moment the row stops being visible: `i64::MAX` while something in it never expires,
    /// `i64::MIN` when nothing in it is visible at all. The row is live at `now` exactly when
    /// this is after `now`. (Read by the PostgreSQL backend, which stores records.)
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub fn visible_until(&self) -> i64 {
        let until = |stamp: &Stamp| stamp.expires_at.unwrap_or(i64::MAX);
        let cells = self.cells.values().filter(|c| c.value.is_some());
        let stamps = cells
            .map(|c| until(&c.stamp))
            .chain(self.marker.map(|m| until(&m)));
        stamps.max().unwrap_or(i64::MIN)
    }

    /// The last moment anything in the record (a deletion, a write or an expiry) happens; a
    /// record that is not live can be dropped once this is `grace` in the past.
    pub fn settled_at(&self) -> i64 {
        let stamps = self.cells.values().map(|c| c.stamp).chain(self.marker);
        let newest = stamps.map(|s| s.newest()).chain(self.deleted_at).max();
        newest.unwrap_or(i64::MIN)
    }

    /// Whether the record can be dropped at `now`: nothing in it is visible, and nothing in it
    /// (deletion, write or expiry) is newer than `now - grace`, so no late write it shadows is
    /// still expected.
    pub fn is_purgeable(&self, now: i64, grace: i64) -> bool {
        !self.is_live(now) && self.settled_at().saturating_add(grace) <= now
    }

    /// The stored bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_extend(self, vec![FORMAT])
            .map_err(|err| StoreError::backend_with("cannot encode a row", err))
    }

    /// Reads stored bytes back.
    pub fn decode(bytes: &[u8]) -> Result<Record> {
        match bytes.split_first() {
            Some((&FORMAT, body)) => postcard::from_bytes(body)
                .map_err(|err| StoreError::backend_with("a stored row is corrupt", err)),
            _ => Err(StoreError::backend(
                "a stored row has an unknown format; was it written by a newer version?",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(timestamp: i64) -> Stamp {
        Stamp {
            timestamp,
            expires_at: None,
        }
    }

    fn write(timestamp: i64, cells: &[(&str, Value)]) -> Record {
        let cells = cells.iter().map(|(n, v)| ((*n).to_owned(), v.clone()));
        Record::write(stamp(timestamp), cells.collect())
    }

    fn merged(records: &[Record]) -> Record {
        let mut out = Record::default();
        for record in records {
            out.merge(record.clone());
        }
        out
    }

    #[test]
    fn merge_is_independent_of_arrival_order() {
        let writes = [
            write(5, &[("a", Value::Int(1)), ("b", Value::Int(1))]),
            write(5, &[("a", Value::Int(2))]),
            write(7, &[("b", Value::Null)]),
            write(3, &[("c", Value::Text("old".into()))]),
            Record::deletion(4),
            write(5, &[("a", Value::Null)]),
        ];
        let expected = merged(&writes);
        // Every rotation and the reverse give the same record.
        for shift in 0..writes.len() {
            let mut order = writes.to_vec();
            order.rotate_left(shift);
            assert_eq!(merged(&order), expected, "rotation {shift}");
            order.reverse();
            assert_eq!(merged(&order), expected, "reversed rotation {shift}");
        }
        // At timestamp 5 the null (a deletion) beats both values; c was deleted at 4.
        assert_eq!(expected.clone().into_visible(0), Some(BTreeMap::new()));
        assert_eq!(expected.deleted_at, Some(4));
    }

    #[test]
    fn older_writes_lose_per_cell_and_deletions_shadow_older_writes() {
        let mut record = write(10, &[("a", Value::Int(10))]);
        record.merge(write(5, &[("a", Value::Int(5)), ("b", Value::Int(5))]));
        let cells = record.clone().into_visible(0).unwrap();
        assert_eq!(cells.get("a"), Some(&Value::Int(10)));
        assert_eq!(cells.get("b"), Some(&Value::Int(5)));
        record.merge(Record::deletion(10));
        assert!(!record.is_live(0));
        record.merge(write(9, &[("a", Value::Int(9))]));
        assert!(!record.is_live(0));
        record.merge(write(11, &[]));
        assert_eq!(record.into_visible(0), Some(BTreeMap::new()));
    }

    #[test]
    fn expiry_hides_and_grace_purges() {
        let mut record = Record::write(
            Stamp {
                timestamp: 100,
                expires_at: Some(200),
            },
            BTreeMap::from([("a".to_owned(), Value::Int(1))]),
        );
        assert!(record.is_live(199));
        assert!(!record.is_live(200));
        assert!(!record.is_purgeable(199, 0));
        assert!(record.is_purgeable(200, 0));
        assert!(!record.is_purgeable(200, 50));
        assert!(record.is_purgeable(250, 50));
        record.merge(write(150, &[("b", Value::Int(2))]));
        assert_eq!(
            record.clone().into_visible(300),
            Some(BTreeMap::from([("b".to_owned(), Value::Int(2))]))
        );
        assert!(!record.is_purgeable(i64::MAX, 0));
    }

    #[test]
    fn visible_until_agrees_with_is_live() {
        let brief = Stamp {
            timestamp: 100,
            expires_at: Some(200),
        };
        let mut record = Record::write(brief, BTreeMap::from([("a".to_owned(), Value::Int(1))]));
        assert_eq!(record.visible_until(), 200);
        record.merge(Record::write(
            Stamp {
                timestamp: 150,
                expires_at: Some(300),
            },
            BTreeMap::from([("b".to_owned(), Value::Null)]),
        ));
        // A deleted cell keeps nothing visible, but the write's marker does.
        assert_eq!(record.visible_until(), 300);
        for now in [199, 200, 299, 300] {
            assert_eq!(
                record.is_live(now),
                record.visible_until() > now,
                "at {now}"
            );
        }
        record.merge(write(160, &[]));
        assert_eq!(record.visible_until(), i64::MAX);
        assert!(record.delete(1_000, 0), "it was visible");
        assert_eq!(record.visible_until(), i64::MIN);
        assert_eq!(record.settled_at(), 1_000);
        assert!(!record.delete(1_000, 0), "already deleted");
        assert_eq!(record.deleted_at, Some(1_001));
    }

    #[test]
    fn records_round_trip_and_unknown_formats_are_refused() {
        let record = write(
            1,
            &[("a", Value::Bytes(vec![0, 1])), ("b", Value::Float(-0.5))],
        );
        assert_eq!(Record::decode(&record.encode().unwrap()).unwrap(), record);
        assert!(Record::decode(&[]).is_err());
        assert!(Record::decode(&[9, 0]).is_err());
        assert!(Record::decode(&[FORMAT, 0xFF, 0xFF]).is_err());
    }
}
