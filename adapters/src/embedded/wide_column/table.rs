//! One entity: its partition of the keyspace, and the wide-column operations on it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fjall::{PartitionCreateOptions, PartitionHandle};

use super::{blocking, lock, map_error, Inner};
use crate::kinds::document::Order;
use crate::kinds::wide_column::clock::now_micros;
use crate::kinds::wide_column::key;
use crate::kinds::wide_column::record::{Record, Stamp};
use crate::kinds::wide_column::rules::{arity, check_cells, check_settings, same_keys, stamp};
use crate::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use crate::{Result, StoreError, Value};

/// The longest encoded row key the engine stores (as Cassandra's partition key limit).
pub const MAX_KEY_BYTES: usize = u16::MAX as usize;

/// Rows the sweep removes per batch, holding the write lock only that long.
const PURGE_CHUNK: usize = 1024;

/// What every handle of one entity shares.
pub(super) struct Shared {
    name: String,
    rows: PartitionHandle,
    settings: WideColumnSettings,
    /// Writers read a row and write its merge: one at a time per entity.
    write: Mutex<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Opens the entity's partition, checking its key columns against those it was created
    /// with; every later open of the entity in this store shares the result.
    pub(super) fn open(
        inner: Arc<Inner>,
        name: String,
        settings: WideColumnSettings,
    ) -> Result<Arc<Shared>> {
        check_settings(&name, &settings)?;
        let mut tables = lock(&inner.tables);
        if let Some(shared) = tables.get(&name) {
            same_keys(&name, &shared.settings, &settings)?;
            return Ok(shared.clone());
        }
        let shape = (&settings.partition_key, &settings.clustering_key);
        let meta_key = format!("table/{name}");
        match inner.meta.get(&meta_key).map_err(map_error)? {
            Some(stored) => {
                let (partition_key, clustering_key): (Vec<String>, Vec<String>) =
                    postcard::from_bytes(&stored).map_err(|err| {
                        StoreError::backend_with(
                            format!("the key columns of `{name}` are corrupt"),
                            err,
                        )
                    })?;
                let stored = WideColumnSettings::new(partition_key, clustering_key);
                same_keys(&name, &stored, &settings)?;
            }
            None => {
                let bytes = postcard::to_allocvec(&shape).map_err(|err| {
                    StoreError::backend_with("cannot encode the key columns", err)
                })?;
                let mut batch = inner.keyspace.batch().durability(inner.persist);
                batch.insert(&inner.meta, meta_key, bytes);
                batch.commit().map_err(map_error)?;
            }
        }
        let rows = inner
            .keyspace
            .open_partition(&format!("t_{name}"), PartitionCreateOptions::default())
            .map_err(map_error)?;
        let shared = Arc::new(Shared {
            name: name.clone(),
            rows,
            settings,
            write: Mutex::new(()),
        });
        tables.insert(name, shared.clone());
        Ok(shared)
    }

    /// The encoded partition key, after checking its arity and types.
    fn partition_prefix(&self, partition: &[Value]) -> Result<Vec<u8>> {
        let columns = &self.settings.partition_key;
        arity(&self.name, "partition", columns, partition.len(), false)?;
        let mut out = Vec::with_capacity(32);
        key::encode_into(&mut out, columns, partition)?;
        self.checked(out)
    }

    /// The encoded row key.
    fn row_key(&self, partition: &[Value], clustering: &[Value]) -> Result<Vec<u8>> {
        let mut out = self.partition_prefix(partition)?;
        let columns = &self.settings.clustering_key;
        arity(&self.name, "clustering", columns, clustering.len(), false)?;
        key::encode_into(&mut out, columns, clustering)?;
        self.checked(out)
    }

    /// The encoded key of a slice bound: the partition and a clustering prefix.
    fn bound_key(&self, prefix: &[u8], clustering: &[Value]) -> Result<Vec<u8>> {
        let columns = &self.settings.clustering_key;
        arity(&self.name, "clustering", columns, clustering.len(), true)?;
        let mut out = prefix.to_vec();
        key::encode_into(&mut out, columns, clustering)?;
        self.checked(out)
    }

