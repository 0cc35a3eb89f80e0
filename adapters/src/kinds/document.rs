//! Document stores: JSON documents by id, found by filters on nested fields.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value as Json;

use crate::{Result, StoreError};

/// The longest document id accepted, in bytes of UTF-8, by every backend: it fits a PostgreSQL
/// B-tree entry and MongoDB's index key limit.
pub const MAX_ID_BYTES: usize = 1024;

/// Refuses a document id longer than [`MAX_ID_BYTES`], naming the field and the fix.
pub fn check_id(id: &str) -> Result<()> {
    if id.len() > MAX_ID_BYTES {
        return Err(StoreError::invalid(format!(
            "`id` is {} bytes long: a document id may be at most {MAX_ID_BYTES} bytes; use a \
             shorter one (such as a hash of the long value)",
            id.len()
        )));
    }
    Ok(())
}

/// The deepest nesting a document may have, counting the document itself as level 1 (as in
/// MongoDB). Deeper documents are invalid requests.
pub const MAX_DEPTH: usize = 100;

/// Rejects what could not be stored or read back: an empty id, a document nested too deep.
pub(crate) fn check_document(id: &str, document: &Document) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::invalid("a document id must not be empty"));
    }
    // Depth-first with an explicit stack, so a hostile document cannot exhaust the call stack.
    let mut stack: Vec<(&Json, usize)> = document.values().map(|value| (value, 2)).collect();
    while let Some((value, depth)) = stack.pop() {
        let too_deep = || {
            StoreError::invalid(format!(
                "document `{id}` is nested more than {MAX_DEPTH} levels deep"
            ))
        };
        match value {
            Json::Array(_) if depth > MAX_DEPTH => return Err(too_deep()),
            Json::Object(_) if depth > MAX_DEPTH => return Err(too_deep()),
            Json::Array(items) => stack.extend(items.iter().map(|child| (child, depth + 1))),
            Json::Object(fields) => stack.extend(fields.values().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// A JSON document (an object) as stored.
pub type Document = serde_json::Map<String, Json>;

/// A dotted path to a field inside a document, such as `customer.address.city`.
///
/// Segments are non-empty and made of ASCII letters, digits and `_`; anything else is rejected
/// when the path is built, so a path can be named in a backend's query language safely.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(String);

impl FieldPath {
    /// Parses a dotted path, rejecting empty or non-identifier segments.
    pub fn parse(path: &str) -> Result<FieldPath> {
        let valid = !path.is_empty()
            && path.split('.').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if valid {
            Ok(FieldPath(path.to_owned()))
        } else {
            Err(StoreError::invalid(format!(
                "field path `{path}` is not valid: use dot-separated names of letters, digits and `_`, such as `customer.address.city`"
            )))
        }
    }

    /// The dotted path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The value at this path inside `document`, if present.
    pub fn lookup<'a>(&self, document: &'a Document) -> Option<&'a Json> {
        let mut segments = self.segments();
        let mut current = document.get(segments.next()?)?;
        for segment in segments {
            current = current.as_object()?.get(segment)?;
        }
        Some(current)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A condition on documents. Comparisons are on scalar JSON values (numbers, strings,
/// booleans, null); a field that is missing matches only [`Filter::Exists`] with `false` and
/// [`Filter::Ne`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// Every document.
    All,
    /// The field equals the value.
    Eq(FieldPath, Json),
    /// The field is missing or differs from the value.
    Ne(FieldPath, Json),
    /// The field is less than the value (numbers with numbers, strings with strings).
    Lt(FieldPath, Json),
    /// The field is less than or equal to the value.
    Lte(FieldPath, Json),
    /// The field is greater than the value.
    Gt(FieldPath, Json),
    /// The field is greater than or equal to the value.
    Gte(FieldPath, Json),
    /// The field equals one of the values.
    In(FieldPath, Vec<Json>),
    /// The field is present (`true`) or missing (`false`). A field holding `null` is present.
    Exists(FieldPath, bool),
    /// Every condition holds.
    And(Vec<Filter>),
    /// At least one condition holds.
    Or(Vec<Filter>),
}

impl Filter {
    /// `path == value`, with `path` checked as a [`FieldPath`].
    pub fn eq(path: &str, value: impl Into<Json>) -> Result<Filter> {
        Ok(Filter::Eq(FieldPath::parse(path)?, value.into()))
    }

    /// `path != value`.
    pub fn ne(path: &str, value: impl Into<Json>) -> Result<Filter> {
        Ok(Filter::Ne(FieldPath::parse(path)?, value.into()))
    }

    /// `path < value`.
    pub fn lt(path: &str, value: impl Into<Json>) -> Result<Filter> {
        Ok(Filter::Lt(FieldPath::parse(path)?, value.into()))
    }

    /// `path <= value`.
    pub fn lte(path: &str, value: impl Into<Json>) -> Result<Filter> {
        Ok(Filter::Lte(FieldPath::parse(path)?, value.into()))
    }

    /// `path > value`.
    pub fn gt(path: &str, value: impl Into<Json>) -> Result<Filter> {
        Ok(Filter::Gt(FieldPath::parse(path)?, value.into()))
    }

    /// `path >= value`.
    pub fn gte(path: &str, value: impl Into<Json>) -> Result<Filter> {
        Ok(Filter::Gte(FieldPath::parse(path)?, value.into()))
    }

    /// `path` equals one of `values`.
    pub fn is_in(path: &str, values: Vec<Json>) -> Result<Filter> {
        Ok(Filter::In(FieldPath::parse(path)?, values))
    }

    /// `path` is present (`true`) or missing (`false`).
    pub fn exists(path: &str, present: bool) -> Result<Filter> {
        Ok(Filter::Exists(FieldPath::parse(path)?, present))
    }

    /// Both this and `other` hold.
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut all) => {
                all.push(other);
                Filter::And(all)
            }
            Filter::All => other,
            first => Filter::And(vec![first, other]),
        }
    }
}

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    #[default]
    Ascending,
    /// Largest first.
    Descending,
}

