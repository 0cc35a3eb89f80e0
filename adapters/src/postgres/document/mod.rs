//! The PostgreSQL document backend: JSON documents as `jsonb`, one table per entity.
//!
//! Each entity is a table `doc_<entity>` of `(id TEXT COLLATE "C" PRIMARY KEY, body JSONB)`,
//! with a GIN index on `body` (`jsonb_path_ops`) that answers equality on any field through
//! containment, and, for each declared field, a B-tree index on the field's value (see
//! [`sql`]) that answers equality, `IN`, ranges and sorts on it.
//!
//! # Semantics
//!
//! Filters follow the contract exactly as the embedded backend does: comparisons are typed
//! (numbers with numbers by value, `1` equals `1.0`; strings with strings by code point;
//! booleans with booleans), `null` equals only `null`, a missing field matches only `Ne` and
//! `Exists(false)`, a path stops at non-objects, array and object filter values are invalid.
//!
//! Sort keys use jsonb's order of the field's value: missing and `null` first (they tie), then
//! strings, numbers, booleans, arrays, objects; descending reverses it; ties by id in byte order.
//! Among strings the order is the database collation's (code point order under the `C`
//! collation, as in the embedded backend); string *filters* always compare by code point.
//!
//! # Limits
//!
//! As in the embedded backend, ids are non-empty and documents nest at most
//! [`MAX_DEPTH`](crate::kinds::document::MAX_DEPTH) levels. PostgreSQL stores neither the
//! character U+0000 in text nor `\u0000` in jsonb: ids or documents holding it are invalid
//! requests.

mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value as Json;

use super::config::Config;
use super::migrate::{self, identifier};
use super::pool::PgPool;
use crate::kinds::document::check_document;
use crate::kinds::document::{
    Document, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Document,
    backend: "postgres",
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

/// A PostgreSQL database of JSON documents; each document entity has its own table.
#[derive(Clone, Debug)]
pub struct PostgresDocument {
    pool: PgPool,
}

impl PostgresDocument {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresDocument {
            pool: PgPool::connect(&config).await?,
        })
    }
}

#[async_trait]
impl Store for PostgresDocument {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.pool.is_durable();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Document(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let collection = Collection::new(self.pool.clone(), &entity.name);
        let table = &collection.table;
        let gin = identifier(&format!("{}_body", collection.name));
        let indexes: Vec<String> = settings
            .indexes
            .iter()
            .map(|path| collection.create_index_sql(path))
            .collect();
        migrate::apply(
            &self.pool,
            &format!("doc:{}", entity.name),
            &[format!(
                "CREATE TABLE {table} (
                    id TEXT COLLATE \"C\" PRIMARY KEY,
                    body JSONB NOT NULL
                );
                CREATE INDEX \"{gin}\" ON {table} USING GIN (body jsonb_path_ops);"
            )],
            &indexes,
        )
        .await?;
        Ok(EntityHandle::Document(Arc::new(collection)))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

/// One entity's documents: its `doc_<entity>` table and the statements on it.
#[derive(Debug)]
struct Collection {
    pool: PgPool,
    entity: String,
    /// The table's name, unqualified.
    name: String,
    /// The table, schema-qualified and quoted.
    table: String,
    put: String,
    insert: String,
    get: String,
    delete: String,
}

impl Collection {
    fn new(pool: PgPool, entity: &str) -> Self {
        let name = identifier(&format!("doc_{entity}"));
        let table = pool.qualified(&name);
        Collection {
            put: format!(
                "INSERT INTO {table} (id, body) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body"
            ),
            insert: format!(
                "INSERT INTO {table} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING"
            ),
            get: format!("SELECT body FROM {table} WHERE id = $1"),
            delete: format!("DELETE FROM {table} WHERE id = $1"),
            entity: entity.to_owned(),
            name,
            table,
            pool,
        }
    }

    /// The B-tree index on `path`'s value, missing values first as ascending sorts want them,
    /// then the id, so equal values come out in id order.
    fn create_index_sql(&self, path: &FieldPath) -> String {
        let index = identifier(&format!("{}:{path}", self.name));
        format!(
            "CREATE INDEX IF NOT EXISTS \"{index}\" ON {} (({}) NULLS FIRST, id)",
            self.table,
            sql::value(path)
        )
    }

    async fn write(&self, statement: &str, id: &str, document: Document) -> Result<u64> {
        check_document(id, &document)?;
        let body = Json::Object(document);
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, statement).await?;
        client
            .execute(&prepared, &[&id, &body])
            .await
            .map_err(|e| self.pool.error(e))
    }

    async fn documents(&self, sql: &sql::Sql) -> Result<Vec<StoredDocument>> {
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &sql.text).await?;
        let rows = client
            .query(&prepared, &sql.refs())
            .await
            .map_err(|e| self.pool.error(e))?;
        rows.into_iter()
            .map(|row| {
                let id: String = row.try_get(0).map_err(|e| self.pool.error(e))?;
                let body: Json = row.try_get(1).map_err(|e| self.pool.error(e))?;
                Ok(StoredDocument {
                    document: object(&id, body)?,
                    id,
                })
            })
            .collect()
    }
}

fn object(id: &str, body: Json) -> Result<Document> {
    match body {
        Json::Object(document) => Ok(document),
        _ => Err(StoreError::backend(format!(
            "stored document `{id}` is not a JSON object"
        ))),
    }
}

#[async_trait]
impl DocumentStore for Collection {
    async fn put(&self, id: &str, document: Document) -> Result<()> {
        crate::kinds::document::check_id(id)?;
        self.write(&self.put, id, document).await.map(drop)
    }

    async fn insert(&self, id: &str, document: Document) -> Result<()> {
        crate::kinds::document::check_id(id)?;
        match self.write(&self.insert, id, document).await? {
            0 => Err(StoreError::conflict(format!(
                "document `{id}` already exists in `{}`",
                self.entity
            ))),
            _ => Ok(()),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Document>> {
        crate::kinds::document::check_id(id)?;
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &self.get).await?;
        let row = client
            .query_opt(&prepared, &[&id])
            .await
            .map_err(|e| self.pool.error(e))?;
        match row {
            Some(row) => {
                let body: Json = row.try_get(0).map_err(|e| self.pool.error(e))?;
                object(id, body).map(Some)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        crate::kinds::document::check_id(id)?;
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &self.delete).await?;
        let deleted = client
            .execute(&prepared, &[&id])
            .await
            .map_err(|e| self.pool.error(e))?;
        Ok(deleted > 0)
    }

    async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>> {
        let sql = sql::select(&self.table, query)?;
        self.documents(&sql).await
    }

    async fn count(&self, filter: &Filter) -> Result<u64> {
        let sql = sql::count(&self.table, filter)?;
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &sql.text).await?;
        let row = client
            .query_one(&prepared, &sql.refs())
            .await
            .map_err(|e| self.pool.error(e))?;
        let count: i64 = row.try_get(0).map_err(|e| self.pool.error(e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn create_index(&self, path: &FieldPath) -> Result<()> {
        migrate::apply(
            &self.pool,
            &format!("doc:{}", self.entity),
            &[],
            &[self.create_index_sql(path)],
        )
        .await
    }
}
