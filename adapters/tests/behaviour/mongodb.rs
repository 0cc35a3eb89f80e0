//! The MongoDB document backend through the document suite, against a live server.
//!
//! `POLYROUTE_TEST_MONGODB_URL` names the deployment (such as `mongodb://127.0.0.1:27017`).
//! Without it the tests are reported as ignored; with `POLYROUTE_REQUIRE_SERVICES=1` a missing
//! URL or an unreachable server fails them. Each test works in a database of its own, dropped
//! when the test ends, so tests run in parallel.

use std::sync::Arc;

use ::mongodb::bson::doc;
use polyroute_adapters::kinds::document::{DocumentSettings, DocumentStore, FieldPath};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::document_suite;
use polyroute_testkit::support::{self, unique, Fixture};

/// The server's URL.
fn url() -> String {
    polyroute_testkit::server_url!(
        "POLYROUTE_TEST_MONGODB_URL",
        "a MongoDB deployment, such as mongodb://127.0.0.1:27017"
    )
}

/// Drops the database `name`, on a runtime of its own (the test's may be shutting down).
fn drop_database(url: &str, name: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = ::mongodb::Client::with_uri_str(url)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to drop database {name}: {err}"));
        client
            .database(name)
            .drop()
            .await
            .unwrap_or_else(|err| panic!("cannot drop database {name}: {err}"));
    });
}

/// A store on a fresh database, and the clean-up that drops it.
async fn connect() -> (Arc<dyn Store>, Arc<Cleanup>, String) {
    let database = unique("pr");
    let options = json!({
        "url": url(),
        "database": database,
        "pool": 4,
        "connect_timeout": "10s",
        // A throwaway test database: acknowledgement by one member, unjournalled.
        "write_concern": {"w": 1, "journal": false},
    });
    let store = support::connect(StoreKind::Document, "mongodb", options).await;
    let (url, name) = (url(), database.clone());
    (
        store,
        Cleanup::new(move || drop_database(&url, &name)),
        database,
    )
}

async fn fixture() -> Fixture<dyn DocumentStore> {
    let (store, cleanup, _) = connect().await;
    let settings = EntitySettings::Document(DocumentSettings::default());
    let EntityHandle::Document(handle) = support::open(&*store, &unique("docs"), settings).await
    else {
        panic!("mongodb document store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(cleanup)),
    }
}

polyroute_testkit::gated!(
    polyroute_mongodb_tests,
    "set POLYROUTE_TEST_MONGODB_URL to run the MongoDB tests",
    document_suite!(fixture)
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_mongodb_tests),
    ignore = "set POLYROUTE_TEST_MONGODB_URL"
)]
async fn declared_fields_get_indexes_created_idempotently() {
    let (store, cleanup, database) = connect().await;
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
    let status = FieldPath::parse("status").unwrap();
    orders.create_index(&status).await.unwrap();
    orders.create_index(&status).await.unwrap();
    let client = ::mongodb::Client::with_uri_str(url()).await.unwrap();
    let mut names = client
        .database(&database)
        .collection::<::mongodb::bson::Document>("orders")
        .list_index_names()
        .await
        .unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            "_id_",
            "body.customer.city_1__id_1",
            "body.status_1__id_1",
            "body.total_1__id_1"
        ]
    );
    // Documents are stored under `body`, with hostile names escaped.
    orders
        .put(
            "o1",
            polyroute_testkit::document::doc(json!({"$where": 1, "a.b": 2})),
        )
        .await
        .unwrap();
    let raw = client
        .database(&database)
        .collection::<::mongodb::bson::Document>("orders")
        .find_one(doc! {"_id": "o1"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        raw,
        doc! {"_id": "o1", "body": {"%24where": 1_i64, "a%2Eb": 2_i64}}
    );
    drop(cleanup);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let options = json!({"url": "mongodb://127.0.0.1:1", "connect_timeout": "1s"});
    let err = support::connect_unreachable(StoreKind::Document, "mongodb", options).await;
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[test]
fn options_are_validated_without_connecting() {
    use polyroute_adapters::registry::validate;
    let err = validate(
        StoreKind::Document,
        "mongodb",
        &json!({"url": "mongodb://h", "read_preference": "fastest"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("read_preference"), "{err}");
    let err = validate(
        StoreKind::Document,
        "mongodb",
        &json!({"url": "mongodb://h", "write_concern": {"w": 0}}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("write_concern.w"), "{err}");
    assert!(validate(
        StoreKind::Document,
        "mongodb",
        &json!({"url": "mongodb://h"})
    )
    .is_ok());
}
