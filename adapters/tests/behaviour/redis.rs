//! The Redis key-value backend through the key-value suite, against a live server.
//!
//! `POLYROUTE_TEST_REDIS_URL` names the server (such as `redis://127.0.0.1:6379`). Without it
//! the tests are reported as ignored; with `POLYROUTE_REQUIRE_SERVICES=1` a missing URL or an
//! unreachable server fails them. Each test writes under a key prefix of its own and deletes
//! its keys when it ends, so tests run in parallel.

use std::sync::Arc;

use ::redis::Commands;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::key_value_suite;
use polyroute_testkit::support::{self, unique, Fixture};

/// The server's URL.
fn url() -> String {
    polyroute_testkit::server_url!(
        "POLYROUTE_TEST_REDIS_URL",
        "a Redis server, such as redis://127.0.0.1:6379"
    )
}

/// Deletes every key under `prefix`.
fn delete_keys(url: &str, prefix: &str) {
    let client = ::redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<Vec<u8>> = conn
        .scan_match::<_, Vec<u8>>(format!("{prefix}*"))
        .unwrap()
        .collect();
    for chunk in keys.chunks(500) {
        ::redis::cmd("DEL").arg(chunk).exec(&mut conn).unwrap();
    }
}

/// A store whose keys all start with a prefix of this test's own, and its clean-up.
async fn connect() -> (Arc<dyn Store>, Arc<Cleanup>) {
    // The prefix is an identifier: no glob characters for the clean-up's pattern to trip on.
    connect_with(format!("{}:", unique("polyroute_test"))).await
}

async fn connect_with(prefix: String) -> (Arc<dyn Store>, Arc<Cleanup>) {
    let options = json!({"url": url(), "key_prefix": prefix, "pool": 2});
    let store = support::connect(StoreKind::KeyValue, "redis", options).await;
    let url = url();
    (store, Cleanup::new(move || delete_keys(&url, &prefix)))
}

async fn entity(store: &Arc<dyn Store>, cleanup: &Arc<Cleanup>) -> Fixture<dyn KeyValueStore> {
    let settings = EntitySettings::KeyValue(KeyValueSettings::default());
    let EntityHandle::KeyValue(handle) = support::open(&**store, &unique("kv"), settings).await
    else {
        panic!("redis store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(cleanup.clone())),
    }
}

async fn fixture() -> Fixture<dyn KeyValueStore> {
    let (store, cleanup) = connect().await;
    entity(&store, &cleanup).await
}

async fn entity_pair() -> [Fixture<dyn KeyValueStore>; 2] {
    let (store, cleanup) = connect().await;
    [
        entity(&store, &cleanup).await,
        entity(&store, &cleanup).await,
    ]
}

polyroute_testkit::gated!(
    polyroute_redis_tests,
    "set POLYROUTE_TEST_REDIS_URL to run the Redis tests",
    key_value_suite!(fixture, entity_pair)
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(polyroute_redis_tests), ignore = "set POLYROUTE_TEST_REDIS_URL")]
async fn keys_are_laid_out_as_prefix_entity_key() {
    let prefix = format!("{}:", unique("polyroute_test"));
    let (store, _cleanup) = connect_with(prefix.clone()).await;
    let settings = EntitySettings::KeyValue(KeyValueSettings::default());
    let EntityHandle::KeyValue(sessions) = support::open(&*store, "sessions", settings).await
    else {
        panic!("another kind");
    };
    let options =
        polyroute_adapters::kinds::key_value::SetOptions::ttl(std::time::Duration::from_secs(60));
    sessions
        .set("abc", bytes::Bytes::from_static(b"v"), options)
        .await
        .unwrap();
    sessions.increment("n", 5).await.unwrap();
    let mut conn = ::redis::Client::open(url())
        .unwrap()
        .get_connection()
        .unwrap();
    let key = format!("{prefix}sessions:abc");
    let value: Option<Vec<u8>> = conn.get(&key).unwrap();
    assert_eq!(value.as_deref(), Some(&b"v"[..]));
    let ttl: i64 = conn.pttl(&key).unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    let counter: Option<String> = conn.get(format!("{prefix}sessions:n")).unwrap();
    assert_eq!(counter.as_deref(), Some("5"));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let options = json!({"url": "redis://127.0.0.1:1", "connect_timeout": "2s"});
    support::connect_unreachable(StoreKind::KeyValue, "redis", options).await;
}
