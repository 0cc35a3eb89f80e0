//! The PostgreSQL wide-column backend: one table per entity, `wc_<entity>`, whose primary key
//! is the entity's partition key columns followed by its clustering key columns.
//!
//! # Layout
//!
//! - Key columns are `p0, p1, …` and `c0, c1, …`, each `BYTEA` holding the order-preserving
//!   encoding of its value that the embedded engine uses, so the primary-key B-tree keeps a
//!   partition's rows in the contract's clustering order (text by code point, floats in total
//!   order, values of different types by type), which no collation of a typed column gives, and
//!   a slice is one index range scan, forwards or backwards.
//! - `record` holds the row's cells with their write timestamps and expiries, its liveness
//!   marker and its newest deletion, merged last-write-wins by the same code as the embedded
//!   engine, so both backends resolve every conflict identically.
//! - `visible_until` is when the row stops being visible, so reads filter in SQL and a limit
//!   counts visible rows only; `settled_at` is the last moment anything in the row happens. A
//!   partial index on `settled_at` over the rows that can stop being visible lets the purge find
//!   rows that are dead and past `tombstone_grace` without a scan.
//! - `polyroute_wide_column_shapes` records each entity's key column names, so reopening an
//!   entity with other keys is refused.
//!
//! # Writes and deletes
//!
//! A batch is one transaction. Its rows that do not exist yet are inserted as written in one
//! `INSERT … ON CONFLICT DO NOTHING` (an append is that one statement); the others are locked
//! in key order (`SELECT … FOR UPDATE`), merged here, and updated in one statement. Concurrent
//! writers of one row therefore merge instead of overwriting each other, and a reader sees a
//! batch whole or not at all. A delete stamps the row just after its newest write (or with the
//! store's clock, if later) and keeps shadowing writes stamped before it until the purge drops
//! the row, `tombstone_grace` after its last event. Deadlocks between batches that share rows
//! are retried.

mod sql;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::config::Config;
use super::migrate::{self, identifier};
use super::pool::PgPool;
use super::purge::spawn_purge;
use crate::kinds::wide_column::clock::{now_micros, Clock};
use crate::kinds::wide_column::record::Record;
use crate::kinds::wide_column::{key, rules};
use crate::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind, Value,
};
use sql::Sql;

/// Rows deleted per purge statement, so a purge never holds many row locks at once.
const PURGE_BATCH: u64 = 1000;

/// The longest encoded row key: B-tree entries must fit a third of a page.
pub const MAX_KEY_BYTES: usize = 2000;

/// Tries of a write that deadlocked with another batch before the error is returned.
const ATTEMPTS: usize = 3;

/// The table recording each entity's key columns.
const SHAPES_TABLE: &str = "polyroute_wide_column_shapes";

/// A PostgreSQL database holding wide-column entities, one table each.
#[derive(Clone, Debug)]
pub struct PostgresWideColumn {
    pool: PgPool,
    clock: Arc<Clock>,
    purge_interval: Duration,
    grace: i64,
}

impl PostgresWideColumn {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresWideColumn {
            pool: PgPool::connect(&config).await?,
            clock: Arc::default(),
            purge_interval: config.purge_interval.0,
            grace: i64::try_from(config.tombstone_grace.0.as_micros()).unwrap_or(i64::MAX),
        })
    }
}

