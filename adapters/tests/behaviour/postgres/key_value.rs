//! The PostgreSQL key-value backend: the key-value suite, expiry purging and migrations.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore, SetOptions};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use polyroute_testkit::key_value_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn entity(store: &Arc<dyn Store>, schema: &Schema, name: &str) -> Fixture<dyn KeyValueStore> {
    let settings = EntitySettings::KeyValue(KeyValueSettings::default());
    let EntityHandle::KeyValue(handle) = support::open(&**store, name, settings).await else {
        panic!("postgres key-value store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

async fn fixture() -> Fixture<dyn KeyValueStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::KeyValue, json!({})).await;
    entity(&store, &schema, &unique("kv")).await
}

async fn entity_pair() -> [Fixture<dyn KeyValueStore>; 2] {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::KeyValue, json!({})).await;
    [
        entity(&store, &schema, &unique("kv")).await,
        entity(&store, &schema, &unique("kv")).await,
    ]
}

gated!(key_value_suite!(fixture, entity_pair));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn expired_rows_are_purged() {
    let schema = Schema::new();
    let store = schema
        .connect(StoreKind::KeyValue, json!({"purge_interval": "100ms"}))
        .await;
    let kv = entity(&store, &schema, "sessions").await.store;
    for i in 0..50 {
        kv.set(
            &format!("short{i}"),
            Bytes::from_static(b"x"),
            SetOptions::ttl(Duration::from_millis(50)),
        )
        .await
        .unwrap();
    }
    kv.set("kept", Bytes::from_static(b"y"), SetOptions::default())
        .await
        .unwrap();
    let client = inspect().await;
    let count = format!("SELECT count(*) FROM \"{}\".kv_sessions", schema.name);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows: i64 = client.query_one(&count, &[]).await.unwrap().get(0);
        if rows == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{rows} rows left; expired rows were never purged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        kv.get("kept").await.unwrap(),
        Some(Bytes::from_static(b"y"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn concurrent_opens_migrate_once() {
    let schema = Schema::new();
    // Several stores (as several processes would) open the same entity at the same moment,
    // on a schema none of them has created yet.
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let options = schema.options(json!({"pool": 1}));
            tokio::spawn(async move {
                let store = support::connect(StoreKind::KeyValue, "postgres", options).await;
                let settings = EntitySettings::KeyValue(KeyValueSettings::default());
                let EntityHandle::KeyValue(kv) = support::open(&*store, "shared", settings).await
                else {
                    panic!("another kind");
                };
                kv.increment("opens", 1).await.unwrap()
            })
        })
        .collect();
    let mut seen = Vec::new();
    for open in opens {
        seen.push(open.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=6).collect::<Vec<i64>>());
    let client = inspect().await;
    let rows = client
        .query(
            &format!(
                "SELECT component, version FROM \"{}\".polyroute_migrations",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap();
    let recorded: Vec<(String, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(recorded, [("kv:shared".to_owned(), 1)]);
    drop(schema);
}
