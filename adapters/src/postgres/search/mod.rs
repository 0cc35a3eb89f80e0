//! The PostgreSQL search backend: full-text search with `tsvector`, one table per entity.
//!
//! Each entity is a table `search_<entity>` of `(id TEXT COLLATE "C" PRIMARY KEY, doc JSONB)`
//! holding each document's declared fields, plus a generated `tsv` column: every text field
//! analysed by `to_tsvector` (the `simple` configuration, or `english` with `stemming =
//! "english"`), weighted `A`, `B`, `C`, `D` in declaration order so a phrase or `field:term`
//! matches within one field, with a GIN index. Keyword, integer and float fields get a B-tree
//! index on their value (see [`sql`]).
//!
//! # Semantics
//!
//! As in the embedded backend: terms are all required unless joined by `OR`, `-term` excludes,
//! `"a phrase"` matches adjacent words within one field, `field:term` searches one text field,
//! parentheses group (see [`text`]); anything else is an invalid request. The score is
//! `ts_rank` with every field weighted alike; filters restrict without changing it. Snippets are
//! `ts_headline` fragments, HTML-escaped, with matched words in `<b>`…`</b>`.
//!
//! # Visibility
//!
//! A write is one statement: it is searchable as soon as it is acknowledged, so
//! [`refresh`](SearchStore::refresh) is a round trip that waits for nothing.
//!
//! # Limits
//!
//! At most four text fields per entity (the four weights). Ids are non-empty; ids and keyword
//! values are at most 32766 bytes as in the embedded backend, but a B-tree entry holds about
//! 2.7 kB, so longer ones may be refused by the server. PostgreSQL stores no U+0000 in text.
//! The fields of an entity are fixed when its table is created.

mod sql;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value as Json;

use self::sql::Where;
use super::config::Config;
use super::migrate::{self, identifier};
use super::pool::PgPool;
use crate::kinds::search::fields::DeclaredFields;
use crate::kinds::search::{
    SearchDocument, SearchHit, SearchQuery, SearchResults, SearchSettings, SearchStore, Stemming,
};
use crate::store::wrong_settings;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Search,
    backend: "postgres",
    capabilities: Capabilities {
        ttl: false,
        transactions: false,
        ordered_scan: false,
        durable: true,
        secondary_indexes: true,
        atomic_increment: false,
        full_text: true,
        weighted_paths: false,
        batch_writes: true,
        evicts: false,
    },
};

/// A PostgreSQL database of search indexes; each search entity has its own table.
#[derive(Clone, Debug)]
pub struct PostgresSearch {
    pool: PgPool,
    /// The text search configuration analysing text fields and queries.
    language: &'static str,
}

impl PostgresSearch {
    /// Connects the pool and makes sure the schema exists.
    pub async fn open(config: Config) -> Result<Self> {
        Ok(PostgresSearch {
            language: match config.stemming {
                Stemming::None => "simple",
                Stemming::English => "english",
            },
            pool: PgPool::connect(&config).await?,
        })
    }
}

#[async_trait]
impl Store for PostgresSearch {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.pool.is_durable();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Search(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let index = Index::new(self.pool.clone(), &entity.name, settings, self.language)?;
        migrate::apply(
            &self.pool,
            &format!("search:{}", entity.name),
            &[index.create_table_sql()],
            &index.create_indexes_sql(),
        )
        .await?;
        Ok(EntityHandle::Search(Arc::new(index)))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.ping().await
    }
}

/// One entity's index: its `search_<entity>` table and schema.
#[derive(Debug)]
struct Index {
    pool: PgPool,
    /// The table's name, unqualified.
    name: String,
    /// The table, schema-qualified and quoted.
    table: String,
    language: &'static str,
    /// The fields; the text fields' declaration order is their weights' order.
    fields: DeclaredFields,
    upsert: String,
    delete: String,
}

impl Index {
    fn new(
        pool: PgPool,
        entity: &str,
        settings: &SearchSettings,
        language: &'static str,
    ) -> Result<Self> {
        let fields = DeclaredFields::new(settings)?;
        let text_fields = fields.text();
        if text_fields.len() > text::WEIGHTS.len() {
            return Err(StoreError::invalid(format!(
                "search entity `{entity}` declares {} text fields; the postgres backend supports at most {}",
                text_fields.len(),
                text::WEIGHTS.len()
            )));
        }
        let name = identifier(&format!("search_{entity}"));
        let table = pool.qualified(&name);
        Ok(Index {
            upsert: format!(
                "INSERT INTO {table} (id, doc) SELECT * FROM unnest($1::text[], $2::jsonb[]) \
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc"
            ),
            delete: format!("DELETE FROM {table} WHERE id = $1"),
            pool,
            name,
            table,
            language,
            fields,
        })
    }

