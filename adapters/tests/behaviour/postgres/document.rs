//! The PostgreSQL document backend: the document suite, and the indexes it creates.

use polyroute_adapters::kinds::document::{DocumentSettings, DocumentStore, FieldPath};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use polyroute_testkit::document_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn fixture() -> Fixture<dyn DocumentStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Document, json!({})).await;
    let settings = EntitySettings::Document(DocumentSettings::default());
    let EntityHandle::Document(handle) = support::open(&*store, &unique("docs"), settings).await
    else {
        panic!("postgres document store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

gated!(document_suite!(fixture));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn declared_fields_get_btree_indexes_and_the_body_a_gin_index() {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Document, json!({})).await;
    let settings = DocumentSettings::with_indexes(vec![
        FieldPath::parse("customer.city").unwrap(),
        FieldPath::parse("total").unwrap(),
    ]);
    let EntityHandle::Document(orders) = support::open(
        &*store,
        "orders",
        EntitySettings::Document(settings.clone()),
    )
    .await
    else {
        panic!("another kind");
    };
    // Opening again (a restart) changes nothing.
    support::open(&*store, "orders", EntitySettings::Document(settings)).await;
    orders
        .create_index(&FieldPath::parse("status").unwrap())
        .await
        .unwrap();
    let client = inspect().await;
    let rows = client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'doc_orders' ORDER BY indexname",
            &[&schema.name],
        )
        .await
        .unwrap();
    let indexes: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "doc_orders:customer.city",
            "doc_orders:status",
            "doc_orders:total",
            "doc_orders_body",
            "doc_orders_pkey"
        ]
    );
    assert!(
        indexes[3].1.contains("gin (body jsonb_path_ops)"),
        "{indexes:?}"
    );
    assert!(indexes[0].1.contains("btree"), "{indexes:?}");
}
