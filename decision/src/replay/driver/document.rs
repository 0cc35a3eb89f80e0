//! Document: one JSON document per record with indexed grp, attr and ts, plus its neighbour
//! list; one document per group to join.

use polyroute_adapters::kinds::document::{Document, DocumentStore, Filter, FindQuery, Order};
use polyroute_adapters::StoreError;
use serde_json::json;

use super::{depth, timed, Step};
use crate::replay::data::{Data, Picker, BASE_NS, ROWS_PER_GROUP, STEP_NS};
use crate::spec::{Access, Op};

fn record(data: &Data, i: usize, ts: i64, n: usize) -> Document {
    let value = json!({
        "grp": Data::group(i),
        "ts": ts,
        "attr": Data::attribute(i),
        "n": n,
        "body": Data::text(i),
        "payload": data.payload,
        "adj": data.neighbours(i).to_vec(),
    });
    match value {
        serde_json::Value::Object(map) => map,
        _ => Document::new(),
    }
}

pub(super) async fn load(store: &dyn DocumentStore, data: &Data) -> Result<(), StoreError> {
    for i in 0..data.records {
        store
            .put(&Data::id(i), record(data, i, Data::time(i), i))
            .await?;
    }
    for g in 0..data.groups() {
        let mut group = Document::new();
        group.insert("name".to_owned(), json!(format!("group {g}")));
        store.put(&format!("g{g}"), group).await?;
    }
    Ok(())
}

pub(super) async fn run(
    store: &dyn DocumentStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let id = Data::id(i);
    let grp = Data::group(i);
    let end = BASE_NS + ROWS_PER_GROUP as i64 * STEP_NS;
    let took = match access.op {
        Op::Get => timed(store.get(&id)).await?,
        Op::Put => timed(store.put(&id, record(data, i, Data::time(i), step))).await?,
        Op::Append => {
            let fresh = Data::id(data.records + step);
            timed(store.put(&fresh, record(data, i, end + step as i64, step))).await?
        }
        Op::Update | Op::Counter => {
            // Read-modify-write: the document trait has no partial update or increment.
            let started = std::time::Instant::now();
            if let Some(mut document) = store.get(&id).await? {
                let n = document
                    .get("n")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0);
                document.insert("n".to_owned(), json!(n + 1));
                store.put(&id, document).await?;
            }
            started.elapsed()
        }
        Op::Delete | Op::Expire => {
            let took = timed(store.delete(&id)).await?;
            store.put(&id, record(data, i, Data::time(i), i)).await?;
            took
        }
        Op::BatchGet => {
            let started = std::time::Instant::now();
            for _ in 0..10 {
                store.get(&Data::id(pick.below(data.records))).await?;
            }
            started.elapsed()
        }
        Op::RangeScan => {
            let query = FindQuery::new(
                Filter::eq("grp", grp)?
                    .and(Filter::gte("ts", BASE_NS)?)
                    .and(Filter::lt("ts", BASE_NS + 20 * STEP_NS)?),
            )
            .sort_by("ts", Order::Ascending)?;
            timed(store.find(&query)).await?
        }
        Op::PartitionScan => {
            let query = FindQuery::new(Filter::eq("grp", grp)?).sort_by("ts", Order::Ascending)?;
            timed(store.find(&query)).await?
        }
        Op::Latest => {
            let query = FindQuery::new(Filter::eq("grp", grp)?)
                .sort_by("ts", Order::Descending)?
                .limit(1);
            timed(store.find(&query)).await?
        }
        Op::Filter => {
            let query = FindQuery::new(Filter::eq("attr", Data::attribute(i))?).limit(100);
            timed(store.find(&query)).await?
        }
        Op::WindowAggregate | Op::Aggregate => {
            // Emulated: fetch the range and fold in the client.
            let started = std::time::Instant::now();
            let found = store
                .find(&FindQuery::new(
                    Filter::gte("ts", BASE_NS)?.and(Filter::lt("ts", end)?),
                ))
                .await?;
            let total: f64 = found
                .iter()
                .filter_map(|d| d.document.get("n").and_then(serde_json::Value::as_f64))
                .sum();
            std::hint::black_box(total);
            started.elapsed()
        }
        Op::Join => {
            let started = std::time::Instant::now();
            if let Some(document) = store.get(&id).await? {
                let group = document
                    .get("grp")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0);
                store.get(&format!("g{group}")).await?;
            }
            started.elapsed()
        }
        Op::Traverse => {
            // Emulated: one lookup per node reached, reading its stored neighbour list.
            let started = std::time::Instant::now();
            let mut frontier = vec![i];
            let mut seen = std::collections::BTreeSet::from([i]);
            for _ in 0..depth(access) {
                let mut next = Vec::new();
                for node in frontier {
                    let Some(document) = store.get(&Data::id(node)).await? else {
                        continue;
                    };
                    let ids = document.get("adj").and_then(serde_json::Value::as_array);
                    for n in ids
                        .into_iter()
                        .flatten()
                        .filter_map(serde_json::Value::as_u64)
                    {
                        let n = n as usize;
                        if seen.insert(n) {
                            next.push(n);
                        }
                    }
                }
                frontier = next;
            }
            started.elapsed()
        }
        Op::Transaction | Op::ShortestPath | Op::FullText => return Ok(Step::NotServed),
    };
    Ok(Step::Timed(took))
}
