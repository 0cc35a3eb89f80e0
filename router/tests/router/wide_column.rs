//! An embedded wide-column store routed from a TOML config, end to end.

use std::time::Duration;

use polyroute::wide_column::{SliceQuery, WideRow};
use polyroute::{Router, StoreKind, Value};

const TEXT: &str = r#"
[stores.events]
kind = "wide_column"
path = "data/events"
synchronous = "normal"

[entities.page_views]
store = "events"
partition_key = ["user_id"]
clustering_key = ["at"]
ttl = "1h"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_wide_column_store_serves_its_entity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, TEXT).unwrap();
    let router = Router::from_config_path(&path).await.unwrap();
    assert!(
        dir.path().join("data/events").is_dir(),
        "relative path resolves against the file"
    );
    let info = router.stores().next().unwrap().info;
    assert_eq!(
        (info.kind, info.backend),
        (StoreKind::WideColumn, "embedded")
    );
    assert!(info.capabilities.durable && info.capabilities.ordered_scan);

    let views = router.wide_column("page_views").unwrap();
    assert_eq!(views.settings().ttl, Some(Duration::from_secs(3600)));
    let rows = (0..5)
        .map(|at| WideRow {
            partition: vec!["u1".into()],
            clustering: vec![Value::Timestamp(at)],
            cells: [("path".to_owned(), Value::from(format!("/p/{at}")))].into(),
        })
        .collect();
    views.put_batch(rows).await.unwrap();
    let newest = views
        .slice(
            &SliceQuery::partition(vec!["u1".into()])
                .descending()
                .limit(2),
        )
        .await
        .unwrap();
    let at: Vec<_> = newest.iter().map(|r| r.clustering[0].clone()).collect();
    assert_eq!(at, vec![Value::Timestamp(4), Value::Timestamp(3)]);
}
