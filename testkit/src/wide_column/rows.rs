//! Row writes, reads and deletes, and the requests that are refused.

use std::collections::BTreeMap;

use polyroute_adapters::kinds::wide_column::{SliceQuery, WideColumnSettings, WriteOptions};
use polyroute_adapters::Value;

use super::{assert_invalid, cells, cells_of, event, events, keys, put, row, Factory};

pub async fn get_missing_returns_none(new: impl Factory) {
    let f = new(events()).await;
    let found = f.store.get(&["ann".into()], &[1.into(), 1.into()]).await;
    assert_eq!(found.unwrap(), None);
    assert!(f
        .store
        .slice(&SliceQuery::partition(vec!["ann".into()]))
        .await
        .unwrap()
        .is_empty());
}

pub async fn put_then_get_round_trips_every_cell_type(new: impl Factory) {
    let f = new(events()).await;
    let written = cells(&[
        ("bool", Value::Bool(true)),
        ("int", Value::Int(i64::MIN)),
        ("float", Value::Float(-1.25e-300)),
        ("text", Value::Text("héllo".into())),
        ("bytes", Value::Bytes(vec![0, 255, 1])),
        ("timestamp", Value::Timestamp(1_700_000_000_123_456_789)),
        (
            "list",
            Value::List(vec![Value::Int(1), Value::Text("x".into())]),
        ),
        (
            "map",
            Value::Map(BTreeMap::from([("k".to_owned(), Value::Bool(false))])),
        ),
    ]);
    let mut row = event("ann", 10, 1, &[]);
    row.cells = written.clone();
    put(&*f.store, row.clone()).await;
    let found = f.store.get(&row.partition, &row.clustering).await.unwrap();
    assert_eq!(found, Some(row));
}

pub async fn put_upserts_and_keeps_cells_not_given(new: impl Factory) {
    let f = new(events()).await;
    put(
        &*f.store,
        event("ann", 1, 1, &[("a", 1.into()), ("b", 1.into())]),
    )
    .await;
    put(
        &*f.store,
        event("ann", 1, 1, &[("b", 2.into()), ("c", 2.into())]),
    )
    .await;
    let found = cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await;
    assert_eq!(
        found,
        cells(&[("a", 1.into()), ("b", 2.into()), ("c", 2.into())])
    );
}

pub async fn null_cell_deletes_the_cell(new: impl Factory) {
    let f = new(events()).await;
    put(
        &*f.store,
        event("ann", 1, 1, &[("a", 1.into()), ("b", 1.into())]),
    )
    .await;
    put(&*f.store, event("ann", 1, 1, &[("a", Value::Null)])).await;
    let found = cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await;
    assert_eq!(found, cells(&[("b", 1.into())]));
    // A row whose every cell was nulled still exists: its key was written.
    put(&*f.store, event("ann", 1, 1, &[("b", Value::Null)])).await;
    let found = cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await;
    assert!(found.is_empty());
}

pub async fn row_without_cells_exists(new: impl Factory) {
    let f = new(events()).await;
    put(&*f.store, event("ann", 1, 1, &[])).await;
    let found = f
        .store
        .get(&["ann".into()], &[1.into(), 1.into()])
        .await
        .unwrap();
    assert_eq!(found, Some(event("ann", 1, 1, &[])));
    let all = keys(&*f.store, SliceQuery::partition(vec!["ann".into()])).await;
    assert_eq!(all.len(), 1);
}

pub async fn delete_reports_whether_the_row_existed(new: impl Factory) {
    let f = new(events()).await;
    let (p, c) = (vec![Value::from("ann")], vec![Value::Int(1), Value::Int(1)]);
    assert!(!f.store.delete(&p, &c).await.unwrap());
    put(&*f.store, event("ann", 1, 1, &[("a", 1.into())])).await;
    put(&*f.store, event("ann", 1, 2, &[("a", 2.into())])).await;
    assert!(f.store.delete(&p, &c).await.unwrap());
    assert_eq!(f.store.get(&p, &c).await.unwrap(), None);
    assert!(!f.store.delete(&p, &c).await.unwrap());
    // The neighbour is untouched, and the deleted row can be written again.
    assert!(f
        .store
        .get(&p, &[1.into(), 2.into()])
        .await
        .unwrap()
        .is_some());
    put(&*f.store, event("ann", 1, 1, &[("b", 3.into())])).await;
    assert_eq!(cells_of(&*f.store, &p, &c).await, cells(&[("b", 3.into())]));
}

