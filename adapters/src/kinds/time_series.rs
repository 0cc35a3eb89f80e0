//! Time-series stores: timestamped points with tags, queried by time range and aggregated by
//! window.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Result, StoreError};

/// A field value of a point.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// A float.
    Float(f64),
    /// A signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Text(String),
}

impl FieldValue {
    /// The value as a float, for numeric aggregation (`Bool` and `Text` have none).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Float(v) => Some(*v),
            FieldValue::Int(v) => Some(*v as f64),
            FieldValue::Bool(_) | FieldValue::Text(_) => None,
        }
    }
}

/// The longest measurement, tag name or field name accepted, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 256;

/// The longest tag value accepted, in bytes of UTF-8.
pub const MAX_TAG_VALUE_BYTES: usize = 256;

/// The most bytes a series key may hold: its measurement and every tag name and value
/// together. A series is one key in every backend (a PostgreSQL unique B-tree entry is the
/// smallest, below 2 704 bytes with its encoding).
pub const MAX_SERIES_KEY_BYTES: usize = 2048;

/// Refuses `text`, the value of `field`, when it is longer than `max` bytes.
fn check_len(field: &str, text: &str, max: usize) -> Result<()> {
    if text.len() > max {
        return Err(StoreError::invalid(format!(
            "{field} is {} bytes long: it may be at most {max} bytes; use a shorter one",
            text.len()
        )));
    }
    Ok(())
}

/// One measurement at one instant: the InfluxDB data model.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// What is measured (`cpu`, `http_requests`).
    pub measurement: String,
    /// Indexed dimensions that identify the series (`host = "web-1"`).
    pub tags: BTreeMap<String, String>,
    /// The measured values; at least one.
    pub fields: BTreeMap<String, FieldValue>,
    /// Nanoseconds since the Unix epoch (UTC).
    pub timestamp: i64,
}

impl Point {
    /// Checks the shape every backend requires of a point: a measurement, at least one field,
    /// non-empty field names, and tags with non-empty names and values, each within the size
    /// limits ([`MAX_NAME_BYTES`], [`MAX_TAG_VALUE_BYTES`], [`MAX_SERIES_KEY_BYTES`]).
    pub fn check_shape(&self) -> Result<()> {
        if self.measurement.is_empty() {
            return Err(StoreError::invalid(
                "a point's measurement must not be empty",
            ));
        }
        check_len("`measurement`", &self.measurement, MAX_NAME_BYTES)?;
        let mut series_key = self.measurement.len();
        for (tag, value) in &self.tags {
            check_len("a tag name", tag, MAX_NAME_BYTES)?;
            check_len(
                &format!("the value of tag `{tag}`"),
                value,
                MAX_TAG_VALUE_BYTES,
            )?;
            series_key += tag.len() + value.len();
        }
        if series_key > MAX_SERIES_KEY_BYTES {
            return Err(StoreError::invalid(format!(
                "the series key of a point of `{}` (its measurement, tag names and values) is \
                 {series_key} bytes: it may be at most {MAX_SERIES_KEY_BYTES}; use fewer or \
                 shorter tags",
                self.measurement
            )));
        }
        for field in self.fields.keys() {
            check_len("a field name", field, MAX_NAME_BYTES)?;
        }
        if self.fields.is_empty() {
            return Err(StoreError::invalid(format!(
                "a point of `{}` has no fields; write at least one field",
                self.measurement
            )));
        }
        if let Some((tag, _)) = self.tags.iter().find(|(k, v)| k.is_empty() || v.is_empty()) {
            return Err(StoreError::invalid(format!(
                "tag `{tag}` of a point of `{}` has an empty name or value; omit the tag instead",
                self.measurement
            )));
        }
        if self.fields.keys().any(String::is_empty) {
            return Err(StoreError::invalid(format!(
                "a point of `{}` has a field with an empty name",
                self.measurement
            )));
        }
        Ok(())
    }
}

/// A tag condition: every listed tag must have one of its listed values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// Tag name to accepted values; an empty map matches every series.
    pub any_of: BTreeMap<String, Vec<String>>,
}

impl TagFilter {
    /// Matches every series.
    pub fn all() -> Self {
        TagFilter::default()
    }

    /// Adds the condition `tag == value`.
    pub fn eq(mut self, tag: &str, value: &str) -> Self {
        self.any_of
            .entry(tag.to_owned())
            .or_default()
            .push(value.to_owned());
        self
    }

