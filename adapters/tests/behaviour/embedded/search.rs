//! The embedded tantivy backend through the search suite, in memory and in a directory, plus
//! visibility and durability.

use std::sync::Arc;

use polyroute_adapters::kinds::search::{SearchSettings, SearchStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::search_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::Search, "embedded", options).await
}

async fn open(store: &dyn Store, name: &str, settings: SearchSettings) -> Arc<dyn SearchStore> {
    let EntityHandle::Search(handle) =
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
            guard: Some(Box::new(dir)),
        }
    }

    search_suite!(fixture);
}

mod durability;
