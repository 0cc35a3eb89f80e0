//! Partition slices: clustering order, bounds, prefixes, limits.

use std::ops::Bound::{Excluded, Included};

use polyroute_adapters::kinds::wide_column::{SliceQuery, WideColumnSettings};
use polyroute_adapters::Value;

use super::{assert_invalid, at_seq, event, events, keys, put, row, Factory};

fn ann() -> SliceQuery {
    SliceQuery::partition(vec!["ann".into()])
}

/// Seeds `ann` with `(at, seq)` for `at` in -2..=2 and `seq` in 0..3, written out of order.
async fn seed_grid(store: &dyn polyroute_adapters::kinds::wide_column::WideColumnStore) {
    for seq in [2, 0, 1] {
        for at in [1, -2, 0, 2, -1] {
            put(
                store,
                event("ann", at, seq, &[("v", (at * 10 + seq).into())]),
            )
            .await;
        }
    }
}

fn grid(ats: std::ops::RangeInclusive<i64>) -> Vec<(i64, i64)> {
    ats.flat_map(|at| (0..3).map(move |seq| (at, seq)))
        .collect()
}

pub async fn slice_of_an_empty_partition_is_empty(new: impl Factory) {
    let f = new(events()).await;
    put(&*f.store, event("bob", 1, 1, &[])).await;
    assert!(keys(&*f.store, ann()).await.is_empty());
    assert!(keys(&*f.store, ann().descending().limit(5))
        .await
        .is_empty());
    // An empty range of a full partition, and a limit of zero.
    seed_grid(&*f.store).await;
    let empty = ann()
        .from(Excluded(vec![1.into()]))
        .to(Excluded(vec![2.into()]));
    assert!(keys(&*f.store, empty).await.is_empty());
    let inverted = ann()
        .from(Included(vec![2.into()]))
        .to(Included(vec![(-2).into()]));
    assert!(keys(&*f.store, inverted).await.is_empty());
    assert!(keys(&*f.store, ann().limit(0)).await.is_empty());
}

pub async fn slice_returns_the_partition_in_clustering_order(new: impl Factory) {
    let f = new(events()).await;
    seed_grid(&*f.store).await;
    let rows = f.store.slice(&ann()).await.unwrap();
    let order: Vec<_> = rows.iter().map(|r| r.clustering.clone()).collect();
    assert_eq!(order, at_seq(&grid(-2..=2)));
    for r in &rows {
        assert_eq!(r.partition, vec![Value::from("ann")]);
        let (Value::Int(at), Value::Int(seq)) = (&r.clustering[0], &r.clustering[1]) else {
            panic!("unexpected key {:?}", r.clustering);
        };
        assert_eq!(r.cells.get("v"), Some(&Value::Int(at * 10 + seq)));
    }
    let mut reversed = at_seq(&grid(-2..=2));
    reversed.reverse();
    assert_eq!(keys(&*f.store, ann().descending()).await, reversed);
}

pub async fn slice_descending_with_limit_returns_the_newest(new: impl Factory) {
    let f = new(WideColumnSettings::new(
        vec!["user".into()],
        vec!["at".into()],
    ))
    .await;
    let rows: Vec<_> = (0..500i64)
        .map(|i| {
            row(
                vec!["ann".into()],
                vec![Value::Timestamp(i * 1_000)],
                &[("i", i.into())],
            )
        })
        .collect();
    f.store.put_batch(rows, Default::default()).await.unwrap();
    let newest = f.store.slice(&ann().descending().limit(100)).await.unwrap();
    let ids: Vec<_> = newest.iter().map(|r| r.cells["i"].clone()).collect();
    let expected: Vec<Value> = (400..500).rev().map(Value::Int).collect();
    assert_eq!(ids, expected);
    let oldest = keys(&*f.store, ann().limit(3)).await;
    assert_eq!(
        oldest,
        vec![
            vec![Value::Timestamp(0)],
            vec![Value::Timestamp(1_000)],
            vec![Value::Timestamp(2_000)]
        ]
    );
    // A limit past the partition's size returns it all.
    assert_eq!(keys(&*f.store, ann().limit(10_000)).await.len(), 500);
}

