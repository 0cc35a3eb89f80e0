//! Applying one change to one derived entity, idempotently.
//!
//! Every derived record carries the sequence number of the change that wrote it in a `_seq`
//! field (a document field, a JSON field of a key-value entry, an integer field of a search
//! document, which also gets its key in the keyword field `_key`). Before applying a change
//! the relay reads what the target holds for the key and [`decide`]s: a change not newer than
//! what is there has already been applied (a redelivery after a crash) and is skipped.

use std::collections::BTreeMap;

use polyroute_adapters::kinds::document::Document;
use polyroute_adapters::kinds::search::{
    SearchDocument, SearchFieldKind, SearchFilter, SearchQuery,
};
use polyroute_adapters::{Result, StoreError, Value};
use serde_json::Value as Json;

use super::change::{Change, Op};
use crate::handles::{Documents, KeyValue, Search};

/// The field of a derived record holding the sequence number of the change that wrote it.
pub const SEQ_FIELD: &str = "_seq";
/// The keyword field of a derived search document holding its key (for the relay's reads).
pub const KEY_FIELD: &str = "_key";

/// The change the relay is applying on the current task, for store wrappers that audit
/// deliveries (such as a journal of applied changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applying {
    /// The derived entity written to.
    pub target: String,
    /// The key.
    pub key: String,
    /// The change's sequence number.
    pub seq: u64,
}

tokio::task_local! {
    static APPLYING: Applying;
}

/// The change being applied by the relay on this task, if the caller runs inside one of its
/// store writes.
pub fn applying() -> Option<Applying> {
    APPLYING.try_with(Clone::clone).ok()
}

/// A derived entity, through its router handle (so its store's layers apply).
#[derive(Clone, Debug)]
pub(crate) enum DerivedHandle {
    Search(Search),
    Document(Documents),
    KeyValue(KeyValue),
}

/// Whether a change must be applied, given what the target holds for its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Write it.
    Apply,
    /// It (or a later change of the key) is already there, or a later delete makes it moot.
    Skip,
}

/// The idempotence rule. `held`: the `_seq` the target holds for the key (`None`: absent);
/// `deleted_later`: a later change of the key is a delete.
///
/// A put is skipped when the target holds it or a newer change, and when the key is absent
/// because a later delete already ran (or will: the key ends absent either way). A delete is
/// skipped when the key is absent or holds a newer change. So a change that has been applied
/// once is never applied again: what it wrote is there, or was replaced by a newer change.
pub(crate) fn decide(op: Op, seq: u64, held: Option<u64>, deleted_later: bool) -> Decision {
    match (op, held) {
        (_, Some(held)) if held >= seq => Decision::Skip,
        (Op::Put, None) if deleted_later => Decision::Skip,
        (Op::Delete, None) => Decision::Skip,
        _ => Decision::Apply,
    }
}

impl DerivedHandle {
    /// Makes every write so far visible to the reads [`DerivedHandle::held`] does (search only).
    pub(crate) async fn refresh(&self) -> Result<()> {
        match self {
            DerivedHandle::Search(search) => search.refresh().await,
            _ => Ok(()),
        }
    }

    /// The `_seq` the target holds for `key` (`None`: absent; a record without `_seq`, not
    /// written by the relay, counts as 0).
    pub(crate) async fn held(&self, key: &str) -> Result<Option<u64>> {
        match self {
            DerivedHandle::Document(docs) => Ok(docs.get(key).await?.map(|doc| json_seq(&doc))),
            DerivedHandle::KeyValue(kv) => match kv.get(key).await? {
                None => Ok(None),
                Some(bytes) => match serde_json::from_slice::<Json>(&bytes) {
                    Ok(Json::Object(doc)) => Ok(Some(json_seq(&doc))),
                    _ => Ok(Some(0)),
                },
            },
            DerivedHandle::Search(search) => {
                let mut query = SearchQuery::new("");
                query.filters.push(SearchFilter::one_of(KEY_FIELD, [key]));
                query.limit = 1;
                let results = search.query(&query).await?;
                Ok(results.hits.first().map(|hit| {
                    hit.fields
                        .get(SEQ_FIELD)
                        .and_then(Value::as_i64)
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0)
                }))
            }
        }
    }

    /// Writes `change` (which [`decide`] said to apply) as derived entity `name`.
    pub(crate) async fn apply(&self, name: &str, entity: &str, change: &Change) -> Result<()> {
        let applying = Applying {
            target: name.to_owned(),
            key: change.key.clone(),
            seq: change.seq,
        };
        APPLYING.scope(applying, self.write(entity, change)).await
    }

    async fn write(&self, entity: &str, change: &Change) -> Result<()> {
        let key = change.key.as_str();
        match (change.op, &change.row) {
            (Op::Delete, _) => match self {
                DerivedHandle::Document(docs) => docs.delete(key).await.map(drop),
                DerivedHandle::KeyValue(kv) => kv.delete(key).await.map(drop),
                DerivedHandle::Search(search) => search.delete(key).await.map(drop),
            },
            (Op::Put, None) => Err(StoreError::backend(format!(
                "change {} of `{entity}` is a put without a row",
                change.seq
            ))),
            (Op::Put, Some(row)) => match self {
                DerivedHandle::Document(docs) => {
                    docs.put(key, Json::Object(derived_document(row, change.seq)))
                        .await
                }
                DerivedHandle::KeyValue(kv) => {
                    let bytes = serde_json::to_vec(&derived_document(row, change.seq))
                        .map_err(|err| StoreError::backend(format!("cannot encode row: {err}")))?;
                    kv.set(key, bytes).await
                }
                DerivedHandle::Search(search) => {
                    let document = search_document(search, key, row, change.seq)?;
                    search.index_one(document).await
                }
            },
        }
    }
}

