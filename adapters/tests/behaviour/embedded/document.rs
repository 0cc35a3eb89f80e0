//! The embedded document backend through the document suite, plus durability.

use polyroute_adapters::kinds::document::{
    DocumentSettings, DocumentStore, FieldPath, Filter, FindQuery,
};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::document::doc;
use polyroute_testkit::document_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn connect(path: &std::path::Path) -> std::sync::Arc<dyn Store> {
    support::connect(StoreKind::Document, "embedded", json!({ "path": path })).await
}

async fn open(
    store: &dyn Store,
    name: &str,
    settings: DocumentSettings,
) -> std::sync::Arc<dyn DocumentStore> {
    let EntityHandle::Document(handle) =
        support::open(store, name, EntitySettings::Document(settings)).await
    else {
        panic!("embedded document store opened a handle of another kind");
    };
    handle
}

async fn fixture() -> Fixture<dyn DocumentStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = connect(&dir.path().join("docs.db")).await;
    let handle = open(&*store, &unique("docs"), DocumentSettings::default()).await;
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(dir)),
    }
}

document_suite!(fixture);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    let settings = DocumentSettings::with_indexes(vec![FieldPath::parse("customer.city").unwrap()]);
    let order = |city: &str, total: f64| doc(json!({"customer": {"city": city}, "total": total}));
    {
        let store = connect(&path).await;
        assert!(store.info().capabilities.durable);
        let orders = open(&*store, "orders", settings.clone()).await;
        orders.put("o1", order("Lyon", 10.5)).await.unwrap();
        orders.insert("o2", order("Paris", 20.0)).await.unwrap();
        orders.put("o3", order("Lyon", 30.0)).await.unwrap();
        orders.put("o3", order("Lyon", 31.0)).await.unwrap();
        assert!(orders.delete("o2").await.unwrap());
    }
    let store = connect(&path).await;
    let orders = open(&*store, "orders", settings).await;
    assert_eq!(orders.get("o1").await.unwrap(), Some(order("Lyon", 10.5)));
    assert_eq!(orders.get("o2").await.unwrap(), None);
    assert_eq!(orders.get("o3").await.unwrap(), Some(order("Lyon", 31.0)));
    let lyon = Filter::eq("customer.city", "Lyon").unwrap();
    let found = orders.find(&FindQuery::new(lyon.clone())).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["o1", "o3"]);
    assert_eq!(orders.count(&lyon).await.unwrap(), 2);
    assert_eq!(orders.count(&Filter::All).await.unwrap(), 2);
}
