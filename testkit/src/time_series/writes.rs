//! Writes: field types, ordering, overwrites, validation, volume and concurrency.

use std::collections::BTreeMap;
use std::sync::Arc;

use polyroute_adapters::kinds::time_series::{FieldValue, TagFilter, TimeSeriesStore};
use polyroute_adapters::ErrorKind;

use super::{everything, floats, point, tags, value, SEC, T0};
use crate::support::Fixture;

pub async fn empty_entity_has_nothing(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    assert!(everything(store, "cpu").await.is_empty());
    assert!(store
        .last("cpu", &TagFilter::all())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.delete_before(T0).await.unwrap(), 0);
}

pub async fn every_field_type_round_trips(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    let fields = [
        ("f", FieldValue::Float(-0.5)),
        ("big", FieldValue::Float(f64::MAX)),
        ("tiny", FieldValue::Float(f64::MIN_POSITIVE)),
        ("i", FieldValue::Int(i64::MIN)),
        ("j", FieldValue::Int(i64::MAX)),
        ("b", FieldValue::Bool(true)),
        ("s", FieldValue::Text("hello, \"world\"\n".into())),
        ("empty", FieldValue::Text(String::new())),
    ];
    let second = [
        ("f", FieldValue::Float(f64::INFINITY)),
        ("big", FieldValue::Float(f64::NEG_INFINITY)),
        ("tiny", FieldValue::Float(0.0)),
        ("i", FieldValue::Int(0)),
        ("j", FieldValue::Int(-1)),
        ("b", FieldValue::Bool(false)),
        ("s", FieldValue::Text("x".into())),
        ("empty", FieldValue::Text("y".into())),
    ];
    store
        .write(vec![
            point("m", &[("host", "a")], &fields, T0),
            point("m", &[("host", "a")], &second, T0 + SEC),
        ])
        .await
        .unwrap();
    let series = everything(store, "m").await;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].tags, tags(&[("host", "a")]));
    assert_eq!(series[0].timestamps, vec![T0, T0 + SEC]);
    for (i, row) in [&fields, &second].into_iter().enumerate() {
        for (name, expected) in row.iter() {
            assert_eq!(
                series[0].fields[*name][i].as_ref(),
                Some(expected),
                "{name}"
            );
        }
    }
    // The sign of zero and NaN survive.
    store
        .write(vec![point(
            "z",
            &[],
            &[
                ("v", FieldValue::Float(-0.0)),
                ("n", FieldValue::Float(f64::NAN)),
            ],
            T0,
        )])
        .await
        .unwrap();
    let z = &everything(store, "z").await[0];
    assert!(floats(z, "v")[0].is_sign_negative());
    assert!(floats(z, "n")[0].is_nan());
}

pub async fn out_of_order_points_come_back_in_time_order(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    let order = [5, 1, 9, 3, 7, 2, 8, 0, 6, 4];
    for chunk in order.chunks(3) {
        let points = chunk
            .iter()
            .map(|i| value("cpu", &[("host", "a")], *i as f64, T0 + i * SEC))
            .collect();
        store.write(points).await.unwrap();
    }
    let series = everything(store, "cpu").await;
    let expected: Vec<i64> = (0..10).map(|i| T0 + i * SEC).collect();
    assert_eq!(series[0].timestamps, expected);
    assert_eq!(
        floats(&series[0], "v"),
        (0..10).map(f64::from).collect::<Vec<_>>()
    );
}

pub async fn late_points_land_in_old_partitions(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    const DAY: i64 = 86_400 * SEC;
    store.write(vec![value("cpu", &[], 1.0, T0)]).await.unwrap();
    store
        .write(vec![
            value("cpu", &[], 0.5, T0 - 30 * DAY),
            value("cpu", &[], 2.0, T0 + 365 * DAY),
            value("cpu", &[], 0.75, T0 - 30 * DAY + 1),
        ])
        .await
        .unwrap();
    let series = everything(store, "cpu").await;
    assert_eq!(
        series[0].timestamps,
        vec![T0 - 30 * DAY, T0 - 30 * DAY + 1, T0, T0 + 365 * DAY]
    );
    assert_eq!(floats(&series[0], "v"), vec![0.5, 0.75, 1.0, 2.0]);
}

