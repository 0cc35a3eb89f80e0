//! Search stores: full-text relevance search with filters on keyword and numeric fields.
//!
//! The contract every backend follows:
//!
//! - **Schema.** Each entity declares its fields; a document or filter naming another field, or
//!   a value of the wrong type for its field, is an invalid request naming the field. `Null`
//!   means the field is absent. A document id is non-empty text of at most [`MAX_ID_BYTES`]
//!   bytes, and neither `.` nor `..` (which HTTP-addressed engines read as path segments).
//! - **Query text** searches every text field. Terms are all required unless joined by `OR`
//!   (`AND` may be written); `-term` or `NOT term` excludes, `"a phrase"` matches adjacent
//!   terms, `field:term` and `field:"a phrase"` search one text field, parentheses group.
//!   Matching ignores case. Every backend parses this one language with the same parser, so a
//!   query means the same on each; text it cannot parse is an invalid request. Empty text
//!   matches every document; text with no word in it matches none.
//! - **Bounded query text.** Query text is at most [`MAX_QUERY_BYTES`] bytes, nests groups and
//!   negations at most [`MAX_QUERY_DEPTH`] deep and holds at most [`MAX_QUERY_TERMS`] terms;
//!   anything more is an invalid request, refused before any parser runs, so no query text can
//!   exhaust the stack or the CPU.
//! - **Filters** restrict hits without changing their scores.
//! - **Visibility.** Writes are acknowledged before they are searchable; each backend documents
//!   how long they may take to appear, and [`SearchStore::refresh`] makes every acknowledged
//!   write visible at once.

pub(crate) mod fields;
pub(crate) mod syntax;

pub use fields::Stemming;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::{Result, StoreError, Value};

/// The longest document id accepted, in bytes of UTF-8, by every backend (Elasticsearch's
/// limit on `_id`).
pub const MAX_ID_BYTES: usize = 512;

/// Refuses an empty document id, one longer than [`MAX_ID_BYTES`], or `.` or `..`, naming the
/// field and the fix.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::invalid(
            "a search document id must not be empty",
        ));
    }
    if id == "." || id == ".." {
        return Err(StoreError::invalid(format!(
            "`id` is `{id}`, which HTTP-addressed search engines read as a path segment; \
             use another id"
        )));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(StoreError::invalid(format!(
            "`id` is {} bytes long: a search document id may be at most {MAX_ID_BYTES} bytes; \
             use a shorter one (such as a hash of the long value)",
            id.len()
        )));
    }
    Ok(())
}

/// [`check_id`] for every document of a batch.
pub fn check_ids(documents: &[SearchDocument]) -> Result<()> {
    documents
        .iter()
        .try_for_each(|document| check_id(&document.id))
}

/// The longest query text accepted, in bytes of UTF-8.
pub const MAX_QUERY_BYTES: usize = 4096;

/// The deepest nesting of groups (`(`…`)`) and negations (`-`, `NOT`) in query text.
pub const MAX_QUERY_DEPTH: usize = 16;

/// The most terms and phrases one query text may hold.
pub const MAX_QUERY_TERMS: usize = 128;

/// Refuses query text longer than [`MAX_QUERY_BYTES`] or whose parentheses nest deeper than
/// [`MAX_QUERY_DEPTH`], naming the bound and the fix. It reads the text once, left to right,
/// so it is safe on any input; every backend calls it before parsing.
pub fn check_query_text(text: &str) -> Result<()> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(StoreError::invalid(format!(
            "the query is {} bytes long: search query text may be at most {MAX_QUERY_BYTES} \
             bytes; search for fewer terms, or filter on keyword fields instead",
            text.len()
        )));
    }
    let (mut depth, mut quoted) = (0usize, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                if depth > MAX_QUERY_DEPTH {
                    return Err(syntax::too_deep());
                }
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// How a field of a search entity is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchFieldKind {
    /// Tokenised and analysed for full-text queries.
    Text,
    /// Indexed as one exact, case-sensitive term, for filters and facets. Takes `Text`.
    Keyword,
    /// A signed integer, for filters and ranges. Takes `Int`.
    Integer,
    /// A float, for filters and ranges. Takes a finite `Float` or an `Int`, and returns a
    /// `Float`.
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
    /// Field values by name (`Null`: the field is absent).
    pub fields: BTreeMap<String, Value>,
}

impl SearchDocument {
    /// A document with `id` and `fields`.
    pub fn new<K: Into<String>, V: Into<Value>>(
        id: &str,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        SearchDocument {
            id: id.to_owned(),
            fields: fields
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

/// A filter that restricts hits without affecting their scores.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SearchFilter {
    /// A keyword or numeric field equals one of the values (none: matches nothing). Text
    /// fields cannot be filtered.
    In {
        /// The field.
        field: String,
        /// Accepted values.
        values: Vec<Value>,
    },
    /// An integer or float field lies in a range (both ends inclusive, either optional; on an
    /// integer field, fractional bounds admit the integers between them).
    Range {
        /// The field.
        field: String,
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
}

impl SearchFilter {
    /// `field` equals one of `values`.
    pub fn one_of<V: Into<Value>>(field: &str, values: impl IntoIterator<Item = V>) -> Self {
        SearchFilter::In {
            field: field.to_owned(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// `field` lies in `min..=max`.
    pub fn range(field: &str, min: Option<f64>, max: Option<f64>) -> Self {
        SearchFilter::Range {
            field: field.to_owned(),
            min,
            max,
        }
    }
}

/// A search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// The query string: terms, `"phrases"`, `AND`/`OR`/`-term`; empty matches every document.
    pub text: String,
    /// Restrictions on keyword and numeric fields.
    pub filters: Vec<SearchFilter>,
    /// Return the best `limit` hits (0: only count them).
    pub limit: usize,
    /// Skip the best `offset` hits first.
    pub offset: usize,
    /// Return highlighted snippets of the text fields the query text matched.
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
    /// The document's fields as indexed, absent ones left out.
    pub fields: BTreeMap<String, Value>,
    /// When asked for: by text field that matched, a fragment of it, HTML-escaped, with the
    /// matched terms in `<b>`…`</b>`.
    pub snippets: BTreeMap<String, String>,
}

/// The result of a search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchResults {
    /// How many documents matched in all.
    pub total: u64,
    /// The requested page of hits, best first (ties in no particular order).
    pub hits: Vec<SearchHit>,
}

/// A search store, scoped to one entity (an index).
#[async_trait]
pub trait SearchStore: Send + Sync + fmt::Debug {
    /// Adds or replaces documents, in order (the last of one id wins). A batch with an invalid
    /// document is rejected whole.
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()>;

    /// Removes a document. Returns whether it existed, counting acknowledged writes not yet
    /// visible to queries.
    async fn delete(&self, id: &str) -> Result<bool>;

    /// Runs a query.
    async fn query(&self, query: &SearchQuery) -> Result<SearchResults>;

    /// Makes every write acknowledged so far visible to queries.
    async fn refresh(&self) -> Result<()>;
}