pub async fn delete_partition_removes_only_that_partition(new: impl Factory) {
    let f = new(events()).await;
    for seq in 0..20 {
        put(&*f.store, event("ann", 1, seq, &[("n", seq.into())])).await;
        put(&*f.store, event("bob", 1, seq, &[("n", seq.into())])).await;
    }
    f.store.delete_partition(&["ann".into()]).await.unwrap();
    assert!(keys(&*f.store, SliceQuery::partition(vec!["ann".into()]))
        .await
        .is_empty());
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec!["bob".into()]))
            .await
            .len(),
        20
    );
    // Deleting a missing partition is fine, and the partition can be written again.
    f.store.delete_partition(&["nobody".into()]).await.unwrap();
    put(&*f.store, event("ann", 2, 0, &[])).await;
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec!["ann".into()]))
            .await
            .len(),
        1
    );
}

pub async fn put_batch_writes_every_row(new: impl Factory) {
    let f = new(events()).await;
    f.store
        .put_batch(Vec::new(), WriteOptions::default())
        .await
        .unwrap();
    let rows: Vec<_> = (0..100)
        .map(|i| {
            event(
                if i % 2 == 0 { "ann" } else { "bob" },
                i,
                0,
                &[("i", i.into())],
            )
        })
        .collect();
    f.store
        .put_batch(rows, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec!["ann".into()]))
            .await
            .len(),
        50
    );
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec!["bob".into()]))
            .await
            .len(),
        50
    );
    // One row twice in a batch: both writes' cells land.
    let twice = vec![
        event("cat", 1, 1, &[("a", 1.into())]),
        event("cat", 1, 1, &[("b", 2.into())]),
    ];
    f.store
        .put_batch(twice, WriteOptions::default())
        .await
        .unwrap();
    let found = cells_of(&*f.store, &["cat".into()], &[1.into(), 1.into()]).await;
    assert_eq!(found.get("b"), Some(&Value::Int(2)));
}

pub async fn invalid_row_fails_the_whole_batch(new: impl Factory) {
    let f = new(events()).await;
    let rows = vec![
        event("ann", 1, 1, &[("a", 1.into())]),
        row(vec!["ann".into()], vec![Value::Int(2)], &[]),
    ];
    assert_invalid(
        f.store.put_batch(rows, WriteOptions::default()).await,
        "clustering",
    );
    assert!(keys(&*f.store, SliceQuery::partition(vec!["ann".into()]))
        .await
        .is_empty());
}

pub async fn key_arity_mismatch_is_invalid(new: impl Factory) {
    let f = new(events()).await;
    let s = &*f.store;
    let opts = WriteOptions::default();
    assert_invalid(
        s.put(row(vec![], vec![1.into(), 1.into()], &[]), opts)
            .await,
        "partition",
    );
    let two = vec![Value::from("a"), Value::from("b")];
    assert_invalid(
        s.put(row(two.clone(), vec![1.into(), 1.into()], &[]), opts)
            .await,
        "partition",
    );
    assert_invalid(
        s.put(row(vec!["a".into()], vec![1.into()], &[]), opts)
            .await,
        "clustering",
    );
    let three = vec![Value::Int(1), Value::Int(1), Value::Int(1)];
    assert_invalid(
        s.put(row(vec!["a".into()], three.clone(), &[]), opts).await,
        "clustering",
    );
    assert_invalid(s.get(&["a".into()], &[1.into()]).await, "clustering");
    assert_invalid(s.get(&two, &[1.into(), 1.into()]).await, "partition");
    assert_invalid(s.delete(&["a".into()], &three).await, "clustering");
    assert_invalid(s.delete_partition(&[]).await, "partition");
    assert_invalid(s.slice(&SliceQuery::partition(two)).await, "partition");
}

