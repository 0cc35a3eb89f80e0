//! The embedded document backend: JSON documents in SQLite (bundled), in a file or in memory.
//!
//! Each entity is a table `doc_<entity>` of `(id TEXT PRIMARY KEY, body TEXT)`, the body being
//! the document's JSON text. An indexed field is an expression index on
//! `(json_extract(body, '$.path'), id)`; filters and sorts read fields with that same
//! expression, so SQLite answers them from the index.
//!
//! # Filter semantics
//!
//! Values compare only with values of the same JSON type; a type mismatch never matches:
//!
//! - numbers compare with numbers by value, integer or not (`1` equals `1.0`); integers beyond
//!   the 64-bit range compare as floating point, as SQLite reads them;
//! - strings compare with strings by Unicode code point (byte order of UTF-8);
//! - booleans compare with booleans (`false < true`), never with the numbers 0 and 1;
//! - `null` in `Eq` matches a field holding `null`, not a missing one; as a range bound, `null`
//!   is ordered only with itself (`Lte`/`Gte` match `null`, `Lt`/`Gt` match nothing);
//! - a field holding an array or object equals no scalar and is in no range; comparing with an
//!   array or object is an invalid request;
//! - a missing field matches only `Ne` and `Exists(false)`; `Exists(true)` matches a present
//!   field, `null` included;
//! - a path stops at non-objects: `a.b` is missing when `a` is a number or an array;
//! - an empty `And` matches every document, an empty `Or` and an empty `In` none.
//!
//! # Sort order
//!
//! Sort keys use SQLite's order of the field's value: missing and `null` first, then numbers
//! and booleans (as 0 and 1), then strings and arrays or objects (as JSON text); descending
//! reverses it. Ties, and queries without sort keys, are in ascending id order (byte order).
//!
//! # Limits
//!
//! Ids are non-empty; documents nest at most [`MAX_DEPTH`] levels, so every stored document
//! can be read back.

mod sql;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};

use super::sqlite::{bind_params, map_error, SqlitePool, Statistics};
pub use super::sqlite::{Config, Synchronous};
use crate::backend::{Backend, BackendDescriptor};
pub use crate::kinds::document::MAX_DEPTH;
use crate::kinds::document::{
    check_document, Document, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use crate::store::{is_identifier, wrong_settings, ConnectContext};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind, Value,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Document,
    backend: "embedded",
    capabilities: Capabilities {
        ttl: false,
        transactions: false,
        ordered_scan: true,
        durable: true,
        secondary_indexes: true,
        atomic_increment: false,
        full_text: false,
        weighted_paths: false,
        batch_writes: false,
        evicts: false,
    },
};

/// An embedded SQLite database of JSON documents; every document entity routed to it has its
/// own table in it.
#[derive(Clone, Debug)]
pub struct EmbeddedDocument {
    pool: SqlitePool,
}

impl EmbeddedDocument {
    /// Opens (creating if needed) the database `config` describes.
    pub async fn open(config: Config, context: &ConnectContext) -> Result<Self> {
        Ok(EmbeddedDocument {
            pool: SqlitePool::open(config.pool_options(context)).await?,
        })
    }
}

/// The embedded document backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedDocument>(
    StoreKind::Document,
    "embedded",
    "JSON documents in SQLite with expression indexes, in a file or in memory",
);

impl Backend for EmbeddedDocument {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedDocument::open(config, context).await?))
    }
}

#[async_trait]
impl Store for EmbeddedDocument {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.pool.is_durable();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Document(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        // The name is written into SQL: check it even if the spec was built by hand.
        if !is_identifier(&entity.name) {
            return Err(StoreError::invalid(format!(
                "entity name `{}` is not an identifier",
                entity.name
            )));
        }
        let (name, indexes) = (entity.name.clone(), settings.indexes.clone());
        let pool = self.pool.clone();
        let statistics = self
            .pool
            .run(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_error)?;
                tx.execute(&sql::create_table(&name), [])
                    .map_err(map_error)?;
                for path in &indexes {
                    tx.execute(&sql::create_index(&name, path), [])
                        .map_err(map_error)?;
                }
                tx.commit().map_err(map_error)?;
                Statistics::load(conn, &pool, &format!("doc_{name}"))
            })
            .await?;
        Ok(EntityHandle::Document(Arc::new(Collection {
            pool: self.pool.clone(),
            entity: entity.name.clone(),
            statistics: Arc::new(statistics),
        })))
    }

    async fn ping(&self) -> Result<()> {
        self.pool
            .run(|conn| {
                conn.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(map_error)
            })
            .await
    }
}

