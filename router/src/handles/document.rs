//! [`Documents`]: the handle of a document entity.

use std::sync::Arc;

use bytes::Bytes;
use polyroute_adapters::kinds::document::{
    Document, DocumentSettings, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use polyroute_adapters::{Result, StoreError};
use serde_json::Value as Json;

use crate::cache::{invalidate_written, ReadThrough};
use crate::call::CallContext;

/// A document entity: JSON objects by id, found by filters on their fields. With a `cache`,
/// `get` reads through it (documents cached as JSON text) and `put`, `insert` and `delete`
/// invalidate the id once the store has answered.
#[derive(Clone, Debug)]
pub struct Documents {
    store: Arc<dyn DocumentStore>,
    settings: DocumentSettings,
    context: CallContext,
    cache: Option<ReadThrough>,
}

impl Documents {
    pub(crate) fn new(
        store: Arc<dyn DocumentStore>,
        settings: DocumentSettings,
        context: CallContext,
    ) -> Self {
        Documents {
            store,
            settings,
            context,
            cache: None,
        }
    }

    /// This handle reading through `cache`, if any.
    pub(crate) fn with_cache(mut self, cache: Option<ReadThrough>) -> Self {
        self.cache = cache;
        self
    }

    /// The entity's read-through cache, if it has one.
    pub fn cache(&self) -> Option<&ReadThrough> {
        self.cache.as_ref()
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// The fields indexed by the config.
    pub fn indexes(&self) -> &[FieldPath] {
        &self.settings.indexes
    }

    /// Creates or replaces document `id`; `document` must be a JSON object.
    pub async fn put(&self, id: &str, document: Json) -> Result<()> {
        let document = object(document)?;
        let written = self.context.call("put", self.store.put(id, document)).await;
        invalidate_written(self.cache.as_ref(), [id]).await;
        written
    }

    /// Creates document `id`; a [`StoreError::Conflict`] if it exists.
    pub async fn insert(&self, id: &str, document: Json) -> Result<()> {
        let document = object(document)?;
        let written = self
            .context
            .call("insert", self.store.insert(id, document))
            .await;
        invalidate_written(self.cache.as_ref(), [id]).await;
        written
    }

    /// Document `id`, if it exists; through the cache when the entity has one.
    pub async fn get(&self, id: &str) -> Result<Option<Document>> {
        let Some(cache) = &self.cache else {
            return self
                .context
                .call_idempotent("get", || self.store.get(id))
                .await;
        };
        let store = Arc::clone(&self.store);
        let context = self.context.clone();
        let owned = id.to_owned();
        let cached = cache
            .get_or_load(id, move || async move {
                let document = context.call_idempotent("get", || store.get(&owned)).await?;
                document.map(|document| to_json(&document)).transpose()
            })
            .await?;
        cached.map(|bytes| from_json(&bytes)).transpose()
    }

    /// Removes document `id`. Returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        let deleted = self
            .context
            .call_idempotent("delete", || self.store.delete(id))
            .await;
        invalidate_written(self.cache.as_ref(), [id]).await;
        deleted
    }

    /// The documents matching `query`, sorted and limited as it says.
    pub async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>> {
        self.context
            .call_idempotent("find", || self.store.find(query))
            .await
    }

    /// Every document matching `filter`, ordered by id.
    pub async fn find_where(&self, filter: Filter) -> Result<Vec<StoredDocument>> {
        self.find(&FindQuery::new(filter)).await
    }

    /// The number of documents matching `filter`.
    pub async fn count(&self, filter: &Filter) -> Result<u64> {
        self.context
            .call_idempotent("count", || self.store.count(filter))
            .await
    }

    /// Indexes the dotted field `path` (idempotent).
    pub async fn create_index(&self, path: &str) -> Result<()> {
        let path = FieldPath::parse(path)?;
        self.context
            .call_idempotent("create_index", || self.store.create_index(&path))
            .await
    }
}

/// A document as the cache holds it: JSON text.
fn to_json(document: &Document) -> Result<Bytes> {
    serde_json::to_vec(document)
        .map(Bytes::from)
        .map_err(|err| StoreError::backend_with("cannot encode a document for the cache", err))
}

/// A document from the cache's JSON text.
fn from_json(bytes: &[u8]) -> Result<Document> {
    serde_json::from_slice(bytes)
        .map_err(|err| StoreError::backend_with("a cached document is not a JSON object", err))
}

fn object(document: Json) -> Result<Document> {
    match document {
        Json::Object(map) => Ok(map),
        other => Err(StoreError::invalid(format!(
            "a document must be a JSON object, not {}",
            match other {
                Json::Null => "null",
                Json::Bool(_) => "a boolean",
                Json::Number(_) => "a number",
                Json::String(_) => "a string",
                Json::Array(_) => "an array",
                Json::Object(_) => "an object",
            }
        ))),
    }
}
