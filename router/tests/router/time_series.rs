//! An embedded time-series store routed from a TOML config, used through its typed handle.

use std::time::Duration;

use polyroute::time_series::{FieldValue, Point, RangeQuery, TagFilter};
use polyroute::{Config, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_written_through_the_handle_are_read_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
        [stores.metrics]
        kind = "time_series"
        path = "tsdata"
        synchronous = "normal"

        [entities.cpu]
        store = "metrics"
        retention = "3650d"
    "#;
    let point = Point {
        measurement: "cpu".to_owned(),
        tags: [("host".to_owned(), "web-1".to_owned())].into(),
        fields: [("usage".to_owned(), FieldValue::Float(0.5))].into(),
        timestamp: 1_700_000_000_000_000_000,
    };
    let query = RangeQuery {
        measurement: "cpu".to_owned(),
        start: 0,
        end: i64::MAX,
        tags: TagFilter::all().eq("host", "web-1"),
        fields: Vec::new(),
        limit: None,
    };
    {
        let router = Router::connect(Config::from_toml_str(toml, dir.path()).unwrap())
            .await
            .unwrap();
        let cpu = router.time_series("cpu").unwrap();
        assert_eq!(cpu.retention(), Some(Duration::from_secs(3650 * 86_400)));
        cpu.write_point(point.clone()).await.unwrap();
    }
    assert!(dir.path().join("tsdata").join("cpu").is_dir());
    let router = Router::connect(Config::from_toml_str(toml, dir.path()).unwrap())
        .await
        .unwrap();
    let series = router
        .time_series("cpu")
        .unwrap()
        .range(&query)
        .await
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].timestamps, vec![point.timestamp]);
    assert_eq!(
        series[0].fields["usage"],
        vec![Some(FieldValue::Float(0.5))]
    );
}
