//! TLS to the stores, against real servers started here: a PostgreSQL cluster that accepts only
//! TLS connections and redis-server on a TLS port, both with certificates from a CA these tests
//! make. Verification is always on except where a case says otherwise.
//!
//! The tests run with the other server tests (`POLYROUTE_TEST_POSTGRES_URL` /
//! `POLYROUTE_TEST_REDIS_URL` set, or `POLYROUTE_REQUIRE_SERVICES=1`); then missing server
//! programs (`initdb`/`postgres`, `redis-server`) fail them.

#![cfg(any(feature = "postgres", feature = "redis"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod servers;

use std::sync::Arc;

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, SetOptions};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntitySettings, EntitySpec, Store, StoreError, StoreHandle, StoreKind};
use serde_json::{json, Value};

async fn connect(
    kind: StoreKind,
    backend: &str,
    options: Value,
) -> Result<Arc<dyn Store>, StoreError> {
    registry::connect(kind, backend, &options, &ConnectContext::default()).await
}

/// The error connecting with `options` must be, with every word in it.
async fn refused(kind: StoreKind, backend: &str, options: Value, words: &[&str]) {
    let err = match connect(kind, backend, options.clone()).await {
        Ok(_) => panic!("{options} connected"),
        Err(err) => err,
    };
    let message = err.to_string();
    for word in words {
        assert!(
            message.contains(word),
            "{options}: `{word}` is not in the error: {message}"
        );
    }
    assert!(
        matches!(
            err,
            StoreError::Unavailable { .. } | StoreError::InvalidRequest { .. }
        ),
        "{options}: {err:?}"
    );
}

