//! The PostgreSQL time-series backend: the time-series suite, the indexes it creates, and
//! retention deleting old points.

use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::time_series::{TimeSeriesSettings, TimeSeriesStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use polyroute_testkit::support::{self, unique, Fixture};
use polyroute_testkit::time_series::{value, T0};
use polyroute_testkit::time_series_suite;

async fn entity(
    store: &Arc<dyn Store>,
    schema: &Schema,
    name: &str,
    retention: Option<Duration>,
) -> Fixture<dyn TimeSeriesStore> {
    let mut settings = TimeSeriesSettings::default();
    settings.retention = retention;
    let EntityHandle::TimeSeries(handle) =
        support::open(&**store, name, EntitySettings::TimeSeries(settings)).await
    else {
        panic!("postgres time-series store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

async fn retained(retention: Duration) -> Fixture<dyn TimeSeriesStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::TimeSeries, json!({})).await;
    entity(&store, &schema, &unique("ts"), Some(retention)).await
}

async fn fixture() -> Fixture<dyn TimeSeriesStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::TimeSeries, json!({})).await;
    entity(&store, &schema, &unique("ts"), None).await
}

async fn pair() -> [Fixture<dyn TimeSeriesStore>; 2] {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::TimeSeries, json!({})).await;
    [
        entity(&store, &schema, &unique("ts"), None).await,
        entity(&store, &schema, &unique("ts"), None).await,
    ]
}

gated!(time_series_suite!(fixture, retained, pair));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn tables_have_the_tag_gin_and_time_brin_indexes() {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::TimeSeries, json!({})).await;
    entity(&store, &schema, "metrics", None).await;
    // Opening again (a restart) changes nothing.
    entity(&store, &schema, "metrics", None).await;
    let client = inspect().await;
    let rows = client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
            &[&schema.name],
        )
        .await
        .unwrap();
    let indexes: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let def = |name: &str| {
        indexes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no index {name} in {indexes:?}"))
    };
    assert!(def("ts_metrics_series_tags").contains("gin (tags jsonb_path_ops)"));
    assert!(def("ts_metrics_points_time").contains("brin"));
    assert!(def("ts_metrics_points_pkey").contains("(series_id, \"time\")"));
    assert!(def("ts_metrics_fields_pkey").contains("(measurement, field)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn retention_deletes_old_points() {
    let schema = Schema::new();
    let store = schema
        .connect(StoreKind::TimeSeries, json!({"purge_interval": "100ms"}))
        .await;
    let now = T0.max(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64,
    );
    let hour = 3_600_000_000_000i64;
    let ts = entity(&store, &schema, "metrics", Some(Duration::from_secs(3600)))
        .await
        .store;
    ts.write(vec![
        value("cpu", &[], 1.0, now - 2 * hour),
        value("cpu", &[], 2.0, now - 3 * hour),
        value("cpu", &[], 3.0, now),
    ])
    .await
    .unwrap();
    let client = inspect().await;
    let count = format!("SELECT count(*) FROM \"{}\".ts_metrics_points", schema.name);
    for _ in 0..100 {
        let left: i64 = client.query_one(&count, &[]).await.unwrap().get(0);
        if left == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("points past the retention were not deleted");
}
