//! The data of one series in one partition: sealed blocks (sorted, disjoint in time) plus a
//! head of recent writes in arrival order. Reads merge the two; a write to a timestamp that
//! already has a point overwrites the fields it names and keeps the others.

use std::collections::BTreeMap;

use super::block::{Block, Values};
use super::codec::Decoded;
use crate::kinds::time_series::FieldValue;

/// Points per sealed block.
pub(crate) const BLOCK_POINTS: usize = 1024;

/// Rows as columns: timestamps ascending and distinct, each field aligned with them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Columns {
    pub(crate) timestamps: Vec<i64>,
    pub(crate) fields: BTreeMap<String, Values>,
}

impl Columns {
    /// The rows with a timestamp in `span`.
    fn slice(mut self, span: &Span) -> Columns {
        let from = self.timestamps.partition_point(|t| *t < span.first);
        let to = self.timestamps.partition_point(|t| *t <= span.last);
        if from == 0 && to == self.timestamps.len() {
            return self;
        }
        self.timestamps = self.timestamps[from..to].to_vec();
        for values in self.fields.values_mut() {
            *values = values[from..to].to_vec();
        }
        self.fields.retain(|_, v| v.iter().any(Option::is_some));
        self
    }

    /// Appends `later`, whose rows all come after these.
    fn append(&mut self, later: Columns) {
        let (before, added) = (self.timestamps.len(), later.timestamps.len());
        self.timestamps.extend(later.timestamps);
        for (name, values) in later.fields {
            let column = self
                .fields
                .entry(name)
                .or_insert_with(|| vec![None; before]);
            column.extend(values);
        }
        for column in self.fields.values_mut() {
            column.resize(before + added, None);
        }
    }

    /// These rows with `newer` merged in: on equal timestamps the newer fields win.
    fn merge(self, newer: Columns) -> Columns {
        if newer.timestamps.is_empty() {
            return self;
        }
        if self
            .timestamps
            .last()
            .zip(newer.timestamps.first())
            .is_none_or(|(last, first)| last < first)
        {
            let mut out = self;
            out.append(newer);
            return out;
        }
        let mut rows: BTreeMap<i64, BTreeMap<String, FieldValue>> = BTreeMap::new();
        for source in [self, newer] {
            for (i, t) in source.timestamps.iter().enumerate() {
                let row = rows.entry(*t).or_default();
                for (name, values) in &source.fields {
                    if let Some(Some(v)) = values.get(i) {
                        row.insert(name.clone(), v.clone());
                    }
                }
            }
        }
        from_rows(rows)
    }

    /// Keeps only the named fields (all when `names` is empty) and the rows that have one.
    pub(crate) fn project(mut self, names: &[String]) -> Columns {
        if names.is_empty() {
            return self;
        }
        self.fields.retain(|name, _| names.contains(name));
        let keep: Vec<bool> = (0..self.timestamps.len())
            .map(|i| self.fields.values().any(|v| v[i].is_some()))
            .collect();
        if keep.iter().all(|k| *k) {
            return self;
        }
        let filter = |v: Vec<Option<FieldValue>>| {
            v.into_iter()
                .zip(&keep)
                .filter_map(|(x, k)| k.then_some(x))
                .collect()
        };
        self.timestamps = self
            .timestamps
            .into_iter()
            .zip(&keep)
            .filter_map(|(t, k)| k.then_some(t))
            .collect();
        for values in self.fields.values_mut() {
            *values = filter(std::mem::take(values));
        }
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}

fn from_rows(rows: BTreeMap<i64, BTreeMap<String, FieldValue>>) -> Columns {
    columns_of(rows.iter().map(|(t, row)| (*t, row)))
}

/// Columns of rows already in time order with distinct timestamps.
fn columns_of<'a>(rows: impl Iterator<Item = (i64, &'a BTreeMap<String, FieldValue>)>) -> Columns {
    let mut out = Columns::default();
    for (i, (t, row)) in rows.enumerate() {
        out.timestamps.push(t);
        for (name, value) in row {
            let column = match out.fields.get_mut(name) {
                Some(column) => column,
                None => out.fields.entry(name.clone()).or_insert_with(Vec::new),
            };
            column.resize(i, None);
            column.push(Some(value.clone()));
        }
    }
    let n = out.timestamps.len();
    for column in out.fields.values_mut() {
        column.resize(n, None);
    }
    out
}