pub async fn same_timestamp_overwrites_named_fields_and_keeps_others(
    f: Fixture<dyn TimeSeriesStore>,
) {
    let store = &*f.store;
    let a = [("host", "a")];
    store
        .write(vec![point(
            "cpu",
            &a,
            &[
                ("user", FieldValue::Float(1.0)),
                ("idle", FieldValue::Float(99.0)),
            ],
            T0,
        )])
        .await
        .unwrap();
    store
        .write(vec![value("cpu", &a, 0.0, T0 + SEC)])
        .await
        .unwrap();
    store
        .write(vec![point(
            "cpu",
            &a,
            &[("user", FieldValue::Float(2.0))],
            T0,
        )])
        .await
        .unwrap();
    let series = everything(store, "cpu").await;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].timestamps, vec![T0, T0 + SEC]);
    assert_eq!(series[0].fields["user"][0], Some(FieldValue::Float(2.0)));
    assert_eq!(series[0].fields["idle"][0], Some(FieldValue::Float(99.0)));
    // Another tag set is another series, even at the same instant.
    store
        .write(vec![value("cpu", &[("host", "b")], 5.0, T0)])
        .await
        .unwrap();
    assert_eq!(everything(store, "cpu").await.len(), 2);
}

pub async fn points_with_different_fields_leave_gaps(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![
            point("m", &[], &[("a", FieldValue::Int(1))], T0),
            point("m", &[], &[("b", FieldValue::Bool(true))], T0 + 1),
            point(
                "m",
                &[],
                &[("a", FieldValue::Int(3)), ("b", FieldValue::Bool(false))],
                T0 + 2,
            ),
        ])
        .await
        .unwrap();
    let series = everything(store, "m").await;
    let expected: BTreeMap<String, Vec<Option<FieldValue>>> = [
        (
            "a".to_owned(),
            vec![Some(FieldValue::Int(1)), None, Some(FieldValue::Int(3))],
        ),
        (
            "b".to_owned(),
            vec![
                None,
                Some(FieldValue::Bool(true)),
                Some(FieldValue::Bool(false)),
            ],
        ),
    ]
    .into();
    assert_eq!(series[0].fields, expected);
}

pub async fn invalid_point_fails_the_whole_batch(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    let good = value("cpu", &[("host", "a")], 1.0, T0);
    let bad_points = [
        point("cpu", &[("host", "a")], &[], T0 + 1),
        value("", &[], 1.0, T0 + 1),
        value("cpu", &[("", "x")], 1.0, T0 + 1),
        value("cpu", &[("host", "")], 1.0, T0 + 1),
        point("cpu", &[], &[("", FieldValue::Int(1))], T0 + 1),
    ];
    for bad in bad_points {
        let err = store
            .write(vec![good.clone(), bad.clone()])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad:?}: {err}");
    }
    assert!(everything(store, "cpu").await.is_empty());
}

pub async fn field_keeps_one_type_per_measurement(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store
        .write(vec![value("cpu", &[("host", "a")], 1.0, T0)])
        .await
        .unwrap();
    let clash = point(
        "cpu",
        &[("host", "b")],
        &[("v", FieldValue::Int(1))],
        T0 + 1,
    );
    let err = store.write(vec![clash]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains('v'), "{err}");
    // Within one batch too, and nothing of that batch lands.
    let batch = vec![
        point("mem", &[], &[("used", FieldValue::Int(1))], T0),
        point(
            "mem",
            &[],
            &[("used", FieldValue::Text("1".into()))],
            T0 + 1,
        ),
    ];
    let err = store.write(batch).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(everything(store, "mem").await.is_empty());
    // Another measurement may use the name with another type.
    store
        .write(vec![point(
            "disk",
            &[],
            &[("v", FieldValue::Text("ok".into()))],
            T0,
        )])
        .await
        .unwrap();
    assert_eq!(everything(store, "cpu").await[0].timestamps, vec![T0]);
}

