//! Range reads: bounds, tag filters, field selection, limits.

use polyroute_adapters::kinds::time_series::{FieldValue, TagFilter, TimeSeriesStore};

use super::{everything, floats, point, range, tags, value, SEC, T0};
use crate::support::Fixture;

/// Three hosts in two regions, ten points each, one per second from `T0`.
async fn seed_hosts(store: &dyn TimeSeriesStore) {
    let mut points = Vec::new();
    for (host, region) in [("a", "eu"), ("b", "eu"), ("c", "us")] {
        for i in 0..10 {
            points.push(value(
                "cpu",
                &[("host", host), ("region", region)],
                i as f64,
                T0 + i * SEC,
            ));
        }
    }
    store.write(points).await.unwrap();
}

fn hosts(series: &[polyroute_adapters::kinds::time_series::SeriesData]) -> Vec<&str> {
    series.iter().map(|s| s.tags["host"].as_str()).collect()
}

pub async fn range_is_half_open(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed_hosts(store).await;
    let series = store
        .range(&range("cpu", T0 + 2 * SEC, T0 + 5 * SEC))
        .await
        .unwrap();
    assert_eq!(hosts(&series), vec!["a", "b", "c"]);
    for s in &series {
        assert_eq!(s.timestamps, vec![T0 + 2 * SEC, T0 + 3 * SEC, T0 + 4 * SEC]);
        assert_eq!(floats(s, "v"), vec![2.0, 3.0, 4.0]);
    }
    let one = store
        .range(&range("cpu", T0 + 9 * SEC, T0 + 9 * SEC + 1))
        .await
        .unwrap();
    assert_eq!(one[0].timestamps, vec![T0 + 9 * SEC]);
    let none = store
        .range(&range("cpu", T0 + 10 * SEC, T0 + 20 * SEC))
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub async fn range_filters_by_tags(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed_hosts(store).await;
    let with = |filter: TagFilter| {
        let mut q = range("cpu", T0, T0 + 100 * SEC);
        q.tags = filter;
        q
    };
    let eu = store
        .range(&with(TagFilter::all().eq("region", "eu")))
        .await
        .unwrap();
    assert_eq!(hosts(&eu), vec!["a", "b"]);
    assert_eq!(eu[0].tags, tags(&[("host", "a"), ("region", "eu")]));
    let any = TagFilter::all().eq("host", "a").eq("host", "c");
    assert_eq!(
        hosts(&store.range(&with(any)).await.unwrap()),
        vec!["a", "c"]
    );
    let both = TagFilter::all().eq("host", "c").eq("region", "eu");
    assert!(store.range(&with(both)).await.unwrap().is_empty());
    let both = TagFilter::all().eq("host", "b").eq("region", "eu");
    assert_eq!(hosts(&store.range(&with(both)).await.unwrap()), vec!["b"]);
    let unknown_tag = TagFilter::all().eq("rack", "1");
    assert!(store.range(&with(unknown_tag)).await.unwrap().is_empty());
    let unknown_value = TagFilter::all().eq("host", "z");
    assert!(store.range(&with(unknown_value)).await.unwrap().is_empty());
    let mut no_values = TagFilter::all();
    no_values.any_of.insert("host".to_owned(), Vec::new());
    assert!(store.range(&with(no_values)).await.unwrap().is_empty());
}

pub async fn range_selects_fields(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            point(
                "m",
                &[],
                &[("a", FieldValue::Float(1.0)), ("b", FieldValue::Int(10))],
                T0,
            ),
            point("m", &[], &[("b", FieldValue::Int(20))], T0 + 1),
            point("m", &[], &[("a", FieldValue::Float(3.0))], T0 + 2),
        ])
        .await
        .unwrap();
    let mut q = range("m", T0, T0 + 10);
    q.fields = vec!["a".to_owned()];
    let series = store.range(&q).await.unwrap();
    assert_eq!(series[0].timestamps, vec![T0, T0 + 2]);
    assert_eq!(series[0].fields.keys().collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(floats(&series[0], "a"), vec![1.0, 3.0]);
    q.fields = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!(store.range(&q).await.unwrap()[0].timestamps.len(), 3);
    q.fields = vec!["nope".to_owned()];
    assert!(store.range(&q).await.unwrap().is_empty());
}

pub async fn limit_caps_points_per_series_oldest_first(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed_hosts(store).await;
    let mut q = range("cpu", T0 + SEC, T0 + 100 * SEC);
    q.limit = Some(3);
    let series = store.range(&q).await.unwrap();
    assert_eq!(series.len(), 3);
    for s in &series {
        assert_eq!(s.timestamps, vec![T0 + SEC, T0 + 2 * SEC, T0 + 3 * SEC]);
        assert_eq!(floats(s, "v"), vec![1.0, 2.0, 3.0]);
    }
    q.limit = Some(100);
    assert_eq!(store.range(&q).await.unwrap()[0].timestamps.len(), 9);
    q.limit = Some(0);
    assert!(store.range(&q).await.unwrap().is_empty());
}

pub async fn empty_or_inverted_range_is_empty(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    seed_hosts(store).await;
    assert!(store.range(&range("cpu", T0, T0)).await.unwrap().is_empty());
    assert!(store
        .range(&range("cpu", T0 + 5 * SEC, T0))
        .await
        .unwrap()
        .is_empty());
}

pub async fn measurements_are_separate(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            value("cpu", &[("host", "a")], 1.0, T0),
            value("mem", &[("host", "a")], 2.0, T0),
        ])
        .await
        .unwrap();
    assert_eq!(floats(&everything(store, "cpu").await[0], "v"), vec![1.0]);
    assert_eq!(floats(&everything(store, "mem").await[0], "v"), vec![2.0]);
    assert!(everything(store, "disk").await.is_empty());
    let last = store.last("mem", &TagFilter::all()).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].fields["v"], FieldValue::Float(2.0));
}
