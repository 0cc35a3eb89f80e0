//! The PostgreSQL backends through every suite of their kinds, against a live server.
//!
//! `POLYROUTE_TEST_POSTGRES_URL` names the database (such as
//! `postgres://postgres@127.0.0.1:5432/test`). Without it the tests are reported as ignored;
//! with `POLYROUTE_REQUIRE_SERVICES=1` a missing URL or an unreachable server fails them. Each
//! test works in a schema of its own, dropped when the test ends, so tests run in parallel.

mod document;
mod graph;
mod key_value;
mod relational;
mod search;
mod time_series;
mod wide_column;

use std::sync::Arc;

use polyroute_adapters::{Store, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::support::{self, unique};

/// Adds to every suite test: ignored when no server is configured.
macro_rules! gated {
    ($($suite:tt)*) => {
        polyroute_testkit::gated!(polyroute_postgres_tests, "set POLYROUTE_TEST_POSTGRES_URL to run the PostgreSQL tests", $($suite)*);
    };
}
pub(crate) use gated;

/// The server's URL: from the environment when the tests run, else as it was when they were
/// built. Fails when unset, which only happens with `POLYROUTE_REQUIRE_SERVICES=1`.
pub fn url() -> String {
    polyroute_testkit::server_url!(
        "POLYROUTE_TEST_POSTGRES_URL",
        "a PostgreSQL database, such as postgres://postgres@127.0.0.1:5432/test"
    )
}

/// A fresh schema on the server, dropped (with everything in it) when the guard goes.
pub struct Schema {
    pub name: String,
    pub cleanup: Arc<Cleanup>,
}

impl Schema {
    pub fn new() -> Self {
        let name = unique("pr");
        let (url, schema) = (url(), name.clone());
        let cleanup = Cleanup::new(move || drop_schema(&url, &schema));
        Schema { name, cleanup }
    }

    /// The store options of this schema, plus `extra`.
    pub fn options(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut options = json!({
            "url": url(),
            "schema": self.name,
            "pool": 4,
            "connect_timeout": "10s",
            // A throwaway test database: no need to wait for each commit's WAL flush, which
            // changes nothing the suites check but makes the write-heavy cases much faster.
            "synchronous_commit": "off",
        });
        if let (Some(options), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
            options.extend(extra.clone());
        }
        options
    }

    /// Connects a store of `kind` on this schema.
    pub async fn connect(&self, kind: StoreKind, extra: serde_json::Value) -> Arc<dyn Store> {
        support::connect(kind, "postgres", self.options(extra)).await
    }
}

fn drop_schema(url: &str, schema: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to drop schema {schema}: {err}"));
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .unwrap_or_else(|err| panic!("cannot drop schema {schema}: {err}"));
        drop(client);
        let _ = connection.await;
    });
}

/// A plain connection for looking at what a backend created.
pub async fn inspect() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let options = json!({"url": "postgres://postgres@127.0.0.1:1/test", "connect_timeout": "2s"});
    for kind in [
        StoreKind::Relational,
        StoreKind::KeyValue,
        StoreKind::Document,
        StoreKind::TimeSeries,
        StoreKind::Graph,
        StoreKind::Search,
        StoreKind::WideColumn,
    ] {
        support::connect_unreachable(kind, "postgres", options.clone()).await;
    }
}

#[test]
fn options_are_validated_without_connecting() {
    use polyroute_adapters::registry::validate;
    // A mode that may fall back to plain TCP is refused; the TLS modes are checked, not used.
    let err = validate(
        StoreKind::Document,
        "postgres",
        &json!({"url": "postgres://h/db", "tls": "prefer"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unencrypted"), "{err}");
    let options = json!({"url": "postgres://h/db", "tls": "require"});
    assert!(validate(StoreKind::Document, "postgres", &options).is_ok());
    let err = validate(
        StoreKind::KeyValue,
        "postgres",
        &json!({"url": "x", "pol": 3}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("pool"), "{err}");
    assert!(validate(StoreKind::Relational, "postgres", &json!({"url": "x"})).is_ok());
    assert!(validate(StoreKind::Graph, "postgres", &json!({"url": "x"})).is_ok());
    assert!(validate(StoreKind::Search, "postgres", &json!({"url": "x"})).is_ok());
    let options = json!({"url": "x", "tombstone_grace": "10m", "purge_interval": "30s"});
    assert!(validate(StoreKind::WideColumn, "postgres", &options).is_ok());
    let err = validate(
        StoreKind::WideColumn,
        "postgres",
        &json!({"url": "x", "tombstone_grace": "soon"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tombstone_grace"), "{err}");
}
