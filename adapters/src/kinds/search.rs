//! Search stores: full-text relevance search with filters on keyword and numeric fields.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::{Result, Value};

/// How a field of a search entity is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchFieldKind {
    /// Tokenised and analysed for full-text queries.
    Text,
    /// Indexed as one exact term, for filters and facets.
    Keyword,
    /// A signed integer, for filters and ranges.
    Integer,
    /// A float, for filters and ranges.
    Float,
}

/// One field of a search entity's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchField {
    /// The field's name.
    pub name: String,
    /// How it is indexed.
    pub kind: SearchFieldKind,
}

/// Settings of one search entity: its schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchSettings {
    /// The indexed fields.
    pub fields: Vec<SearchField>,
}

impl SearchSettings {
    /// Settings with the given schema.
    pub fn with_fields(fields: Vec<SearchField>) -> Self {
        SearchSettings { fields }
    }
}

/// A document to index.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchDocument {
    /// The document's id; indexing the same id again replaces it.
    pub id: String,
    /// Field values by name.
    pub fields: BTreeMap<String, Value>,
}

/// A filter that restricts hits without affecting their scores.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SearchFilter {
    /// A keyword or numeric field equals one of the values.
    In {
        /// The field.
        field: String,
        /// Accepted values.
        values: Vec<Value>,
    },
    /// A numeric field lies in a range (both ends inclusive, either optional).
    Range {
        /// The field.
        field: String,
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
}

/// A search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// The query string: terms, `"phrases"`, `AND`/`OR`/`-term`; empty matches every document.
    pub text: String,
    /// Restrictions on keyword and numeric fields.
    pub filters: Vec<SearchFilter>,
    /// Return the best `limit` hits.
    pub limit: usize,
    /// Skip the best `offset` hits first.
    pub offset: usize,
    /// Return highlighted snippets of text fields.
    pub snippets: bool,
}

impl SearchQuery {
    /// The best ten hits for `text`.
    pub fn new(text: &str) -> Self {
        SearchQuery {
            text: text.to_owned(),
            filters: Vec::new(),
            limit: 10,
            offset: 0,
            snippets: false,
        }
    }
}

/// One hit.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    /// The document's id.
    pub id: String,
    /// Relevance score (BM25 or the backend's equivalent); higher is better.
    pub score: f32,
    /// The document's stored fields.
    pub fields: BTreeMap<String, Value>,
    /// Highlighted fragments by field, when asked for.
    pub snippets: BTreeMap<String, String>,
}

/// The result of a search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchResults {
    /// How many documents matched in all.
    pub total: u64,
    /// The requested page of hits, best first.
    pub hits: Vec<SearchHit>,
}

/// A search store, scoped to one entity (an index).
#[async_trait]
pub trait SearchStore: Send + Sync + fmt::Debug {
    /// Adds or replaces documents.
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()>;

    /// Removes a document. Returns whether it existed where the backend can tell, else `true`.
    async fn delete(&self, id: &str) -> Result<bool>;

    /// Runs a query.
    async fn query(&self, query: &SearchQuery) -> Result<SearchResults>;

    /// Makes every write acknowledged so far visible to queries.
    async fn refresh(&self) -> Result<()>;
}
