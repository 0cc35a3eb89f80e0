//! Micro-benchmarks of the embedded time-series engine: batch writes (memory and log-backed),
//! a range read of one series, a window aggregate over many series, and the last point of each.

// A benchmark that cannot set up fails by panicking, as a test does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use polyroute_adapters::kinds::time_series::{
    Aggregate, FieldValue, Point, RangeQuery, TagFilter, TimeSeriesSettings, TimeSeriesStore,
    WindowQuery,
};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, StoreKind};
use serde_json::json;
use tokio::runtime::Runtime;

const T0: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;
const SERIES: usize = 100;
const POINTS_PER_SERIES: i64 = 2_000;
const BATCH: usize = 1_000;

async fn entity(options: serde_json::Value) -> Arc<dyn TimeSeriesStore> {
    let store = registry::connect(
        StoreKind::TimeSeries,
        "embedded",
        &options,
        &ConnectContext::default(),
    )
    .await
    .unwrap();
    let spec = EntitySpec::new(
        "metrics",
        EntitySettings::TimeSeries(TimeSeriesSettings::default()),
    )
    .unwrap();
    match store.open(&spec).await.unwrap() {
        EntityHandle::TimeSeries(handle) => handle,
        other => panic!("expected a time-series handle, got {other:?}"),
    }
}

/// One point of series `s` at step `i`: a host tag, a region tag, two fields.
fn point(s: usize, i: i64) -> Point {
    Point {
        measurement: "cpu".to_owned(),
        tags: [
            ("host".to_owned(), format!("host-{s:03}")),
            ("region".to_owned(), format!("r{}", s % 4)),
        ]
        .into(),
        fields: [
            (
                "usage".to_owned(),
                FieldValue::Float(((i as f64) * 0.1).sin() * 50.0 + 50.0),
            ),
            ("requests".to_owned(), FieldValue::Int(i * 3 + s as i64)),
        ]
        .into(),
        timestamp: T0 + i * 10 * SEC,
    }
}

/// Batches of `BATCH` points, each spread over every series, in time order.
fn batches(start: i64, count: usize) -> Vec<Vec<Point>> {
    let per_series = (BATCH / SERIES) as i64;
    (0..count)
        .map(|b| {
            let first = start + b as i64 * per_series;
            (first..first + per_series)
                .flat_map(|i| (0..SERIES).map(move |s| point(s, i)))
                .collect()
        })
        .collect()
}

fn writes(c: &mut Criterion, runtime: &Runtime) {
    let mut group = c.benchmark_group("write_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    let dir = tempfile::tempdir().unwrap();
    let setups = [
        ("memory", json!({})),
        (
            "log_normal",
            json!({"path": dir.path().join("normal"), "synchronous": "normal"}),
        ),
        ("log_full", json!({"path": dir.path().join("full")})),
    ];
    for (name, options) in setups {
        let store = runtime.block_on(entity(options));
        let mut next = 0i64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(runtime).iter_batched(
                || {
                    next += (BATCH / SERIES) as i64;
                    batches(next, 1).remove(0)
                },
                |batch| {
                    let store = store.clone();
                    async move { store.write(batch).await.unwrap() }
                },
                criterion::BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn reads(c: &mut Criterion, runtime: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(async {
        let store = entity(json!({"path": dir.path(), "synchronous": "normal"})).await;
        let count = SERIES * POINTS_PER_SERIES as usize / BATCH;
        for batch in batches(0, count) {
            store.write(batch).await.unwrap();
        }
        store
    });
    let end = T0 + POINTS_PER_SERIES * 10 * SEC;

    let mut group = c.benchmark_group("read");
    let one_series = RangeQuery {
        measurement: "cpu".to_owned(),
        start: T0,
        end,
        tags: TagFilter::all().eq("host", "host-042"),
        fields: vec!["usage".to_owned()],
        limit: None,
    };
    group.throughput(Throughput::Elements(POINTS_PER_SERIES as u64));
    group.bench_function("range_one_series", |b| {
        b.to_async(runtime)
            .iter(|| async { store.range(&one_series).await.unwrap() });
    });

    let window = WindowQuery {
        measurement: "cpu".to_owned(),
        field: "usage".to_owned(),
        start: T0,
        end,
        every: Duration::from_secs(600),
        aggregate: Aggregate::Mean,
        group_by: vec!["region".to_owned()],
        tags: TagFilter::all(),
    };
    group.throughput(Throughput::Elements(
        SERIES as u64 * POINTS_PER_SERIES as u64,
    ));
    group.bench_function("window_mean_100_series_by_region", |b| {
        b.to_async(runtime)
            .iter(|| async { store.window(&window).await.unwrap() });
    });

    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("last_point_100_series", |b| {
        b.to_async(runtime)
            .iter(|| async { store.last("cpu", &TagFilter::all()).await.unwrap() });
    });
    group.finish();
}

/// A TSBS DevOps host's reading: four tags, ten float fields.
fn host_reading(h: usize, i: i64) -> Point {
    Point {
        measurement: "cpu".to_owned(),
        tags: [
            ("hostname".to_owned(), format!("host_{h}")),
            ("region".to_owned(), format!("region-{}", h % 9)),
            (
                "datacenter".to_owned(),
                format!("region-{}{}", h % 9, h / 9 % 3),
            ),
            ("service".to_owned(), (h % 20).to_string()),
        ]
        .into(),
        fields: (0..10)
            .map(|f| {
                (
                    format!("usage_{f}"),
                    FieldValue::Float((h + f) as f64 + i as f64),
                )
            })
            .collect(),
        timestamp: T0 + i * 10 * SEC,
    }
}

fn last_points(c: &mut Criterion, runtime: &Runtime) {
    const HOSTS: usize = 1_000;
    let store = runtime.block_on(async {
        let store = entity(json!({})).await;
        for i in 0..4 {
            store
                .write((0..HOSTS).map(|h| host_reading(h, i)).collect())
                .await
                .unwrap();
        }
        store
    });
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(HOSTS as u64));
    group.bench_function("last_point_1000_hosts", |b| {
        b.to_async(runtime)
            .iter(|| async { store.last("cpu", &TagFilter::all()).await.unwrap() });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    writes(c, &runtime);
    reads(c, &runtime);
    last_points(c, &runtime);
}

criterion_group! {
    name = time_series;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(time_series);
