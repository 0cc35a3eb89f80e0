//! The PostgreSQL key-value backend: one table per entity, `kv_<entity>`, of
//! `(key BYTEA PRIMARY KEY, value BYTEA, expires_at TIMESTAMPTZ)`.
//!
//! Expiry is the server's clock: a row whose `expires_at` has passed is absent to every
//! operation, and a task per entity deletes such rows every `purge_interval` through a partial
//! index on `expires_at`. Every operation is one statement (one round trip): conditional writes
//! and increments use `INSERT … ON CONFLICT DO UPDATE … WHERE`, so they are atomic under
//! concurrent writers without explicit locks or retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_postgres::types::ToSql;

use super::config::Config;
use super::migrate::{self, identifier};
use super::pool::PgPool;
use super::purge::spawn_purge;
use crate::kinds::key_value::{check_key, check_keys, KeyValueStore, SetCondition, SetOptions};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// Rows deleted per purge statement, so a purge never holds many row locks at once.
const PURGE_BATCH: u64 = 1000;

/// A PostgreSQL database holding key-value entities, one table each.
#[derive(Clone, Debug)]
pub struct PostgresKeyValue {
    pool: PgPool,
    purge_interval: Duration,
}

impl PostgresKeyValue {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresKeyValue {
            pool: PgPool::connect(&config).await?,
            purge_interval: config.purge_interval.0,
        })
    }
}

#[async_trait]
impl Store for PostgresKeyValue {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::KeyValue,
            backend: "postgres",
            capabilities: Capabilities {
                ttl: true,
                durable: self.pool.is_durable(),
                atomic_increment: true,
                batch_writes: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::KeyValue(_) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let name = identifier(&format!("kv_{}", entity.name));
        let table = self.pool.qualified(&name);
        let expiry_index = identifier(&format!("{name}_expires_at"));
        migrate::apply(
            &self.pool,
            &format!("kv:{}", entity.name),
            &[format!(
                "CREATE TABLE {table} (
                    key BYTEA PRIMARY KEY,
                    value BYTEA NOT NULL,
                    expires_at TIMESTAMPTZ
                );
                CREATE INDEX \"{expiry_index}\" ON {table} (expires_at) WHERE expires_at IS NOT NULL;"
            )],
            &[],
        )
        .await?;
        let handle = Arc::new(Table::new(self.pool.clone(), &table));
        spawn_purge(
            Arc::downgrade(&handle),
            self.purge_interval,
            "purging expired key-value rows",
            |table| async move { table.purge().await },
        );
        Ok(EntityHandle::KeyValue(handle))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

/// The SQL of one entity, written once.
#[derive(Debug)]
struct Table {
    pool: PgPool,
    get: String,
    get_many: String,
    set: String,
    set_if_absent: String,
    set_if_present: String,
    set_many: String,
    delete: String,
    increment: String,
    purge: String,
}

/// A row is live while it has no expiry or its expiry is still ahead.
const LIVE: &str = "(expires_at IS NULL OR expires_at > now())";

/// The expiry of a write from its TTL in microseconds (`NULL`: none).
const EXPIRES: &str = "now() + $3::bigint * interval '1 microsecond'";

impl Table {
    fn new(pool: PgPool, t: &str) -> Self {
        let upsert = format!(
            "INSERT INTO {t} AS t (key, value, expires_at) VALUES ($1, $2, {EXPIRES}) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
        );
        Table {
            get: format!("SELECT value FROM {t} WHERE key = $1 AND {LIVE}"),
            get_many: format!("SELECT key, value FROM {t} WHERE key = ANY($1) AND {LIVE}"),
            set_if_absent: format!(
                "{upsert} WHERE t.expires_at IS NOT NULL AND t.expires_at <= now()"
            ),
            set: upsert,
            set_if_present: format!(
                "UPDATE {t} SET value = $2, expires_at = {EXPIRES} WHERE key = $1 AND {LIVE}"
            ),
            set_many: format!(
                "INSERT INTO {t} AS t (key, value, expires_at) \
                 SELECT k, v, {EXPIRES} FROM unnest($1::bytea[], $2::bytea[]) AS u (k, v) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
            ),
            delete: format!("DELETE FROM {t} WHERE key = $1 RETURNING {LIVE}"),
            // The stored text must be a plain decimal integer (no spaces, no exponent); anything
            // else fails the cast on purpose, leaving the row unchanged.
            increment: format!(
                "INSERT INTO {t} AS t (key, value, expires_at) \
                 VALUES ($1, convert_to($2::bigint::text, 'UTF8'), NULL) \
                 ON CONFLICT (key) DO UPDATE SET \
                   value = CASE WHEN t.expires_at IS NULL OR t.expires_at > now() THEN \
                     convert_to((CASE WHEN encode(t.value, 'escape') ~ '^[+-]?[0-9]+$' \
                       THEN encode(t.value, 'escape') \
                       ELSE 'not an integer: ' || encode(t.value, 'hex') END::bigint + $2)::text, 'UTF8') \
                     ELSE excluded.value END, \
                   expires_at = CASE WHEN t.expires_at IS NULL OR t.expires_at > now() \
                     THEN t.expires_at END \
                 RETURNING convert_from(value, 'UTF8')::bigint"
            ),
            purge: format!(
                "DELETE FROM {t} WHERE key IN (SELECT key FROM {t} \
                 WHERE expires_at <= now() LIMIT {PURGE_BATCH} FOR UPDATE SKIP LOCKED)"
            ),
            pool,
        }
    }

