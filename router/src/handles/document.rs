//! [`Documents`]: the handle of a document entity.

use std::sync::Arc;

use polyroute_adapters::kinds::document::{
    Document, DocumentSettings, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use polyroute_adapters::{Result, StoreError};
use serde_json::Value as Json;

use crate::call::CallContext;

/// A document entity: JSON objects by id, found by filters on their fields.
#[derive(Clone, Debug)]
pub struct Documents {
    store: Arc<dyn DocumentStore>,
    settings: DocumentSettings,
    context: CallContext,
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
        }
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
        self.context.call("put", self.store.put(id, document)).await
    }

    /// Creates document `id`; a [`StoreError::Conflict`] if it exists.
    pub async fn insert(&self, id: &str, document: Json) -> Result<()> {
        let document = object(document)?;
        self.context
            .call("insert", self.store.insert(id, document))
            .await
    }

    /// Document `id`, if it exists.
    pub async fn get(&self, id: &str) -> Result<Option<Document>> {
        self.context
            .call_idempotent("get", || self.store.get(id))
            .await
    }

    /// Removes document `id`. Returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        self.context
            .call_idempotent("delete", || self.store.delete(id))
            .await
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
