//! One entity's data in memory: the series index and the time partitions, each holding one
//! [`Chunk`] per series. Everything here is synchronous; the caller holds the entity's lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::block::FieldType;
use super::chunk::{Chunk, Columns, Span, BLOCK_POINTS};
use super::codec::Corrupt;
use super::series::{Index, SeriesId, Tags};
use crate::kinds::time_series::{
    Aggregate, FieldValue, LastPoint, Point, RangeQuery, SeriesData, TagFilter, WindowQuery,
    WindowSeries,
};
use crate::{Result, StoreError};

/// The series of one time partition.
#[derive(Debug, Default)]
pub(crate) struct Partition {
    pub(crate) chunks: HashMap<SeriesId, Chunk>,
    /// Changed since its segment file was last written.
    pub(crate) dirty: bool,
}

/// An entity's points.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) index: Index,
    /// Partitions by number: a point at `t` is in partition `t.div_euclid(width)`.
    pub(crate) partitions: BTreeMap<i64, Partition>,
    /// Partitions dropped whose segment files are still to be removed.
    pub(crate) dropped: BTreeSet<i64>,
    /// The partition each series last wrote to.
    writing: HashMap<SeriesId, i64>,
    /// The newest point of every series that has one: `last` reads it here instead of
    /// decoding a block per series. Kept by `apply` and the deletes, rebuilt by
    /// [`State::index_latest`] after segment files are loaded.
    latest: HashMap<SeriesId, Latest>,
    width: i64,
}

/// The newest point of one series: its timestamp and every field written at it, shared with
/// the last points handed out (a read copies no field).
#[derive(Debug, PartialEq)]
struct Latest {
    timestamp: i64,
    fields: Arc<BTreeMap<String, FieldValue>>,
}

pub(crate) fn corrupt(err: Corrupt) -> StoreError {
    StoreError::backend_with("time-series data failed to decode", err)
}

impl State {
    pub(crate) fn new(width: i64) -> State {
        State {
            index: Index::default(),
            partitions: BTreeMap::new(),
            dropped: BTreeSet::new(),
            writing: HashMap::new(),
            latest: HashMap::new(),
            width: width.max(1),
        }
    }

