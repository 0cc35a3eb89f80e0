//! Benchmarks of the embedded wide-column engine: batched append ingestion, the newest 100
//! rows of a partition, and point reads.
//!
//! `cargo bench -p polyroute-adapters --bench embedded_wide_column`

// A benchmark that cannot set up or whose call fails has nothing to measure: stop loudly.
#![allow(clippy::panic)]
// `criterion_group!` defines an undocumented function.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use polyroute_adapters::embedded::wide_column::{Config, EmbeddedWideColumn, Synchronous};
use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use polyroute_adapters::registry::ConnectContext;
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, Value};
use tokio::runtime::Runtime;

/// Rows per ingestion batch.
const BATCH: i64 = 1_000;
/// Rows in the partition that is sliced and read.
const PARTITION_ROWS: i64 = 20_000;
/// Other partitions around it, so reads do not see a single-partition store.
const NEIGHBOURS: i64 = 20;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("cannot start a runtime: {err}"))
}

fn event(user: i64, at: i64) -> WideRow {
    WideRow {
        partition: vec![Value::Text(format!("user{user}"))],
        clustering: vec![Value::Timestamp(at)],
        cells: [
            ("kind".to_owned(), Value::Text("page_view".into())),
            (
                "path".to_owned(),
                Value::Text(format!("/products/{}", at % 997)),
            ),
            ("ms".to_owned(), Value::Int(at % 250)),
        ]
        .into(),
    }
}

/// A store on a fresh folder and one `events` entity keyed by user, clustered by time.
async fn open(
    synchronous: Synchronous,
) -> (
    tempfile::TempDir,
    EmbeddedWideColumn,
    Arc<dyn WideColumnStore>,
) {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temporary folder: {err}"));
    let config = Config {
        path: Some(dir.path().to_owned()),
        synchronous: Some(synchronous),
        ..Config::default()
    };
    let store = EmbeddedWideColumn::open(config, &ConnectContext::default())
        .await
        .unwrap_or_else(|err| panic!("cannot open the store: {err}"));
    let settings = WideColumnSettings::new(vec!["user".into()], vec!["at".into()]);
    let spec = EntitySpec::new("events", EntitySettings::WideColumn(settings))
        .unwrap_or_else(|err| panic!("{err}"));
    let EntityHandle::WideColumn(table) = store
        .open(&spec)
        .await
        .unwrap_or_else(|err| panic!("cannot open the entity: {err}"))
    else {
        panic!("the wide-column store opened a handle of another kind");
    };
    (dir, store, table)
}

fn ingestion(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("embedded_wide_column/ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, synchronous) in [
        ("batch_1000_normal", Synchronous::Normal),
        ("batch_1000_full", Synchronous::Full),
    ] {
        let (_dir, _store, table) = rt.block_on(open(synchronous));
        let next = AtomicI64::new(0);
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                || {
                    let start = next.fetch_add(BATCH, Ordering::Relaxed);
                    // Appends spread over 100 partitions, each in time order.
                    (start..start + BATCH)
                        .map(|at| event(at % 100, at))
                        .collect::<Vec<_>>()
                },
                |rows| {
                    let table = table.clone();
                    async move {
                        table
                            .put_batch(rows, WriteOptions::default())
                            .await
                            .unwrap_or_else(|err| panic!("ingest failed: {err}"))
                    }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, _store, table) = rt.block_on(async {
        let opened = open(Synchronous::Normal).await;
        for user in 0..=NEIGHBOURS {
            let rows = if user == 0 {
                PARTITION_ROWS
            } else {
                PARTITION_ROWS / 10
            };
            for start in (0..rows).step_by(BATCH as usize) {
                let batch = (start..(start + BATCH).min(rows))
                    .map(|at| event(user, at))
                    .collect();
                opened
                    .2
                    .put_batch(batch, WriteOptions::default())
                    .await
                    .unwrap_or_else(|err| panic!("seeding failed: {err}"));
            }
        }
        opened
    });
    let mut group = c.benchmark_group("embedded_wide_column/read");
    let newest = SliceQuery::partition(vec![Value::Text("user0".into())])
        .descending()
        .limit(100);
    group.throughput(Throughput::Elements(100));
    group.bench_function("slice_newest_100", |b| {
        b.to_async(&rt).iter(|| async {
            let rows = table
                .slice(&newest)
                .await
                .unwrap_or_else(|err| panic!("slice failed: {err}"));
            assert_eq!(rows.len(), 100);
        });
    });
    group.throughput(Throughput::Elements(1));
    let next = AtomicI64::new(0);
    group.bench_function("get_point", |b| {
        b.to_async(&rt).iter(|| async {
            // A stride through the partition, so reads do not repeat one block.
            let at = next.fetch_add(7_919, Ordering::Relaxed) % PARTITION_ROWS;
            let row = table
                .get(&[Value::Text("user0".into())], &[Value::Timestamp(at)])
                .await
                .unwrap_or_else(|err| panic!("get failed: {err}"));
            assert!(row.is_some());
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Moderate sizes and short runs: the whole bench takes about a minute.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = ingestion, reads
}
criterion_main!(benches);
