//! The InfluxDB 2 time-series backend through the time-series suite, against a live server.
//!
//! `POLYROUTE_TEST_INFLUXDB_URL` names the server (such as `http://127.0.0.1:8086`),
//! `POLYROUTE_TEST_INFLUXDB_TOKEN` an all-access token and `POLYROUTE_TEST_INFLUXDB_ORG` the
//! organisation. Without the URL the tests are reported as ignored; with
//! `POLYROUTE_REQUIRE_SERVICES=1` a missing variable or an unreachable server fails them. Each
//! test writes to a bucket of its own, created through the buckets API and deleted when the
//! test ends.

use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::time_series::{TimeSeriesSettings, TimeSeriesStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::support::{self, unique, Fixture};
use polyroute_testkit::time_series_suite;

/// Adds to every suite test: ignored when no server is configured.
macro_rules! gated {
    ($($suite:tt)*) => {
        polyroute_testkit::gated!(polyroute_influxdb_tests, "set POLYROUTE_TEST_INFLUXDB_URL, _TOKEN and _ORG to run the InfluxDB tests", $($suite)*);
    };
}

fn variable(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "the InfluxDB tests need {name}: set POLYROUTE_TEST_INFLUXDB_URL (such as \
                 http://127.0.0.1:8086), POLYROUTE_TEST_INFLUXDB_TOKEN and \
                 POLYROUTE_TEST_INFLUXDB_ORG"
            )
        })
}

struct Server {
    url: String,
    token: String,
    org: String,
}

fn server() -> Server {
    Server {
        url: variable("POLYROUTE_TEST_INFLUXDB_URL")
            .trim_end_matches('/')
            .to_owned(),
        token: variable("POLYROUTE_TEST_INFLUXDB_TOKEN"),
        org: variable("POLYROUTE_TEST_INFLUXDB_ORG"),
    }
}

/// A bucket of its own, deleted when the last holder of its guard goes.
struct Bucket {
    name: String,
    cleanup: Arc<Cleanup>,
}

impl Bucket {
    async fn create() -> Self {
        let server = server();
        let http = reqwest::Client::new();
        let auth = format!("Token {}", server.token);
        let orgs: serde_json::Value = http
            .get(format!("{}/api/v2/orgs", server.url))
            .query(&[("org", server.org.as_str())])
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let org_id = orgs["orgs"][0]["id"].as_str().unwrap().to_owned();
        let name = unique("pr_test");
        let created: serde_json::Value = http
            .post(format!("{}/api/v2/buckets", server.url))
            .header("Authorization", &auth)
            .json(&json!({"orgID": org_id, "name": name, "retentionRules": []}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let cleanup = Cleanup::new(move || delete_bucket(&id));
        Bucket { name, cleanup }
    }

    async fn connect(&self) -> Arc<dyn Store> {
        let server = server();
        support::connect(
            StoreKind::TimeSeries,
            "influxdb",
            json!({
                "url": server.url,
                "token": server.token,
                "org": server.org,
                "bucket": self.name,
                "connect_timeout": "10s",
            }),
        )
        .await
    }
}

fn delete_bucket(id: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = server();
        reqwest::Client::new()
            .delete(format!("{}/api/v2/buckets/{id}", server.url))
            .header("Authorization", format!("Token {}", server.token))
            .send()
            .await
            .unwrap_or_else(|err| panic!("cannot delete bucket {id}: {err}"))
            .error_for_status()
            .unwrap_or_else(|err| panic!("cannot delete bucket {id}: {err}"));
    });
}

async fn entity(
    store: &Arc<dyn Store>,
    bucket: &Bucket,
    retention: Option<Duration>,
) -> Fixture<dyn TimeSeriesStore> {
    let mut settings = TimeSeriesSettings::default();
    settings.retention = retention;
    let EntityHandle::TimeSeries(handle) = support::open(
        &**store,
        &unique("ts"),
        EntitySettings::TimeSeries(settings),
    )
    .await
    else {
        panic!("influxdb store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(bucket.cleanup.clone())),
    }
}

async fn fixture() -> Fixture<dyn TimeSeriesStore> {
    let bucket = Bucket::create().await;
    let store = bucket.connect().await;
    entity(&store, &bucket, None).await
}

async fn retained(retention: Duration) -> Fixture<dyn TimeSeriesStore> {
    let bucket = Bucket::create().await;
    let store = bucket.connect().await;
    entity(&store, &bucket, Some(retention)).await
}

async fn pair() -> [Fixture<dyn TimeSeriesStore>; 2] {
    let bucket = Bucket::create().await;
    let store = bucket.connect().await;
    [
        entity(&store, &bucket, None).await,
        entity(&store, &bucket, None).await,
    ]
}

gated!(time_series_suite!(fixture, retained, pair));

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let options = json!({
        "url": "http://127.0.0.1:1",
        "token": "t",
        "org": "o",
        "bucket": "b",
        "connect_timeout": "2s",
    });
    let err = support::connect_unreachable(StoreKind::TimeSeries, "influxdb", options).await;
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[test]
fn options_are_validated_without_connecting() {
    use polyroute_adapters::registry::validate;
    let base = json!({"url": "http://h:8086", "token": "t", "org": "o", "bucket": "b"});
    assert!(validate(StoreKind::TimeSeries, "influxdb", &base).is_ok());
    let mut zero = base.clone();
    zero["batch_size"] = json!(0);
    let err = validate(StoreKind::TimeSeries, "influxdb", &zero).unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
    let mut late = base.clone();
    late["request_timeout"] = json!("later");
    let err = validate(StoreKind::TimeSeries, "influxdb", &late).unwrap_err();
    assert!(err.to_string().contains("request_timeout"), "{err}");
    let err = validate(StoreKind::TimeSeries, "influxdb", &json!({"url": "x"})).unwrap_err();
    assert!(
        err.to_string().contains("org") || err.to_string().contains("bucket"),
        "{err}"
    );
}
