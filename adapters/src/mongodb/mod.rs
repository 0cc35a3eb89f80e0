//! The MongoDB document backend (cargo feature `mongodb`).
//!
//! Each document entity is a collection of the configured database, named after the entity,
//! holding one record per document: `{_id: <id>, body: <document>}`. The document sits under
//! `body` so that its own fields (an `_id` among them) never collide with the record's key;
//! field names MongoDB would read as operators or paths (`$`-prefixed, dotted, empty, holding
//! U+0000) are escaped (see [`convert`]). Filters and sorts become query documents in
//! [`query`]; driver errors become [`StoreError`]s in `error`.
//!
//! # Semantics
//!
//! Filters follow the contract: comparisons are typed (MongoDB brackets them by type: numbers
//! by value, `1` equals `1.0`; strings by UTF-8 bytes, which is code point order; booleans
//! `false < true`), `null` equals only `null`, a missing field matches only `Ne` and
//! `Exists(false)`, array and object filter values are invalid.
//!
//! Sorts put missing and `null` first ascending (they tie), last descending, then break ties by
//! id in byte order. Across types MongoDB orders numbers before strings, then objects, arrays,
//! booleans (PostgreSQL orders strings first): the contract leaves that order open.
//!
//! # Limits
//!
//! - A path through an *array* behaves as MongoDB's does: `a.b` also reaches into objects that
//!   are elements of an array `a`, `a.0` indexes an array, and a comparison on an array field
//!   matches when an element matches (the embedded and PostgreSQL backends stop at arrays).
//! - Ids are non-empty; documents nest at most
//!   [`MAX_DEPTH`](crate::kinds::document::MAX_DEPTH)` - 1` levels (the record adds one, and
//!   MongoDB stops at 100) and a record is at most 16 MiB of BSON.

mod config;
mod convert;
mod error;
mod query;

pub use config::{Config, ReadPreferenceConfig, WriteAcknowledgment, WriteConcernConfig};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document as BsonDocument};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection as MongoCollection, Database, IndexModel};

use self::error::map_error;
use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::document::{check_document, MAX_DEPTH};
use crate::kinds::document::{
    Document, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Document,
    backend: "mongodb",
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

/// A MongoDB database of JSON documents; each document entity has its own collection.
#[derive(Clone, Debug)]
pub struct MongoDocument {
    database: Database,
    durable: bool,
    query_timeout: Option<Duration>,
}

impl MongoDocument {
    /// Connects to the deployment `config` names and checks it answers within the connect
    /// timeout: a missing server fails as [`StoreError::Unavailable`] naming its hosts.
    pub async fn open(config: Config) -> Result<Self> {
        let options = config.client_options().await?;
        let hosts = Config::hosts(&options);
        let client = Client::with_options(options).map_err(|err| map_error(err, None))?;
        let store = MongoDocument {
            database: client.database(&config.database),
            durable: config.durable(),
            query_timeout: config.query_timeout.map(|t| t.0),
        };
        store.ping().await.map_err(|err| match err {
            StoreError::Unavailable { message, source } => StoreError::Unavailable {
                message: format!("cannot reach MongoDB at {hosts}: {message}"),
                source,
            },
            other => other,
        })?;
        Ok(store)
    }
}

/// The MongoDB backend, as the registry lists it.
pub const BACKENDS: &[BackendDescriptor] = &[BackendDescriptor::of::<MongoDocument>(
    StoreKind::Document,
    "mongodb",
    "a MongoDB collection per entity, with indexes on declared fields",
)];

impl Backend for MongoDocument {
    type Config = Config;

    async fn connect(_: StoreKind, config: Config, _: &ConnectContext) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(MongoDocument::open(config).await?))
    }
}

#[async_trait]
impl Store for MongoDocument {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.durable;
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Document(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let collection = Collection {
            entity: entity.name.clone(),
            records: self.database.collection(&entity.name),
            query_timeout: self.query_timeout,
        };
        // Creating the collection explicitly is not needed: the first index or write creates
        // it. Indexes are created idempotently (same keys, same name).
        for path in &settings.indexes {
            collection.create_index(path).await?;
        }
        Ok(EntityHandle::Document(Arc::new(collection)))
    }

    async fn ping(&self) -> Result<()> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(|err| map_error(err, None))
    }
}

/// One entity's documents: its collection.
#[derive(Debug)]
struct Collection {
    entity: String,
    records: MongoCollection<BsonDocument>,
    query_timeout: Option<Duration>,
}

/// The index name of `path`: stable, so creating it again is a no-op.
fn index_name(path: &FieldPath) -> String {
    format!("body.{path}_1__id_1")
}

/// Checks a document and builds its record.
fn record(id: &str, document: &Document) -> Result<BsonDocument> {
    check_document(id, document)?;
    check_depth(id, document)?;
    Ok(doc! {
        "_id": id,
        query::BODY: convert::to_document(document),
    })
}

