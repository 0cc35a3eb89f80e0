//! Last point per series, deletes, retention and entity isolation.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyroute_adapters::kinds::time_series::{
    Aggregate, FieldValue, TagFilter, TimeSeriesStore, WindowQuery,
};

use super::{everything, floats, point, tags, value, SEC, T0};
use crate::support::Fixture;

pub async fn last_returns_the_newest_point_of_each_series(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            point(
                "cpu",
                &[("host", "a")],
                &[
                    ("user", FieldValue::Float(1.0)),
                    ("idle", FieldValue::Int(90)),
                ],
                T0 + 5 * SEC,
            ),
            value("cpu", &[("host", "b")], 7.0, T0),
            point(
                "cpu",
                &[("host", "a")],
                &[("user", FieldValue::Float(0.5))],
                T0,
            ),
        ])
        .await
        .unwrap();
    // A late point older than the newest changes nothing; a write at the newest instant merges.
    store
        .write(vec![
            point(
                "cpu",
                &[("host", "a")],
                &[("user", FieldValue::Float(9.0))],
                T0 + SEC,
            ),
            point(
                "cpu",
                &[("host", "a")],
                &[("sys", FieldValue::Bool(true))],
                T0 + 5 * SEC,
            ),
        ])
        .await
        .unwrap();
    let last = store.last("cpu", &TagFilter::all()).await.unwrap();
    assert_eq!(last.len(), 2);
    assert_eq!(*last[0].tags, tags(&[("host", "a")]));
    assert_eq!(last[0].timestamp, T0 + 5 * SEC);
    let fields: Vec<(&str, FieldValue)> = vec![
        ("idle", FieldValue::Int(90)),
        ("sys", FieldValue::Bool(true)),
        ("user", FieldValue::Float(1.0)),
    ];
    let expected: BTreeMap<String, FieldValue> =
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(*last[0].fields, expected);
    assert_eq!(*last[1].tags, tags(&[("host", "b")]));
    assert_eq!(last[1].timestamp, T0);
    // A newer point moves it.
    store
        .write(vec![value("cpu", &[("host", "b")], 8.0, T0 + 60 * SEC)])
        .await
        .unwrap();
    let last = store.last("cpu", &TagFilter::all()).await.unwrap();
    assert_eq!(last[1].timestamp, T0 + 60 * SEC);
    assert_eq!(last[1].fields["v"], FieldValue::Float(8.0));
}

pub async fn last_filters_by_tags(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            value("cpu", &[("host", "a"), ("region", "eu")], 1.0, T0),
            value("cpu", &[("host", "b"), ("region", "us")], 2.0, T0),
            value("cpu", &[("host", "c"), ("region", "eu")], 3.0, T0),
        ])
        .await
        .unwrap();
    let eu = store
        .last("cpu", &TagFilter::all().eq("region", "eu"))
        .await
        .unwrap();
    let hosts: Vec<&str> = eu.iter().map(|p| p.tags["host"].as_str()).collect();
    assert_eq!(hosts, vec!["a", "c"]);
    assert!(store
        .last("cpu", &TagFilter::all().eq("region", "ap"))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .last("disk", &TagFilter::all())
        .await
        .unwrap()
        .is_empty());
}

pub async fn delete_before_removes_older_points_only(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    const DAY: i64 = 86_400 * SEC;
    let mut points = Vec::new();
    for host in ["a", "b"] {
        for i in 0..10 {
            points.push(value("cpu", &[("host", host)], i as f64, T0 + i * DAY / 2));
        }
    }
    points.push(value("mem", &[], 1.0, T0 - 100 * DAY));
    store.write(points).await.unwrap();
    let removed = store.delete_before(T0 + 2 * DAY + 1).await.unwrap();
    // Five points of each host (0, ½, 1, 1½ and 2 days) and the old `mem` one.
    assert!(removed == 11 || removed == 0, "{removed}");
    let series = everything(store, "cpu").await;
    assert_eq!(series.len(), 2);
    for s in &series {
        assert_eq!(floats(s, "v"), vec![5.0, 6.0, 7.0, 8.0, 9.0]);
    }
    assert!(everything(store, "mem").await.is_empty());
    assert!(store
        .last("mem", &TagFilter::all())
        .await
        .unwrap()
        .is_empty());
    // Deleting again removes nothing more.
    assert_eq!(store.delete_before(T0 + 2 * DAY + 1).await.unwrap(), 0);
    assert_eq!(everything(store, "cpu").await[0].timestamps.len(), 5);
}

pub async fn delete_before_then_write_again(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            value("cpu", &[], 1.0, T0),
            value("cpu", &[], 2.0, T0 + SEC),
        ])
        .await
        .unwrap();
    store.delete_before(T0 + 10 * SEC).await.unwrap();
    assert!(everything(store, "cpu").await.is_empty());
    assert!(store
        .last("cpu", &TagFilter::all())
        .await
        .unwrap()
        .is_empty());
    // Writes before the deleted instant are accepted again: a delete is not a fence.
    store
        .write(vec![
            value("cpu", &[], 3.0, T0),
            value("cpu", &[], 4.0, T0 + 20 * SEC),
        ])
        .await
        .unwrap();
    let series = everything(store, "cpu").await;
    assert_eq!(series[0].timestamps, vec![T0, T0 + 20 * SEC]);
    assert_eq!(floats(&series[0], "v"), vec![3.0, 4.0]);
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// `f` has a retention of one hour.
pub async fn retention_hides_points_older_than_it(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    const MINUTE: i64 = 60 * SEC;
    let now = now();
    store
        .write(vec![
            value("cpu", &[("host", "old")], 1.0, now - 3 * 60 * MINUTE),
            value("cpu", &[("host", "both")], 2.0, now - 2 * 60 * MINUTE),
            value("cpu", &[("host", "both")], 3.0, now - MINUTE),
        ])
        .await
        .unwrap();
    let series = everything(store, "cpu").await;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].tags, tags(&[("host", "both")]));
    assert_eq!(floats(&series[0], "v"), vec![3.0]);
    let last = store.last("cpu", &TagFilter::all()).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].timestamp, now - MINUTE);
    let counts = store
        .window(&WindowQuery {
            measurement: "cpu".to_owned(),
            field: "v".to_owned(),
            start: now - 24 * 60 * MINUTE,
            end: now + MINUTE,
            every: Duration::from_secs(24 * 3600),
            aggregate: Aggregate::Count,
            group_by: Vec::new(),
            tags: TagFilter::all(),
        })
        .await
        .unwrap();
    let total: f64 = counts[0].windows.iter().map(|(_, c)| c).sum();
    assert_eq!(total, 1.0);
}

pub async fn entities_on_one_store_are_isolated(
    first: Fixture<dyn TimeSeriesStore>,
    second: Fixture<dyn TimeSeriesStore>,
) {
    let (a, b) = (&*first.store, &*second.store);
    a.write(vec![value("cpu", &[("host", "a")], 1.0, T0)])
        .await
        .unwrap();
    b.write(vec![point(
        "cpu",
        &[("host", "a")],
        &[("v", FieldValue::Int(2))],
        T0,
    )])
    .await
    .unwrap();
    assert_eq!(floats(&everything(a, "cpu").await[0], "v"), vec![1.0]);
    assert_eq!(
        everything(b, "cpu").await[0].fields["v"],
        vec![Some(FieldValue::Int(2))]
    );
    b.delete_before(T0 + 1).await.unwrap();
    assert!(everything(b, "cpu").await.is_empty());
    assert_eq!(everything(a, "cpu").await.len(), 1);
}