    fn create_table_sql(&self) -> String {
        let vector = if self.fields.text().is_empty() {
            "''::tsvector".to_owned()
        } else {
            self.fields.text()
                .iter()
                .zip(text::WEIGHTS)
                .map(|(field, weight)| {
                    format!(
                        "setweight(to_tsvector('{}'::regconfig, coalesce(doc->>'{field}', '')), '{weight}')",
                        self.language
                    )
                })
                .collect::<Vec<_>>()
                .join(" || ")
        };
        let gin = identifier(&format!("{}_tsv", self.name));
        format!(
            "CREATE TABLE {table} (
                id TEXT COLLATE \"C\" PRIMARY KEY,
                doc JSONB NOT NULL,
                tsv TSVECTOR GENERATED ALWAYS AS ({vector}) STORED
            );
            CREATE INDEX \"{gin}\" ON {table} USING GIN (tsv);",
            table = self.table
        )
    }

    /// A B-tree index on each keyword and numeric field's value.
    fn create_indexes_sql(&self) -> Vec<String> {
        self.fields
            .all()
            .iter()
            .filter_map(|(field, kind)| {
                let value = sql::value(field, *kind)?;
                let index = identifier(&format!("{}:{field}", self.name));
                Some(format!(
                    "CREATE INDEX IF NOT EXISTS \"{index}\" ON {} (({value}))",
                    self.table
                ))
            })
            .collect()
    }

    async fn count(&self, sql: &str, filters: &Where) -> Result<u64> {
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, sql).await?;
        let row = client
            .query_one(&prepared, &filters.refs())
            .await
            .map_err(|e| self.pool.error(e))?;
        let count: i64 = row.try_get(0).map_err(|e| self.pool.error(e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl SearchStore for Index {
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()> {
        crate::kinds::search::check_ids(&documents)?;
        // Validate the whole batch first; the last of one id wins.
        let mut latest: HashMap<&str, Json> = HashMap::with_capacity(documents.len());
        for document in &documents {
            latest.insert(&document.id, self.fields.to_json(document)?);
        }
        if latest.is_empty() {
            return Ok(());
        }
        // Rows in id order, so concurrent batches lock shared ids in one order.
        let mut rows: Vec<(&str, Json)> = latest.into_iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let (ids, docs): (Vec<&str>, Vec<Json>) = rows.into_iter().unzip();
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &self.upsert).await?;
        client
            .execute(&prepared, &[&ids, &docs])
            .await
            .map_err(|e| self.pool.error(e))?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        crate::kinds::search::check_id(id)?;
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &self.delete).await?;
        let deleted = client
            .execute(&prepared, &[&id])
            .await
            .map_err(|e| self.pool.error(e))?;
        Ok(deleted > 0)
    }

    async fn query(&self, query: &SearchQuery) -> Result<SearchResults> {
        let tsquery = if query.text.trim().is_empty() {
            None
        } else if self.fields.text().is_empty() {
            return Err(StoreError::invalid(
                "this entity has no text fields to search; query with empty text and filters, or declare a text field",
            ));
        } else {
            // A query with no word left matches nothing: an empty tsquery.
            Some(text::translate(&query.text, &self.fields)?.unwrap_or_default())
        };
        let mut filters = Where::new(tsquery);
        for filter in &query.filters {
            filters.add(self, filter)?;
        }
        let snippets = query.snippets && filters.has_text();
        let select = sql::select(self, &filters, snippets);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let mut params = filters.refs();
        params.push(&limit);
        params.push(&offset);

        let rows = if query.limit == 0 {
            Vec::new()
        } else {
            let client = self.pool.get().await?;
            let prepared = self.pool.prepare(&client, &select).await?;
            client
                .query(&prepared, &params)
                .await
                .map_err(|e| self.pool.error(e))?
        };
        let total = match rows.first() {
            Some(row) => {
                let total: i64 = row.try_get(3).map_err(|e| self.pool.error(e))?;
                u64::try_from(total).unwrap_or(0)
            }
            None => self.count(&sql::count(self, &filters), &filters).await?,
        };
        let mut hits = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0).map_err(|e| self.pool.error(e))?;
            let doc: Json = row.try_get(1).map_err(|e| self.pool.error(e))?;
            let score: f32 = row.try_get(2).map_err(|e| self.pool.error(e))?;
            let mut hit = SearchHit {
                id,
                score,
                fields: self.fields.read_json(&doc),
                snippets: BTreeMap::new(),
            };
            if snippets {
                for (i, field) in self.fields.text().iter().enumerate() {
                    let headline: Option<String> =
                        row.try_get(4 + i).map_err(|e| self.pool.error(e))?;
                    if let Some(snippet) = headline.as_deref().and_then(sql::snippet) {
                        hit.snippets.insert(field.clone(), snippet);
                    }
                }
            }
            hits.push(hit);
        }
        Ok(SearchResults { total, hits })
    }

    async fn refresh(&self) -> Result<()> {
        // Acknowledged writes are already committed: nothing to wait for.
        self.pool.ping().await
    }
}