    fn checked(&self, key: Vec<u8>) -> Result<Vec<u8>> {
        if key.len() > MAX_KEY_BYTES {
            return Err(StoreError::invalid(format!(
                "a key of `{}` takes {} bytes encoded, more than the {MAX_KEY_BYTES} allowed; use shorter key values",
                self.name,
                key.len()
            )));
        }
        Ok(key)
    }

    fn read(&self, key: &[u8]) -> Result<Option<Record>> {
        match self.rows.get(key).map_err(map_error)? {
            Some(bytes) => Record::decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Merges every `(key, record)` into what is stored, in one atomic batch.
    fn merge_all(&self, inner: &Inner, writes: BTreeMap<Vec<u8>, Record>) -> Result<()> {
        let _writing = lock(&self.write);
        let mut batch = inner.keyspace.batch().durability(inner.persist);
        for (key, write) in writes {
            let merged = match self.read(&key)? {
                Some(mut stored) => {
                    stored.merge(write);
                    stored
                }
                None => write,
            };
            let value = merged.encode()?;
            if u32::try_from(value.len()).is_err() {
                return Err(StoreError::invalid(format!(
                    "a row of `{}` takes {} bytes, more than the 4 GiB a row may hold",
                    self.name,
                    value.len()
                )));
            }
            batch.insert(&self.rows, key, value);
        }
        batch.commit().map_err(map_error)
    }

    /// Deletes the rows at `keys` (see the module docs); returns how many were visible.
    fn delete_all(&self, inner: &Inner, keys: Vec<Vec<u8>>) -> Result<usize> {
        let _writing = lock(&self.write);
        let mut batch = inner.keyspace.batch().durability(inner.persist);
        let (now, mut visible) = (inner.clock.next(), 0);
        for key in keys {
            let mut record = self.read(&key)?.unwrap_or_default();
            visible += usize::from(record.delete(now, now_micros()));
            batch.insert(&self.rows, key, record.encode()?);
        }
        batch.commit().map_err(map_error)?;
        Ok(visible)
    }

    /// Drops the records nothing needs any more; returns how many.
    pub(super) fn purge(&self, inner: &Inner) -> Result<u64> {
        let mut purged = 0;
        let mut from = Bound::Unbounded;
        loop {
            let now = now_micros();
            let mut candidates = Vec::new();
            let mut last = None;
            for item in self
                .rows
                .range::<Vec<u8>, _>((from.clone(), Bound::Unbounded))
            {
                let (key, bytes) = item.map_err(map_error)?;
                if Record::decode(&bytes)?.is_purgeable(now, inner.grace) {
                    candidates.push(key.to_vec());
                }
                last = Some(key.to_vec());
                if candidates.len() == PURGE_CHUNK {
                    break;
                }
            }
            let Some(last) = last else { break };
            let done = candidates.len() < PURGE_CHUNK;
            if !candidates.is_empty() {
                // A write may have landed since the scan: check again under the lock.
                let _writing = lock(&self.write);
                let mut batch = inner.keyspace.batch().durability(inner.persist);
                for key in candidates {
                    if let Some(record) = self.read(&key)? {
                        if record.is_purgeable(now, inner.grace) {
                            batch.remove(&self.rows, key);
                            purged += 1;
                        }
                    }
                }
                batch.commit().map_err(map_error)?;
            }
            if done {
                break;
            }
            from = Bound::Excluded(last);
        }
        Ok(purged)
    }

    fn slice(&self, inner: &Inner, query: &SliceQuery) -> Result<Vec<WideRow>> {
        let prefix = self.partition_prefix(&query.partition)?;
        let lower = match &query.start {
            Bound::Unbounded => Bound::Included(prefix.clone()),
            Bound::Included(start) => Bound::Included(self.bound_key(&prefix, start)?),
            Bound::Excluded(start) => match key::prefix_end(&self.bound_key(&prefix, start)?) {
                Some(end) => Bound::Included(end),
                None => return Ok(Vec::new()),
            },
        };
        let upper = match &query.end {
            Bound::Unbounded => after(prefix.clone()),
            Bound::Included(end) => after(self.bound_key(&prefix, end)?),
            Bound::Excluded(end) => Bound::Excluded(self.bound_key(&prefix, end)?),
        };
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        if limit == 0 {
            return Ok(rows);
        }
        // A snapshot at the newest fully applied batch: a slice never sees part of a batch.
        let snapshot = self.rows.snapshot_at(inner.keyspace.instant());
        let scan = snapshot.range((lower, upper));
        let scan: Box<dyn Iterator<Item = _>> = match query.order {
            Order::Ascending => Box::new(scan),
            Order::Descending => Box::new(scan.rev()),
        };
        let now = now_micros();
        for (scanned, item) in scan.enumerate() {
            // Tombstones and expired rows are skipped without returning: check for an
            // abandoned call every so often, not only per returned row.
            if scanned % 256 == 0 {
                crate::work::checkpoint()?;
            }
            let (key, bytes) = item.map_err(|err| map_error(err.into()))?;
            let Some(cells) = Record::decode(&bytes)?.into_visible(now) else {
                continue;
            };
            let clustering = key::decode(key.get(prefix.len()..).unwrap_or_default())?;
            rows.push(WideRow {
                partition: query.partition.clone(),
                clustering,
                cells,
            });
            if rows.len() == limit {
                break;
            }
        }
        Ok(rows)
    }

    /// Checks a row to write and turns it into its key and record.
    fn prepare(&self, row: WideRow, stamp: Stamp) -> Result<(Vec<u8>, Record)> {
        let key = self.row_key(&row.partition, &row.clustering)?;
        check_cells(&self.name, &self.settings, &row.cells)?;
        Ok((key, Record::write(stamp, row.cells)))
    }
}

/// The upper bound just past every key that starts with `prefix`.
fn after(prefix: Vec<u8>) -> Bound<Vec<u8>> {
    key::prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

/// The handle of one entity.
#[derive(Debug)]
pub(super) struct Table {
    inner: Arc<Inner>,
    shared: Arc<Shared>,
}

impl Table {
    pub(super) fn new(inner: Arc<Inner>, shared: Arc<Shared>) -> Self {
        Table { inner, shared }
    }

    async fn write(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()> {
        let stamp = stamp(options, &self.inner.clock)?;
        let (inner, shared) = (self.inner.clone(), self.shared.clone());
        blocking(move || {
            // Every row is checked before anything is written: a bad row fails the whole batch.
            let mut writes = BTreeMap::new();
            for row in rows {
                let (key, record) = shared.prepare(row, stamp)?;
                match writes.get_mut(&key) {
                    Some(earlier) => Record::merge(earlier, record),
                    None => {
                        writes.insert(key, record);
                    }
                }
            }
            if writes.is_empty() {
                return Ok(());
            }
            shared.merge_all(&inner, writes)
        })
        .await
    }
}

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
        let key = self.shared.row_key(partition, clustering)?;
        let (shared, partition, clustering) =
            (self.shared.clone(), partition.to_vec(), clustering.to_vec());
        blocking(move || {
            let Some(record) = shared.read(&key)? else {
                return Ok(None);
            };
            Ok(record.into_visible(now_micros()).map(|cells| WideRow {
                partition,
                clustering,
                cells,
            }))
        })
        .await
    }

    async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>> {
        crate::kinds::wide_column::check_slice(query)?;
        let (inner, shared, query) = (self.inner.clone(), self.shared.clone(), query.clone());
        blocking(move || shared.slice(&inner, &query)).await
    }

    async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool> {
        crate::kinds::wide_column::check_key(partition, clustering)?;
        let key = self.shared.row_key(partition, clustering)?;
        let (inner, shared) = (self.inner.clone(), self.shared.clone());
        blocking(move || shared.delete_all(&inner, vec![key]).map(|n| n > 0)).await
    }

    async fn delete_partition(&self, partition: &[Value]) -> Result<()> {
        crate::kinds::wide_column::check_key(partition, &[])?;
        let prefix = self.shared.partition_prefix(partition)?;
        let (inner, shared) = (self.inner.clone(), self.shared.clone());
        blocking(move || {
            let keys = shared
                .rows
                .prefix(&prefix)
                .map(|item| item.map(|(key, _)| key.to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_error)?;
            shared.delete_all(&inner, keys).map(drop)
        })
        .await
    }
}
