//! The embedded tantivy backend through the search suite, in memory and in a directory, plus
//! visibility and durability.

use std::sync::Arc;

use polyroute_adapters::kinds::search::{SearchSettings, SearchStore};
use polyroute_adapters::{EntitySettings, Store, StoreHandle, StoreKind};
use serde_json::json;

use crate::search::search_suite;
use crate::support::{self, unique, Fixture};

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::Search, "embedded", options).await
}

async fn open(store: &dyn Store, name: &str, settings: SearchSettings) -> Arc<dyn SearchStore> {
    let StoreHandle::Search(handle) =
        support::open(store, name, EntitySettings::Search(settings)).await
    else {
        panic!("embedded search store opened a handle of another kind");
    };
    handle
}

/// Indexes in memory.
mod memory {
    use super::*;

    async fn fixture(settings: SearchSettings) -> Fixture<dyn SearchStore> {
        let store = connect(json!({})).await;
        let capabilities = store.info().capabilities;
        assert!(!capabilities.durable);
        assert!(capabilities.full_text);
        Fixture {
            store: open(&*store, &unique("search"), settings).await,
            capabilities,
            guard: None,
        }
    }

    search_suite!(fixture);
}

/// Indexes in a directory, with English stemming.
mod directory {
    use super::*;

    async fn fixture(settings: SearchSettings) -> Fixture<dyn SearchStore> {
        let dir = tempfile::tempdir().unwrap();
        let store = connect(json!({"path": dir.path(), "stemming": "english"})).await;
        let capabilities = store.info().capabilities;
        assert!(capabilities.durable);
        Fixture {
            store: open(&*store, &unique("search"), settings).await,
            capabilities,
            guard: Some(dir),
        }
    }

    search_suite!(fixture);
}

mod durability;

/// tantivy's query parser takes about twice as long for each level of parentheses (twenty
/// levels take seconds, thirty would take hours): deeper query strings are refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_queries_are_refused_before_parsing() {
    use polyroute_adapters::kinds::search::SearchQuery;
    use polyroute_adapters::StoreError;

    let store = connect(json!({})).await;
    let search = open(&*store, &unique("search"), crate::search::settings()).await;
    crate::search::seed(&*search, vec![crate::search::titled("a", "red shoes")]).await;

    let nested = |depth: usize| format!("{}red{}", "(".repeat(depth), ")".repeat(depth));
    let hits = search.query(&SearchQuery::new(&nested(8))).await.unwrap();
    assert_eq!(hits.total, 1, "eight levels are still parsed");
    for text in [
        nested(9),
        "(".repeat(40) + "red",
        "( ".repeat(9) + "\"(((\" red",
    ] {
        let started = std::time::Instant::now();
        match search.query(&SearchQuery::new(&text)).await {
            Err(StoreError::InvalidRequest { message, .. }) => {
                assert!(message.contains("parentheses"), "{message}")
            }
            other => panic!("`{text}` should be refused as too deep, got {other:?}"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
