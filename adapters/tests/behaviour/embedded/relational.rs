//! The embedded SQLite backend through the relational suite, in memory and in a file.

use std::sync::Arc;

use polyroute_adapters::kinds::relational::{RelationalSettings, RelationalStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};

use polyroute_testkit::support::{self, unique, Fixture};

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::Relational, "embedded", options).await
}

async fn handle(store: &Arc<dyn Store>) -> Arc<dyn RelationalStore> {
    let settings = EntitySettings::Relational(RelationalSettings::default());
    let EntityHandle::Relational(handle) = support::open(&**store, &unique("rel"), settings).await
    else {
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
    use polyroute_testkit::relational_suite;

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
        // The case keeps what it made (a schema, a directory) until it ends.
        let case = fixture().await;
        let store = case.store;
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
    use polyroute_testkit::relational_suite;

    async fn fixture() -> Fixture<dyn RelationalStore> {
        let dir = tempfile::tempdir().unwrap();
        let store = connect(json!({"path": dir.path().join("db.sqlite")})).await;
        assert!(store.info().capabilities.durable);
        Fixture {
            store: handle(&store).await,
            capabilities: store.info().capabilities,
            guard: Some(Box::new(dir)),
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