    async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, sql).await?;
        client
            .execute(&statement, params)
            .await
            .map_err(|e| self.pool.error(e))
    }

    async fn purge(&self) -> Result<()> {
        while self.run(&self.purge, &[]).await? == PURGE_BATCH {}
        Ok(())
    }
}

/// A TTL in microseconds, rounded up so a sub-microsecond TTL still expires; zero is invalid.
fn ttl_micros(ttl: Option<Duration>) -> Result<Option<i64>> {
    match ttl {
        None => Ok(None),
        Some(ttl) if ttl.is_zero() => Err(StoreError::invalid(
            "ttl must be more than zero; omit it to keep the entry until deleted",
        )),
        Some(ttl) => i64::try_from(ttl.as_nanos().div_ceil(1000))
            .ok()
            .filter(|us| *us < 100 * 365 * 86_400 * 1_000_000)
            .map(Some)
            .ok_or_else(|| StoreError::invalid(format!("ttl {ttl:?} is too large"))),
    }
}

#[async_trait]
impl KeyValueStore for Table {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        check_key(key)?;
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.get).await?;
        let row = client
            .query_opt(&statement, &[&key.as_bytes()])
            .await
            .map_err(|e| self.pool.error(e))?;
        Ok(row.map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))))
    }

    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        check_key(key)?;
        let ttl = ttl_micros(options.ttl)?;
        let sql = match options.condition {
            SetCondition::Always => &self.set,
            SetCondition::IfAbsent => &self.set_if_absent,
            SetCondition::IfPresent => &self.set_if_present,
        };
        let changed = self
            .run(sql, &[&key.as_bytes(), &value.as_ref(), &ttl])
            .await?;
        Ok(changed > 0)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.delete).await?;
        let row = client
            .query_opt(&statement, &[&key.as_bytes()])
            .await
            .map_err(|e| self.pool.error(e))?;
        Ok(row.is_some_and(|row| row.get::<_, bool>(0)))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        check_keys(keys.iter().map(String::as_str))?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.get_many).await?;
        let rows = client
            .query(&statement, &[&wanted])
            .await
            .map_err(|e| self.pool.error(e))?;
        let found: HashMap<Vec<u8>, Bytes> = rows
            .into_iter()
            .map(|row| {
                (
                    row.get::<_, Vec<u8>>(0),
                    Bytes::from(row.get::<_, Vec<u8>>(1)),
                )
            })
            .collect();
        Ok(keys
            .iter()
            .map(|key| found.get(key.as_bytes()).cloned())
            .collect())
    }

    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        check_keys(entries.iter().map(|(key, _)| key.as_str()))?;
        let ttl = ttl_micros(ttl)?;
        // One row per key (the last write wins, as if written in order), in key order so that
        // concurrent batches lock rows in the same order and cannot deadlock.
        let mut last: HashMap<String, Bytes> = HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            last.insert(key, value);
        }
        if last.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<(String, Bytes)> = last.into_iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let keys: Vec<&[u8]> = rows.iter().map(|(k, _)| k.as_bytes()).collect();
        let values: Vec<&[u8]> = rows.iter().map(|(_, v)| v.as_ref()).collect();
        self.run(&self.set_many, &[&keys, &values, &ttl]).await?;
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        check_key(key)?;
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &self.increment).await?;
        let result = client
            .query_one(&statement, &[&key.as_bytes(), &delta])
            .await;
        match result {
            Ok(row) => Ok(row.get(0)),
            Err(err) => {
                let code = err.code().map(|c| c.code().to_owned());
                Err(match code.as_deref() {
                    Some("22P02") | Some("22021") => StoreError::InvalidRequest {
                        message: format!(
                            "`{key}` holds a value that is not a decimal integer, so it cannot be incremented"
                        ),
                        source: Some(err.into()),
                    },
                    Some("22003") => StoreError::InvalidRequest {
                        message: format!(
                            "incrementing `{key}` by {delta} overflows a 64-bit integer"
                        ),
                        source: Some(err.into()),
                    },
                    _ => self.pool.error(err),
                })
            }
        }
    }
}