    /// Whether a series with `tags` matches.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        self.any_of
            .iter()
            .all(|(tag, values)| tags.get(tag).is_some_and(|v| values.contains(v)))
    }
}

/// Points of one measurement in `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeQuery {
    /// The measurement.
    pub measurement: String,
    /// Inclusive start, nanoseconds since the epoch.
    pub start: i64,
    /// Exclusive end, nanoseconds since the epoch.
    pub end: i64,
    /// Which series.
    pub tags: TagFilter,
    /// Which fields to return; empty returns all.
    pub fields: Vec<String>,
    /// At most this many points per series, oldest first.
    pub limit: Option<usize>,
}

impl RangeQuery {
    /// The query of the page that starts at `start` (inclusive), as [`cut_page`] gives it:
    /// the same query, its range narrowed.
    pub fn next_page(&self, start: i64) -> Self {
        let mut next = self.clone();
        next.start = start;
        next
    }
}

/// Cuts the answer to a range read with a limit of `limit + 1` points per series into a page
/// of at most `limit` points per series, and returns the start of the next page (`None` when
/// the range holds nothing more).
///
/// When a series had more than `limit` points, every series is cut at the earliest instant
/// where one was, so the page holds exactly the range's points before that instant: the next
/// page ([`RangeQuery::next_page`]) starts there, and following pages reads every point once.
/// Points of one series have distinct timestamps, so each page moves the start forward. Series
/// left without points are dropped, as a range drops them.
pub fn cut_page(series: &mut Vec<SeriesData>, limit: usize) -> Option<i64> {
    let cut = series
        .iter()
        .filter_map(|data| data.timestamps.get(limit).copied())
        .min()?;
    for data in series.iter_mut() {
        let keep = data.timestamps.partition_point(|&at| at < cut);
        data.timestamps.truncate(keep);
        for column in data.fields.values_mut() {
            column.truncate(keep);
        }
        // A requested field with no value left is no longer in the page.
        data.fields
            .retain(|_, column| column.iter().any(Option::is_some));
    }
    series.retain(|data| !data.timestamps.is_empty());
    Some(cut)
}

/// The points of one series, in time order, stored as columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesData {
    /// The series' tags.
    pub tags: BTreeMap<String, String>,
    /// Timestamps, ascending.
    pub timestamps: Vec<i64>,
    /// One column per field, aligned with `timestamps`; `None` where a point lacks the field.
    pub fields: BTreeMap<String, Vec<Option<FieldValue>>>,
}

/// An aggregate function over one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Arithmetic mean.
    Mean,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum.
    Sum,
    /// Number of values.
    Count,
    /// Value with the earliest timestamp.
    First,
    /// Value with the latest timestamp.
    Last,
}

/// One numeric field of one measurement, aggregated per fixed window and grouped by tags.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowQuery {
    /// The measurement.
    pub measurement: String,
    /// The field to aggregate.
    pub field: String,
    /// Inclusive start, nanoseconds since the epoch.
    pub start: i64,
    /// Exclusive end, nanoseconds since the epoch.
    pub end: i64,
    /// Window width; windows are aligned to the Unix epoch.
    pub every: Duration,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// Tags to group by; empty folds every matching series into one group.
    pub group_by: Vec<String>,
    /// Which series.
    pub tags: TagFilter,
}

/// The windows of one group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowSeries {
    /// The group's values of the `group_by` tags.
    pub group: BTreeMap<String, String>,
    /// `(window start, aggregate)` for every window with at least one value, ascending.
    pub windows: Vec<(i64, f64)>,
}

/// The newest point of one series.
///
/// Tags and fields are shared, not owned: a store that keeps every series' newest point in
/// memory answers "the last point of each of 1 000 hosts" by handing out references, where
/// owned maps would cost two dozen allocations per series on every call.
#[derive(Clone, Debug, PartialEq)]
pub struct LastPoint {
    /// The series' tags.
    pub tags: Arc<BTreeMap<String, String>>,
    /// The point's timestamp.
    pub timestamp: i64,
    /// The point's fields.
    pub fields: Arc<BTreeMap<String, FieldValue>>,
}

/// Settings of one time-series entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeSeriesSettings {
    /// Drop points older than this.
    pub retention: Option<Duration>,
}

