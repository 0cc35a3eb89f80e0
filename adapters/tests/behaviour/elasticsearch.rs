//! The Elasticsearch search backend through the search suite, against a live node.
//!
//! `POLYROUTE_TEST_ELASTICSEARCH_URL` names the node (such as `http://127.0.0.1:9200`; with
//! security on, `POLYROUTE_TEST_ELASTICSEARCH_USERNAME` and `…_PASSWORD` authenticate). Without
//! the URL the tests are reported as ignored; with `POLYROUTE_REQUIRE_SERVICES=1` a missing URL
//! or an unreachable node fails them. Each test creates its indexes under a prefix of its own
//! and deletes them when it ends, so tests run in parallel.

use std::sync::Arc;

use polyroute_adapters::kinds::search::{SearchQuery, SearchSettings, SearchStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::search::{found, seed, settings, titled};
use polyroute_testkit::search_suite;
use polyroute_testkit::support::{self, unique, Fixture};

/// The server's URL.
fn url() -> String {
    polyroute_testkit::server_url!(
        "POLYROUTE_TEST_ELASTICSEARCH_URL",
        "an Elasticsearch node, such as http://127.0.0.1:9200"
    )
}

fn credentials() -> Option<(String, String)> {
    let user = std::env::var("POLYROUTE_TEST_ELASTICSEARCH_USERNAME").ok()?;
    let password = std::env::var("POLYROUTE_TEST_ELASTICSEARCH_PASSWORD").unwrap_or_default();
    Some((user, password))
}

/// Deletes every index whose name starts with `prefix`.
fn delete_indexes(url: &str, prefix: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let transport = elasticsearch::http::transport::Transport::single_node(url).unwrap();
        let transport = match credentials() {
            Some((user, password)) => {
                let pool = elasticsearch::http::transport::SingleNodeConnectionPool::new(
                    elasticsearch::http::Url::parse(url).unwrap(),
                );
                elasticsearch::http::transport::TransportBuilder::new(pool)
                    .auth(elasticsearch::auth::Credentials::Basic(user, password))
                    .build()
                    .unwrap()
            }
            None => transport,
        };
        let client = elasticsearch::Elasticsearch::new(transport);
        let pattern = format!("{prefix}*");
        let response = client
            .indices()
            .delete(elasticsearch::indices::IndicesDeleteParts::Index(&[
                &pattern,
            ]))
            .send()
            .await
            .unwrap_or_else(|err| panic!("cannot delete indexes {pattern}: {err}"));
        assert!(
            response.status_code().is_success() || response.status_code().as_u16() == 404,
            "cannot delete indexes {pattern}: {}",
            response.status_code()
        );
    });
}

/// The store options of a prefix of this test's own, plus `extra`.
fn options(prefix: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut options = json!({
        "url": url(),
        "index_prefix": prefix,
        // A single test node: no replicas to wait for.
        "replicas": 0,
        "connect_timeout": "10s",
    });
    if let Some((user, password)) = credentials() {
        options["username"] = json!(user);
        options["password"] = json!(password);
    }
    if let (Some(options), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
        options.extend(extra.clone());
    }
    options
}

async fn connect(extra: serde_json::Value) -> (Arc<dyn Store>, Arc<Cleanup>) {
    let prefix = format!("{}_", unique("prt"));
    let store = support::connect(StoreKind::Search, "elasticsearch", options(&prefix, extra)).await;
    let url = url();
    (store, Cleanup::new(move || delete_indexes(&url, &prefix)))
}

async fn fixture(settings: SearchSettings) -> Fixture<dyn SearchStore> {
    let (store, cleanup) = connect(json!({})).await;
    let EntityHandle::Search(handle) =
        support::open(&*store, &unique("search"), EntitySettings::Search(settings)).await
    else {
        panic!("elasticsearch store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(cleanup)),
    }
}

polyroute_testkit::gated!(
    polyroute_elasticsearch_tests,
    "set POLYROUTE_TEST_ELASTICSEARCH_URL to run the Elasticsearch tests",
    search_suite!(fixture)
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_elasticsearch_tests),
    ignore = "set POLYROUTE_TEST_ELASTICSEARCH_URL"
)]
async fn reopening_keeps_the_index_and_stemming_matches_word_forms() {
    let (store, cleanup) = connect(json!({"stemming": "english", "wait_for_refresh": true})).await;
    let open = || async {
        let EntityHandle::Search(handle) =
            support::open(&*store, "stems", EntitySettings::Search(settings())).await
        else {
            panic!("another kind");
        };
        handle
    };
    let index = open().await;
    seed(&*index, vec![titled("r", "Running shoes")]).await;
    // Opening again (a restart) keeps the documents.
    let index = open().await;
    assert_eq!(found(&*index, "runs").await, ["r"]);
    assert_eq!(found(&*index, "title:shoe").await, ["r"]);
    assert!(found(&*index, "body:shoe").await.is_empty());
    // With wait_for_refresh, a write is searchable when it returns.
    index.index(vec![titled("w", "walking")]).await.unwrap();
    let results = index.query(&SearchQuery::new("walk")).await.unwrap();
    assert_eq!(results.total, 1);
    drop(cleanup);
}

#[tokio::test]
async fn an_unreachable_node_is_unavailable() {
    let options = json!({"url": "http://127.0.0.1:1", "connect_timeout": "1s"});
    let err = support::connect_unreachable(StoreKind::Search, "elasticsearch", options).await;
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[test]
fn options_are_validated_without_connecting() {
    use polyroute_adapters::registry::validate;
    let err = validate(
        StoreKind::Search,
        "elasticsearch",
        &json!({"url": "https://h:9200"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    let err = validate(
        StoreKind::Search,
        "elasticsearch",
        &json!({"url": "http://h:9200", "replica": 0}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("replica"), "{err}");
    assert!(validate(
        StoreKind::Search,
        "elasticsearch",
        &json!({"url": "http://h:9200"})
    )
    .is_ok());
}
