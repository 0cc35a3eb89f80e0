//! Window aggregates: every function, grouping, bounds and errors.

use std::time::Duration;

use polyroute_adapters::kinds::time_series::{
    Aggregate, FieldValue, TagFilter, TimeSeriesStore, WindowQuery, WindowSeries,
};
use polyroute_adapters::ErrorKind;

use super::{point, tags, value, SEC, T0};
use crate::support::Fixture;

fn window(aggregate: Aggregate, group_by: &[&str]) -> WindowQuery {
    WindowQuery {
        measurement: "cpu".to_owned(),
        field: "v".to_owned(),
        start: T0,
        end: T0 + 100 * SEC,
        every: Duration::from_secs(5),
        aggregate,
        group_by: group_by.iter().map(|t| (*t).to_owned()).collect(),
        tags: TagFilter::all(),
    }
}

/// Host `a` (eu) holds `i`, `b` (eu) `10 i` and `c` (us) `100 i` at `T0 + i s`, for i in 0..10,
/// written newest first.
async fn seed(store: &dyn TimeSeriesStore) {
    let mut points = Vec::new();
    for (host, region, scale) in [("a", "eu", 1.0), ("b", "eu", 10.0), ("c", "us", 100.0)] {
        for i in (0..10).rev() {
            points.push(value(
                "cpu",
                &[("host", host), ("region", region)],
                i as f64 * scale,
                T0 + i * SEC,
            ));
        }
    }
    store.write(points).await.unwrap();
}

fn windows(result: &[WindowSeries]) -> Vec<Vec<(i64, f64)>> {
    result.iter().map(|g| g.windows.clone()).collect()
}

pub async fn window_aggregates_over_epoch_aligned_windows(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed(store).await;
    let mut q = window(Aggregate::Mean, &[]);
    q.tags = TagFilter::all().eq("host", "a");
    let cases = [
        (Aggregate::Mean, 2.0, 7.0),
        (Aggregate::Min, 0.0, 5.0),
        (Aggregate::Max, 4.0, 9.0),
        (Aggregate::Sum, 10.0, 35.0),
        (Aggregate::Count, 5.0, 5.0),
        (Aggregate::First, 0.0, 5.0),
        (Aggregate::Last, 4.0, 9.0),
    ];
    for (aggregate, first, second) in cases {
        q.aggregate = aggregate;
        let result = store.window(&q).await.unwrap();
        assert_eq!(result.len(), 1, "{aggregate:?}");
        assert!(result[0].group.is_empty());
        assert_eq!(
            result[0].windows,
            vec![(T0, first), (T0 + 5 * SEC, second)],
            "{aggregate:?}"
        );
    }
    // Windows start at multiples of `every` since the epoch, not at the query's start.
    q.start = T0 + 3 * SEC;
    q.every = Duration::from_secs(4);
    q.aggregate = Aggregate::Count;
    let result = store.window(&q).await.unwrap();
    // T0 is a multiple of 4 s: windows [T0, +4s) holds 3, [+4s, +8s) 4..7, [+8s, +12s) 8, 9.
    assert_eq!(
        result[0].windows,
        vec![(T0, 1.0), (T0 + 4 * SEC, 4.0), (T0 + 8 * SEC, 2.0)]
    );
}

pub async fn window_groups_by_tags(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed(store).await;
    let result = store
        .window(&window(Aggregate::Sum, &["region"]))
        .await
        .unwrap();
    let groups: Vec<_> = result.iter().map(|g| g.group.clone()).collect();
    assert_eq!(
        groups,
        vec![tags(&[("region", "eu")]), tags(&[("region", "us")])]
    );
    assert_eq!(
        windows(&result),
        vec![
            vec![(T0, 110.0), (T0 + 5 * SEC, 385.0)],
            vec![(T0, 1000.0), (T0 + 5 * SEC, 3500.0)],
        ]
    );
    let result = store
        .window(&window(Aggregate::Max, &["host", "region"]))
        .await
        .unwrap();
    assert_eq!(result.len(), 3);
    assert_eq!(result[1].group, tags(&[("host", "b"), ("region", "eu")]));
    assert_eq!(result[1].windows, vec![(T0, 40.0), (T0 + 5 * SEC, 90.0)]);
}

pub async fn window_without_group_by_folds_every_series(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed(store).await;
    let result = store.window(&window(Aggregate::Count, &[])).await.unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0].windows, vec![(T0, 15.0), (T0 + 5 * SEC, 15.0)]);
    let result = store.window(&window(Aggregate::Min, &[])).await.unwrap();
    assert_eq!(result[0].windows, vec![(T0, 0.0), (T0 + 5 * SEC, 5.0)]);
}

pub async fn window_respects_range_and_tag_filter(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed(store).await;
    let mut q = window(Aggregate::Count, &["host"]);
    q.start = T0 + 2 * SEC;
    q.end = T0 + 6 * SEC;
    q.tags = TagFilter::all().eq("region", "eu");
    let result = store.window(&q).await.unwrap();
    assert_eq!(result.len(), 2);
    for group in &result {
        assert_eq!(group.windows, vec![(T0, 3.0), (T0 + 5 * SEC, 1.0)]);
    }
    // Windows with no values are left out, and so are groups with none.
    q.start = T0 + 100 * SEC;
    q.end = T0 + 200 * SEC;
    assert!(store.window(&q).await.unwrap().is_empty());
    q.start = T0;
    q.end = T0 + 100 * SEC;
    q.every = Duration::from_secs(1);
    q.tags = TagFilter::all().eq("host", "a");
    let result = store.window(&q).await.unwrap();
    assert_eq!(result[0].windows.len(), 10);
}

pub async fn window_counts_an_overwritten_point_once(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            value("cpu", &[], 1.0, T0),
            value("cpu", &[], 3.0, T0 + SEC),
        ])
        .await
        .unwrap();
    store.write(vec![value("cpu", &[], 5.0, T0)]).await.unwrap();
    let result = store.window(&window(Aggregate::Sum, &[])).await.unwrap();
    assert_eq!(result[0].windows, vec![(T0, 8.0)]);
    let result = store.window(&window(Aggregate::Count, &[])).await.unwrap();
    assert_eq!(result[0].windows, vec![(T0, 2.0)]);
}

pub async fn window_of_integers_aggregates_as_floats(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    let points = (0..4)
        .map(|i| point("cpu", &[], &[("v", FieldValue::Int(i))], T0 + i * SEC))
        .collect();
    store.write(points).await.unwrap();
    let result = store.window(&window(Aggregate::Mean, &[])).await.unwrap();
    assert_eq!(result[0].windows, vec![(T0, 1.5)]);
}

pub async fn window_of_unknown_field_is_empty(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed(store).await;
    let mut q = window(Aggregate::Mean, &[]);
    q.field = "nope".to_owned();
    assert!(store.window(&q).await.unwrap().is_empty());
    q.measurement = "nothing".to_owned();
    assert!(store.window(&q).await.unwrap().is_empty());
}

pub async fn window_of_text_field_is_invalid(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![point(
            "cpu",
            &[],
            &[("v", FieldValue::Text("x".into()))],
            T0,
        )])
        .await
        .unwrap();
    let err = store
        .window(&window(Aggregate::Count, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
}

pub async fn window_of_zero_width_is_invalid(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed(store).await;
    let mut q = window(Aggregate::Mean, &[]);
    q.every = Duration::ZERO;
    let err = store.window(&q).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("every"), "{err}");
}