pub async fn slice_bounds_are_inclusive_or_exclusive(new: impl Factory) {
    let f = new(events()).await;
    seed_grid(&*f.store).await;
    let s = &*f.store;
    let full = |at: i64, seq: i64| vec![Value::Int(at), Value::Int(seq)];
    let q = ann().from(Included(full(-1, 1))).to(Included(full(1, 1)));
    assert_eq!(
        keys(s, q).await,
        at_seq(&[(-1, 1), (-1, 2), (0, 0), (0, 1), (0, 2), (1, 0), (1, 1)])
    );
    let q = ann().from(Excluded(full(-1, 1))).to(Excluded(full(1, 1)));
    assert_eq!(
        keys(s, q).await,
        at_seq(&[(-1, 2), (0, 0), (0, 1), (0, 2), (1, 0)])
    );
    let q = ann().from(Excluded(full(1, 1)));
    assert_eq!(keys(s, q).await, at_seq(&[(1, 2), (2, 0), (2, 1), (2, 2)]));
    let q = ann().to(Excluded(full(-1, 1)));
    assert_eq!(
        keys(s, q).await,
        at_seq(&[(-2, 0), (-2, 1), (-2, 2), (-1, 0)])
    );
    // Descending walks the same range backwards; the limit counts from its start.
    let q = ann()
        .from(Included(full(-1, 1)))
        .to(Excluded(full(1, 1)))
        .descending()
        .limit(4);
    assert_eq!(keys(s, q).await, at_seq(&[(1, 0), (0, 2), (0, 1), (0, 0)]));
    // A single row.
    let q = ann().from(Included(full(0, 1))).to(Included(full(0, 1)));
    assert_eq!(keys(s, q).await, at_seq(&[(0, 1)]));
}

pub async fn slice_prefix_bounds_cover_whole_groups(new: impl Factory) {
    let f = new(events()).await;
    seed_grid(&*f.store).await;
    let s = &*f.store;
    let at = |v: i64| vec![Value::Int(v)];
    assert_eq!(
        keys(s, ann().from(Included(at(0))).to(Included(at(0)))).await,
        at_seq(&grid(0..=0))
    );
    assert_eq!(
        keys(s, ann().from(Included(at(-1))).to(Included(at(1)))).await,
        at_seq(&grid(-1..=1))
    );
    assert_eq!(
        keys(s, ann().from(Excluded(at(-1))).to(Excluded(at(2)))).await,
        at_seq(&grid(0..=1))
    );
    assert_eq!(
        keys(s, ann().from(Excluded(at(0)))).await,
        at_seq(&grid(1..=2))
    );
    assert_eq!(
        keys(s, ann().to(Excluded(at(0)))).await,
        at_seq(&grid(-2..=-1))
    );
    // Every key starts with the empty prefix: including it bounds nothing, excluding it
    // excludes every row.
    assert_eq!(
        keys(s, ann().from(Included(vec![])).to(Included(vec![])))
            .await
            .len(),
        15
    );
    assert!(keys(s, ann().from(Excluded(vec![]))).await.is_empty());
    assert!(keys(s, ann().to(Excluded(vec![]))).await.is_empty());
    // Prefixes mixed with full keys.
    let q = ann()
        .from(Included(vec![0.into(), 2.into()]))
        .to(Included(at(1)))
        .descending();
    assert_eq!(keys(s, q).await, at_seq(&[(1, 2), (1, 1), (1, 0), (0, 2)]));
}

pub async fn slice_stays_inside_its_partition(new: impl Factory) {
    let f = new(events()).await;
    // Partition keys that are prefixes of each other, with and without NUL, and empty.
    let users = ["a", "ab", "a\0", "", "b", "\u{10FFFF}"];
    for (i, user) in users.iter().enumerate() {
        for seq in 0..3 {
            put(&*f.store, event(user, i as i64, seq, &[])).await;
        }
    }
    for (i, user) in users.iter().enumerate() {
        let q = SliceQuery::partition(vec![(*user).into()]);
        let want = at_seq(&[(i as i64, 0), (i as i64, 1), (i as i64, 2)]);
        assert_eq!(keys(&*f.store, q.clone()).await, want, "user {user:?}");
        let mut backwards = want;
        backwards.reverse();
        assert_eq!(
            keys(&*f.store, q.descending()).await,
            backwards,
            "user {user:?}"
        );
    }
    // An int partition key next to them.
    let ints = WideColumnSettings::new(vec!["n".into()], vec!["c".into()]);
    let g = new(ints).await;
    for n in [-1i64, 0, 1, i64::MAX, i64::MIN] {
        put(&*g.store, row(vec![n.into()], vec![n.into()], &[])).await;
    }
    for n in [-1i64, 0, 1, i64::MAX, i64::MIN] {
        let found = keys(&*g.store, SliceQuery::partition(vec![n.into()])).await;
        assert_eq!(found, vec![vec![Value::Int(n)]]);
    }
}

