//! The read-through cache, driven through the router against in-memory stores with paused
//! time: hits and misses, fresh times within `ttl × (1 ± jitter)`, one load per key however
//! many readers wait, stale-while-revalidate with one background refresh, negative caching,
//! invalidation on writes, and a failing cache store answered from the system of record.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use polyroute::key_value::KeyValueSettings;
use polyroute::layers::breaker::{BreakerPolicy, BreakerState};
use polyroute::layers::LayerPolicy;
use polyroute::{Bytes, CachePolicy, EntitySettings, Router, StoreKind};
use serde_json::json;

use polyroute_testkit::fake::{Behaviour, FakeKv};

use crate::counters::Counters;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn policy(ttl: u64, jitter: f64, stale: u64) -> CachePolicy {
    let mut policy = CachePolicy::on("cache");
    policy.ttl = secs(ttl);
    policy.jitter = jitter;
    policy.stale = secs(stale);
    policy
}

/// No retries (each failure is one call), a breaker opening after two failures.
fn layers() -> LayerPolicy {
    LayerPolicy {
        retry: None,
        breaker: Some(BreakerPolicy {
            failures: 2,
            open_for: Duration::from_secs(3600),
        }),
        max_in_flight: None,
    }
}

struct Fixture {
    router: Router,
    db: Arc<FakeKv>,
    cache: Arc<FakeKv>,
}