/// One entity's documents: its `doc_<entity>` table.
#[derive(Debug)]
struct Collection {
    pool: SqlitePool,
    entity: String,
    /// The table's planner statistics, refreshed as it grows.
    statistics: Arc<Statistics>,
}

impl Collection {
    /// Runs one write statement of `(id, body)` on a blocking thread, serializing there.
    async fn write(&self, statement: String, id: &str, document: Document) -> Result<usize> {
        check_document(id, &document)?;
        let id = id.to_owned();
        let written = self
            .pool
            .run(move |conn| {
                let body = serde_json::to_string(&document).map_err(|err| {
                    StoreError::invalid(format!("document `{id}` cannot be written: {err}"))
                })?;
                execute(conn, &statement, &[Value::Text(id), Value::Text(body)])
            })
            .await?;
        self.statistics.wrote(1);
        Ok(written)
    }
}

fn decode(id: &str, body: &str) -> Result<Document> {
    serde_json::from_str(body).map_err(|err| {
        StoreError::backend_with(format!("stored document `{id}` is not a JSON object"), err)
    })
}

fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_error)?;
    bind_params(&mut stmt, params)?;
    stmt.raw_execute().map_err(map_error)
}

fn query_documents(conn: &Connection, sql: &sql::Sql) -> Result<Vec<StoredDocument>> {
    let mut stmt = conn.prepare_cached(&sql.text).map_err(map_error)?;
    bind_params(&mut stmt, &sql.params)?;
    let mut rows = stmt.raw_query();
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        let id: String = row.get(0).map_err(map_error)?;
        let body: String = row.get(1).map_err(map_error)?;
        found.push(StoredDocument {
            document: decode(&id, &body)?,
            id,
        });
    }
    Ok(found)
}

#[async_trait]
impl DocumentStore for Collection {
    async fn put(&self, id: &str, document: Document) -> Result<()> {
        crate::kinds::document::check_id(id)?;
        let statement = format!(
            "INSERT INTO {} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            sql::table(&self.entity)
        );
        self.write(statement, id, document).await.map(drop)
    }

    async fn insert(&self, id: &str, document: Document) -> Result<()> {
        crate::kinds::document::check_id(id)?;
        let statement = format!(
            "INSERT INTO {} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            sql::table(&self.entity)
        );
        match self.write(statement, id, document).await? {
            0 => Err(StoreError::conflict(format!(
                "document `{id}` already exists in `{}`",
                self.entity
            ))),
            _ => Ok(()),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Document>> {
        crate::kinds::document::check_id(id)?;
        let statement = format!(
            "SELECT body FROM {} WHERE id = $1",
            sql::table(&self.entity)
        );
        let id = id.to_owned();
        self.pool
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(&statement).map_err(map_error)?;
                bind_params(&mut stmt, &[Value::Text(id.clone())])?;
                let mut rows = stmt.raw_query();
                match rows.next().map_err(map_error)? {
                    Some(row) => {
                        let body: String = row.get(0).map_err(map_error)?;
                        decode(&id, &body).map(Some)
                    }
                    None => Ok(None),
                }
            })
            .await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        crate::kinds::document::check_id(id)?;
        let statement = format!("DELETE FROM {} WHERE id = $1", sql::table(&self.entity));
        let id = id.to_owned();
        let deleted = self
            .pool
            .run(move |conn| execute(conn, &statement, &[Value::Text(id)]))
            .await?;
        self.statistics.wrote(1);
        Ok(deleted > 0)
    }

    async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>> {
        let sql = sql::select(&self.entity, query)?;
        self.pool.run(move |conn| query_documents(conn, &sql)).await
    }

    async fn count(&self, filter: &Filter) -> Result<u64> {
        let sql = sql::count(&self.entity, filter)?;
        self.pool
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(&sql.text).map_err(map_error)?;
                bind_params(&mut stmt, &sql.params)?;
                let mut rows = stmt.raw_query();
                let count: i64 = match rows.next().map_err(map_error)? {
                    Some(row) => row.get(0).map_err(map_error)?,
                    None => 0,
                };
                Ok(u64::try_from(count).unwrap_or(0))
            })
            .await
    }

    async fn create_index(&self, path: &FieldPath) -> Result<()> {
        let statement = sql::create_index(&self.entity, path);
        let statistics = Arc::clone(&self.statistics);
        // A new index has no statistics yet: the planner would rate it blindly.
        self.pool
            .run(move |conn| {
                conn.execute(&statement, []).map_err(map_error)?;
                statistics.analyse_if_incomplete(conn)
            })
            .await
    }
}
