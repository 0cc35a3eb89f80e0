//! Concurrent writers and readers, and entity isolation.

use std::sync::Arc;

use polyroute_adapters::kinds::wide_column::{SliceQuery, WideColumnStore, WriteOptions};
use polyroute_adapters::Value;

use super::{cells_of, event, events, keys, put, Factory};
use crate::support::Fixture;

pub async fn concurrent_writers_on_distinct_rows_all_land(new: impl Factory) {
    let f = new(events()).await;
    let tasks: Vec<_> = (0..8i64)
        .map(|w| {
            let store = f.store.clone();
            tokio::spawn(async move {
                for i in 0..50i64 {
                    put(&*store, event("ann", i, w, &[("w", w.into())])).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all = f
        .store
        .slice(&SliceQuery::partition(vec!["ann".into()]))
        .await
        .unwrap();
    assert_eq!(all.len(), 400);
    let mut expected: Vec<Vec<Value>> = (0..50i64)
        .flat_map(|i| (0..8i64).map(move |w| vec![i.into(), w.into()]))
        .collect();
    expected.sort_by_key(|k| (k[0].as_i64(), k[1].as_i64()));
    let found: Vec<_> = all.iter().map(|r| r.clustering.clone()).collect();
    assert_eq!(found, expected);
}

pub async fn concurrent_writers_on_one_row_merge_their_cells(new: impl Factory) {
    let f = new(events()).await;
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let store = f.store.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let name = format!("w{w}_{i}");
                    put(&*store, event("ann", 1, 1, &[(&name, Value::Int(i))])).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let found = cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await;
    assert_eq!(found.len(), 200, "every writer's cells must land");
}

pub async fn readers_see_whole_batches(new: impl Factory) {
    const ROWS: i64 = 100;
    const BATCHES: i64 = 60;
    let f = new(events()).await;
    let writer = {
        let store = f.store.clone();
        tokio::spawn(async move {
            for batch in 0..BATCHES {
                let rows = (0..ROWS).map(|i| event("ann", batch, i, &[])).collect();
                store
                    .put_batch(rows, WriteOptions::default())
                    .await
                    .unwrap();
            }
        })
    };
    let atomic = f.capabilities.batch_writes;
    let mut seen = 0;
    while !writer.is_finished() || seen == 0 {
        let found = keys(&*f.store, SliceQuery::partition(vec!["ann".into()])).await;
        seen = found.len();
        if atomic {
            assert_eq!(found.len() as i64 % ROWS, 0, "a slice saw part of a batch");
        }
    }
    writer.await.unwrap();
    let all = keys(&*f.store, SliceQuery::partition(vec!["ann".into()])).await;
    assert_eq!(all.len() as i64, BATCHES * ROWS);
}

pub async fn entities_on_one_store_are_isolated(
    first: Fixture<dyn WideColumnStore>,
    second: Fixture<dyn WideColumnStore>,
) {
    let (a, b): (Arc<dyn WideColumnStore>, _) = (first.store, second.store);
    put(&*a, event("ann", 1, 1, &[("in", "first".into())])).await;
    put(&*b, event("ann", 1, 2, &[("in", "second".into())])).await;
    assert_eq!(
        keys(&*a, SliceQuery::partition(vec!["ann".into()])).await,
        super::at_seq(&[(1, 1)])
    );
    assert_eq!(
        keys(&*b, SliceQuery::partition(vec!["ann".into()])).await,
        super::at_seq(&[(1, 2)])
    );
    a.delete_partition(&["ann".into()]).await.unwrap();
    assert_eq!(
        keys(&*b, SliceQuery::partition(vec!["ann".into()]))
            .await
            .len(),
        1
    );
    assert_eq!(
        b.get(&["ann".into()], &[1.into(), 1.into()]).await.unwrap(),
        None
    );
}
