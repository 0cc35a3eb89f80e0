//! [`Search`]: the handle of a search entity.

use std::sync::Arc;

use polyroute_adapters::kinds::search::{
    SearchDocument, SearchField, SearchQuery, SearchResults, SearchSettings, SearchStore,
};
use polyroute_adapters::Result;

use crate::call::CallContext;

/// A search entity: documents indexed by the entity's schema, found by relevance.
#[derive(Clone, Debug)]
pub struct Search {
    store: Arc<dyn SearchStore>,
    settings: SearchSettings,
    context: CallContext,
}

impl Search {
    pub(crate) fn new(
        store: Arc<dyn SearchStore>,
        settings: SearchSettings,
        context: CallContext,
    ) -> Self {
        Search {
            store,
            settings,
            context,
        }
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// The indexed fields.
    pub fn fields(&self) -> &[SearchField] {
        &self.settings.fields
    }

    /// Adds or replaces documents.
    pub async fn index(&self, documents: Vec<SearchDocument>) -> Result<()> {
        self.context
            .call("index", self.store.index(documents))
            .await
    }

    /// Adds or replaces one document.
    pub async fn index_one(&self, document: SearchDocument) -> Result<()> {
        self.index(vec![document]).await
    }

    /// Removes a document.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        self.context
            .call_idempotent("delete", || self.store.delete(id))
            .await
    }

    /// Runs a query.
    pub async fn query(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.context
            .call_idempotent("query", || self.store.query(query))
            .await
    }

    /// The best ten hits for `text`.
    pub async fn search(&self, text: &str) -> Result<SearchResults> {
        self.query(&SearchQuery::new(text)).await
    }

    /// Makes every acknowledged write visible to queries.
    pub async fn refresh(&self) -> Result<()> {
        self.context
            .call_idempotent("refresh", || self.store.refresh())
            .await
    }
}
