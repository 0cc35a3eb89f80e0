//! The PostgreSQL search backend: the search suite, and the table and indexes it creates.

use std::sync::Arc;

use polyroute_adapters::kinds::search::{SearchQuery, SearchSettings, SearchStore};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use polyroute_testkit::search::{found, seed, settings, titled};
use polyroute_testkit::search_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn open(schema: &Schema, extra: serde_json::Value, entity: &str) -> Arc<dyn SearchStore> {
    let store = schema.connect(StoreKind::Search, extra).await;
    let EntityHandle::Search(handle) =
        support::open(&*store, entity, EntitySettings::Search(settings())).await
    else {
        panic!("postgres search store opened a handle of another kind");
    };
    handle
}

async fn fixture(settings: SearchSettings) -> Fixture<dyn SearchStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Search, json!({})).await;
    let EntityHandle::Search(handle) =
        support::open(&*store, &unique("search"), EntitySettings::Search(settings)).await
    else {
        panic!("postgres search store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

gated!(search_suite!(fixture));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn a_gin_index_on_the_tsvector_and_btree_indexes_on_filterable_fields() {
    let schema = Schema::new();
    open(&schema, json!({}), "products").await;
    // Opening again (a restart) changes nothing.
    open(&schema, json!({}), "products").await;
    let client = inspect().await;
    let rows = client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'search_products' ORDER BY indexname",
            &[&schema.name],
        )
        .await
        .unwrap();
    let indexes: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "search_products:category",
            "search_products:price",
            "search_products:stock",
            "search_products_pkey",
            "search_products_tsv",
        ]
    );
    assert!(indexes[4].1.contains("gin (tsv)"), "{indexes:?}");
    assert!(indexes[0].1.contains("btree"), "{indexes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn english_stemming_matches_word_forms_and_field_scoped_terms() {
    let schema = Schema::new();
    let store = open(&schema, json!({"stemming": "english"}), "stems").await;
    seed(&*store, vec![titled("r", "Running shoes")]).await;
    assert_eq!(found(&*store, "runs").await, ["r"]);
    assert_eq!(found(&*store, "title:shoe").await, ["r"]);
    assert!(found(&*store, "body:shoe").await.is_empty());
    // Written documents are visible without a refresh.
    store.index(vec![titled("w", "walking")]).await.unwrap();
    let results = store.query(&SearchQuery::new("walk")).await.unwrap();
    assert_eq!(results.total, 1);
}