#[async_trait]
impl Store for PostgresWideColumn {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::WideColumn,
            backend: "postgres",
            capabilities: Capabilities {
                ttl: true,
                ordered_scan: true,
                durable: self.pool.is_durable(),
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::WideColumn(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        rules::check_settings(&entity.name, settings)?;
        let name = identifier(&format!("wc_{}", entity.name));
        let sql = Sql::new(
            &self.pool.qualified(&name),
            settings.partition_key.len(),
            settings.clustering_key.len(),
        );
        let purge_index = identifier(&format!("{name}_purge"));
        let shapes = self.pool.qualified(SHAPES_TABLE);
        let pool = &self.pool;
        let mut client = pool.get().await?;
        let tx = migrate::begin(&mut client, pool).await?;
        migrate::run(
            &tx,
            pool,
            &format!("wc:{}", entity.name),
            &[sql.create(&purge_index)],
            &[format!(
                "CREATE TABLE IF NOT EXISTS {shapes} (
                    entity TEXT PRIMARY KEY,
                    partition_key TEXT[] NOT NULL,
                    clustering_key TEXT[] NOT NULL
                )"
            )],
        )
        .await?;
        // Recorded with the table, under the migration lock: the first shape opened stays.
        tx.execute(
            &format!(
                "INSERT INTO {shapes} (entity, partition_key, clustering_key) \
                 VALUES ($1, $2, $3) ON CONFLICT (entity) DO NOTHING"
            ),
            &[
                &entity.name,
                &settings.partition_key,
                &settings.clustering_key,
            ],
        )
        .await
        .map_err(|e| pool.error(e))?;
        let stored = tx
            .query_one(
                &format!("SELECT partition_key, clustering_key FROM {shapes} WHERE entity = $1"),
                &[&entity.name],
            )
            .await
            .map_err(|e| pool.error(e))?;
        let stored = WideColumnSettings::new(stored.get(0), stored.get(1));
        rules::same_keys(&entity.name, &stored, settings)?;
        tx.commit().await.map_err(|e| pool.error(e))?;
        let table = Arc::new(Table {
            pool: self.pool.clone(),
            name: entity.name.clone(),
            settings: settings.clone(),
            sql,
            clock: self.clock.clone(),
            grace: self.grace,
        });
        spawn_purge(
            Arc::downgrade(&table),
            self.purge_interval,
            "purging wide-column rows",
            |table| async move { table.purge().await.map(drop) },
        );
        Ok(EntityHandle::WideColumn(table))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

/// A row's key: the encoding of each key column's value, partition columns first.
type RowKey = Vec<Vec<u8>>;

/// One entity's handle.
#[derive(Debug)]
struct Table {
    pool: PgPool,
    name: String,
    settings: WideColumnSettings,
    sql: Sql,
    clock: Arc<Clock>,
    grace: i64,
}

impl Table {
    /// Encodes `values` of the key columns `columns`, after checking their count (at most that
    /// many for a `prefix`) and types.
    fn encode(
        &self,
        which: &str,
        columns: &[String],
        values: &[Value],
        prefix: bool,
    ) -> Result<Vec<Vec<u8>>> {
        rules::arity(&self.name, which, columns, values.len(), prefix)?;
        let encoded = columns
            .iter()
            .zip(values)
            .map(|(column, value)| {
                let mut out = Vec::new();
                key::encode_into(
                    &mut out,
                    std::slice::from_ref(column),
                    std::slice::from_ref(value),
                )?;
                Ok(out)
            })
            .collect::<Result<Vec<_>>>()?;
        let bytes: usize = encoded.iter().map(Vec::len).sum();
        if bytes > MAX_KEY_BYTES {
            return Err(StoreError::invalid(format!(
                "a key of `{}` takes {bytes} bytes encoded, more than the {MAX_KEY_BYTES} this backend indexes; use shorter key values",
                self.name
            )));
        }
        Ok(encoded)
    }

    fn partition_key(&self, partition: &[Value]) -> Result<RowKey> {
        self.encode("partition", &self.settings.partition_key, partition, false)
    }

    fn row_key(&self, partition: &[Value], clustering: &[Value]) -> Result<RowKey> {
        let mut key = self.partition_key(partition)?;
        let columns = &self.settings.clustering_key;
        key.extend(self.encode("clustering", columns, clustering, false)?);
        if key.iter().map(Vec::len).sum::<usize>() > MAX_KEY_BYTES {
            return Err(StoreError::invalid(format!(
                "a row key of `{}` takes more than the {MAX_KEY_BYTES} bytes this backend indexes; use shorter key values",
                self.name
            )));
        }
        Ok(key)
    }

    /// Applies `change` to the rows at `keys` (sorted) in one transaction: to an empty record
    /// for rows that do not exist, to the stored one for rows that do. `change` returns whether
    /// the row was visible before; the sum is returned.
    async fn change<F>(&self, keys: Vec<RowKey>, change: F) -> Result<usize>
    where
        F: Fn(&RowKey, &mut Record) -> bool + Send + Sync,
    {
        let mut attempt = 1;
        loop {
            match self.change_once(&keys, &change).await {
                // A deadlock with another batch: this one was rolled back whole; run it again.
                Err(StoreError::Conflict { .. }) if attempt < ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    async fn change_once<F>(&self, keys: &[RowKey], change: &F) -> Result<usize>
    where
        F: Fn(&RowKey, &mut Record) -> bool + Send + Sync,
    {
        let pool = &self.pool;
        let mut client = pool.get().await?;
        if let [key] = keys {
            // One row: its insert is atomic on its own, and is all an append needs.
            if self.insert(&*client, keys, change).await? == 1 {
                return Ok(0);
            }
            let tx = client.transaction().await.map_err(|e| pool.error(e))?;
            let visible = self.merge(&tx, vec![key.clone()], change).await?;
            tx.commit().await.map_err(|e| pool.error(e))?;
            return Ok(visible);
        }
        let tx = client.transaction().await.map_err(|e| pool.error(e))?;
        let visible = self.merge(&tx, keys.to_vec(), change).await?;
        tx.commit().await.map_err(|e| pool.error(e))?;
        Ok(visible)
    }

    /// Inserts the rows at `keys` that do not exist, as `change` leaves an empty record;
    /// returns how many it inserted.
    async fn insert<C, F>(&self, client: &C, keys: &[RowKey], change: &F) -> Result<usize>
    where
        C: GenericClient + Sync,
        F: Fn(&RowKey, &mut Record) -> bool + Send + Sync,
    {
        let rows = keys
            .iter()
            .map(|key| {
                let mut record = Record::default();
                change(key, &mut record);
                (key.clone(), record)
            })
            .collect::<Vec<_>>();
        Ok(self
            .write_rows(client, &self.sql.insert, &rows)
            .await?
            .len())
    }

    /// Inserts what is missing, then locks, changes and updates what exists, until every key
    /// is done (a row purged between the two statements is inserted on the next pass).
    async fn merge<F>(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        mut pending: Vec<RowKey>,
        change: &F,
    ) -> Result<usize>
    where
        F: Fn(&RowKey, &mut Record) -> bool + Send + Sync,
    {
        let mut visible = 0;
        loop {
            let fresh: Vec<(RowKey, Record)> = pending
                .iter()
                .map(|key| {
                    let mut record = Record::default();
                    change(key, &mut record);
                    (key.clone(), record)
                })
                .collect();
            let inserted: BTreeSet<RowKey> = self
                .write_rows(tx, &self.sql.insert, &fresh)
                .await?
                .into_iter()
                .collect();
            pending.retain(|key| !inserted.contains(key));
            if pending.is_empty() {
                return Ok(visible);
            }
            let mut stored = self.lock(tx, &pending).await?;
            for (key, record) in &mut stored {
                visible += usize::from(change(key, record));
            }
            self.write_rows(tx, &self.sql.update, &stored).await?;
            let updated: BTreeSet<&RowKey> = stored.iter().map(|(key, _)| key).collect();
            pending.retain(|key| !updated.contains(key));
            if pending.is_empty() {
                return Ok(visible);
            }
        }
    }

    /// Runs the insert or update statement `sql` for `rows`; returns the keys it returned.
    async fn write_rows<C: GenericClient + Sync>(
        &self,
        client: &C,
        sql: &str,
        rows: &[(RowKey, Record)],
    ) -> Result<Vec<RowKey>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let columns = self.key_arrays(rows.iter().map(|(key, _)| key));
        let visible_until: Vec<i64> = rows.iter().map(|(_, r)| r.visible_until()).collect();
        let settled_at: Vec<i64> = rows.iter().map(|(_, r)| r.settled_at()).collect();
        let records = rows
            .iter()
            .map(|(_, record)| self.encode_record(record))
            .collect::<Result<Vec<_>>>()?;
        let mut params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(|c| c as _).collect();
        params.extend([&visible_until as &(dyn ToSql + Sync), &settled_at, &records]);
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.pool.error(e))?;
        let returned = client
            .query(&statement, &params)
            .await
            .map_err(|e| self.pool.error(e))?;
        returned.iter().map(|row| self.read_key(row)).collect()
    }

    /// Locks the rows at `keys` in key order; returns those that exist with their records.
    async fn lock(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        keys: &[RowKey],
    ) -> Result<Vec<(RowKey, Record)>> {
        let columns = self.key_arrays(keys.iter());
        let params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(|c| c as _).collect();
        let statement = tx
            .prepare_cached(&self.sql.lock)
            .await
            .map_err(|e| self.pool.error(e))?;
        let rows = tx
            .query(&statement, &params)
            .await
            .map_err(|e| self.pool.error(e))?;
        rows.iter().map(|row| self.read_locked(row)).collect()
    }

    /// The key values of `keys`, one array per key column.
    fn key_arrays<'k>(&self, keys: impl Iterator<Item = &'k RowKey> + Clone) -> Vec<Vec<&'k [u8]>> {
        let count = self.settings.partition_key.len() + self.settings.clustering_key.len();
        (0..count)
            .map(|column| {
                keys.clone()
                    .map(|key| key.get(column).map_or(&[][..], Vec::as_slice))
                    .collect()
            })
            .collect()
    }

    fn read_key(&self, row: &tokio_postgres::Row) -> Result<RowKey> {
        let count = self.settings.partition_key.len() + self.settings.clustering_key.len();
        (0..count)
            .map(|i| row.try_get::<_, Vec<u8>>(i).map_err(|e| self.pool.error(e)))
            .collect()
    }

    fn read_locked(&self, row: &tokio_postgres::Row) -> Result<(RowKey, Record)> {
        let key = self.read_key(row)?;
        let bytes: &[u8] = row.try_get(key.len()).map_err(|e| self.pool.error(e))?;
        Ok((key, Record::decode(bytes)?))
    }

    fn encode_record(&self, record: &Record) -> Result<Vec<u8>> {
        let bytes = record.encode()?;
        if i32::try_from(bytes.len()).is_err() {
            return Err(StoreError::invalid(format!(
                "a row of `{}` takes {} bytes, more than the 1 GiB a PostgreSQL value may hold",
                self.name,
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    async fn write(&self, rows: Vec<WideRow>, options: WriteOptions) -> Result<()> {
        let stamp = rules::stamp(options, &self.clock)?;
        // Every row is checked before anything is written: a bad row fails the whole batch.
        let mut writes: BTreeMap<RowKey, Record> = BTreeMap::new();
        for row in rows {
            let key = self.row_key(&row.partition, &row.clustering)?;
            rules::check_cells(&self.name, &self.settings, &row.cells)?;
            let record = Record::write(stamp, row.cells);
            match writes.get_mut(&key) {
                Some(earlier) => earlier.merge(record),
                None => {
                    writes.insert(key, record);
                }
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        let keys: Vec<RowKey> = writes.keys().cloned().collect();
        self.change(keys, |key, record| {
            if let Some(write) = writes.get(key) {
                record.merge(write.clone());
            }
            false
        })
        .await
        .map(drop)
    }

    /// Deletes every row of `partition` (see the module docs).
    async fn delete_rows_of(&self, partition: RowKey) -> Result<()> {
        let pool = &self.pool;
        let params: Vec<&(dyn ToSql + Sync)> = partition.iter().map(|p| p as _).collect();
        let mut client = pool.get().await?;
        let tx = client.transaction().await.map_err(|e| pool.error(e))?;
        let statement = tx
            .prepare_cached(&self.sql.lock_partition)
            .await
            .map_err(|e| pool.error(e))?;
        let rows = tx
            .query(&statement, &params)
            .await
            .map_err(|e| pool.error(e))?;
        let mut stored = rows
            .iter()
            .map(|row| self.read_locked(row))
            .collect::<Result<Vec<_>>>()?;
        let (clock, now) = (self.clock.next(), now_micros());
        for (_, record) in &mut stored {
            record.delete(clock, now);
        }
        self.write_rows(&tx, &self.sql.update, &stored).await?;
        tx.commit().await.map_err(|e| pool.error(e))
    }

    async fn purge(&self) -> Result<u64> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.sql.purge).await?;
        let mut purged = 0;
        loop {
            let now = now_micros();
            let cutoff = now.saturating_sub(self.grace);
            let deleted = client
                .execute(&statement, &[&now, &cutoff])
                .await
                .map_err(|e| self.pool.error(e))?;
            purged += deleted;
            if deleted < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    /// The rows a slice's SQL returned, with their cells visible at `now`.
    fn read_slice(
        &self,
        partition: &[Value],
        rows: &[tokio_postgres::Row],
        now: i64,
    ) -> Result<Vec<WideRow>> {
        let clustering = self.settings.clustering_key.len();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut key = Vec::with_capacity(clustering);
            for i in 0..clustering {
                let bytes: &[u8] = row.try_get(i).map_err(|e| self.pool.error(e))?;
                match key::decode(bytes)?.as_slice() {
                    [value] => key.push(value.clone()),
                    _ => return Err(StoreError::backend("a stored row key is corrupt")),
                }
            }
            let bytes: &[u8] = row.try_get(clustering).map_err(|e| self.pool.error(e))?;
            // The SQL kept only rows visible at `now`, so every one has its cells.
            if let Some(cells) = Record::decode(bytes)?.into_visible(now) {
                out.push(WideRow {
                    partition: partition.to_vec(),
                    clustering: key,
                    cells,
                });
            }
        }
        Ok(out)
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
        let key = self.row_key(partition, clustering)?;
        let now = now_micros();
        let mut params: Vec<&(dyn ToSql + Sync)> = key.iter().map(|k| k as _).collect();
        params.push(&now);
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.sql.get).await?;
        let row = client
            .query_opt(&statement, &params)
            .await
            .map_err(|e| self.pool.error(e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let bytes: &[u8] = row.try_get(0).map_err(|e| self.pool.error(e))?;
        Ok(Record::decode(bytes)?
            .into_visible(now)
            .map(|cells| WideRow {
                partition: partition.to_vec(),
                clustering: clustering.to_vec(),
                cells,
            }))
    }

    async fn slice(&self, query: &SliceQuery) -> Result<Vec<WideRow>> {
        crate::kinds::wide_column::check_slice(query)?;
        let partition = self.partition_key(&query.partition)?;
        let columns = &self.settings.clustering_key;
        let bound = |bound: &Bound<Vec<Value>>| -> Result<Bound<Vec<Vec<u8>>>> {
            Ok(match bound {
                Bound::Included(values) => {
                    Bound::Included(self.encode("clustering", columns, values, true)?)
                }
                Bound::Excluded(values) => {
                    Bound::Excluded(self.encode("clustering", columns, values, true)?)
                }
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        let (lower, upper) = (bound(&query.start)?, bound(&query.end)?);
        // Excluding the empty prefix excludes every row.
        let excludes_all =
            |b: &Bound<Vec<Vec<u8>>>| matches!(b, Bound::Excluded(v) if v.is_empty());
        if query.limit == Some(0) || excludes_all(&lower) || excludes_all(&upper) {
            return Ok(Vec::new());
        }
        let len = |b: &Bound<Vec<Vec<u8>>>| match b {
            Bound::Included(v) => Bound::Included(v.len()),
            Bound::Excluded(v) => Bound::Excluded(v.len()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let sql = self.sql.slice(len(&lower), len(&upper), query.order);
        let now = now_micros();
        let limit = query
            .limit
            .map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let mut params: Vec<&(dyn ToSql + Sync)> = partition.iter().map(|p| p as _).collect();
        for bound in [&lower, &upper] {
            if let Bound::Included(values) | Bound::Excluded(values) = bound {
                params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
            }
        }
        params.push(&now);
        params.push(&limit);
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &sql).await?;
        let rows = client
            .query(&statement, &params)
            .await
            .map_err(|e| self.pool.error(e))?;
        self.read_slice(&query.partition, &rows, now)
    }

    async fn delete(&self, partition: &[Value], clustering: &[Value]) -> Result<bool> {
        crate::kinds::wide_column::check_key(partition, clustering)?;
        let key = self.row_key(partition, clustering)?;
        let (clock, now) = (self.clock.next(), now_micros());
        let visible = self
            .change(vec![key], |_, record| record.delete(clock, now))
            .await?;
        Ok(visible > 0)
    }

    async fn delete_partition(&self, partition: &[Value]) -> Result<()> {
        crate::kinds::wide_column::check_key(partition, &[])?;
        let partition = self.partition_key(partition)?;
        self.delete_rows_of(partition).await
    }
}