/// One series in one partition.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    blocks: Vec<Block>,
    head: Vec<(i64, BTreeMap<String, FieldValue>)>,
    /// Some head row is not strictly after the row before it (or the sealed blocks): reads
    /// must sort and merge the head instead of taking it as it is.
    disordered: bool,
}

impl Chunk {
    pub(crate) fn from_blocks(blocks: Vec<Block>) -> Chunk {
        Chunk {
            blocks,
            head: Vec::new(),
            disordered: false,
        }
    }

    pub(crate) fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub(crate) fn head_len(&self) -> usize {
        self.head.len()
    }

    pub(crate) fn push(&mut self, timestamp: i64, fields: BTreeMap<String, FieldValue>) {
        let newest = match self.head.last() {
            Some((t, _)) => Some(*t),
            None => self.blocks.last().map(|b| b.max),
        };
        if newest.is_some_and(|newest| timestamp <= newest) {
            self.disordered = true;
        }
        self.head.push((timestamp, fields));
    }

    /// Points held: exact once sealed (the head may hold several writes of one timestamp).
    pub(crate) fn points(&self) -> usize {
        self.blocks.iter().map(|b| b.len).sum::<usize>() + self.head.len()
    }

    fn head_columns(&self, span: &Span) -> Columns {
        if !self.disordered {
            let from = self.head.partition_point(|(t, _)| *t < span.first);
            let to = self.head.partition_point(|(t, _)| *t <= span.last);
            return columns_of(self.head[from..to].iter().map(|(t, row)| (*t, row)));
        }
        let mut rows: BTreeMap<i64, BTreeMap<String, FieldValue>> = BTreeMap::new();
        for (t, fields) in self.head.iter().filter(|(t, _)| span.contains(*t)) {
            let row = rows.entry(*t).or_default();
            row.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        from_rows(rows)
    }

    /// Moves the head into sealed blocks. A head that overlaps the sealed blocks in time is
    /// merged with the blocks it overlaps, so blocks stay sorted and disjoint.
    pub(crate) fn seal(&mut self) -> Decoded<()> {
        let head = self.head_columns(&Span::ALL);
        self.head.clear();
        self.disordered = false;
        let (Some(&min), Some(&max)) = (head.timestamps.first(), head.timestamps.last()) else {
            return Ok(());
        };
        let (overlapping, kept): (Vec<Block>, Vec<Block>) = std::mem::take(&mut self.blocks)
            .into_iter()
            .partition(|b| b.max >= min && b.min <= max);
        let mut merged = Columns::default();
        for block in &overlapping {
            merged = merged.merge(decode(block)?);
        }
        let merged = merged.merge(head);
        self.blocks = kept;
        for start in (0..merged.timestamps.len()).step_by(BLOCK_POINTS) {
            let end = (start + BLOCK_POINTS).min(merged.timestamps.len());
            let fields = merged
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v[start..end].to_vec()))
                .collect();
            if let Some(block) = Block::encode(&merged.timestamps[start..end], &fields) {
                self.blocks.push(block);
            }
        }
        self.blocks.sort_by_key(|b| b.min);
        Ok(())
    }

    /// Removes the points before `before`; returns how many were removed. Seal first.
    pub(crate) fn delete_before(&mut self, before: i64) -> Decoded<usize> {
        let mut removed = 0;
        let mut kept = Vec::with_capacity(self.blocks.len());
        for block in std::mem::take(&mut self.blocks) {
            if block.min >= before {
                kept.push(block);
            } else if block.max < before {
                removed += block.len;
            } else {
                let rest = decode(&block)?.slice(&Span {
                    first: before,
                    last: i64::MAX,
                });
                removed += block.len - rest.timestamps.len();
                if let Some(block) = Block::encode(&rest.timestamps, &rest.fields) {
                    kept.push(block);
                }
            }
        }
        self.blocks = kept;
        Ok(removed)
    }

    /// The rows in `span`, with only the `fields` asked for (all when empty).
    pub(crate) fn read(&self, span: &Span, fields: &[String]) -> Decoded<Columns> {
        let mut out = Columns::default();
        for block in self
            .blocks
            .iter()
            .filter(|b| b.max >= span.first && b.min <= span.last)
        {
            let mut columns = BTreeMap::new();
            for name in block.field_names() {
                if fields.is_empty() || fields.iter().any(|f| f == name) {
                    if let Some(values) = block.column(name)? {
                        columns.insert(name.to_owned(), values);
                    }
                }
            }
            let part = Columns {
                timestamps: block.timestamps()?,
                fields: columns,
            };
            out.append(part.slice(span).project(fields));
        }
        Ok(out
            .merge(self.head_columns(span).project(fields))
            .project(fields))
    }

    /// Calls `f` with each numeric value of `field` in `span`, in time order, reading only the
    /// timestamp and `field` columns.
    pub(crate) fn fold(
        &self,
        span: &Span,
        field: &str,
        mut f: impl FnMut(i64, f64),
    ) -> Decoded<()> {
        if self.disordered {
            let rows = self.read(span, std::slice::from_ref(&field.to_owned()))?;
            if let Some(values) = rows.fields.get(field) {
                for (t, v) in rows.timestamps.iter().zip(values) {
                    if let Some(v) = v.as_ref().and_then(FieldValue::as_f64) {
                        f(*t, v);
                    }
                }
            }
            return Ok(());
        }
        for block in self
            .blocks
            .iter()
            .filter(|b| b.max >= span.first && b.min <= span.last)
        {
            let Some(values) = block.numbers(field)? else {
                continue;
            };
            let timestamps = block.timestamps()?;
            for (t, v) in timestamps.iter().zip(values) {
                if let Some(v) = v.filter(|_| span.contains(*t)) {
                    f(*t, v);
                }
            }
        }
        let from = self.head.partition_point(|(t, _)| *t < span.first);
        let to = self.head.partition_point(|(t, _)| *t <= span.last);
        for (t, row) in &self.head[from..to] {
            if let Some(v) = row.get(field).and_then(FieldValue::as_f64) {
                f(*t, v);
            }
        }
        Ok(())
    }

    /// The newest row.
    pub(crate) fn last(&self) -> Decoded<Option<(i64, BTreeMap<String, FieldValue>)>> {
        let head_max = self.head.iter().map(|(t, _)| *t).max();
        let block_max = self.blocks.last().map(|b| b.max);
        let Some(newest) = head_max.max(block_max) else {
            return Ok(None);
        };
        let mut fields = BTreeMap::new();
        if let Some(block) = self.blocks.last().filter(|b| b.max == newest) {
            let last = block.len - 1;
            for (name, values) in block.columns()? {
                if let Some(Some(v)) = values.into_iter().nth(last) {
                    fields.insert(name, v);
                }
            }
        }
        for (_, row) in self.head.iter().filter(|(t, _)| *t == newest) {
            fields.extend(row.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Ok(Some((newest, fields)))
    }
}

fn decode(block: &Block) -> Decoded<Columns> {
    Ok(Columns {
        timestamps: block.timestamps()?,
        fields: block.columns()?,
    })
}

/// An inclusive span of timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl Span {
    /// Every timestamp.
    pub(crate) const ALL: Span = Span {
        first: i64::MIN,
        last: i64::MAX,
    };

    /// `[start, end)`, or `None` when it is empty.
    pub(crate) fn half_open(start: i64, end: i64) -> Option<Span> {
        (start < end).then(|| Span {
            first: start,
            last: end - 1,
        })
    }

    pub(crate) fn contains(&self, t: i64) -> bool {
        self.first <= t && t <= self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: f64) -> BTreeMap<String, FieldValue> {
        [("v".to_owned(), FieldValue::Float(v))].into()
    }

    fn values(chunk: &Chunk, span: &Span) -> Vec<(i64, f64)> {
        let mut folded = Vec::new();
        chunk.fold(span, "v", |t, v| folded.push((t, v))).unwrap();
        let read = chunk.read(span, &[]).unwrap();
        let from_read: Vec<(i64, f64)> = read
            .timestamps
            .iter()
            .zip(&read.fields["v"])
            .map(|(t, v)| (*t, v.as_ref().and_then(FieldValue::as_f64).unwrap()))
            .collect();
        assert_eq!(folded, from_read, "fold and read disagree");
        folded
    }

    #[test]
    fn late_writes_merge_into_sealed_blocks_and_later_values_win() {
        let mut chunk = Chunk::default();
        for t in 0..3000 {
            chunk.push(t * 2, row(t as f64));
        }
        chunk.seal().unwrap();
        assert_eq!(chunk.blocks().len(), 3);
        // Odd timestamps between sealed points, and an overwrite of t = 10.
        chunk.push(5, row(-5.0));
        chunk.push(10, row(-10.0));
        chunk.push(1, row(-1.0));
        let span = Span::half_open(0, 12).unwrap();
        let expected = vec![
            (0, 0.0),
            (1, -1.0),
            (2, 1.0),
            (4, 2.0),
            (5, -5.0),
            (6, 3.0),
            (8, 4.0),
            (10, -10.0),
        ];
        assert_eq!(values(&chunk, &span), expected);
        chunk.seal().unwrap();
        assert_eq!(values(&chunk, &span), expected);
        assert_eq!(chunk.points(), 3002);
        let blocks = chunk.blocks();
        assert!(blocks.windows(2).all(|w| w[0].max < w[1].min));
    }

    #[test]
    fn in_order_heads_are_read_without_sorting() {
        let mut chunk = Chunk::default();
        for t in 0..10 {
            chunk.push(t, row(t as f64));
        }
        assert!(!chunk.disordered);
        let span = Span::half_open(3, 6).unwrap();
        assert_eq!(values(&chunk, &span), vec![(3, 3.0), (4, 4.0), (5, 5.0)]);
        chunk.push(4, row(40.0));
        assert!(chunk.disordered);
        assert_eq!(values(&chunk, &span), vec![(3, 3.0), (4, 40.0), (5, 5.0)]);
    }

    #[test]
    fn delete_before_trims_blocks_and_counts() {
        let mut chunk = Chunk::default();
        for t in 0..2000 {
            chunk.push(t, row(t as f64));
        }
        chunk.seal().unwrap();
        assert_eq!(chunk.delete_before(1500).unwrap(), 1500);
        assert_eq!(chunk.points(), 500);
        assert_eq!(chunk.delete_before(1500).unwrap(), 0);
        let last = chunk.last().unwrap().unwrap();
        assert_eq!(last.0, 1999);
        assert_eq!(values(&chunk, &Span::ALL).first(), Some(&(1500, 1500.0)));
    }

    #[test]
    fn spans_are_inclusive_and_half_open_ranges_convert() {
        assert_eq!(Span::half_open(5, 5), None);
        assert_eq!(Span::half_open(6, 5), None);
        let span = Span::half_open(i64::MIN, i64::MAX).unwrap();
        assert!(span.contains(i64::MIN) && !span.contains(i64::MAX));
    }
}
