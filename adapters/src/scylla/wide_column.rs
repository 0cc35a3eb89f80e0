//! One wide-column entity on ScyllaDB / Cassandra: rows, slices and deletes (see the module
//! docs of `scylla` for the table layout).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use scylla::response::PagingState;
use scylla::statement::batch::{Batch, BatchType};
use scylla::value::CqlValue;

use super::cql::{self, SliceShape};
use super::{error, Access, Shared};
use crate::kinds::wide_column::{key, rules};
use crate::kinds::wide_column::{
    order, SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use crate::{Result, StoreError, Value};

/// The longest encoded key (partition or clustering) Cassandra stores.
pub const MAX_KEY_BYTES: usize = u16::MAX as usize;

/// The longest TTL Cassandra accepts: 20 years.
const MAX_TTL_SECONDS: u64 = 20 * 365 * 24 * 3600;

/// Rows of one partition sent in one batch at most (a batch holds at most 65535 statements).
const ROWS_PER_BATCH: usize = 10_000;

/// Encoded bytes of one batch at most, below the servers' default batch size limits (1 MiB
/// on ScyllaDB). A row larger than this on its own is sent statement by statement.
const BATCH_BYTES: usize = 512 * 1024;

/// Checks that `name` is opened with the key columns it was first opened with, recording them
/// on first open.
pub(super) async fn check_shape(
    shared: &Shared,
    name: &str,
    settings: &WideColumnSettings,
) -> Result<()> {
    let shapes = cql::Shapes::new(&shared.keyspace);
    let asked = encode_shape(settings)?;
    let stored = match read_shape(shared, &shapes.select, name).await? {
        Some(stored) => stored,
        None => {
            let insert = shared.prepared(&shapes.insert, Access::Write).await?;
            shared
                .session
                .execute_unpaged(&insert, (name, &asked))
                .await
                .map_err(|e| {
                    error::execution(e, "recording the entity's keys", shared.request_timeout)
                })?;
            // Read back: two first openers with other keys converge on one of them.
            read_shape(shared, &shapes.select, name)
                .await?
                .unwrap_or_else(|| asked.clone())
        }
    };
    if stored == asked {
        return Ok(());
    }
    let (partition_key, clustering_key): (Vec<String>, Vec<String>) = postcard::from_bytes(&stored)
        .map_err(|e| StoreError::backend_with("a recorded entity shape is corrupt", e))?;
    rules::same_keys(
        name,
        &WideColumnSettings::new(partition_key, clustering_key),
        settings,
    )
}

fn encode_shape(settings: &WideColumnSettings) -> Result<Vec<u8>> {
    postcard::to_allocvec(&(&settings.partition_key, &settings.clustering_key))
        .map_err(|e| StoreError::backend_with("cannot encode the entity's keys", e))
}

async fn read_shape(shared: &Shared, select: &str, name: &str) -> Result<Option<Vec<u8>>> {
    let prepared = shared.prepared(select, Access::Read).await?;
    let result = shared
        .session
        .execute_unpaged(&prepared, (name,))
        .await
        .map_err(|e| error::execution(e, "reading the entity's keys", shared.request_timeout))?;
    let rows = result
        .into_rows_result()
        .map_err(|e| error::decode(e, "reading the entity's keys"))?;
    let row = rows
        .maybe_first_row::<(Option<Vec<u8>>,)>()
        .map_err(|e| error::decode(e, "reading the entity's keys"))?;
    Ok(row.and_then(|(shape,)| shape))
}

/// Encodes key values into one blob, after checking their count (at most that many for a
/// `prefix`), types and size.
pub(crate) fn encode_key(
    entity: &str,
    which: &str,
    columns: &[String],
    values: &[Value],
    prefix: bool,
) -> Result<Vec<u8>> {
    rules::arity(entity, which, columns, values.len(), prefix)?;
    let mut out = Vec::new();
    key::encode_into(&mut out, columns, values)?;
    if out.len() > MAX_KEY_BYTES {
        return Err(StoreError::invalid(format!(
            "a {which} key of `{entity}` takes {} bytes encoded, more than the {MAX_KEY_BYTES} Cassandra stores; use shorter key values",
            out.len()
        )));
    }
    Ok(out)
}

/// A cell value as stored: the kind's ordered bytes, whose bytewise order is
/// [`cell_order`](crate::kinds::wide_column::cell_order). The server breaks a tie between two
/// writes of a cell with equal timestamps by the greater stored bytes, so these bytes make it
/// pick the value the contract says (`128` over `127`, `"b"` over `"aa"`).
pub(crate) fn encode_cell(value: &Value) -> Vec<u8> {
    order::encode(value)
}

/// A stored cell's value: the ordered bytes, or (first byte below the first tag) the postcard
/// bytes that earlier versions stored.
pub(crate) fn decode_cell(name: &str, bytes: &[u8]) -> Result<Value> {
    let corrupt = || StoreError::backend(format!("cell `{name}` is corrupt"));
    match bytes.first() {
        Some(&first) if first >= order::FIRST_TAG => match order::decode_value(bytes) {
            Some((value, [])) => Ok(value),
            _ => Err(corrupt()),
        },
        _ => postcard::from_bytes(bytes)
            .map_err(|e| StoreError::backend_with(format!("cell `{name}` is corrupt"), e)),
    }
}

fn decode_cells(cells: Option<HashMap<String, Vec<u8>>>) -> Result<BTreeMap<String, Value>> {
    cells
        .unwrap_or_default()
        .into_iter()
        .map(|(name, bytes)| Ok((name.clone(), decode_cell(&name, &bytes)?)))
        .collect()
}

/// A TTL in whole seconds, rounded up (CQL counts in seconds); 0 is none.
pub(crate) fn ttl_seconds(ttl: Option<Duration>) -> Result<i32> {
    let Some(ttl) = ttl else {
        return Ok(0);
    };
    if ttl.is_zero() {
        return Err(StoreError::invalid(
            "a TTL of zero would expire the row at once; omit the TTL or give a positive one",
        ));
    }
    let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    if seconds > MAX_TTL_SECONDS {
        return Err(StoreError::invalid(format!(
            "a TTL of {ttl:?} is longer than the 20 years Cassandra allows"
        )));
    }
    i32::try_from(seconds).map_err(|_| StoreError::invalid(format!("a TTL of {ttl:?} is too long")))
}

/// The bind values of one row's write: the marker insert, then the cell additions and the
/// cell deletions when there are any.
#[derive(Debug, PartialEq)]
pub(crate) struct RowWrite {
    pub marker: Vec<CqlValue>,
    pub add: Option<Vec<CqlValue>>,
    pub remove: Option<Vec<CqlValue>>,
    /// The encoded size of keys, names and values, to keep batches small.
    pub bytes: usize,
}

/// Splits one partition's row writes into batches of at most [`ROWS_PER_BATCH`] rows and
/// about [`BATCH_BYTES`] bytes (a row larger than that is a batch of its own).
pub(crate) fn chunks(writes: Vec<RowWrite>) -> Vec<Vec<RowWrite>> {
    let mut out: Vec<Vec<RowWrite>> = Vec::new();
    let mut bytes = 0;
    for write in writes {
        match out.last_mut() {
            Some(chunk) if chunk.len() < ROWS_PER_BATCH && bytes + write.bytes <= BATCH_BYTES => {
                bytes += write.bytes;
                chunk.push(write);
            }
            _ => {
                bytes = write.bytes;
                out.push(vec![write]);
            }
        }
    }
    out
}

/// The statements' values of writing `cells` to the row at `key` (`ck` absent for an
/// unclustered table) at `timestamp` with `ttl` seconds.
pub(crate) fn row_write(
    pk: Vec<u8>,
    ck: Option<Vec<u8>>,
    cells: &BTreeMap<String, Value>,
    timestamp: i64,
    ttl: i32,
) -> Result<RowWrite> {
    let mut bytes = pk.len() + ck.as_ref().map_or(0, Vec::len);
    let key: Vec<CqlValue> = std::iter::once(CqlValue::Blob(pk))
        .chain(ck.map(CqlValue::Blob))
        .collect();
    let mut marker = key.clone();
    marker.extend([
        CqlValue::BigInt(timestamp),
        CqlValue::BigInt(timestamp),
        CqlValue::Int(ttl),
    ]);
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (name, value) in cells {
        bytes += name.len();
        if value.is_null() {
            removed.push(CqlValue::Text(name.clone()));
        } else {
            let encoded = encode_cell(value);
            bytes += encoded.len();
            added.push((CqlValue::Text(name.clone()), CqlValue::Blob(encoded)));
        }
    }
    let add = (!added.is_empty()).then(|| {
        let mut values = vec![
            CqlValue::BigInt(timestamp),
            CqlValue::Int(ttl),
            CqlValue::Map(added),
        ];
        values.extend(key.iter().cloned());
        values
    });
    let remove = (!removed.is_empty()).then(|| {
        let mut values = vec![CqlValue::BigInt(timestamp), CqlValue::Set(removed)];
        values.extend(key.iter().cloned());
        values
    });
    Ok(RowWrite {
        marker,
        add,
        remove,
        bytes,
    })
}

/// A lower (`ck >= …`) and an upper (`ck < …`) bound, each optional.
pub(crate) type ByteRange = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The encoded bounds of a slice: `ck >= lower`, `ck < upper`; `None` when the slice is empty
/// whatever the data (an excluded empty prefix).
pub(crate) fn slice_bounds(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Option<ByteRange> {
    let lower = match start {
        Bound::Unbounded => None,
        Bound::Included(p) if p.is_empty() => None,
        Bound::Included(p) => Some(p),
        Bound::Excluded(p) if p.is_empty() => return None,
        // After every key starting with `p`; an all-0xFF prefix has no successor, but no
        // encoded key is one (tags are below 0xFF).
        Bound::Excluded(p) => Some(key::prefix_end(&p)?),
    };
    let upper = match end {
        Bound::Unbounded => None,
        Bound::Included(p) if p.is_empty() => None,
        Bound::Included(p) => key::prefix_end(&p),
        Bound::Excluded(p) if p.is_empty() => return None,
        Bound::Excluded(p) => Some(p),
    };
    Some((lower, upper))
}

/// One entity's handle.
#[derive(Debug)]
pub(super) struct Table {
    shared: Arc<Shared>,
    name: String,
    settings: WideColumnSettings,
    cql: cql::Table,
    statements: Statements,
}

/// The fixed statement texts, written once.
#[derive(Debug)]
struct Statements {
    insert_marker: String,
    add_cells: String,
    remove_cells: String,
    get: String,
    delete: String,
    delete_partition: String,
    newest_in_partition: String,
}

impl Table {
    pub(super) fn new(
        shared: Arc<Shared>,
        name: String,
        settings: WideColumnSettings,
        cql: cql::Table,
    ) -> Self {
        let statements = Statements {
            insert_marker: cql.insert_marker(),
            add_cells: cql.add_cells(),
            remove_cells: cql.remove_cells(),
            get: cql.get(),
            delete: cql.delete(),
            delete_partition: cql.delete_partition(),
            newest_in_partition: cql.newest_in_partition(),
        };
        Table {
            shared,
            name,
            settings,
            cql,
            statements,
        }
    }

    fn partition_key(&self, partition: &[Value]) -> Result<Vec<u8>> {
        encode_key(
            &self.name,
            "partition",
            &self.settings.partition_key,
            partition,
            false,
        )
    }

    /// The encoded key of a row: `ck` is `None` for an unclustered table.
    fn row_key(
        &self,
        partition: &[Value],
        clustering: &[Value],
    ) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
        let pk = self.partition_key(partition)?;
        let ck = encode_key(
            &self.name,
            "clustering",
            &self.settings.clustering_key,
            clustering,
            false,
        )?;
        Ok((pk, self.cql.clustered().then_some(ck)))
    }

    fn key_values(pk: Vec<u8>, ck: Option<Vec<u8>>) -> Vec<CqlValue> {
        std::iter::once(CqlValue::Blob(pk))
            .chain(ck.map(CqlValue::Blob))
            .collect()
    }

    fn execution(&self, what: &str) -> impl Fn(scylla::errors::ExecutionError) -> StoreError + '_ {
        let what = format!("{what} of `{}`", self.name);
        move |e| error::execution(e, &what, self.shared.request_timeout)
    }

    /// Writes rows (checked and encoded by the caller) as one unlogged batch per partition.
    async fn write(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()> {
        let ttl = ttl_seconds(options.ttl.or(self.settings.ttl))?;
        // Every row is checked and encoded before anything is sent.
        let mut partitions: BTreeMap<Vec<u8>, Vec<RowWrite>> = BTreeMap::new();
        let timestamp = options
            .timestamp
            .unwrap_or_else(|| self.shared.clock.next());
        for row in &rows {
            rules::check_cells(&self.name, &self.settings, &row.cells)?;
            let (pk, ck) = self.row_key(&row.partition, &row.clustering)?;
            let write = row_write(pk.clone(), ck, &row.cells, timestamp, ttl)?;
            partitions.entry(pk).or_default().push(write);
        }
        let shared = &self.shared;
        let marker = shared
            .prepared(&self.statements.insert_marker, Access::Write)
            .await?;
        let add = shared
            .prepared(&self.statements.add_cells, Access::Write)
            .await?;
        let remove = shared
            .prepared(&self.statements.remove_cells, Access::Write)
            .await?;
        for writes in partitions.into_values() {
            for chunk in chunks(writes) {
                if let [write] = chunk.as_slice() {
                    if write.bytes > BATCH_BYTES {
                        // Too large for a batch: its statements one by one, cells first, so
                        // the row never shows its new marker without its cells.
                        let statements = [
                            (&add, write.add.as_ref()),
                            (&remove, write.remove.as_ref()),
                            (&marker, Some(&write.marker)),
                        ];
                        for (prepared, values) in statements {
                            if let Some(values) = values {
                                shared
                                    .session
                                    .execute_unpaged(prepared, values)
                                    .await
                                    .map_err(self.execution("writing a row"))?;
                            }
                        }
                        continue;
                    }
                }
                let mut batch = Batch::new(BatchType::Unlogged);
                batch.set_consistency(shared.consistency(Access::Write));
                batch.set_is_idempotent(true);
                let mut values: Vec<Vec<CqlValue>> = Vec::new();
                for write in chunk {
                    batch.append_statement(marker.clone());
                    values.push(write.marker);
                    if let Some(add_values) = write.add {
                        batch.append_statement(add.clone());
                        values.push(add_values);
                    }
                    if let Some(remove_values) = write.remove {
                        batch.append_statement(remove.clone());
                        values.push(remove_values);
                    }
                }
                shared
                    .session
                    .batch(&batch, values)
                    .await
                    .map_err(self.execution("writing rows"))?;
            }
        }
        Ok(())
    }

    /// Runs a read of one page at a time until `limit` rows or the end; returns the rows.
    async fn read_all<R>(
        &self,
        cql: &str,
        values: Vec<CqlValue>,
        limit: usize,
        what: &str,
    ) -> Result<Vec<R>>
    where
        R: for<'frame, 'metadata> scylla::deserialize::row::DeserializeRow<'frame, 'metadata>,
    {
        let prepared = self.shared.prepared(cql, Access::Read).await?;
        let mut out = Vec::new();
        let mut paging = PagingState::start();
        loop {
            let (result, next) = self
                .shared
                .session
                .execute_single_page(&prepared, &values, paging)
                .await
                .map_err(self.execution(what))?;
            let rows = result
                .into_rows_result()
                .map_err(|e| error::decode(e, what))?;
            for row in rows.rows::<R>().map_err(|e| error::decode(e, what))? {
                out.push(row.map_err(|e| error::decode(e, what))?);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            match next.into_paging_control_flow() {
                std::ops::ControlFlow::Continue(state) => paging = state,
                std::ops::ControlFlow::Break(()) => return Ok(out),
            }
        }
    }

    /// The stamp of a deletion of rows whose newest write is `newest`: the store's clock, or
    /// just after that write if it is later (a row written in the future is still removed).
    fn deletion_stamp(&self, newest: Option<i64>) -> i64 {
        let clock = self.shared.clock.next();
        newest.map_or(clock, |t| clock.max(t.saturating_add(1)))
    }
}

type CellsRow = (Option<i64>, Option<HashMap<String, Vec<u8>>>);

#[async_trait]
impl WideColumnStore for Table {
    async fn put(&self, row: WideRow, options: WriteOptions) -> Result<()> {
        crate::kinds::wide_column::check_key(&row.partition, &row.clustering)?;
        self.write(vec![row], options).await
    }

    async fn put_batch(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()> {
        crate::kinds::wide_column::check_rows(&rows)?;
        self.write(rows, options).await
    }

    async fn get(&self, partition: &[Value], clustering: &[Value]) -> Result<Option<WideRow>> {
        crate::kinds::wide_column::check_key(partition, clustering)?;
        let (pk, ck) = self.row_key(partition, clustering)?;
        let rows: Vec<CellsRow> = self
            .read_all(
                &self.statements.get,
                Self::key_values(pk, ck),
                1,
                "reading a row",
            )
            .await?;
        match rows.into_iter().next() {
            None => Ok(None),
            Some((_, cells)) => Ok(Some(WideRow {
                partition: partition.to_vec(),
                clustering: clustering.to_vec(),
                cells: decode_cells(cells)?,
            })),
        }
    }

    async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>> {
        crate::kinds::wide_column::check_slice(query)?;
        let pk = self.partition_key(&query.partition)?;
        let columns = &self.settings.clustering_key;
        let encode = |bound: &Bound<Vec<Value>>| -> Result<Bound<Vec<u8>>> {
            Ok(match bound {
                Bound::Included(v) => {
                    Bound::Included(encode_key(&self.name, "clustering", columns, v, true)?)
                }
                Bound::Excluded(v) => {
                    Bound::Excluded(encode_key(&self.name, "clustering", columns, v, true)?)
                }
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        let (start, end) = (encode(&query.start)?, encode(&query.end)?);
        let limit = query.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some((lower, upper)) = slice_bounds(start, end) else {
            return Ok(Vec::new());
        };
        if !self.cql.clustered() {
            // One row per partition at most: the bounds are empty prefixes, checked above.
            let rows: Vec<CellsRow> = self
                .read_all(
                    &self.statements.get,
                    vec![CqlValue::Blob(pk)],
                    1,
                    "reading a slice",
                )
                .await?;
            return rows
                .into_iter()
                .map(|(_, cells)| {
                    Ok(WideRow {
                        partition: query.partition.clone(),
                        clustering: Vec::new(),
                        cells: decode_cells(cells)?,
                    })
                })
                .collect();
        }
        let shape = SliceShape {
            lower: lower.is_some(),
            upper: upper.is_some(),
            order: query.order,
        };
        let mut values = vec![CqlValue::Blob(pk)];
        values.extend(lower.map(CqlValue::Blob));
        values.extend(upper.map(CqlValue::Blob));
        values.push(CqlValue::Int(i32::try_from(limit).unwrap_or(i32::MAX)));
        let rows: Vec<(Vec<u8>, Option<i64>, Option<HashMap<String, Vec<u8>>>)> = self
            .read_all(&self.cql.slice(shape), values, limit, "reading a slice")
            .await?;
        rows.into_iter()
            .map(|(ck, _, cells)| {
                Ok(WideRow {
                    partition: query.partition.clone(),
                    clustering: key::decode(&ck)?,
                    cells: decode_cells(cells)?,
                })
            })
            .collect()
    }

    async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool> {
        crate::kinds::wide_column::check_key(partition, clustering)?;
        let (pk, ck) = self.row_key(partition, clustering)?;
        let key = Self::key_values(pk, ck);
        let rows: Vec<CellsRow> = self
            .read_all(&self.statements.get, key.clone(), 1, "reading a row")
            .await?;
        let existed = !rows.is_empty();
        let newest = rows.first().and_then(|(ts, _)| *ts);
        let mut values = vec![CqlValue::BigInt(self.deletion_stamp(newest))];
        values.extend(key);
        let prepared = self
            .shared
            .prepared(&self.statements.delete, Access::Write)
            .await?;
        self.shared
            .session
            .execute_unpaged(&prepared, values)
            .await
            .map_err(self.execution("deleting a row"))?;
        Ok(existed)
    }

    async fn delete_partition(&self, partition: &[Value]) -> Result<()> {
        crate::kinds::wide_column::check_key(partition, &[])?;
        let pk = self.partition_key(partition)?;
        let rows: Vec<(Option<i64>,)> = self
            .read_all(
                &self.statements.newest_in_partition,
                vec![CqlValue::Blob(pk.clone())],
                1,
                "reading a partition",
            )
            .await?;
        let newest = rows.first().and_then(|(ts,)| *ts);
        let values = vec![
            CqlValue::BigInt(self.deletion_stamp(newest)),
            CqlValue::Blob(pk),
        ];
        let prepared = self
            .shared
            .prepared(&self.statements.delete_partition, Access::Write)
            .await?;
        self.shared
            .session
            .execute_unpaged(&prepared, values)
            .await
            .map_err(self.execution("deleting a partition"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn keys_encode_in_contract_order_and_decode_back() {
        let cols = columns(&["at", "seq"]);
        let a = encode_key("e", "clustering", &cols, &[1.into(), 2.into()], false).unwrap();
        let b = encode_key("e", "clustering", &cols, &[1.into(), 10.into()], false).unwrap();
        let c = encode_key("e", "clustering", &cols, &[(-5).into(), 99.into()], false).unwrap();
        // CQL compares blobs bytewise, unsigned: the encoded order is the values' order.
        assert!(c < a && a < b);
        assert_eq!(
            key::decode(&b).unwrap(),
            vec![Value::Int(1), Value::Int(10)]
        );
        let text =
            encode_key("e", "p", &columns(&["u"]), &["a\0b'\"\\\n日".into()], false).unwrap();
        assert_eq!(
            key::decode(&text).unwrap(),
            vec![Value::from("a\0b'\"\\\n日")]
        );
    }

    #[test]
    fn keys_are_checked_for_arity_type_and_size() {
        let cols = columns(&["at", "seq"]);
        let err = encode_key("e", "clustering", &cols, &[1.into()], false).unwrap_err();
        assert!(matches!(err, StoreError::InvalidRequest { .. }));
        assert!(encode_key("e", "clustering", &cols, &[1.into()], true).is_ok());
        let err = encode_key(
            "e",
            "clustering",
            &cols,
            &[1.into(), 2.into(), 3.into()],
            true,
        )
        .unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        let err =
            encode_key("e", "partition", &columns(&["user"]), &[Value::Null], false).unwrap_err();
        assert!(err.to_string().contains("`user`"), "{err}");
        let long = "x".repeat(70_000);
        let err =
            encode_key("e", "partition", &columns(&["user"]), &[long.into()], false).unwrap_err();
        assert!(err.to_string().contains("bytes"), "{err}");
    }

    #[test]
    fn ttls_round_up_to_seconds_and_zero_is_invalid() {
        assert_eq!(ttl_seconds(None).unwrap(), 0);
        assert_eq!(ttl_seconds(Some(Duration::from_millis(300))).unwrap(), 1);
        assert_eq!(ttl_seconds(Some(Duration::from_secs(60))).unwrap(), 60);
        assert_eq!(
            ttl_seconds(Some(Duration::from_millis(60_001))).unwrap(),
            61
        );
        let err = ttl_seconds(Some(Duration::ZERO)).unwrap_err();
        assert!(err.to_string().contains("TTL"), "{err}");
        let err = ttl_seconds(Some(Duration::from_secs(MAX_TTL_SECONDS + 1))).unwrap_err();
        assert!(matches!(err, StoreError::InvalidRequest { .. }));
    }

    #[test]
    fn hostile_cell_names_and_values_travel_as_bound_values() {
        let hostile = "x'); DROP TABLE t; --\"\\\n\0日";
        let cells: BTreeMap<String, Value> = [
            (hostile.to_owned(), Value::from(hostile)),
            ("gone".to_owned(), Value::Null),
        ]
        .into_iter()
        .collect();
        let write = row_write(vec![1], Some(vec![2]), &cells, 42, 7).unwrap();
        assert_eq!(
            write.marker,
            vec![
                CqlValue::Blob(vec![1]),
                CqlValue::Blob(vec![2]),
                CqlValue::BigInt(42),
                CqlValue::BigInt(42),
                CqlValue::Int(7),
            ]
        );
        let add = write.add.unwrap();
        assert_eq!(add[..2], [CqlValue::BigInt(42), CqlValue::Int(7)]);
        assert_eq!(
            add[2],
            CqlValue::Map(vec![(
                CqlValue::Text(hostile.to_owned()),
                CqlValue::Blob(encode_cell(&Value::from(hostile)))
            )])
        );
        assert_eq!(add[3..], [CqlValue::Blob(vec![1]), CqlValue::Blob(vec![2])]);
        assert_eq!(
            write.remove.unwrap(),
            vec![
                CqlValue::BigInt(42),
                CqlValue::Set(vec![CqlValue::Text("gone".into())]),
                CqlValue::Blob(vec![1]),
                CqlValue::Blob(vec![2]),
            ]
        );
        // The statement text is fixed: nothing of the row reaches it.
        let table = cql::Table::new("ks", "events", true).unwrap();
        for statement in [
            table.insert_marker(),
            table.add_cells(),
            table.remove_cells(),
        ] {
            assert!(!statement.contains("DROP"), "{statement}");
        }
    }

    #[test]
    fn batches_are_split_by_rows_and_bytes() {
        let write = |size: usize| {
            let cells = BTreeMap::from([("c".to_owned(), Value::Bytes(vec![7; size]))]);
            row_write(vec![1], Some(vec![2]), &cells, 1, 0).unwrap()
        };
        let sizes =
            |chunks: Vec<Vec<RowWrite>>| -> Vec<usize> { chunks.iter().map(Vec::len).collect() };
        assert_eq!(sizes(chunks((0..3).map(|_| write(10)).collect())), [3]);
        let big = BATCH_BYTES / 2;
        assert_eq!(
            sizes(chunks(vec![
                write(big),
                write(big),
                write(10),
                write(2 * BATCH_BYTES)
            ])),
            [1, 2, 1]
        );
        assert_eq!(
            sizes(chunks((0..ROWS_PER_BATCH + 1).map(|_| write(1)).collect())),
            [ROWS_PER_BATCH, 1]
        );
        assert!(write(100).bytes > 100);
    }

    #[test]
    fn a_row_without_cells_is_only_its_marker() {
        let write = row_write(vec![1], None, &BTreeMap::new(), 5, 0).unwrap();
        assert_eq!(write.marker.len(), 4);
        assert!(write.add.is_none() && write.remove.is_none());
    }

    #[test]
    fn cells_round_trip_through_their_encoding() {
        let values = [
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Float(-1.25e-300),
            Value::Text("héllo".into()),
            Value::Bytes(vec![0, 255]),
            Value::Timestamp(1_700_000_000_123_456_789),
            Value::List(vec![Value::Int(1)]),
            Value::Map([("k".to_owned(), Value::Bool(false))].into_iter().collect()),
        ];
        let stored: HashMap<String, Vec<u8>> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("c{i}"), encode_cell(v)))
            .collect();
        let decoded = decode_cells(Some(stored)).unwrap();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(decoded.get(&format!("c{i}")), Some(v));
        }
        assert!(decode_cells(None).unwrap().is_empty());
        let corrupt = HashMap::from([("c".to_owned(), vec![0xFF, 0xFF])]);
        assert!(matches!(
            decode_cells(Some(corrupt)),
            Err(StoreError::Backend { .. })
        ));
    }

    #[test]
    fn stored_cells_order_as_the_tie_break_wants() {
        // The server keeps the greater bytes of two cells written at one timestamp.
        assert!(encode_cell(&Value::Int(128)) > encode_cell(&Value::Int(127)));
        assert!(encode_cell(&Value::Int(1)) > encode_cell(&Value::Int(-1)));
        assert!(encode_cell(&Value::from("b")) > encode_cell(&Value::from("aa")));
        assert!(encode_cell(&Value::Float(0.5)) > encode_cell(&Value::Float(-2.0)));
        // Cells stored by earlier versions (postcard) still read back.
        for value in [
            Value::Int(127),
            Value::from("aa"),
            Value::Null,
            Value::Bool(true),
        ] {
            let legacy = postcard::to_allocvec(&value).unwrap();
            assert_eq!(decode_cell("c", &legacy).unwrap(), value);
        }
        // Trailing bytes after an ordered value are corruption, not ignored.
        let mut long = encode_cell(&Value::Int(1));
        long.push(0);
        assert!(decode_cell("c", &long).is_err());
    }

    #[test]
    fn slice_bounds_become_byte_ranges() {
        let cols = columns(&["at", "seq"]);
        let enc = |v: &[Value]| encode_key("e", "clustering", &cols, v, true).unwrap();
        let p = enc(&[1.into()]);
        let end = key::prefix_end(&p).unwrap();
        // Included prefix: from its first key; excluded: after its last.
        assert_eq!(
            slice_bounds(Bound::Included(p.clone()), Bound::Unbounded),
            Some((Some(p.clone()), None))
        );
        assert_eq!(
            slice_bounds(Bound::Excluded(p.clone()), Bound::Unbounded),
            Some((Some(end.clone()), None))
        );
        assert_eq!(
            slice_bounds(Bound::Unbounded, Bound::Included(p.clone())),
            Some((None, Some(end.clone())))
        );
        assert_eq!(
            slice_bounds(Bound::Unbounded, Bound::Excluded(p.clone())),
            Some((None, Some(p.clone())))
        );
        // Every key of the group lies in [p, end).
        let inside = enc(&[1.into(), 5.into()]);
        assert!(inside >= p && inside < end);
        // Empty prefixes: included is no bound, excluded is nothing.
        assert_eq!(
            slice_bounds(Bound::Included(vec![]), Bound::Included(vec![])),
            Some((None, None))
        );
        assert_eq!(
            slice_bounds(Bound::Excluded(vec![]), Bound::Unbounded),
            None
        );
        assert_eq!(
            slice_bounds(Bound::Unbounded, Bound::Excluded(vec![])),
            None
        );
    }
}