pub async fn empty_batch_is_a_no_op(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    store.write(Vec::new()).await.unwrap();
    assert!(everything(store, "cpu").await.is_empty());
}

pub async fn large_batches_round_trip(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    const SERIES: usize = 8;
    const POINTS: i64 = 3_000;
    for batch in 0..3 {
        let mut points = Vec::new();
        for s in 0..SERIES {
            let host = format!("h{s}");
            for i in (batch..POINTS).step_by(3) {
                let v = (i as f64).sin() * s as f64;
                points.push(value("cpu", &[("host", &host)], v, T0 + i * 10 * SEC));
            }
        }
        store.write(points).await.unwrap();
    }
    let series = everything(store, "cpu").await;
    assert_eq!(series.len(), SERIES);
    for (s, data) in series.iter().enumerate() {
        assert_eq!(data.tags, tags(&[("host", &format!("h{s}"))]));
        let expected: Vec<i64> = (0..POINTS).map(|i| T0 + i * 10 * SEC).collect();
        assert_eq!(data.timestamps, expected);
        let values: Vec<f64> = (0..POINTS).map(|i| (i as f64).sin() * s as f64).collect();
        assert_eq!(floats(data, "v"), values);
    }
}

pub async fn timestamps_before_the_epoch_and_far_ahead(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    // Around 1678 and 2262, the ends of the nanosecond range, and around the epoch.
    let instants = [
        -9_223_372_036_000_000_000,
        -SEC - 1,
        -1,
        0,
        1,
        9_223_372_036_000_000_000,
    ];
    let points = instants
        .iter()
        .rev()
        .enumerate()
        .map(|(i, t)| value("m", &[], i as f64, *t))
        .collect();
    store.write(points).await.unwrap();
    let series = everything(store, "m").await;
    assert_eq!(series[0].timestamps, instants);
    let last = store.last("m", &TagFilter::all()).await.unwrap();
    assert_eq!(last[0].timestamp, 9_223_372_036_000_000_000);
    let early = store.range(&super::range("m", -SEC - 1, 1)).await.unwrap();
    assert_eq!(early[0].timestamps, vec![-SEC - 1, -1, 0]);
}

pub async fn unicode_names_and_values_round_trip(f: Fixture<dyn TimeSeriesStore>) {
    let store = &*f.store;
    let p = point(
        "température",
        &[("pièce", "séjour ☀"), ("城市", "東京")],
        &[
            ("°C", FieldValue::Float(21.5)),
            ("note", FieldValue::Text("très bien 👍".into())),
        ],
        T0,
    );
    store.write(vec![p.clone()]).await.unwrap();
    let series = everything(store, "température").await;
    assert_eq!(series[0].tags, p.tags);
    assert_eq!(
        series[0].fields["note"][0],
        Some(FieldValue::Text("très bien 👍".into()))
    );
    let filter = TagFilter::all().eq("城市", "東京");
    let last = store.last("température", &filter).await.unwrap();
    assert_eq!(*last[0].fields, p.fields);
}

pub async fn concurrent_writers_all_land(f: Fixture<dyn TimeSeriesStore>) {
    let store: Arc<dyn TimeSeriesStore> = f.store;
    const WRITERS: i64 = 8;
    const BATCHES: i64 = 20;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                // Writers share one series and interleave in time.
                let points = (0..5)
                    .map(|i| value("cpu", &[], w as f64, T0 + ((b * 5 + i) * WRITERS + w) * SEC))
                    .collect();
                store.write(points).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let series = everything(&*store, "cpu").await;
    let n = (WRITERS * BATCHES * 5) as usize;
    assert_eq!(series[0].timestamps.len(), n);
    let expected: Vec<i64> = (0..n as i64).map(|i| T0 + i * SEC).collect();
    assert_eq!(series[0].timestamps, expected);
    let values = floats(&series[0], "v");
    assert!(values
        .iter()
        .enumerate()
        .all(|(i, v)| *v == (i as i64 % WRITERS) as f64));
}
