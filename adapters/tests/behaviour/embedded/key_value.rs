//! The embedded key-value backend through the key-value suite, plus its memory bound.

use std::sync::Arc;

use bytes::Bytes;
use polyroute_adapters::embedded::key_value::{Config, EmbeddedKeyValue, DEFAULT_MAX_MEMORY};
use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore, SetOptions};
use polyroute_adapters::units::ByteSize;
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::key_value_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::KeyValue, "embedded", options).await
}

/// A fresh entity on `store`.
async fn entity(store: &Arc<dyn Store>) -> Fixture<dyn KeyValueStore> {
    let settings = EntitySettings::KeyValue(KeyValueSettings::default());
    let EntityHandle::KeyValue(handle) = support::open(&**store, &unique("kv"), settings).await
    else {
        panic!("embedded key-value store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: None,
    }
}

async fn fixture() -> Fixture<dyn KeyValueStore> {
    entity(&connect(json!({})).await).await
}

async fn entity_pair() -> [Fixture<dyn KeyValueStore>; 2] {
    let store = connect(json!({})).await;
    [entity(&store).await, entity(&store).await]
}

key_value_suite!(fixture, entity_pair);

/// The same suite on a memory-bounded store whose bound the cases never reach: weighing and
/// eviction bookkeeping must not change what the cases see.
mod bounded {
    use super::*;

    async fn bounded_store() -> Arc<dyn Store> {
        let store = connect(json!({"max_memory": "64MiB"})).await;
        assert!(store.info().capabilities.evicts);
        store
    }

    async fn fixture() -> Fixture<dyn KeyValueStore> {
        entity(&bounded_store().await).await
    }

    async fn entity_pair() -> [Fixture<dyn KeyValueStore>; 2] {
        let store = bounded_store().await;
        [entity(&store).await, entity(&store).await]
    }

    key_value_suite!(fixture, entity_pair);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bound_evicts_the_least_recently_written() {
    const BOUND: u64 = 64 * 1024;
    const VALUE: usize = 1024;
    const WRITES: usize = 2_000;
    let store = EmbeddedKeyValue::open(Config {
        max_memory: Some(ByteSize(BOUND)),
    })
    .unwrap();
    assert!(store.info().capabilities.evicts);
    let spec = EntitySpec::new(
        "bounded",
        EntitySettings::KeyValue(KeyValueSettings::default()),
    )
    .unwrap();
    let EntityHandle::KeyValue(kv) = store.open(&spec).await.unwrap() else {
        panic!("embedded key-value store opened a handle of another kind");
    };
    let value = |i: usize| Bytes::from(vec![(i % 256) as u8; VALUE]);
    for i in 0..WRITES {
        kv.set(&format!("k{i}"), value(i), SetOptions::default())
            .await
            .unwrap();
    }
    // About 2 MiB written against a 64 KiB bound.
    let used = store.memory_used();
    assert!(used <= BOUND, "{used} bytes held, bound {BOUND}");
    assert!(used > 0);
    for i in WRITES - 10..WRITES {
        assert_eq!(
            kv.get(&format!("k{i}")).await.unwrap(),
            Some(value(i)),
            "recent key k{i} was evicted"
        );
    }
    let keys: Vec<String> = (0..WRITES).map(|i| format!("k{i}")).collect();
    let present = kv
        .get_many(&keys)
        .await
        .unwrap()
        .iter()
        .filter(|v| v.is_some())
        .count();
    assert!(present < WRITES / 10, "{present} of {WRITES} entries kept");
    assert_eq!(kv.get("k0").await.unwrap(), None);
}

#[tokio::test]
async fn memory_used_counts_keys_values_and_overhead_under_the_default_bound() {
    let store = EmbeddedKeyValue::open(Config::default()).unwrap();
    // Without `max_memory` the store is still bounded, and says it may evict.
    assert!(store.info().capabilities.evicts);
    assert_eq!(store.max_memory(), DEFAULT_MAX_MEMORY);
    assert_eq!(DEFAULT_MAX_MEMORY, 256 * 1024 * 1024);
    assert_eq!(store.memory_used(), 0);
    let spec = EntitySpec::new("e", EntitySettings::KeyValue(KeyValueSettings::default())).unwrap();
    let EntityHandle::KeyValue(kv) = store.open(&spec).await.unwrap() else {
        panic!("embedded key-value store opened a handle of another kind");
    };
    kv.set("k", Bytes::from(vec![0; 1000]), SetOptions::default())
        .await
        .unwrap();
    let one = store.memory_used();
    // The key as stored is `e:k`.
    assert!(one >= 1003, "{one}");
    kv.delete("k").await.unwrap();
    assert_eq!(store.memory_used(), 0);
}

#[tokio::test]
async fn zero_memory_bound_is_refused() {
    let err = EmbeddedKeyValue::open(Config {
        max_memory: Some(ByteSize(0)),
    })
    .unwrap_err();
    assert!(err.to_string().contains("max_memory"), "{err}");
}

/// The in-process store answers every read at once, so routed reads never build a future.
#[tokio::test]
async fn answers_every_read_at_once() {
    let f = fixture().await;
    assert!(f.store.answers_now());
    assert!(f.store.answers_now());
    f.store
        .set("present", Bytes::from_static(b"v"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        f.store.get_now("present").map(Result::unwrap),
        Some(Some(Bytes::from_static(b"v")))
    );
    assert_eq!(f.store.get_now("absent").map(Result::unwrap), Some(None));
}
