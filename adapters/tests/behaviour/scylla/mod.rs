//! The ScyllaDB / Cassandra wide-column backend through the wide-column suite, against a live
//! server.
//!
//! `POLYROUTE_TEST_SCYLLA_URL` names a contact point (such as `127.0.0.1:9042`). Without it
//! the tests are reported as ignored; with `POLYROUTE_REQUIRE_SERVICES=1` a missing URL or an
//! unreachable server fails them. Each test works in a keyspace of its own, dropped when the
//! test ends, so tests run in parallel.

use std::sync::Arc;

use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WriteOptions,
};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, ErrorKind, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::support::{self, unique, Fixture};
use polyroute_testkit::wide_column::{cells, event, events};
use polyroute_testkit::wide_column_suite;

/// Adds to every suite test: ignored when no server is configured.
macro_rules! gated {
    ($($suite:tt)*) => {
        polyroute_testkit::gated!(polyroute_scylla_tests, "set POLYROUTE_TEST_SCYLLA_URL to run the ScyllaDB / Cassandra tests", $($suite)*);
    };
}

/// The server's contact point: from the environment when the tests run, else as it was when
/// they were built. Fails when unset, which only happens with `POLYROUTE_REQUIRE_SERVICES=1`.
fn url() -> String {
    polyroute_testkit::server_url!(
        "POLYROUTE_TEST_SCYLLA_URL",
        "a ScyllaDB or Cassandra node, such as 127.0.0.1:9042"
    )
}

/// A fresh keyspace on the server, dropped (with everything in it) when the guard goes.
struct Keyspace {
    name: String,
    cleanup: Arc<Cleanup>,
}

impl Keyspace {
    fn new() -> Self {
        let name = unique("pr");
        let (url, keyspace) = (url(), name.clone());
        let cleanup = Cleanup::new(move || drop_keyspace(&url, &keyspace));
        Keyspace { name, cleanup }
    }

    async fn connect(&self) -> Arc<dyn Store> {
        let options = json!({
            "url": url(),
            "keyspace": self.name,
            "read_consistency": "one",
            "write_consistency": "one",
            "connect_timeout": "10s",
        });
        support::connect(StoreKind::WideColumn, "scylla", options).await
    }
}

fn drop_keyspace(url: &str, keyspace: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_nodes(url.split(','))
            .build()
            .await
            .unwrap_or_else(|err| panic!("cannot connect to drop keyspace {keyspace}: {err}"));
        session
            .query_unpaged(format!("DROP KEYSPACE IF EXISTS \"{keyspace}\""), ())
            .await
            .unwrap_or_else(|err| panic!("cannot drop keyspace {keyspace}: {err}"));
    });
}

async fn entity(
    store: &Arc<dyn Store>,
    keyspace: &Keyspace,
    name: &str,
    settings: WideColumnSettings,
) -> Fixture<dyn WideColumnStore> {
    let EntityHandle::WideColumn(handle) =
        support::open(&**store, name, EntitySettings::WideColumn(settings)).await
    else {
        panic!("scylla wide-column store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(keyspace.cleanup.clone())),
    }
}

async fn fixture(settings: WideColumnSettings) -> Fixture<dyn WideColumnStore> {
    let keyspace = Keyspace::new();
    let store = keyspace.connect().await;
    entity(&store, &keyspace, &unique("wc"), settings).await
}

async fn entity_pair(settings: WideColumnSettings) -> [Fixture<dyn WideColumnStore>; 2] {
    let keyspace = Keyspace::new();
    let store = keyspace.connect().await;
    [
        entity(&store, &keyspace, &unique("wc"), settings.clone()).await,
        entity(&store, &keyspace, &unique("wc"), settings).await,
    ]
}

gated!(wide_column_suite!(fixture, entity_pair));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(polyroute_scylla_tests), ignore = "set POLYROUTE_TEST_SCYLLA_URL")]
async fn reopening_with_other_keys_is_refused_and_data_survives_a_reconnect() {
    let keyspace = Keyspace::new();
    let store = keyspace.connect().await;
    let table = entity(&store, &keyspace, "events", events()).await.store;
    for at in 0..5 {
        let row = event("ann", at, 0, &[("v", at.into())]);
        table.put(row, WriteOptions::default()).await.unwrap();
    }
    let other = keyspace.connect().await;
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
    let again = entity(&other, &keyspace, "events", events()).await.store;
    let newest = again
        .slice(
            &SliceQuery::partition(vec!["ann".into()])
                .descending()
                .limit(2),
        )
        .await
        .unwrap();
    let found: Vec<_> = newest.iter().map(|row| row.cells.clone()).collect();
    assert_eq!(
        found,
        [cells(&[("v", 4.into())]), cells(&[("v", 3.into())])]
    );
    other.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(polyroute_scylla_tests), ignore = "set POLYROUTE_TEST_SCYLLA_URL")]
async fn long_slices_are_paged() {
    let keyspace = Keyspace::new();
    let options = json!({"url": url(), "keyspace": keyspace.name, "page_size": 7,
        "read_consistency": "one", "write_consistency": "one"});
    let store = support::connect(StoreKind::WideColumn, "scylla", options).await;
    let table = entity(&store, &keyspace, "events", events()).await.store;
    let rows = (0..100).map(|i| event("ann", i, 0, &[])).collect();
    table
        .put_batch(rows, WriteOptions::default())
        .await
        .unwrap();
    let all = table
        .slice(&SliceQuery::partition(vec!["ann".into()]))
        .await
        .unwrap();
    assert_eq!(all.len(), 100);
    let some = table
        .slice(
            &SliceQuery::partition(vec!["ann".into()])
                .descending()
                .limit(30),
        )
        .await
        .unwrap();
    assert_eq!(some.len(), 30);
    assert_eq!(some[0].clustering, vec![99.into(), 0.into()]);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let options = json!({"url": "127.0.0.1:1", "connect_timeout": "2s"});
    let err = support::connect_unreachable(StoreKind::WideColumn, "scylla", options).await;
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    // A non-routable address: the connection attempt hangs until the timeout (or fails at
    // once where the network is unreachable); either way, unavailable and quickly.
    let options = json!({"url": "10.255.255.1:9042", "connect_timeout": "1s"});
    let started = std::time::Instant::now();
    let err = polyroute_adapters::registry::connect(
        StoreKind::WideColumn,
        "scylla",
        &options,
        &Default::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("10.255.255.1:9042"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn options_are_validated_without_connecting() {
    use polyroute_adapters::registry::validate;
    assert!(validate(StoreKind::WideColumn, "scylla", &json!({"url": "h:9042"})).is_ok());
    let err = validate(
        StoreKind::WideColumn,
        "scylla",
        &json!({"url": "h:9042", "keyspace": "bad name"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("keyspace"), "{err}");
    let err = validate(
        StoreKind::WideColumn,
        "scylla",
        &json!({"url": "h:9042", "read_consistency": "any"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("read_consistency"), "{err}");
    assert!(validate(StoreKind::KeyValue, "scylla", &json!({"url": "h:9042"})).is_err());
}