pub async fn text_and_bytes_cluster_by_code_point_with_prefixes_first(new: impl Factory) {
    let f = new(WideColumnSettings::new(vec!["p".into()], vec!["k".into()])).await;
    let texts = [
        "b",
        "a",
        "",
        "ab",
        "a\0",
        "a\0\0",
        "é",
        "Z",
        "日本",
        "\u{7F}",
        "\u{FFFF}",
        "\u{10000}",
    ];
    for t in texts {
        put(&*f.store, row(vec![1.into()], vec![t.into()], &[])).await;
    }
    let mut sorted = texts.to_vec();
    sorted.sort_by(|a, b| a.chars().cmp(b.chars()));
    let want: Vec<Vec<Value>> = sorted.iter().map(|t| vec![(*t).into()]).collect();
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec![1.into()])).await,
        want
    );
    let blobs: [&[u8]; 7] = [&[1], &[], &[0], &[0, 0], &[0, 255], &[255], &[1, 0]];
    for b in blobs {
        put(&*f.store, row(vec![2.into()], vec![b.to_vec().into()], &[])).await;
    }
    let mut sorted = blobs.to_vec();
    sorted.sort();
    let want: Vec<Vec<Value>> = sorted.iter().map(|b| vec![b.to_vec().into()]).collect();
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec![2.into()])).await,
        want
    );
    // A range by text: from "a" (inclusive) to "b" (exclusive).
    let q = SliceQuery::partition(vec![1.into()])
        .from(std::ops::Bound::Included(vec!["a".into()]))
        .to(std::ops::Bound::Excluded(vec!["b".into()]));
    let want: Vec<Vec<Value>> = ["a", "a\0", "a\0\0", "ab"]
        .iter()
        .map(|t| vec![(*t).into()])
        .collect();
    assert_eq!(keys(&*f.store, q).await, want);
}

pub async fn floats_and_timestamps_cluster_numerically(new: impl Factory) {
    let f = new(WideColumnSettings::new(vec!["p".into()], vec!["k".into()])).await;
    let floats = [
        3.5,
        -0.25,
        f64::INFINITY,
        0.0,
        -1e300,
        1e-300,
        f64::NEG_INFINITY,
        2.0,
        -7.0,
    ];
    for x in floats {
        put(&*f.store, row(vec!["f".into()], vec![x.into()], &[])).await;
    }
    let mut sorted = floats.to_vec();
    sorted.sort_by(f64::total_cmp);
    let want: Vec<Vec<Value>> = sorted.iter().map(|x| vec![(*x).into()]).collect();
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec!["f".into()])).await,
        want
    );
    let stamps = [5i64, -5, 0, i64::MAX, i64::MIN, 1_700_000_000_000_000_000];
    for t in stamps {
        put(
            &*f.store,
            row(vec!["t".into()], vec![Value::Timestamp(t)], &[]),
        )
        .await;
    }
    let mut sorted = stamps.to_vec();
    sorted.sort();
    let want: Vec<Vec<Value>> = sorted.iter().map(|t| vec![Value::Timestamp(*t)]).collect();
    assert_eq!(
        keys(&*f.store, SliceQuery::partition(vec!["t".into()])).await,
        want
    );
    let q = SliceQuery::partition(vec!["f".into()])
        .from(std::ops::Bound::Excluded(vec![Value::Float(-1.0)]))
        .to(std::ops::Bound::Included(vec![Value::Float(3.5)]));
    let want: Vec<Vec<Value>> = [-0.25, 0.0, 1e-300, 2.0, 3.5]
        .iter()
        .map(|x| vec![Value::Float(*x)])
        .collect();
    assert_eq!(keys(&*f.store, q).await, want);
}

pub async fn slice_bound_longer_than_the_clustering_key_is_invalid(new: impl Factory) {
    let f = new(events()).await;
    let long = vec![Value::Int(1), Value::Int(2), Value::Int(3)];
    assert_invalid(
        f.store.slice(&ann().from(Included(long.clone()))).await,
        "clustering",
    );
    assert_invalid(f.store.slice(&ann().to(Excluded(long))).await, "clustering");
    let bad = ann().from(Included(vec![Value::Null]));
    assert_invalid(f.store.slice(&bad).await, "`at`");
}