/// A time-series store, scoped to one entity.
///
/// The contract every backend keeps (the behaviour suite checks it):
///
/// - a series is a measurement plus its tag set; points of one series at the same timestamp
///   are one point, and a later write overwrites the fields it names and keeps the others;
/// - a field keeps one type per measurement: writing another type is an invalid request;
/// - a batch is applied whole or not at all; a point needs a non-empty measurement and at least
///   one field, and tag names and values are non-empty;
/// - series, groups and last points come back ordered by tag set, points by time;
/// - with a retention, points older than now minus it are invisible to every read.
#[async_trait]
pub trait TimeSeriesStore: Send + Sync + fmt::Debug {
    /// Writes points; late and out-of-order points are accepted.
    async fn write(&self, points: Vec<Point>) -> Result<()>;

    /// Raw points per series with at least one point (with a requested field) in the range;
    /// an empty or inverted range returns nothing.
    async fn range(&self, query: &RangeQuery) -> Result<Vec<SeriesData>>;

    /// Window aggregates per group. A series without one of the `group_by` tags joins the group
    /// that lacks it. A field that holds booleans or strings is an invalid request, and so is a
    /// zero `every`; an unknown field returns nothing.
    async fn window(&self, query: &WindowQuery) -> Result<Vec<WindowSeries>>;

    /// The newest point of every series of `measurement` matching `tags`.
    async fn last(&self, measurement: &str, tags: &TagFilter) -> Result<Vec<LastPoint>>;

    /// Deletes every point older than `before` (nanoseconds since the epoch); returns how many
    /// points were removed where the backend can tell, else 0.
    async fn delete_before(&self, before: i64) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn point(measurement: &str, tags: &[(&str, &str)], field: &str) -> Point {
        Point {
            measurement: measurement.to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            fields: BTreeMap::from([(field.to_owned(), FieldValue::Float(1.0))]),
            timestamp: 0,
        }
    }

    fn series(host: &str, timestamps: &[i64]) -> SeriesData {
        SeriesData {
            tags: BTreeMap::from([("host".to_owned(), host.to_owned())]),
            timestamps: timestamps.to_vec(),
            fields: BTreeMap::from([(
                "f".to_owned(),
                timestamps
                    .iter()
                    .map(|&t| Some(FieldValue::Int(t)))
                    .collect(),
            )]),
        }
    }

    #[test]
    fn a_page_is_cut_at_the_earliest_cut_of_any_series() {
        // Limit 2, read with 3: `a` was cut at 30, `b` at 25; `c` was not cut.
        let mut page = vec![
            series("a", &[10, 20, 30]),
            series("b", &[5, 15, 25]),
            series("c", &[26, 40]),
        ];
        assert_eq!(cut_page(&mut page, 2), Some(25));
        assert_eq!(page, vec![series("a", &[10, 20]), series("b", &[5, 15])]);
        // Nothing was cut: the range is done.
        let mut last = vec![series("a", &[30]), series("c", &[26, 40])];
        assert_eq!(cut_page(&mut last, 2), None);
        assert_eq!(last.len(), 2);
        let query = RangeQuery {
            measurement: "m".into(),
            start: 0,
            end: 100,
            tags: TagFilter::all(),
            fields: Vec::new(),
            limit: Some(3),
        };
        assert_eq!(query.next_page(25).start, 25);
        assert_eq!(query.next_page(25).end, 100);
    }

    #[test]
    fn names_tags_and_series_keys_are_bounded() {
        let name = "m".repeat(MAX_NAME_BYTES);
        let value = "v".repeat(MAX_TAG_VALUE_BYTES);
        assert!(point(&name, &[(&name, &value)], &name)
            .check_shape()
            .is_ok());
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        let long_value = "v".repeat(MAX_TAG_VALUE_BYTES + 1);
        for (bad, what) in [
            (point(&long, &[], "f"), "`measurement`"),
            (point("m", &[(&long, "v")], "f"), "tag name"),
            (point("m", &[("t", &long_value)], "f"), "tag `t`"),
            (point("m", &[], &long), "field name"),
        ] {
            let err = bad.check_shape().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert!(err.to_string().contains(what), "{err}");
        }
        let tags: Vec<(String, String)> = (0..10)
            .map(|i| (format!("tag{i}"), value.clone()))
            .collect();
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let err = point("m", &tags, "f").check_shape().unwrap_err();
        assert!(err.to_string().contains("series key"), "{err}");
    }
}
