//! The `products` record entity the outbox tests share: rows in a relational system of record
//! (`products` on store `main`) copied to documents (`products_docs` on store `docs`) and to a
//! search index (`products_search` on store `catalog`), which serve its `get` and `search`.
// Each test file uses what it needs of this module.
#![allow(dead_code)]

use std::sync::Arc;

use polyroute::document::DocumentSettings;
use polyroute::relational::RelationalSettings;
use polyroute::search::{SearchField, SearchFieldKind, SearchSettings};
use polyroute::{EntitySettings, Propagation, RecordRoutes, RecordSettings, RouterBuilder, Store};

/// The record settings: keyed by `id`, read from the documents and searched in the index,
/// propagated as `propagation` says.
pub fn record(propagation: Propagation) -> RecordSettings {
    let mut record = RecordSettings::new("products", "id");
    record.routes = RecordRoutes {
        get: Some("products_docs".into()),
        search: Some("products_search".into()),
    };
    record.propagate = Some(propagation);
    record
}

/// The index's fields, each named with its kind.
pub fn search_fields(fields: &[(&str, SearchFieldKind)]) -> Vec<SearchField> {
    fields
        .iter()
        .map(|(name, kind)| SearchField {
            name: (*name).to_owned(),
            kind: *kind,
        })
        .collect()
}

/// A builder with the three stores and their entities, the index holding `fields`, and the
/// record entity; tests add their own stores and entities before building.
pub fn builder(
    main: Arc<dyn Store>,
    docs: Arc<dyn Store>,
    catalog: Arc<dyn Store>,
    fields: Vec<SearchField>,
    record: RecordSettings,
) -> RouterBuilder {
    polyroute::Router::builder()
        .store("main", main)
        .store("docs", docs)
        .store("catalog", catalog)
        .entity(
            "products",
            "main",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .entity(
            "products_docs",
            "docs",
            EntitySettings::Document(DocumentSettings::default()),
        )
        .entity(
            "products_search",
            "catalog",
            EntitySettings::Search(SearchSettings::with_fields(fields)),
        )
        .record("products", record)
}
