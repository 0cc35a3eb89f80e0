//! The PostgreSQL wide-column backend: the wide-column suite, purging, reopening with other
//! keys, and the table and index it creates.

use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WriteOptions,
};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use polyroute_testkit::support::{self, unique, Fixture};
use polyroute_testkit::wide_column::{cells, event, events};
use polyroute_testkit::wide_column_suite;

async fn entity(
    store: &Arc<dyn Store>,
    schema: &Schema,
    name: &str,
    settings: WideColumnSettings,
) -> Fixture<dyn WideColumnStore> {
    let EntityHandle::WideColumn(handle) =
        support::open(&**store, name, EntitySettings::WideColumn(settings)).await
    else {
        panic!("postgres wide-column store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

async fn fixture(settings: WideColumnSettings) -> Fixture<dyn WideColumnStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::WideColumn, json!({})).await;
    entity(&store, &schema, &unique("wc"), settings).await
}

async fn entity_pair(settings: WideColumnSettings) -> [Fixture<dyn WideColumnStore>; 2] {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::WideColumn, json!({})).await;
    [
        entity(&store, &schema, &unique("wc"), settings.clone()).await,
        entity(&store, &schema, &unique("wc"), settings).await,
    ]
}

gated!(wide_column_suite!(fixture, entity_pair));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn expired_and_deleted_rows_are_purged_after_the_grace() {
    let schema = Schema::new();
    let store = schema
        .connect(
            StoreKind::WideColumn,
            json!({"purge_interval": "100ms", "tombstone_grace": "0s"}),
        )
        .await;
    let table = entity(&store, &schema, "events", events()).await.store;
    let brief = WriteOptions {
        ttl: Some(Duration::from_millis(1)),
        ..WriteOptions::default()
    };
    for i in 0..10 {
        table.put(event("ann", i, 0, &[]), brief).await.unwrap();
        table
            .put(
                event("bob", i, 0, &[("i", i.into())]),
                WriteOptions::default(),
            )
            .await
            .unwrap();
    }
    assert!(table
        .delete(&["bob".into()], &[0.into(), 0.into()])
        .await
        .unwrap());
    let client = inspect().await;
    let count = format!("SELECT count(*) FROM \"{}\".wc_events", schema.name);
    let started = std::time::Instant::now();
    loop {
        let left: i64 = client.query_one(&count, &[]).await.unwrap().get(0);
        if left == 9 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{left} rows left, expected bob's 9"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bob = table
        .slice(&SliceQuery::partition(vec!["bob".into()]))
        .await
        .unwrap();
    assert_eq!(bob.len(), 9);
    assert_eq!(bob[0].cells, cells(&[("i", 1.into())]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn grace_keeps_deletions_shadowing_late_writes() {
    let schema = Schema::new();
    let store = schema
        .connect(StoreKind::WideColumn, json!({"purge_interval": "50ms"}))
        .await;
    let table = entity(&store, &schema, "events", events()).await.store;
    let (p, c) = (["ann".into()], [1.into(), 0.into()]);
    table
        .put(event("ann", 1, 0, &[]), WriteOptions::default())
        .await
        .unwrap();
    assert!(table.delete(&p, &c).await.unwrap());
    // Several purges run; the default grace is an hour, so the deletion stays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = WriteOptions {
        timestamp: Some(1),
        ..WriteOptions::default()
    };
    table.put(event("ann", 1, 0, &[]), late).await.unwrap();
    assert_eq!(table.get(&p, &c).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn reopening_with_other_keys_is_refused_and_the_table_is_keyed_and_indexed() {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::WideColumn, json!({})).await;
    let table = entity(&store, &schema, "events", events()).await.store;
    let rows = (0..2000)
        .map(|i| event(&format!("user{}", i % 20), i, 0, &[("i", i.into())]))
        .collect();
    table
        .put_batch(rows, WriteOptions::default())
        .await
        .unwrap();
    // A second store on the same schema sees the entity's keys and refuses others.
    let other = schema.connect(StoreKind::WideColumn, json!({})).await;
    let spec = EntitySpec::new(
        "events",
        EntitySettings::WideColumn(WideColumnSettings::new(
            vec!["user".into()],
            vec!["at".into()],
        )),
    )
    .unwrap();
    let err = other.open(&spec).await.unwrap_err();
    assert!(err.to_string().contains("exists with"), "{err}");
    let again = entity(&other, &schema, "events", events()).await.store;
    let newest = again
        .slice(
            &SliceQuery::partition(vec!["user7".into()])
                .descending()
                .limit(3),
        )
        .await
        .unwrap();
    let ats: Vec<_> = newest.iter().map(|r| r.clustering[0].clone()).collect();
    assert_eq!(ats, vec![1987.into(), 1967.into(), 1947.into()]);

    let client = inspect().await;
    let key: Vec<String> = client
        .query(
            "SELECT a.attname FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
            &[&format!("\"{}\".wc_events", schema.name)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(key, ["p0", "c0", "c1"]);
    // The newest rows of a partition are read from the primary key's index, backwards.
    client
        .batch_execute(&format!(
            "SET search_path TO \"{}\"; ANALYZE wc_events; SET enable_seqscan = off",
            schema.name
        ))
        .await
        .unwrap();
    let plan: Vec<String> = client
        .query(
            "EXPLAIN SELECT c0, c1, record FROM wc_events WHERE p0 = $1 \
             AND visible_until > 0 ORDER BY c0 DESC, c1 DESC LIMIT 3",
            &[&vec![0u8]],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("Index Scan Backward using wc_events_pkey"),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn keys_too_long_for_the_index_are_invalid() {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::WideColumn, json!({})).await;
    let table = entity(&store, &schema, "events", events()).await.store;
    let long = "x".repeat(3000);
    let err = table
        .put(event(&long, 1, 1, &[]), WriteOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, polyroute_adapters::StoreError::InvalidRequest { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bytes"), "{err}");
    store.ping().await.unwrap();
}
