//! The router's own overhead: the same call through a `Router` handle (with every layer the
//! router applies: limit, breaker, retry, per-call deadline, tracing span), through one
//! without the resilience layers, and on the backend's handle directly, for an embedded
//! key-value get, a Redis get and a PostgreSQL point select. A store that answers at once (the
//! embedded key-value store) is also called directly that way, `get_now`: the router's handle
//! asks it so, and its overhead is read against the faster of the two direct calls.
//!
//! Redis and PostgreSQL are reached at POLYROUTE_BENCH_REDIS_URL and
//! POLYROUTE_BENCH_POSTGRES_URL (default: the local servers); a server that cannot be reached
//! is reported on stderr and its pair of benchmarks is not run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use polyroute::layers::LayerPolicy;
use polyroute::Router;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore};
use polyroute_adapters::kinds::relational::RelationalStore;
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreKind, Value};
use polyroute_benches::env::Servers;
use serde_json::json;
use tokio::runtime::Runtime;

async fn connect(
    kind: StoreKind,
    backend: &str,
    options: serde_json::Value,
) -> Option<Arc<dyn Store>> {
    match registry::connect(kind, backend, &options, &ConnectContext::default()).await {
        Ok(store) => Some(store),
        Err(err) => {
            eprintln!("router_overhead: {backend} unreachable, its benchmarks are not run: {err}");
            None
        }
    }
}

async fn direct_handle(
    store: &Arc<dyn Store>,
    entity: &str,
    settings: EntitySettings,
) -> EntityHandle {
    store
        .open(&EntitySpec::new(entity, settings.clone()).unwrap())
        .await
        .unwrap()
}

async fn router(
    name: &str,
    store: Arc<dyn Store>,
    entity: &str,
    settings: EntitySettings,
) -> Router {
    routed_with(name, store, entity, settings, LayerPolicy::default()).await
}

/// A router whose calls skip the limit, breaker and retry layers: only the handle, the
/// deadline and the span, to tell the layers' cost from the rest.
async fn bare_router(
    name: &str,
    store: Arc<dyn Store>,
    entity: &str,
    settings: EntitySettings,
) -> Router {
    let none = LayerPolicy {
        retry: None,
        breaker: None,
        max_in_flight: None,
    };
    routed_with(name, store, entity, settings, none).await
}

async fn routed_with(
    name: &str,
    store: Arc<dyn Store>,
    entity: &str,
    settings: EntitySettings,
    layers: LayerPolicy,
) -> Router {
    Router::builder()
        .store(name, store)
        .entity(entity, name, settings)
        .layers(layers)
        .build()
        .await
        .unwrap()
}

fn key_value(c: &mut Criterion, runtime: &Runtime, backend: &str, options: serde_json::Value) {
    let Some(store) = runtime.block_on(connect(StoreKind::KeyValue, backend, options)) else {
        return;
    };
    let settings = EntitySettings::KeyValue(KeyValueSettings::default());
    let (direct, routed, bare) = runtime.block_on(async {
        let EntityHandle::KeyValue(direct) =
            direct_handle(&store, "overhead", settings.clone()).await
        else {
            panic!("not a key-value handle");
        };
        direct
            .set("k", Bytes::from_static(b"value"), Default::default())
            .await
            .unwrap();
        (
            direct,
            router("kv", store.clone(), "overhead", settings.clone()).await,
            bare_router("kv", store.clone(), "overhead", settings).await,
        )
    });
    let bare = bare.key_value("overhead").unwrap();
    let routed = routed.key_value("overhead").unwrap();
    let direct: Arc<dyn KeyValueStore> = direct;
    let mut group = c.benchmark_group(format!("{backend} key-value get"));
    group.bench_function(BenchmarkId::new("direct", backend), |b| {
        b.to_async(runtime)
            .iter(|| async { direct.get("k").await.unwrap() })
    });
    // A store that answers at once is also timed that way: the router's handle asks it so,
    // and its overhead is read against the faster of the two direct calls.
    if direct.answers_now() {
        group.bench_function(BenchmarkId::new("direct-now", backend), |b| {
            b.to_async(runtime)
                .iter(|| async { direct.get_now("k").unwrap().unwrap() })
        });
    }
    group.bench_function(BenchmarkId::new("router", backend), |b| {
        b.to_async(runtime)
            .iter(|| async { routed.get("k").await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("router-without-layers", backend), |b| {
        b.to_async(runtime)
            .iter(|| async { bare.get("k").await.unwrap() })
    });
    // The direct call once more: the spread between the two direct runs is the noise floor
    // against which the router's overhead is read.
    group.bench_function(BenchmarkId::new("direct-again", backend), |b| {
        b.to_async(runtime)
            .iter(|| async { direct.get("k").await.unwrap() })
    });
    group.finish();
    runtime.block_on(async { direct.delete("k").await.unwrap() });
}

fn postgres_select(c: &mut Criterion, runtime: &Runtime, servers: &Servers) {
    let schema = format!("bench_overhead_{}", std::process::id());
    let options = json!({"url": servers.postgres, "schema": schema, "pool": 2});
    let Some(store) = runtime.block_on(connect(StoreKind::Relational, "postgres", options)) else {
        return;
    };
    let settings = EntitySettings::Relational(Default::default());
    let (direct, routed) = runtime.block_on(async {
        let EntityHandle::Relational(direct) =
            direct_handle(&store, "accounts", settings.clone()).await
        else {
            panic!("not a relational handle");
        };
        direct
            .execute_script(
                "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
                 INSERT INTO accounts SELECT g, 'name ' || g FROM generate_series(1, 1000) g;",
            )
            .await
            .unwrap();
        (
            direct,
            router("main", store.clone(), "accounts", settings).await,
        )
    });
    let routed = routed.relational("accounts").unwrap();
    let direct: Arc<dyn RelationalStore> = direct;
    const SQL: &str = "SELECT name FROM accounts WHERE id = $1";
    let mut group = c.benchmark_group("postgres point select");
    group.bench_function(BenchmarkId::new("direct", "postgres"), |b| {
        b.to_async(runtime)
            .iter(|| async { direct.query(SQL, &[Value::Int(42)]).await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("router", "postgres"), |b| {
        b.to_async(runtime)
            .iter(|| async { routed.query(SQL, &[Value::Int(42)]).await.unwrap() })
    });
    group.finish();
    runtime.block_on(async {
        direct
            .execute_script(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
    });
}

fn overhead(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let servers = Servers::from_env();
    key_value(c, &runtime, "embedded", json!({}));
    let prefix = format!("bench-overhead-{}:", std::process::id());
    key_value(
        c,
        &runtime,
        "redis",
        json!({"url": servers.redis, "key_prefix": prefix}),
    );
    postgres_select(c, &runtime, &servers);
}

criterion_group!(benches, overhead);
criterion_main!(benches);