/// Documents may nest one level less than [`MAX_DEPTH`], as the record adds a level and MongoDB
/// refuses records nested deeper than 100.
fn check_depth(id: &str, document: &Document) -> Result<()> {
    fn depth(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    // check_document bounded the depth, so this recursion is bounded too.
    let levels = 1 + document.values().map(depth).max().unwrap_or(0);
    if levels >= MAX_DEPTH {
        return Err(StoreError::invalid(format!(
            "document `{id}` is nested {levels} levels deep; the MongoDB backend stores at most {} levels",
            MAX_DEPTH - 1
        )));
    }
    Ok(())
}

/// The user's document inside a record read back.
fn body(id: &str, mut record: BsonDocument) -> Result<Document> {
    match record.remove(query::BODY) {
        Some(Bson::Document(body)) => convert::from_document(body),
        _ => Err(StoreError::backend(format!(
            "stored record `{id}` has no document body: it was not written by polyroute"
        ))),
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Collection {
    fn error(&self, err: mongodb::error::Error) -> StoreError {
        map_error(err, self.query_timeout)
    }
}

#[async_trait]
impl DocumentStore for Collection {
    async fn put(&self, id: &str, document: Document) -> Result<()> {
        crate::kinds::document::check_id(id)?;
        let record = record(id, &document)?;
        // Two concurrent upserts of a new id may both try to insert; the loser sees a duplicate
        // key (servers before 4.2 do not retry it themselves) and replaces instead.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .records
                .replace_one(doc! { "_id": id }, record.clone())
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(err) => match self.error(err) {
                    StoreError::Conflict { .. } if attempts < 3 => continue,
                    other => return Err(other),
                },
            }
        }
    }

    async fn insert(&self, id: &str, document: Document) -> Result<()> {
        crate::kinds::document::check_id(id)?;
        let record = record(id, &document)?;
        match self.records.insert_one(record).await {
            Ok(_) => Ok(()),
            Err(err) => Err(match self.error(err) {
                StoreError::Conflict { source, .. } => StoreError::Conflict {
                    message: format!("document `{id}` already exists in `{}`", self.entity),
                    source,
                },
                other => other,
            }),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Document>> {
        crate::kinds::document::check_id(id)?;
        let found = self
            .records
            .find_one(doc! { "_id": id })
            .await
            .map_err(|e| self.error(e))?;
        found.map(|record| body(id, record)).transpose()
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        crate::kinds::document::check_id(id)?;
        let result = self
            .records
            .delete_one(doc! { "_id": id })
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.deleted_count > 0)
    }

    async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>> {
        let filter = query::filter(&query.filter)?;
        // MongoDB reads a limit of 0 as "no limit"; the contract as "none".
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut find = self
            .records
            .find(filter)
            .sort(query::sort(&query.sort))
            .skip(to_u64(query.skip));
        if let Some(limit) = query.limit {
            find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        // The server stops the query at the store's limit or the call's deadline.
        if let Some(timeout) = crate::work::time_limit(self.query_timeout) {
            find = find.max_time(timeout);
        }
        let records: Vec<BsonDocument> = find
            .await
            .map_err(|e| self.error(e))?
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        records
            .into_iter()
            .map(|mut record| {
                let id = match record.remove("_id") {
                    Some(Bson::String(id)) => id,
                    other => {
                        return Err(StoreError::backend(format!(
                            "a record of `{}` has a non-text id {other:?}: it was not written by polyroute",
                            self.entity
                        )))
                    }
                };
                Ok(StoredDocument {
                    document: body(&id, record)?,
                    id,
                })
            })
            .collect()
    }

    async fn count(&self, filter: &Filter) -> Result<u64> {
        let filter = query::filter(filter)?;
        let mut count = self.records.count_documents(filter);
        if let Some(timeout) = crate::work::time_limit(self.query_timeout) {
            count = count.max_time(timeout);
        }
        count.await.map_err(|e| self.error(e))
    }

    async fn create_index(&self, path: &FieldPath) -> Result<()> {
        let mut options = IndexOptions::default();
        options.name = Some(index_name(path));
        let mut model = IndexModel::default();
        model.keys = doc! { query::stored_path(path): 1, "_id": 1 };
        model.options = Some(options);
        self.records
            .create_index(model)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(value: serde_json::Value) -> Document {
        match value {
            serde_json::Value::Object(fields) => fields,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn records_wrap_the_escaped_document_under_its_id() {
        let record = record(
            "a\"b",
            &document(json!({"_id": 1, "$where": "x", "a.b": 2})),
        )
        .unwrap();
        assert_eq!(
            record,
            doc! {"_id": "a\"b", "body": {"_id": 1_i64, "%24where": "x", "a%2Eb": 2_i64}}
        );
        let back = body("a\"b", record).unwrap();
        assert_eq!(back, document(json!({"_id": 1, "$where": "x", "a.b": 2})));
    }

    #[test]
    fn empty_ids_and_deep_documents_are_invalid() {
        assert!(matches!(
            record("", &document(json!({}))),
            Err(StoreError::InvalidRequest { .. })
        ));
        let nested = |levels: usize| {
            let mut value = json!("bottom");
            for _ in 1..levels {
                value = json!({ "n": value });
            }
            document(value)
        };
        // `nested(n)` has n - 1 levels of objects.
        assert!(record("ok", &nested(MAX_DEPTH)).is_ok());
        assert!(matches!(
            record("deep", &nested(MAX_DEPTH + 1)),
            Err(StoreError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn index_names_are_stable() {
        let path = FieldPath::parse("customer.city").unwrap();
        assert_eq!(index_name(&path), "body.customer.city_1__id_1");
    }
}