pub async fn unkeyable_key_values_are_invalid_and_name_the_column(new: impl Factory) {
    let f = new(events()).await;
    let unkeyable = [
        Value::Null,
        Value::List(vec![]),
        Value::Map(BTreeMap::new()),
    ];
    for bad in unkeyable {
        let opts = WriteOptions::default();
        let by_partition = row(vec![bad.clone()], vec![1.into(), 1.into()], &[]);
        assert_invalid(f.store.put(by_partition, opts).await, "`user`");
        let by_clustering = row(vec!["a".into()], vec![1.into(), bad.clone()], &[]);
        assert_invalid(f.store.put(by_clustering, opts).await, "`seq`");
        assert_invalid(
            f.store.get(&["a".into()], &[bad.clone(), 1.into()]).await,
            "`at`",
        );
        let query = SliceQuery::partition(vec![bad.clone()]);
        assert_invalid(f.store.slice(&query).await, "`user`");
    }
}

pub async fn cell_named_like_a_key_column_is_invalid(new: impl Factory) {
    let f = new(events()).await;
    for name in ["user", "at", "seq"] {
        let bad = event("ann", 1, 1, &[(name, 1.into())]);
        assert_invalid(f.store.put(bad, WriteOptions::default()).await, name);
    }
    assert_eq!(
        f.store
            .get(&["ann".into()], &[1.into(), 1.into()])
            .await
            .unwrap(),
        None
    );
}

pub async fn unicode_keys_and_cell_names_round_trip(new: impl Factory) {
    let f = new(WideColumnSettings::new(
        vec!["city".into()],
        vec!["name".into()],
    ))
    .await;
    let names = ["Zoë", "Ærø", "東京", "👩‍💻", "a\0b", ""];
    for name in names {
        let r = row(
            vec!["Košice".into()],
            vec![name.into()],
            &[("défaut ✓", name.into())],
        );
        put(&*f.store, r).await;
    }
    for name in names {
        let found = cells_of(&*f.store, &["Košice".into()], &[name.into()]).await;
        assert_eq!(found, cells(&[("défaut ✓", name.into())]));
    }
    let all = keys(&*f.store, SliceQuery::partition(vec!["Košice".into()])).await;
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort();
    let expected: Vec<Vec<Value>> = expected.into_iter().map(|n| vec![n.into()]).collect();
    assert_eq!(all, expected);
}

pub async fn large_cell_round_trips(new: impl Factory) {
    let f = new(events()).await;
    let blob: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let text = "ß".repeat(300_000);
    put(
        &*f.store,
        event(
            "ann",
            1,
            1,
            &[
                ("blob", blob.clone().into()),
                ("text", text.as_str().into()),
            ],
        ),
    )
    .await;
    let found = cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await;
    assert_eq!(
        found,
        cells(&[("blob", blob.into()), ("text", text.into())])
    );
}

pub async fn composite_partition_key_without_clustering_key(new: impl Factory) {
    let settings = WideColumnSettings::new(vec!["tenant".into(), "id".into()], vec![]);
    let f = new(settings).await;
    let p1 = vec![Value::from("acme"), Value::Int(1)];
    let p2 = vec![Value::from("acme"), Value::Int(2)];
    put(&*f.store, row(p1.clone(), vec![], &[("v", 1.into())])).await;
    put(&*f.store, row(p2.clone(), vec![], &[("v", 2.into())])).await;
    put(&*f.store, row(p1.clone(), vec![], &[("v", 3.into())])).await;
    assert_eq!(
        cells_of(&*f.store, &p1, &[]).await,
        cells(&[("v", 3.into())])
    );
    let slice = f
        .store
        .slice(&SliceQuery::partition(p2.clone()))
        .await
        .unwrap();
    assert_eq!(slice, vec![row(p2.clone(), vec![], &[("v", 2.into())])]);
    // The partition key's prefix alone is not a partition.
    assert_invalid(
        f.store
            .slice(&SliceQuery::partition(vec!["acme".into()]))
            .await,
        "partition",
    );
    assert!(f.store.delete(&p2, &[]).await.unwrap());
    assert_eq!(f.store.get(&p2, &[]).await.unwrap(), None);
}
