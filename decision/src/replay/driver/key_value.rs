//! Key-value: records by id, counters per group, neighbour lists as values.

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueStore, SetOptions};
use polyroute_adapters::StoreError;

use super::{depth, timed, Step};
use crate::replay::data::{Data, Picker};
use crate::spec::{Access, Op};

fn adjacency(data: &Data, i: usize) -> Bytes {
    let ids: Vec<String> = data.neighbours(i).iter().map(|n| n.to_string()).collect();
    Bytes::from(ids.join(","))
}

pub(super) async fn load(store: &dyn KeyValueStore, data: &Data) -> Result<(), StoreError> {
    let payload = Bytes::from(data.payload.clone());
    let mut batch = Vec::new();
    for i in 0..data.records {
        batch.push((Data::id(i), payload.clone()));
        batch.push((format!("adj:{i}"), adjacency(data, i)));
        if batch.len() >= 1000 {
            store.set_many(std::mem::take(&mut batch), None).await?;
        }
    }
    store.set_many(batch, None).await
}

pub(super) async fn run(
    store: &dyn KeyValueStore,
    data: &Data,
    access: &Access,
    pick: &mut Picker,
    step: usize,
) -> Result<Step, StoreError> {
    let i = pick.below(data.records);
    let key = Data::id(i);
    let payload = Bytes::from(data.payload.clone());
    let took = match access.op {
        Op::Get | Op::Latest => timed(store.get(&key)).await?,
        Op::Put | Op::Update => timed(store.set(&key, payload, SetOptions::default())).await?,
        Op::Append => {
            let key = Data::id(data.records + step);
            timed(store.set(&key, payload, SetOptions::default())).await?
        }
        Op::Expire => {
            let ttl = access.ttl.unwrap_or(std::time::Duration::from_secs(60));
            timed(store.set(&key, payload, SetOptions::ttl(ttl))).await?
        }
        Op::Delete => {
            let took = timed(store.delete(&key)).await?;
            store.set(&key, payload, SetOptions::default()).await?;
            took
        }
        Op::BatchGet => {
            let keys: Vec<String> = (0..10)
                .map(|_| Data::id(pick.below(data.records)))
                .collect();
            timed(store.get_many(&keys)).await?
        }
        Op::Counter => timed(store.increment(&format!("count:{}", Data::group(i)), 1)).await?,
        Op::Traverse => {
            // Emulated: one batched lookup of stored neighbour lists per hop.
            let started = std::time::Instant::now();
            let mut frontier = vec![i];
            let mut seen = std::collections::BTreeSet::from([i]);
            for _ in 0..depth(access) {
                let keys: Vec<String> = frontier.iter().map(|n| format!("adj:{n}")).collect();
                let mut next = Vec::new();
                for value in store.get_many(&keys).await?.into_iter().flatten() {
                    for id in String::from_utf8_lossy(&value).split(',') {
                        if let Ok(n) = id.parse::<usize>() {
                            if seen.insert(n) {
                                next.push(n);
                            }
                        }
                    }
                }
                frontier = next;
            }
            started.elapsed()
        }
        _ => return Ok(Step::NotServed),
    };
    Ok(Step::Timed(took))
}