/// A key-value round trip through `store`.
async fn round_trip(store: &dyn Store) {
    let spec = EntitySpec::new(
        "tls_sessions",
        EntitySettings::KeyValue(KeyValueSettings::default()),
    )
    .unwrap();
    let StoreHandle::KeyValue(keys) = store.open(&spec).await.unwrap() else {
        panic!("not a key-value handle");
    };
    let value = Bytes::from_static(b"over TLS");
    keys.set("k", value.clone(), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(keys.get("k").await.unwrap(), Some(value));
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::servers::{Certs, Postgres};
    use super::*;
    use polyroute_adapters::kinds::relational::RelationalSettings;

    /// The URL of the private server under the name its certificate lists (`localhost`),
    /// reached at 127.0.0.1.
    fn url(server: &Postgres, extra: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres?hostaddr=127.0.0.1{extra}",
            server.port
        )
    }

    /// Whether the store's own connection runs over TLS, asked of the server.
    async fn server_sees_tls(options: Value) -> bool {
        let store = connect(StoreKind::Relational, "postgres", options)
            .await
            .unwrap();
        let spec = EntitySpec::new(
            "tls_probe",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .unwrap();
        let StoreHandle::Relational(sql) = store.open(&spec).await.unwrap() else {
            panic!("not a relational handle");
        };
        let rows = sql
            .query(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        rows.rows[0][0] == polyroute_adapters::Value::Bool(true)
    }

    #[tokio::test]
    #[cfg_attr(
        not(polyroute_postgres_tests),
        ignore = "set POLYROUTE_TEST_POSTGRES_URL (or POLYROUTE_REQUIRE_SERVICES=1) to run the PostgreSQL tests"
    )]
    async fn postgres_over_verified_tls() {
        let certs = Certs::new();
        let server = Postgres::start(&certs.postgres);
        let ca = certs.ca.display().to_string();

        // verify-full with the CA: a real round trip, encrypted as the server sees it.
        let verified =
            json!({"url": url(&server, ""), "tls": "verify-full", "ca_file": ca, "pool": 2});
        let store = connect(StoreKind::KeyValue, "postgres", verified.clone())
            .await
            .unwrap();
        round_trip(store.as_ref()).await;
        store.ping().await.unwrap();
        assert!(server_sees_tls(verified).await);

        // The same from the URL alone, as libpq reads it.
        let in_url = json!({"url": url(
            &server,
            &format!("&sslmode=verify-full&sslrootcert={}", ca.replace('/', "%2F")),
        )});
        let store = connect(StoreKind::KeyValue, "postgres", in_url)
            .await
            .unwrap();
        round_trip(store.as_ref()).await;

        // A CA that did not sign the server's certificate: refused, naming the fix.
        refused(
            StoreKind::KeyValue,
            "postgres",
            json!({"url": url(&server, ""), "tls": "verify-full", "ca_file": certs.wrong_ca}),
            &[
                "certificate verification failed",
                "not signed by a trusted CA",
                "`ca_file`",
            ],
        )
        .await;

        // The certificate names `localhost`: verify-full by address is refused, verify-ca
        // (chain only) accepts it.
        let by_address = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
        refused(
            StoreKind::KeyValue,
            "postgres",
            json!({"url": by_address, "tls": "verify-full", "ca_file": ca}),
            &["certificate verification failed", "does not name the host"],
        )
        .await;
        let chain_only = json!({"url": by_address, "tls": "verify-ca", "ca_file": ca});
        assert!(server_sees_tls(chain_only).await);
        // verify-ca still checks the chain.
        refused(
            StoreKind::KeyValue,
            "postgres",
            json!({"url": by_address, "tls": "verify-ca", "ca_file": certs.wrong_ca}),
            &["certificate verification failed"],
        )
        .await;

        // require without a CA: encrypted, certificate unchecked (libpq's meaning); with one,
        // checked like verify-ca.
        assert!(server_sees_tls(json!({"url": by_address, "tls": "require"})).await);
        refused(
            StoreKind::KeyValue,
            "postgres",
            json!({"url": by_address, "tls": "require", "ca_file": certs.wrong_ca}),
            &["certificate verification failed"],
        )
        .await;

        // Plain TCP to a server that accepts only TLS: refused, saying how to turn TLS on.
        refused(
            StoreKind::KeyValue,
            "postgres",
            json!({"url": by_address}),
            &["no encryption", "tls = \"verify-full\""],
        )
        .await;
        refused(
            StoreKind::KeyValue,
            "postgres",
            json!({"url": format!("{by_address}?sslmode=disable")}),
            &["no encryption", "tls = \"verify-full\""],
        )
        .await;
    }

    #[test]
    fn modes_that_may_downgrade_are_refused_when_the_config_is_checked() {
        for options in [
            json!({"url": "postgres://h/db?sslmode=prefer"}),
            json!({"url": "postgres://h/db", "tls": "prefer"}),
            json!({"url": "host=h sslmode=allow"}),
        ] {
            let err = registry::validate(StoreKind::KeyValue, "postgres", &options)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("unencrypted") && err.contains("verify-full"),
                "{options}: {err}"
            );
        }
        registry::validate(
            StoreKind::KeyValue,
            "postgres",
            &json!({"url": "postgres://h/db?sslmode=verify-full"}),
        )
        .unwrap();
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::servers::{Certs, Redis};
    use super::*;

    #[tokio::test]
    #[cfg_attr(
        not(polyroute_redis_tests),
        ignore = "set POLYROUTE_TEST_REDIS_URL (or POLYROUTE_REQUIRE_SERVICES=1) to run the Redis tests"
    )]
    async fn redis_over_verified_tls() {
        let certs = Certs::new();
        let server = Redis::start(&certs.redis, &certs.ca, false);
        let url = format!("rediss://127.0.0.1:{}/0", server.port);

        let store = connect(
            StoreKind::KeyValue,
            "redis",
            json!({"url": url, "ca_file": certs.ca, "pool": 1}),
        )
        .await
        .unwrap();
        round_trip(store.as_ref()).await;

        refused(
            StoreKind::KeyValue,
            "redis",
            json!({"url": url, "ca_file": certs.wrong_ca, "connect_timeout": "3s"}),
            &["certificate verification failed", "`ca_file`"],
        )
        .await;

        // A plain client on the TLS port gets no answer it can read.
        refused(
            StoreKind::KeyValue,
            "redis",
            json!({
                "url": format!("redis://127.0.0.1:{}/0", server.port),
                "connect_timeout": "2s", "response_timeout": "2s"
            }),
            &["Redis"],
        )
        .await;
    }

    #[tokio::test]
    #[cfg_attr(
        not(polyroute_redis_tests),
        ignore = "set POLYROUTE_TEST_REDIS_URL (or POLYROUTE_REQUIRE_SERVICES=1) to run the Redis tests"
    )]
    async fn redis_with_client_certificates() {
        let certs = Certs::new();
        let server = Redis::start(&certs.redis, &certs.ca, true);
        let url = format!("rediss://localhost:{}/0", server.port);
        let store = connect(
            StoreKind::KeyValue,
            "redis",
            json!({
                "url": url, "ca_file": certs.ca,
                "client_cert": certs.client.cert, "client_key": certs.client.key
            }),
        )
        .await
        .unwrap();
        round_trip(store.as_ref()).await;

        // Without a client certificate the server ends the handshake.
        refused(
            StoreKind::KeyValue,
            "redis",
            json!({"url": url, "ca_file": certs.ca, "connect_timeout": "3s"}),
            &["Redis"],
        )
        .await;
    }
}
