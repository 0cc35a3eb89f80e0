//! TLS to the stores, against real servers started here: a PostgreSQL cluster that accepts only
//! TLS connections and redis-server on a TLS port, both with certificates from a CA these tests
//! make, and a TLS endpoint standing in for a ScyllaDB node's handshake. Verification is always
//! on except where a case says otherwise.
//!
//! The tests run with the other server tests (`POLYROUTE_TEST_POSTGRES_URL` /
//! `POLYROUTE_TEST_REDIS_URL` set, or `POLYROUTE_REQUIRE_SERVICES=1`); then missing server
//! programs (`initdb`/`postgres`, `redis-server`) fail them.

#![cfg(any(feature = "postgres", feature = "redis", feature = "scylla"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod servers;

use std::sync::Arc;

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, SetOptions};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreError, StoreKind};
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
    let EntityHandle::KeyValue(keys) = store.open(&spec).await.unwrap() else {
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
        let EntityHandle::Relational(sql) = store.open(&spec).await.unwrap() else {
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

/// ScyllaDB cannot run here, so its TLS is tried against a node that speaks only the TLS half:
/// a rustls server on a loopback port that records each handshake and the first bytes after
/// it (the driver's first CQL frame), then hangs up. A completed handshake followed by CQL is
/// the driver talking CQL over verified TLS; the live suite covers the rest against a real node.
#[cfg(feature = "scylla")]
mod scylla {
    use std::sync::Arc;

    use parking_lot::Mutex;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::server::WebPkiClientVerifier;
    use rustls::{RootCertStore, ServerConfig};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    use super::servers::{Certs, Pair};
    use super::*;

    /// What the node saw on one connection.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Seen {
        /// The handshake completed and the client then sent a CQL request frame.
        Cql,
        /// The handshake completed, then nothing CQL-like came.
        TlsOnly,
        /// The handshake failed (a plain client, or a client that refused the certificate).
        Refused,
    }

    struct Node {
        port: u16,
        seen: Arc<Mutex<Vec<Seen>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn certificates(path: &std::path::Path) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(path)
            .unwrap()
            .map(|cert| cert.unwrap())
            .collect()
    }

    /// A node serving `pair` (which names 127.0.0.1), asking clients for a certificate signed
    /// by `client_ca` when one is given.
    async fn node(pair: &Pair, client_ca: Option<&std::path::Path>) -> Node {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca) {
                    roots.add(cert).unwrap();
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                certificates(&pair.cert),
                PrivateKeyDer::from_pem_file(&pair.key).unwrap(),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let outcome = match acceptor.accept(socket).await {
                        Err(_) => Seen::Refused,
                        Ok(mut stream) => {
                            // A CQL request frame starts with the protocol version (3 to 5),
                            // its high bit clear.
                            let mut first = [0u8; 1];
                            match stream.read_exact(&mut first).await {
                                Ok(_) if (3..=5).contains(&first[0]) => Seen::Cql,
                                _ => Seen::TlsOnly,
                            }
                        }
                    };
                    record.lock().push(outcome);
                });
            }
        });
        Node { port, seen, task }
    }

    fn options(node: &Node, extra: Value) -> Value {
        let mut options = json!({
            "url": format!("127.0.0.1:{}", node.port),
            "connect_timeout": "2s",
        });
        for (key, value) in extra.as_object().unwrap() {
            options[key] = value.clone();
        }
        options
    }

    /// Connects (which fails: the node speaks no CQL) and returns what the node saw.
    async fn attempt(node: &Node, extra: Value) -> (StoreError, Vec<Seen>) {
        let err = match connect(StoreKind::WideColumn, "scylla", options(node, extra)).await {
            Ok(_) => panic!("a node without CQL accepted the session"),
            Err(err) => err,
        };
        // The node records a connection when its task ends, just after the client gave up.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let seen = node.seen.lock().drain(..).collect();
        (err, seen)
    }

    #[tokio::test]
    async fn scylla_speaks_cql_over_verified_tls() {
        let certs = Certs::new();
        let node = node(&certs.redis, None).await;

        let (_, seen) = attempt(&node, json!({"tls": "verify-full", "ca_file": certs.ca})).await;
        assert!(seen.contains(&Seen::Cql), "{seen:?}");

        // A CA that did not sign the node's certificate: no session, an error naming the fix.
        let (err, seen) = attempt(
            &node,
            json!({"tls": "verify-full", "ca_file": certs.wrong_ca}),
        )
        .await;
        let message = err.to_string();
        assert!(
            message.contains("certificate verification failed") && message.contains("`ca_file`"),
            "{message}"
        );
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(!seen.contains(&Seen::Cql), "{seen:?}");

        // The default is plain TCP, which a TLS node refuses.
        let (_, seen) = attempt(&node, json!({})).await;
        assert!(
            !seen.is_empty() && seen.iter().all(|s| *s == Seen::Refused),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn scylla_presents_its_client_certificate() {
        let certs = Certs::new();
        let node = node(&certs.redis, Some(&certs.ca)).await;
        let (_, seen) = attempt(
            &node,
            json!({
                "tls": "verify-full", "ca_file": certs.ca,
                "client_cert": certs.client.cert, "client_key": certs.client.key
            }),
        )
        .await;
        assert!(seen.contains(&Seen::Cql), "{seen:?}");

        let (_, seen) = attempt(&node, json!({"tls": "verify-full", "ca_file": certs.ca})).await;
        assert!(!seen.contains(&Seen::Cql), "{seen:?}");
    }

    #[test]
    fn tls_options_pair_when_the_config_is_checked() {
        for (options, words) in [
            (
                json!({"url": "127.0.0.1:9042", "ca_file": "ca.pem"}),
                &["`ca_file`", "TLS is off", "tls = \"verify-full\""][..],
            ),
            (
                json!({"url": "127.0.0.1:9042", "tls": "verify-full", "client_cert": "c.pem"}),
                &["`client_key`"][..],
            ),
            (
                json!({"url": "127.0.0.1:9042", "tls": "prefer"}),
                &["unencrypted", "verify-full"][..],
            ),
        ] {
            let err = registry::validate(StoreKind::WideColumn, "scylla", &options)
                .unwrap_err()
                .to_string();
            for word in words {
                assert!(err.contains(word), "{options}: `{word}` not in {err}");
            }
        }
        registry::validate(
            StoreKind::WideColumn,
            "scylla",
            &json!({"url": "127.0.0.1:9042", "tls": "verify-ca", "ca_file": "ca.pem"}),
        )
        .unwrap();
    }
}