/// One sort key of a [`FindQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// The field to sort by; documents missing it sort first in ascending order.
    pub path: FieldPath,
    /// The direction.
    pub order: Order,
}

/// A query over an entity's documents.
#[derive(Clone, Debug, PartialEq)]
pub struct FindQuery {
    /// Which documents match.
    pub filter: Filter,
    /// How to order them; ties (and an empty list) are ordered by id.
    pub sort: Vec<SortKey>,
    /// Skip this many matches first.
    pub skip: usize,
    /// Return at most this many.
    pub limit: Option<usize>,
}

impl FindQuery {
    /// Every document matching `filter`, ordered by id.
    pub fn new(filter: Filter) -> Self {
        FindQuery {
            filter,
            sort: Vec::new(),
            skip: 0,
            limit: None,
        }
    }

    /// Adds a sort key (checked as a [`FieldPath`]).
    pub fn sort_by(mut self, path: &str, order: Order) -> Result<Self> {
        self.sort.push(SortKey {
            path: FieldPath::parse(path)?,
            order,
        });
        Ok(self)
    }

    /// Returns at most `limit` documents.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips the first `skip` matches.
    pub fn skip(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// The query of the page after one that returned `returned` documents: the same query,
    /// skipping those too. Documents come in a total order (the sort keys, then the id), so
    /// following pages until one comes back shorter than its `limit` reads every match once,
    /// as long as the matches do not change meanwhile.
    pub fn next_page(&self, returned: usize) -> Self {
        let mut next = self.clone();
        next.skip = self.skip.saturating_add(returned);
        next
    }
}

/// A document with its id, as returned by [`DocumentStore::find`].
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDocument {
    /// The document's id.
    pub id: String,
    /// The document.
    pub document: Document,
}

/// Settings of one document entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentSettings {
    /// Fields to index, so filters and sorts on them do not scan every document.
    pub indexes: Vec<FieldPath>,
}

impl DocumentSettings {
    /// Settings that index `indexes`.
    pub fn with_indexes(indexes: Vec<FieldPath>) -> Self {
        DocumentSettings { indexes }
    }
}

/// A document store, scoped to one entity (a collection).
#[async_trait]
pub trait DocumentStore: Send + Sync + fmt::Debug {
    /// Creates or replaces the document `id`.
    async fn put(&self, id: &str, document: Document) -> Result<()>;

    /// Creates the document `id`; a [`StoreError::Conflict`] if it already exists.
    async fn insert(&self, id: &str, document: Document) -> Result<()>;

    /// The document `id`, if it exists.
    async fn get(&self, id: &str) -> Result<Option<Document>>;

    /// Removes the document `id`. Returns whether it existed.
    async fn delete(&self, id: &str) -> Result<bool>;

    /// The documents matching `query`, sorted and limited as it says.
    async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>>;

    /// The number of documents matching `filter`.
    async fn count(&self, filter: &Filter) -> Result<u64>;

    /// Indexes `path` (idempotent), so filters and sorts on it use the index.
    async fn create_index(&self, path: &FieldPath) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_accept_identifiers_and_reject_the_rest() {
        assert!(FieldPath::parse("customer.address.city").is_ok());
        assert!(FieldPath::parse("a_1").is_ok());
        for bad in ["", ".a", "a.", "a..b", "a b", "a'", "$.a", "a[0]"] {
            let err = FieldPath::parse(bad).unwrap_err();
            assert!(err.to_string().contains("field path"), "{bad}: {err}");
        }
    }

    #[test]
    fn lookup_follows_nested_objects() {
        let doc = json!({"a": {"b": {"c": 3}}, "x": 1});
        let doc = doc.as_object().unwrap();
        let path = FieldPath::parse("a.b.c").unwrap();
        assert_eq!(path.lookup(doc), Some(&json!(3)));
        assert_eq!(FieldPath::parse("x.y").unwrap().lookup(doc), None);
    }

    #[test]
    fn and_flattens() {
        let f = Filter::All
            .and(Filter::eq("a", 1).unwrap())
            .and(Filter::eq("b", 2).unwrap());
        assert!(matches!(f, Filter::And(ref v) if v.len() == 2));
    }

    #[test]
    fn the_next_page_skips_what_was_returned() {
        let query = FindQuery::new(Filter::All).skip(3).limit(10);
        let next = query.next_page(10);
        assert_eq!((next.skip, next.limit), (13, Some(10)));
        assert_eq!(next.next_page(usize::MAX).skip, usize::MAX);
    }
}
