//! Wide-column: partitions by group, rows clustered by (ts, id).

use std::collections::BTreeMap;
use std::ops::Bound;

use polyroute_adapters::kinds::wide_column::{SliceQuery, WideColumnStore, WideRow, WriteOptions};
use polyroute_adapters::{StoreError, Value};

use super::{timed, Step};
use crate::replay::data::{Data, Picker, BASE_NS, ROWS_PER_GROUP, STEP_NS};
use crate::spec::{Access, Op};

fn row(data: &Data, i: usize, ts: i64, id: String, n: usize) -> WideRow {
    WideRow {
        partition: vec![Value::Int(Data::group(i))],
        clustering: vec![Value::Int(ts), Value::Text(id)],
        cells: BTreeMap::from([
            ("attr".to_owned(), Value::Int(Data::attribute(i))),
            ("n".to_owned(), Value::Int(n as i64)),
            ("body".to_owned(), Value::Text(Data::text(i))),
            ("payload".to_owned(), Value::Text(data.payload.clone())),
        ]),
    }
}

pub(super) async fn load(store: &dyn WideColumnStore, data: &Data) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    for i in 0..data.records {
        batch.push(row(data, i, Data::time(i), Data::id(i), i));
        if batch.len() >= 500 {
            store
                .put_batch(std::mem::take(&mut batch), WriteOptions::default())
                .await?;
        }
    }
    store.put_batch(batch, WriteOptions::default()).await
}

pub(super) async fn run(
    store: &dyn WideColumnStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let partition = vec![Value::Int(Data::group(i))];
    let clustering = vec![Value::Int(Data::time(i)), Value::Text(Data::id(i))];
    let end = BASE_NS + ROWS_PER_GROUP as i64 * STEP_NS;
    let took = match access.op {
        Op::Get => timed(store.get(&partition, &clustering)).await?,
        Op::Put | Op::Update => {
            timed(store.put(
                row(data, i, Data::time(i), Data::id(i), step),
                WriteOptions::default(),
            ))
            .await?
        }
        Op::Append => {
            let fresh = row(
                data,
                i,
                end + step as i64,
                Data::id(data.records + step),
                step,
            );
            timed(store.put(fresh, WriteOptions::default())).await?
        }
        Op::Expire => {
            let options = WriteOptions {
                ttl: access.ttl,
                ..WriteOptions::default()
            };
            timed(store.put(row(data, i, Data::time(i), Data::id(i), step), options)).await?
        }
        Op::Delete => {
            let took = timed(store.delete(&partition, &clustering)).await?;
            store
                .put(
                    row(data, i, Data::time(i), Data::id(i), i),
                    WriteOptions::default(),
                )
                .await?;
            took
        }
        Op::Counter => {
            // Read-modify-write: the wide-column trait has no counter columns.
            let started = std::time::Instant::now();
            let current = store.get(&partition, &clustering).await?;
            let n = current
                .and_then(|r| r.cells.get("n").cloned())
                .and_then(|v| match v {
                    Value::Int(n) => Some(n),
                    _ => None,
                })
                .unwrap_or(0);
            let mut next = row(data, i, Data::time(i), Data::id(i), 0);
            next.cells.insert("n".to_owned(), Value::Int(n + 1));
            store.put(next, WriteOptions::default()).await?;
            started.elapsed()
        }
        Op::BatchGet => {
            let started = std::time::Instant::now();
            for _ in 0..10 {
                let j = pick.below(data.records);
                store
                    .get(
                        &[Value::Int(Data::group(j))],
                        &[Value::Int(Data::time(j)), Value::Text(Data::id(j))],
                    )
                    .await?;
            }
            started.elapsed()
        }
        Op::RangeScan => {
            let query = SliceQuery::partition(partition)
                .from(Bound::Included(vec![Value::Int(BASE_NS)]))
                .to(Bound::Excluded(vec![Value::Int(BASE_NS + 20 * STEP_NS)]));
            timed(store.slice(&query)).await?
        }
        Op::PartitionScan => timed(store.slice(&SliceQuery::partition(partition))).await?,
        Op::Latest => {
            let query = SliceQuery::partition(partition).descending().limit(1);
            timed(store.slice(&query)).await?
        }
        Op::WindowAggregate => {
            // Emulated: read one partition's range and fold it per window in the client.
            let started = std::time::Instant::now();
            let rows = store.slice(&SliceQuery::partition(partition)).await?;
            let mut windows: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
            for row in rows {
                if let (Some(Value::Int(ts)), Some(Value::Int(n))) =
                    (row.clustering.first(), row.cells.get("n"))
                {
                    let slot = windows.entry(ts / (10 * STEP_NS)).or_default();
                    slot.0 += *n as f64;
                    slot.1 += 1;
                }
            }
            std::hint::black_box(windows);
            started.elapsed()
        }
        _ => return Ok(Step::NotServed),
    };
    Ok(Step::Timed(took))
}
