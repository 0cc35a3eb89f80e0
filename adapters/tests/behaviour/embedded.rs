//! The embedded backends, run through every suite of their kind.

mod key_value {
    use std::sync::Arc;

    use bytes::Bytes;
    use polyroute_adapters::embedded::key_value::{Config, EmbeddedKeyValue};
    use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore, SetOptions};
    use polyroute_adapters::registry::{self, ConnectContext};
    use polyroute_adapters::units::ByteSize;
    use polyroute_adapters::{EntitySettings, EntitySpec, Store, StoreHandle, StoreKind};
    use serde_json::json;

    use crate::key_value::key_value_suite;
    use crate::support::{unique, Fixture};

    async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
        registry::connect(
            StoreKind::KeyValue,
            "embedded",
            &options,
            &ConnectContext::default(),
        )
        .await
        .unwrap()
    }

    /// A fresh entity on `store`.
    async fn entity(store: &Arc<dyn Store>) -> Fixture<dyn KeyValueStore> {
        let spec = EntitySpec::new(
            &unique("kv"),
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .unwrap();
        let StoreHandle::KeyValue(handle) = store.open(&spec).await.unwrap() else {
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
        let StoreHandle::KeyValue(kv) = store.open(&spec).await.unwrap() else {
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
    async fn memory_used_counts_keys_values_and_overhead_without_a_bound() {
        let store = EmbeddedKeyValue::open(Config::default()).unwrap();
        assert!(!store.info().capabilities.evicts);
        assert_eq!(store.memory_used(), 0);
        let spec =
            EntitySpec::new("e", EntitySettings::KeyValue(KeyValueSettings::default())).unwrap();
        let StoreHandle::KeyValue(kv) = store.open(&spec).await.unwrap() else {
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
}

mod relational {
    use std::sync::Arc;

    use polyroute_adapters::kinds::relational::{RelationalSettings, RelationalStore};
    use polyroute_adapters::registry::{self, ConnectContext};
    use polyroute_adapters::{EntitySettings, EntitySpec, Store, StoreHandle, StoreKind};

    use crate::support::{unique, Fixture};

    async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
        registry::connect(
            StoreKind::Relational,
            "embedded",
            &options,
            &ConnectContext::default(),
        )
        .await
        .unwrap()
    }

    async fn handle(store: &Arc<dyn Store>) -> Arc<dyn RelationalStore> {
        let spec = EntitySpec::new(
            &unique("rel"),
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .unwrap();
        let StoreHandle::Relational(handle) = store.open(&spec).await.unwrap() else {
            panic!("embedded relational store opened a handle of another kind");
        };
        handle
    }

    /// A private in-memory database: one connection, so calls queue behind a transaction.
    mod memory {
        use std::time::Duration;

        use polyroute_adapters::{ErrorKind, Value};
        use serde_json::json;

        use super::*;
        use crate::relational::relational_suite;

        async fn fixture() -> Fixture<dyn RelationalStore> {
            let store = connect(json!({})).await;
            assert!(!store.info().capabilities.durable);
            Fixture {
                store: handle(&store).await,
                capabilities: store.info().capabilities,
                guard: None,
            }
        }

        relational_suite!(fixture);

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_call_waits_for_an_open_transaction_then_proceeds() {
            let store = fixture().await.store;
            store
                .execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY)")
                .await
                .unwrap();
            let mut tx = store.begin().await.unwrap();
            tx.execute("INSERT INTO t (id) VALUES (1)", &[])
                .await
                .unwrap();
            let mut outside = {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.query("SELECT count(*) FROM t", &[]).await })
            };
            // The only connection is the transaction's: the call cannot finish before it ends.
            let early = tokio::time::timeout(Duration::from_millis(200), &mut outside).await;
            assert!(
                early.is_err(),
                "call finished inside a transaction: {early:?}"
            );
            tx.commit().await.unwrap();
            let rows = outside.await.unwrap().unwrap();
            assert_eq!(rows.rows, vec![vec![Value::Int(1)]]);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_call_waits_at_most_the_busy_timeout() {
            let store = handle(&connect(json!({"busy_timeout": "100ms"})).await).await;
            store
                .execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY)")
                .await
                .unwrap();
            let mut tx = store.begin().await.unwrap();
            tx.execute("INSERT INTO t (id) VALUES (1)", &[])
                .await
                .unwrap();
            // The same task holding the transaction and calling outside it would wait forever;
            // it gets a retryable error instead.
            let err = store.query("SELECT 1", &[]).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
            assert!(err.is_retryable());
            tx.commit().await.unwrap();
            let rows = store.query("SELECT count(*) FROM t", &[]).await.unwrap();
            assert_eq!(rows.rows, vec![vec![Value::Int(1)]]);
        }
    }

    /// A database file, with a pool of several connections.
    mod file {
        use polyroute_adapters::Value;
        use serde_json::json;

        use super::*;
        use crate::relational::relational_suite;

        async fn fixture() -> Fixture<dyn RelationalStore> {
            let dir = tempfile::tempdir().unwrap();
            let store = connect(json!({"path": dir.path().join("db.sqlite")})).await;
            assert!(store.info().capabilities.durable);
            Fixture {
                store: handle(&store).await,
                capabilities: store.info().capabilities,
                guard: Some(dir),
            }
        }

        relational_suite!(fixture);

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn committed_writes_survive_reopening() {
            let dir = tempfile::tempdir().unwrap();
            let options = json!({"path": dir.path().join("db.sqlite")});
            {
                let store = connect(options.clone()).await;
                let db = handle(&store).await;
                db.execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY, label TEXT)")
                    .await
                    .unwrap();
                let mut tx = db.begin().await.unwrap();
                tx.execute(
                    "INSERT INTO t (id, label) VALUES ($1, $2)",
                    &[Value::Int(1), "durable".into()],
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                let mut tx = db.begin().await.unwrap();
                tx.execute(
                    "INSERT INTO t (id, label) VALUES (2, 'never committed')",
                    &[],
                )
                .await
                .unwrap();
                tx.rollback().await.unwrap();
            }
            let db = handle(&connect(options).await).await;
            let rows = db.query("SELECT id, label FROM t", &[]).await.unwrap();
            assert_eq!(rows.rows, vec![vec![Value::Int(1), "durable".into()]]);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn uncommitted_writes_are_invisible_to_other_connections() {
            let store = fixture().await;
            let db = &store.store;
            db.execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY)")
                .await
                .unwrap();
            let mut tx = db.begin().await.unwrap();
            tx.execute("INSERT INTO t (id) VALUES (1)", &[])
                .await
                .unwrap();
            // Another pooled connection reads the last committed state, without waiting.
            let rows = db.query("SELECT count(*) FROM t", &[]).await.unwrap();
            assert_eq!(rows.rows, vec![vec![Value::Int(0)]]);
            tx.commit().await.unwrap();
            let rows = db.query("SELECT count(*) FROM t", &[]).await.unwrap();
            assert_eq!(rows.rows, vec![vec![Value::Int(1)]]);
        }
    }
}

mod document {
    use polyroute_adapters::kinds::document::{
        DocumentSettings, DocumentStore, FieldPath, Filter, FindQuery,
    };
    use polyroute_adapters::registry::{self, ConnectContext};
    use polyroute_adapters::{EntitySettings, EntitySpec, Store, StoreHandle, StoreKind};
    use serde_json::json;

    use crate::document::{doc, document_suite};
    use crate::support::{unique, Fixture};

    async fn connect(path: &std::path::Path) -> std::sync::Arc<dyn Store> {
        registry::connect(
            StoreKind::Document,
            "embedded",
            &json!({ "path": path }),
            &ConnectContext::default(),
        )
        .await
        .unwrap()
    }

    async fn open(
        store: &dyn Store,
        name: &str,
        settings: DocumentSettings,
    ) -> std::sync::Arc<dyn DocumentStore> {
        let spec = EntitySpec::new(name, EntitySettings::Document(settings)).unwrap();
        let StoreHandle::Document(handle) = store.open(&spec).await.unwrap() else {
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
            guard: Some(dir),
        }
    }

    document_suite!(fixture);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn documents_survive_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.db");
        let settings =
            DocumentSettings::with_indexes(vec![FieldPath::parse("customer.city").unwrap()]);
        let order =
            |city: &str, total: f64| doc(json!({"customer": {"city": city}, "total": total}));
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
}