    /// Checks a batch before anything of it is written: a batch is applied whole or not at all.
    pub(crate) fn validate(&self, points: &[Point]) -> Result<()> {
        let mut types: HashMap<(&str, &str), FieldType> = HashMap::new();
        for point in points {
            point.check_shape()?;
            for (name, value) in &point.fields {
                let kind = FieldType::of(value);
                let known = self.index.field_type(&point.measurement, name).or_else(|| {
                    types
                        .get(&(point.measurement.as_str(), name.as_str()))
                        .copied()
                });
                match known {
                    Some(known) if known != kind => {
                        return Err(StoreError::invalid(format!(
                            "field `{name}` of `{}` holds {} values; this point writes a {} (a field keeps one type)",
                            point.measurement,
                            known.name(),
                            kind.name()
                        )))
                    }
                    Some(_) => {}
                    None => {
                        types.insert((&point.measurement, name), kind);
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds validated points to the heads.
    pub(crate) fn apply(&mut self, points: Vec<Point>) -> Result<()> {
        for point in points {
            let id = self.index.intern(&point.measurement, &point.tags);
            for (name, value) in &point.fields {
                self.index
                    .set_field_type(&point.measurement, name, FieldType::of(value));
            }
            let number = point.timestamp.div_euclid(self.width);
            // A series moving to another partition seals the head it leaves: partitions that
            // stop receiving writes are read as compressed columns, not as rows.
            if let Some(left) = self.writing.insert(id, number).filter(|n| *n != number) {
                if let Some(chunk) = self
                    .partitions
                    .get_mut(&left)
                    .and_then(|p| p.chunks.get_mut(&id))
                {
                    chunk.seal().map_err(corrupt)?;
                }
            }
            self.note_latest(id, point.timestamp, &point.fields);
            let partition = self.partitions.entry(number).or_default();
            partition.dirty = true;
            let chunk = partition.chunks.entry(id).or_default();
            chunk.push(point.timestamp, point.fields);
            if chunk.head_len() >= BLOCK_POINTS {
                chunk.seal().map_err(corrupt)?;
            }
        }
        Ok(())
    }

    /// Keeps `latest` up to date with a point of series `id` at `timestamp`: a newer point
    /// replaces it, one at the same time overwrites the fields it names (as the chunk does).
    fn note_latest(&mut self, id: SeriesId, timestamp: i64, fields: &BTreeMap<String, FieldValue>) {
        match self.latest.get_mut(&id) {
            Some(latest) if latest.timestamp > timestamp => {}
            Some(latest) if latest.timestamp == timestamp => {
                Arc::make_mut(&mut latest.fields)
                    .extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => {
                self.latest.insert(
                    id,
                    Latest {
                        timestamp,
                        fields: Arc::new(fields.clone()),
                    },
                );
            }
        }
    }

    /// Finds the newest point of every series from its chunks: once, after the segment files
    /// are loaded (the log's writes then go through `apply`, which keeps it).
    pub(crate) fn index_latest(&mut self) -> Result<()> {
        self.latest = self.latest_from_chunks()?;
        Ok(())
    }

    /// The newest point of every series, as its chunks hold it.
    fn latest_from_chunks(&self) -> Result<HashMap<SeriesId, Latest>> {
        let mut latest = HashMap::new();
        for partition in self.partitions.values() {
            for (id, chunk) in &partition.chunks {
                // Partitions go oldest first: a later partition's newest point wins.
                if let Some((timestamp, fields)) = chunk.last().map_err(corrupt)? {
                    latest.insert(
                        *id,
                        Latest {
                            timestamp,
                            fields: Arc::new(fields),
                        },
                    );
                }
            }
        }
        Ok(latest)
    }

    /// Forgets the newest point of series whose points all went: those whose newest point is
    /// before `before`.
    fn forget_latest_before(&mut self, before: i64) {
        self.latest.retain(|_, latest| latest.timestamp >= before);
    }

    /// Seals the head of every chunk of the changed partitions.
    pub(crate) fn seal_dirty(&mut self) -> Result<()> {
        for partition in self.partitions.values_mut().filter(|p| p.dirty) {
            for chunk in partition.chunks.values_mut() {
                chunk.seal().map_err(corrupt)?;
            }
        }
        Ok(())
    }

    /// Removes every point before `before`: whole partitions where they end before it, and the
    /// older part of the partition holding it. Returns the number of points removed.
    pub(crate) fn delete_before(&mut self, before: i64) -> Result<u64> {
        self.forget_latest_before(before);
        let boundary = before.div_euclid(self.width);
        let mut removed = 0u64;
        let older: Vec<i64> = self.partitions.range(..boundary).map(|(k, _)| *k).collect();
        for number in older {
            if let Some(mut partition) = self.partitions.remove(&number) {
                for chunk in partition.chunks.values_mut() {
                    chunk.seal().map_err(corrupt)?;
                    removed += chunk.points() as u64;
                }
                self.dropped.insert(number);
            }
        }
        if let Some(partition) = self.partitions.get_mut(&boundary) {
            for chunk in partition.chunks.values_mut() {
                chunk.seal().map_err(corrupt)?;
                let gone = chunk.delete_before(before).map_err(corrupt)?;
                if gone > 0 {
                    partition.dirty = true;
                }
                removed += gone as u64;
            }
            partition.chunks.retain(|_, c| c.points() > 0);
            if partition.chunks.is_empty() {
                self.partitions.remove(&boundary);
                self.dropped.insert(boundary);
            }
        }
        Ok(removed)
    }

    /// Drops the partitions that end at or before `cutoff`: retention works in whole partitions,
    /// and queries hide the older points of the partition holding the cutoff.
    pub(crate) fn drop_partitions_before(&mut self, cutoff: i64) {
        let boundary = cutoff.div_euclid(self.width);
        let first_kept = boundary.saturating_mul(self.width);
        self.forget_latest_before(first_kept);
        while let Some(entry) = self.partitions.first_entry() {
            if *entry.key() >= boundary {
                break;
            }
            self.dropped.insert(entry.remove_entry().0);
        }
    }

    /// The partitions overlapping `span`, oldest first.
    fn partitions_in(&self, span: &Span) -> impl Iterator<Item = &Partition> {
        let (first, last) = (
            span.first.div_euclid(self.width),
            span.last.div_euclid(self.width),
        );
        self.partitions.range(first..=last).map(|(_, p)| p)
    }

    /// The rows of one series in `span`, across partitions.
    fn series_rows(&self, id: SeriesId, span: &Span, fields: &[String]) -> Result<Columns> {
        let mut out = Columns::default();
        for partition in self.partitions_in(span) {
            crate::work::checkpoint()?;
            if let Some(chunk) = partition.chunks.get(&id) {
                let rows = chunk.read(span, fields).map_err(corrupt)?;
                append(&mut out, rows);
            }
        }
        Ok(out)
    }

    /// Raw points of each matching series in `span`, in the order of the series' tags.
    pub(crate) fn range(&self, query: &RangeQuery, span: Option<Span>) -> Result<Vec<SeriesData>> {
        let Some(span) = span else {
            return Ok(Vec::new());
        };
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for id in self.index.select(&query.measurement, &query.tags) {
            let mut rows = self.series_rows(id, &span, &query.fields)?;
            if rows.is_empty() {
                continue;
            }
            if let Some(limit) = query.limit {
                rows.timestamps.truncate(limit);
                for values in rows.fields.values_mut() {
                    values.truncate(limit);
                }
                rows.fields.retain(|_, v| v.iter().any(Option::is_some));
            }
            let tags = self
                .index
                .key(id)
                .map(|k| Tags::clone(&k.1))
                .unwrap_or_default();
            out.push(SeriesData {
                tags,
                timestamps: rows.timestamps,
                fields: rows.fields,
            });
        }
        Ok(out)
    }

    pub(crate) fn window(
        &self,
        query: &WindowQuery,
        span: Option<Span>,
        every: i64,
    ) -> Result<Vec<WindowSeries>> {
        if let Some(kind) = self.index.field_type(&query.measurement, &query.field) {
            if !matches!(kind, FieldType::Float | FieldType::Int) {
                return Err(StoreError::invalid(format!(
                    "field `{}` of `{}` holds {} values; window aggregates need a float or integer field",
                    query.field,
                    query.measurement,
                    kind.name()
                )));
            }
        }
        let Some(span) = span else {
            return Ok(Vec::new());
        };
        let mut groups: BTreeMap<BTreeMap<String, String>, BTreeMap<i64, Acc>> = BTreeMap::new();
        for id in self.index.select(&query.measurement, &query.tags) {
            let tags = self.index.key(id).map(|k| &k.1);
            let group = query
                .group_by
                .iter()
                .filter_map(|tag| Some((tag.clone(), tags?.get(tag)?.clone())))
                .collect();
            let windows = groups.entry(group).or_default();
            // Values arrive in time order: fold a run of one window before touching the map.
            let mut run: Option<(i64, Acc)> = None;
            for partition in self.partitions_in(&span) {
                crate::work::checkpoint()?;
                if let Some(chunk) = partition.chunks.get(&id) {
                    chunk
                        .fold(&span, &query.field, |t, v| {
                            let start = window_start(t, every);
                            match &mut run {
                                Some((current, acc)) if *current == start => acc.add(t, v),
                                _ => {
                                    if let Some((current, acc)) = run.take() {
                                        windows.entry(current).or_insert_with(Acc::new).merge(&acc);
                                    }
                                    let mut acc = Acc::new();
                                    acc.add(t, v);
                                    run = Some((start, acc));
                                }
                            }
                        })
                        .map_err(corrupt)?;
                }
            }
            if let Some((current, acc)) = run {
                windows.entry(current).or_insert_with(Acc::new).merge(&acc);
            }
        }
        Ok(groups
            .into_iter()
            .filter(|(_, windows)| !windows.is_empty())
            .map(|(group, windows)| WindowSeries {
                group,
                windows: windows
                    .into_iter()
                    .map(|(start, acc)| (start, acc.finish(query.aggregate)))
                    .collect(),
            })
            .collect())
    }

    /// The newest point of each matching series, among points at or after `visible_from`, in
    /// the order of the series' tags. Each is handed out shared: no tag or field is copied.
    pub(crate) fn last(
        &self,
        measurement: &str,
        tags: &TagFilter,
        visible_from: i64,
    ) -> Result<Vec<LastPoint>> {
        let selected = self.index.select(measurement, tags);
        let mut out = Vec::with_capacity(selected.len());
        for id in selected {
            crate::work::checkpoint()?;
            let Some(latest) = self.latest.get(&id) else {
                continue;
            };
            if latest.timestamp < visible_from {
                continue;
            }
            let tags = self
                .index
                .key(id)
                .map(|k| Arc::clone(&k.1))
                .unwrap_or_default();
            out.push(LastPoint {
                tags,
                timestamp: latest.timestamp,
                fields: Arc::clone(&latest.fields),
            });
        }
        Ok(out)
    }
}

/// Appends rows of a later partition.
fn append(out: &mut Columns, rows: Columns) {
    if out.is_empty() {
        *out = rows;
        return;
    }
    let (before, added) = (out.timestamps.len(), rows.timestamps.len());
    out.timestamps.extend(rows.timestamps);
    for (name, values) in rows.fields {
        out.fields
            .entry(name)
            .or_insert_with(|| vec![None; before])
            .extend(values);
    }
    for column in out.fields.values_mut() {
        column.resize(before + added, None);
    }
}

/// The start of the epoch-aligned window of width `every` holding `t`.
fn window_start(t: i64, every: i64) -> i64 {
    let start = i128::from(t.div_euclid(every)) * i128::from(every);
    i64::try_from(start).unwrap_or(i64::MIN)
}

/// A running aggregate over one window: every aggregate is kept, they are cheap.
struct Acc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: (i64, f64),
    last: (i64, f64),
}

impl Acc {
    fn new() -> Acc {
        Acc {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: (i64::MAX, 0.0),
            last: (i64::MIN, 0.0),
        }
    }

    fn add(&mut self, t: i64, v: f64) {
        if self.count == 0 || t < self.first.0 {
            self.first = (t, v);
        }
        if self.count == 0 || t >= self.last.0 {
            self.last = (t, v);
        }
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Folds in another accumulator of the same window.
    fn merge(&mut self, other: &Acc) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.first.0 < self.first.0 {
            self.first = other.first;
        }
        if self.count == 0 || other.last.0 >= self.last.0 {
            self.last = other.last;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    fn finish(&self, aggregate: Aggregate) -> f64 {
        match aggregate {
            Aggregate::Mean => self.sum / self.count as f64,
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::Sum => self.sum,
            Aggregate::Count => self.count as f64,
            Aggregate::First => self.first.1,
            Aggregate::Last => self.last.1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(host: u64, field: &str, value: i64, timestamp: i64) -> Point {
        Point {
            measurement: "cpu".into(),
            tags: [("host".to_owned(), format!("h{host}"))].into(),
            fields: [(field.to_owned(), FieldValue::Int(value))].into(),
            timestamp,
        }
    }

    #[test]
    fn the_kept_newest_points_agree_with_the_chunks_through_writes_and_deletes() {
        let mut state = State::new(100);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for round in 0..400 {
            match next(10) {
                0 => {
                    let before = next(2_000) as i64;
                    state.delete_before(before).unwrap();
                }
                1 => {
                    let cutoff = next(2_000) as i64;
                    state.drop_partitions_before(cutoff);
                }
                _ => {
                    let points = (0..next(20))
                        .map(|i| {
                            let field = if next(2) == 0 { "a" } else { "b" };
                            point(next(8), field, round * 100 + i as i64, next(2_000) as i64)
                        })
                        .collect();
                    state.apply(points).unwrap();
                }
            }
            assert_eq!(
                state.latest,
                state.latest_from_chunks().unwrap(),
                "round {round}"
            );
        }
        // Sealed into blocks, as segment files hold them, the chunks still agree: what
        // `index_latest` reads back after a restart is what was kept.
        state.seal_dirty().unwrap();
        assert_eq!(state.latest, state.latest_from_chunks().unwrap());
    }
}