async fn fixture(policy: CachePolicy) -> Fixture {
    let db = FakeKv::with(Behaviour::ttl());
    let cache = FakeKv::with(Behaviour::ttl());
    let router = Router::builder()
        .store("db", db.store())
        .store("cache", cache.store())
        .entity(
            "items",
            "db",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity(
            "plain",
            "db",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity_cache("items", policy)
        .layers(layers())
        .build()
        .await
        .unwrap();
    Fixture { router, db, cache }
}

fn bytes(text: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(text.as_bytes()))
}

fn requests(counters: &Counters, result: &str) -> u64 {
    counters.get(
        "polyroute_cache_requests_total",
        &["entity=items", &format!("result={result}")],
    )
}

fn loads(counters: &Counters) -> u64 {
    counters.get("polyroute_cache_loads_total", &["entity=items"])
}

#[tokio::test(start_paused = true)]
async fn a_miss_loads_once_then_hits_until_the_fresh_time_ends() {
    let counters = Counters::install();
    let f = fixture(policy(10, 0.0, 0)).await;
    f.db.put("k", "v1");
    let items = f.router.key_value("items").unwrap();

    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    assert_eq!(f.db.gets(), 1, "the second read is a hit");
    assert_eq!(
        (requests(&counters, "miss"), requests(&counters, "hit")),
        (1, 1)
    );
    assert_eq!(loads(&counters), 1);
    // The entry went to the cache store with a TTL: fresh time plus stale window.
    assert_eq!(f.cache.ttls(), [Some(secs(10))]);
    // As an envelope: version 1, fresh-until milliseconds, present, the value.
    let raw = f.cache.raw("k").unwrap();
    assert_eq!((raw[0], raw[9], &raw[10..]), (1, 1, &b"v1"[..]));

    // The store changes behind the cache: still the cached value while fresh...
    f.db.put("k", "v2");
    tokio::time::advance(Duration::from_millis(9_900)).await;
    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    // ...and the new one once it is not (the memory store does not expire: the envelope does).
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(items.get("k").await.unwrap(), bytes("v2"));
    assert_eq!(f.db.gets(), 2);
    assert_eq!(loads(&counters), 2);

    // An entity without a cache reads its store every time and counts nothing.
    let plain = f.router.key_value("plain").unwrap();
    assert!(plain.cache().is_none());
    plain.get("k").await.unwrap();
    plain.get("k").await.unwrap();
    assert_eq!(f.db.gets(), 4);
    assert!(f.router.cache_of("plain").is_none());
    assert!(f.router.cache_of("items").is_some());
}

#[tokio::test(start_paused = true)]
async fn fresh_times_stay_within_the_jitter() {
    let f = fixture(policy(100, 0.2, 5)).await;
    let items = f.router.key_value("items").unwrap();
    for n in 0..40 {
        f.db.put(&format!("k{n}"), "v");
        items.get(&format!("k{n}")).await.unwrap();
    }
    let ttls: Vec<Duration> = f.cache.ttls().into_iter().map(Option::unwrap).collect();
    assert_eq!(ttls.len(), 40);
    for ttl in &ttls {
        // 100 s × (1 ± 0.2), plus the 5 s stale window.
        assert!(*ttl >= secs(85) && *ttl <= secs(125), "{ttl:?}");
    }
    assert!(
        ttls.iter().any(|ttl| *ttl != ttls[0]),
        "jitter spreads the fresh times: {ttls:?}"
    );
    // Past the longest fresh time and stale window, every key is loaded again.
    tokio::time::advance(secs(126)).await;
    for n in 0..40 {
        items.get(&format!("k{n}")).await.unwrap();
    }
    assert_eq!(f.db.gets(), 80);
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_share_one_load() {
    let counters = Counters::install();
    let f = fixture(policy(60, 0.0, 0)).await;
    f.db.put("k", "v");
    f.db.slow_gets(&[Duration::from_millis(100)]);
    let items = f.router.key_value("items").unwrap();
    let reads = join_all((0..10).map(|_| items.get("k"))).await;
    for read in reads {
        assert_eq!(read.unwrap(), bytes("v"));
    }
    assert_eq!(f.db.gets(), 1, "one load for ten readers");
    assert_eq!(loads(&counters), 1);
    assert_eq!(requests(&counters, "miss"), 10);
    assert_eq!(f.cache.sets(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_takes_over_when_the_leader_is_dropped() {
    let f = fixture(policy(60, 0.0, 0)).await;
    f.db.put("k", "v");
    // The leader's load hangs; the follower's own load is quick.
    f.db.slow_gets(&[Duration::from_secs(3600)]);
    let items = f.router.key_value("items").unwrap();
    let leader = tokio::spawn({
        let items = items.clone();
        async move { items.get("k").await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let follower = tokio::spawn({
        let items = items.clone();
        async move { items.get("k").await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(f.db.gets(), 1, "the follower waits on the leader's load");
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    assert_eq!(follower.await.unwrap().unwrap(), bytes("v"));
    assert_eq!(f.db.gets(), 2, "the follower loaded in the leader's place");
}

#[tokio::test(start_paused = true)]
async fn a_stale_entry_is_served_while_one_background_load_refreshes_it() {
    let counters = Counters::install();
    let f = fixture(policy(10, 0.0, 30)).await;
    f.db.put("k", "old");
    let items = f.router.key_value("items").unwrap();
    items.get("k").await.unwrap();
    assert_eq!(f.cache.ttls(), [Some(secs(40))]);

    f.db.put("k", "new");
    f.db.slow_gets(&[Duration::from_millis(50)]);
    tokio::time::advance(secs(15)).await;
    // Three reads in the stale window: all answered at once with the old value.
    for _ in 0..3 {
        assert_eq!(items.get("k").await.unwrap(), bytes("old"));
    }
    assert_eq!(requests(&counters, "stale"), 3);
    // One refresh runs in the background.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(f.db.gets(), 2, "one background load for three stale reads");
    assert_eq!(items.get("k").await.unwrap(), bytes("new"));
    assert_eq!(requests(&counters, "hit"), 1);

    // Past the stale window an entry is a plain miss.
    f.db.put("k", "newer");
    tokio::time::advance(secs(41)).await;
    assert_eq!(items.get("k").await.unwrap(), bytes("newer"));
    assert_eq!(requests(&counters, "miss"), 2);
}

#[tokio::test(start_paused = true)]
async fn absence_is_cached_only_when_negative_caching_is_on() {
    let counters = Counters::install();
    let f = fixture(policy(60, 0.0, 0)).await;
    let items = f.router.key_value("items").unwrap();
    assert_eq!(items.get("missing").await.unwrap(), None);
    assert_eq!(items.get("missing").await.unwrap(), None);
    assert_eq!(f.db.gets(), 2, "absence is not cached by default");
    assert_eq!(f.cache.sets(), 0);
    assert_eq!(requests(&counters, "negative_hit"), 0);

    let mut negative = policy(60, 0.0, 0);
    negative.negative = Some(secs(10));
    let f = fixture(negative).await;
    let items = f.router.key_value("items").unwrap();
    assert_eq!(items.get("missing").await.unwrap(), None);
    assert_eq!(items.get("missing").await.unwrap(), None);
    assert_eq!(f.db.gets(), 1);
    assert_eq!(requests(&counters, "negative_hit"), 1);
    assert_eq!(f.cache.ttls(), [Some(secs(10))]);
    // The negative entry lives for `negative`, not `ttl`.
    f.db.put("missing", "here now");
    tokio::time::advance(secs(11)).await;
    assert_eq!(items.get("missing").await.unwrap(), bytes("here now"));
}

#[tokio::test(start_paused = true)]
async fn writes_through_the_handle_invalidate() {
    let f = fixture(policy(60, 0.0, 0)).await;
    f.db.put("k", "v1");
    f.db.put("n", "1");
    let items = f.router.key_value("items").unwrap();
    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    items.set("k", "v2").await.unwrap();
    assert_eq!(items.get("k").await.unwrap(), bytes("v2"));
    items.delete("k").await.unwrap();
    assert_eq!(items.get("k").await.unwrap(), None);
    assert_eq!(items.get("n").await.unwrap(), bytes("1"));
    items.increment("n", 2).await.unwrap();
    assert_eq!(items.get("n").await.unwrap(), bytes("3"));
    items.set_many([("n", "7")]).await.unwrap();
    assert_eq!(items.get("n").await.unwrap(), bytes("7"));
    assert!(f.cache.deletes() >= 4);
}

#[tokio::test(start_paused = true)]
async fn a_failing_cache_store_is_read_through_and_its_breaker_skips_it() {
    let counters = Counters::install();
    let f = fixture(policy(60, 0.0, 0)).await;
    f.db.put("k", "v1");
    let items = f.router.key_value("items").unwrap();
    items.get("k").await.unwrap();

    f.cache.set_down(true);
    f.db.put("k", "v2");
    // Every read still answers, from the system of record; nothing is written back.
    for _ in 0..4 {
        assert_eq!(items.get("k").await.unwrap(), bytes("v2"));
    }
    assert_eq!(requests(&counters, "error"), 4);
    assert_eq!(f.db.gets(), 5);
    let cache_store = f.router.stores().find(|s| s.name == "cache").unwrap();
    assert_eq!(cache_store.layers.breaker_state(), Some(BreakerState::Open));
    // Two failed gets opened the breaker; the later reads did not reach the cache store.
    assert_eq!(f.cache.gets(), 3);
    assert_eq!(f.cache.sets(), 1, "only the first, healthy load wrote back");
    // The entity's own store is not affected.
    let db_store = f.router.stores().find(|s| s.name == "db").unwrap();
    assert_eq!(db_store.layers.breaker_state(), Some(BreakerState::Closed));
}

#[tokio::test]
async fn a_cache_store_that_answers_at_once_is_read_that_way() {
    let counters = Counters::install();
    let db = FakeKv::with(Behaviour::ttl());
    let cache = FakeKv::with(Behaviour {
        answers_now: true,
        ..Behaviour::ttl()
    });
    let router = Router::builder()
        .store("db", db.store())
        .store("cache", cache.store())
        .entity(
            "items",
            "db",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity_cache("items", policy(60, 0.0, 0))
        .layers(layers())
        .build()
        .await
        .unwrap();
    let items = router.key_value("items").unwrap();
    db.put("k", "v1");
    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    assert_eq!((cache.gets(), cache.sets(), db.gets()), (2, 1, 1));
    assert_eq!(
        cache.answered_now(),
        2,
        "the lookups waited on the cache store"
    );
    assert_eq!(requests(&counters, "hit"), 1);
    // A failing answer is a failed lookup like any other: the read goes through.
    cache.set_down(true);
    assert_eq!(items.get("k").await.unwrap(), bytes("v1"));
    assert_eq!(requests(&counters, "error"), 1);
    assert_eq!((cache.answered_now(), db.gets()), (3, 2));
}

#[tokio::test]
async fn documents_read_through_and_writes_invalidate() {
    let cache = FakeKv::with(Behaviour::ttl());
    let router = Router::builder()
        .store_config("docs", StoreKind::Document, "embedded", json!({}))
        .store("cache", cache.store())
        .entity(
            "products",
            "docs",
            EntitySettings::Document(Default::default()),
        )
        .entity_cache("products", CachePolicy::on("cache"))
        .build()
        .await
        .unwrap();
    let products = router.document("products").unwrap();
    products
        .put("p1", json!({"name": "lamp", "price": 20}))
        .await
        .unwrap();
    let first = products.get("p1").await.unwrap().unwrap();
    assert_eq!(first["name"], "lamp");
    assert_eq!(cache.sets(), 1);
    let second = products.get("p1").await.unwrap().unwrap();
    assert_eq!(first, second);
    assert_eq!(cache.gets(), 2);
    assert_eq!(cache.sets(), 1, "the second read was a hit");

    products
        .put("p1", json!({"name": "lamp", "price": 25}))
        .await
        .unwrap();
    assert_eq!(products.get("p1").await.unwrap().unwrap()["price"], 25);
    products.delete("p1").await.unwrap();
    assert_eq!(products.get("p1").await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn other_code_can_cache_any_read_with_the_entitys_cache() {
    let f = fixture(policy(60, 0.0, 0)).await;
    let cache = f.router.cache_of("items").unwrap();
    assert_eq!(cache.entity(), "items");
    let load = || async { Ok(Some(Bytes::from_static(b"computed"))) };
    assert_eq!(
        cache.get_or_load("x", load).await.unwrap(),
        bytes("computed")
    );
    let failing = || async { Err(polyroute::StoreError::backend("a hit does not load")) };
    assert_eq!(
        cache.get_or_load("x", failing).await.unwrap(),
        bytes("computed")
    );
    cache.invalidate("x").await.unwrap();
    let again = || async { Ok(None) };
    assert_eq!(cache.get_or_load("x", again).await.unwrap(), None);
}

/// An entity named `cache_products` and the cache of `products` share the cache store without
/// sharing keys: what one writes, the other never reads. And no entity can take the cache's
/// own namespace.
#[tokio::test]
async fn a_cache_namespace_cannot_collide_with_an_entity() {
    let kv = || EntitySettings::KeyValue(KeyValueSettings::default());
    let router = Router::builder()
        .store_config("db", StoreKind::KeyValue, "embedded", json!({}))
        .store_config("cache", StoreKind::KeyValue, "embedded", json!({}))
        .entity("products", "db", kv())
        .entity("cache_products", "cache", kv())
        .entity_cache("products", CachePolicy::on("cache"))
        .build()
        .await
        .unwrap();
    let products = router.key_value("products").unwrap();
    let lookalike = router.key_value("cache_products").unwrap();
    products.set("k", "from the store").await.unwrap();
    lookalike.set("k", "not an envelope").await.unwrap();
    // The cache of `products` misses, loads, and keeps its entry apart from the lookalike.
    assert_eq!(products.get("k").await.unwrap(), bytes("from the store"));
    assert_eq!(products.get("k").await.unwrap(), bytes("from the store"));
    assert_eq!(lookalike.get("k").await.unwrap(), bytes("not an envelope"));
    lookalike.delete("k").await.unwrap();
    assert_eq!(products.get("k").await.unwrap(), bytes("from the store"));

    let err = Router::builder()
        .store_config("db", StoreKind::KeyValue, "embedded", json!({}))
        .entity("cache__products", "db", kv())
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("__"), "{err}");
}