fn json_seq(doc: &Document) -> u64 {
    doc.get(SEQ_FIELD).and_then(Json::as_u64).unwrap_or(0)
}

/// The row as a derived document or key-value JSON: every column, plus `_seq`.
pub(crate) fn derived_document(row: &Document, seq: u64) -> Document {
    let mut doc = row.clone();
    doc.insert(SEQ_FIELD.to_owned(), Json::from(seq));
    doc
}

/// The row as a search document: the columns the entity's schema declares (converted to the
/// field's type; a column that cannot be is an invalid request), plus `_key` and `_seq`.
fn search_document(search: &Search, key: &str, row: &Document, seq: u64) -> Result<SearchDocument> {
    let mut fields = BTreeMap::new();
    for field in search.fields() {
        if field.name == KEY_FIELD || field.name == SEQ_FIELD {
            continue;
        }
        let Some(json) = row.get(&field.name) else {
            continue;
        };
        let value = match (field.kind, json) {
            (_, Json::Null) => continue,
            (SearchFieldKind::Text | SearchFieldKind::Keyword, Json::String(text)) => {
                Value::Text(text.clone())
            }
            (SearchFieldKind::Text | SearchFieldKind::Keyword, other) => {
                Value::Text(other.to_string())
            }
            (SearchFieldKind::Integer, json) => match json.as_i64() {
                Some(n) => Value::Int(n),
                None => return Err(not_a(&field.name, "an integer", json)),
            },
            (SearchFieldKind::Float, json) => match json.as_f64() {
                Some(x) => Value::Float(x),
                None => return Err(not_a(&field.name, "a number", json)),
            },
        };
        fields.insert(field.name.clone(), value);
    }
    fields.insert(KEY_FIELD.to_owned(), Value::Text(key.to_owned()));
    fields.insert(
        SEQ_FIELD.to_owned(),
        Value::Int(i64::try_from(seq).unwrap_or(i64::MAX)),
    );
    Ok(SearchDocument {
        id: key.to_owned(),
        fields,
    })
}

fn not_a(field: &str, what: &str, json: &Json) -> StoreError {
    StoreError::invalid(format!(
        "column `{field}` is {json}, not {what} as the search field needs"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_applied_once_is_never_applied_again() {
        use Decision::{Apply, Skip};
        // First deliveries.
        assert_eq!(decide(Op::Put, 5, None, false), Apply);
        assert_eq!(decide(Op::Put, 6, Some(5), false), Apply);
        assert_eq!(decide(Op::Delete, 7, Some(6), false), Apply);
        // Redeliveries of what is there, or of what a newer change replaced.
        assert_eq!(decide(Op::Put, 5, Some(5), false), Skip);
        assert_eq!(decide(Op::Put, 5, Some(9), true), Skip);
        assert_eq!(decide(Op::Delete, 7, Some(9), false), Skip);
        // The key is absent: a delete has nothing to do, a put that a later delete removes
        // again is moot (and may have been applied before that delete ran).
        assert_eq!(decide(Op::Delete, 7, None, false), Skip);
        assert_eq!(decide(Op::Put, 5, None, true), Skip);
    }

    #[test]
    fn derived_documents_carry_their_seq() {
        let row: Document = serde_json::from_str(r#"{"id":"a","price":2.5}"#).unwrap();
        let doc = derived_document(&row, 12);
        assert_eq!(doc["_seq"], 12);
        assert_eq!(doc["price"], 2.5);
        assert_eq!(json_seq(&doc), 12);
    }
}
