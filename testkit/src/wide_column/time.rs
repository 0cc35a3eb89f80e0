//! Write timestamps, deletes and TTLs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use polyroute_adapters::kinds::wide_column::{SliceQuery, WideColumnStore, WriteOptions};
use polyroute_adapters::{ErrorKind, Value};

use super::{assert_invalid, cells, cells_of, event, events, keys, put, put_at, Factory};

/// How long a case waits for a short-lived row to expire before failing: generous, since the
/// point is that it expires at all, not how promptly.
const EXPIRY_BOUND: Duration = Duration::from_secs(15);

/// A TTL short enough to wait out in a test.
const SHORT_TTL: Duration = Duration::from_millis(300);

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn with_ttl(ttl: Duration) -> WriteOptions {
    WriteOptions {
        ttl: Some(ttl),
        ..WriteOptions::default()
    }
}

/// Waits until the row at `(user, at, seq)` is gone; fails after [`EXPIRY_BOUND`].
async fn wait_gone(store: &dyn WideColumnStore, user: &str, at: i64, seq: i64) {
    let started = Instant::now();
    while store
        .get(&[user.into()], &[at.into(), seq.into()])
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            started.elapsed() < EXPIRY_BOUND,
            "row did not expire within {EXPIRY_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn older_timestamp_never_overwrites_a_newer_cell(new: impl Factory) {
    let f = new(events()).await;
    let (p, c) = (["ann".into()], [1.into(), 1.into()]);
    put_at(&*f.store, event("ann", 1, 1, &[("a", "new".into())]), 2_000).await;
    // Older: its `a` loses, its `b` is new to the row and lands.
    put_at(
        &*f.store,
        event("ann", 1, 1, &[("a", "old".into()), ("b", "old".into())]),
        1_000,
    )
    .await;
    assert_eq!(
        cells_of(&*f.store, &p, &c).await,
        cells(&[("a", "new".into()), ("b", "old".into())])
    );
    // An older null cannot delete a newer cell; a newer one can.
    put_at(&*f.store, event("ann", 1, 1, &[("a", Value::Null)]), 1_500).await;
    assert_eq!(
        cells_of(&*f.store, &p, &c).await.get("a"),
        Some(&"new".into())
    );
    put_at(&*f.store, event("ann", 1, 1, &[("a", Value::Null)]), 2_500).await;
    assert_eq!(
        cells_of(&*f.store, &p, &c).await,
        cells(&[("b", "old".into())])
    );
    // Batches follow the same rule.
    let batch = vec![event("ann", 1, 1, &[("b", "older".into())])];
    let opts = WriteOptions {
        timestamp: Some(500),
        ..WriteOptions::default()
    };
    f.store.put_batch(batch, opts).await.unwrap();
    assert_eq!(
        cells_of(&*f.store, &p, &c).await,
        cells(&[("b", "old".into())])
    );
}

pub async fn equal_timestamps_resolve_the_same_in_any_order(new: impl Factory) {
    let f = new(events()).await;
    let first = &[("a", Value::from("x")), ("b", Value::Int(1))][..];
    let second = &[
        ("a", Value::from("y")),
        ("b", Value::Null),
        ("c", Value::Int(3)),
    ][..];
    // One order in partition `one`, the other in `two`, all at the same timestamp.
    put_at(&*f.store, event("one", 1, 1, first), 7_000).await;
    put_at(&*f.store, event("one", 1, 1, second), 7_000).await;
    put_at(&*f.store, event("two", 1, 1, second), 7_000).await;
    put_at(&*f.store, event("two", 1, 1, first), 7_000).await;
    let c = [1.into(), 1.into()];
    let one = cells_of(&*f.store, &["one".into()], &c).await;
    let two = cells_of(&*f.store, &["two".into()], &c).await;
    assert_eq!(one, two);
    // Every cell holds one of the written values.
    assert!(
        matches!(one.get("a"), Some(Value::Text(t)) if t == "x" || t == "y"),
        "{one:?}"
    );
    assert_eq!(one.get("c"), Some(&Value::Int(3)));
}

pub async fn equal_timestamps_keep_the_greater_value_in_cassandra_order(new: impl Factory) {
    let f = new(events()).await;
    // (smaller, greater) by Cassandra's order: numbers numerically, text bytewise as UTF-8,
    // whatever their encoded lengths.
    let pairs = [
        (Value::Int(127), Value::Int(128)),
        (Value::Int(-1), Value::Int(1)),
        (Value::Int(255), Value::Int(256)),
        (Value::from("aa"), Value::from("b")),
        (Value::from("z"), Value::from("é")),
        (Value::Float(-2.0), Value::Float(0.5)),
        (Value::Bytes(vec![1, 9, 9]), Value::Bytes(vec![2])),
    ];
    for (i, (smaller, greater)) in pairs.iter().enumerate() {
        let seq = i as i64;
        // Both arrival orders, each in a partition of its own, at one timestamp.
        for (user, first, second) in [("up", smaller, greater), ("down", greater, smaller)] {
            put_at(
                &*f.store,
                event(user, 1, seq, &[("v", first.clone())]),
                5_000,
            )
            .await;
            put_at(
                &*f.store,
                event(user, 1, seq, &[("v", second.clone())]),
                5_000,
            )
            .await;
            let found = cells_of(&*f.store, &[user.into()], &[1.into(), seq.into()]).await;
            assert_eq!(
                found.get("v"),
                Some(greater),
                "{smaller:?} then {greater:?} at one timestamp, arriving {user}"
            );
        }
    }
}

pub async fn writes_without_timestamps_apply_in_call_order(new: impl Factory) {
    let f = new(events()).await;
    for i in 0..200i64 {
        // Alternating high and low values, so a tie-break by value would show.
        let v = if i % 2 == 0 { 1_000 - i } else { i };
        put(&*f.store, event("ann", 1, 1, &[("v", v.into())])).await;
        let found = cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await;
        assert_eq!(found.get("v"), Some(&Value::Int(v)), "write {i}");
    }
}

pub async fn delete_shadows_late_writes_stamped_before_it(new: impl Factory) {
    let f = new(events()).await;
    let (p, c) = (["ann".into()], [1.into(), 1.into()]);
    put_at(&*f.store, event("ann", 1, 1, &[("a", 1.into())]), 1_000).await;
    assert!(f.store.delete(&p, &c).await.unwrap());
    // Arrives after the delete but was stamped before it: stays deleted.
    put_at(&*f.store, event("ann", 1, 1, &[("a", 2.into())]), 2_000).await;
    assert_eq!(f.store.get(&p, &c).await.unwrap(), None);
    // The same for a partition delete.
    put(&*f.store, event("bob", 1, 1, &[])).await;
    f.store.delete_partition(&["bob".into()]).await.unwrap();
    put_at(&*f.store, event("bob", 1, 1, &[("a", 1.into())]), 3_000).await;
    assert!(keys(&*f.store, SliceQuery::partition(vec!["bob".into()]))
        .await
        .is_empty());
    // A write after the delete with the store's clock is newer, and lands.
    put(&*f.store, event("ann", 1, 1, &[("a", 3.into())])).await;
    assert_eq!(cells_of(&*f.store, &p, &c).await, cells(&[("a", 3.into())]));
}

pub async fn delete_removes_a_row_written_with_a_future_timestamp(new: impl Factory) {
    let f = new(events()).await;
    let (p, c) = (["ann".into()], [1.into(), 1.into()]);
    let next_hour = now_micros() + 3_600_000_000;
    put_at(&*f.store, event("ann", 1, 1, &[("a", 1.into())]), next_hour).await;
    put_at(&*f.store, event("ann", 1, 2, &[("a", 1.into())]), next_hour).await;
    assert!(f.store.delete(&p, &c).await.unwrap());
    assert_eq!(f.store.get(&p, &c).await.unwrap(), None);
    f.store.delete_partition(&p).await.unwrap();
    assert!(keys(&*f.store, SliceQuery::partition(vec!["ann".into()]))
        .await
        .is_empty());
}

pub async fn rows_expire_after_their_ttl(new: impl Factory) {
    let f = new(events()).await;
    let result = f
        .store
        .put(event("ann", 1, 1, &[("a", 1.into())]), with_ttl(SHORT_TTL))
        .await;
    if !f.capabilities.ttl {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        return;
    }
    result.unwrap();
    let batch = vec![
        event("ann", 2, 1, &[]),
        event("ann", 3, 1, &[("a", 1.into())]),
    ];
    f.store.put_batch(batch, with_ttl(SHORT_TTL)).await.unwrap();
    put(&*f.store, event("ann", 4, 1, &[("keep", true.into())])).await;
    let long = with_ttl(Duration::from_secs(3600));
    f.store.put(event("ann", 5, 1, &[]), long).await.unwrap();
    for at in 1..=3 {
        wait_gone(&*f.store, "ann", at, 1).await;
    }
    let left = keys(&*f.store, SliceQuery::partition(vec!["ann".into()])).await;
    assert_eq!(left, super::at_seq(&[(4, 1), (5, 1)]));
    let newest = keys(
        &*f.store,
        SliceQuery::partition(vec!["ann".into()])
            .descending()
            .limit(1),
    )
    .await;
    assert_eq!(newest, super::at_seq(&[(5, 1)]));
    assert!(!f
        .store
        .delete(&["ann".into()], &[1.into(), 1.into()])
        .await
        .unwrap());
    // An expired row can be written again.
    put(&*f.store, event("ann", 1, 1, &[("b", 2.into())])).await;
    assert_eq!(
        cells_of(&*f.store, &["ann".into()], &[1.into(), 1.into()]).await,
        cells(&[("b", 2.into())])
    );
}

pub async fn ttl_expires_only_what_its_write_wrote(new: impl Factory) {
    let f = new(events()).await;
    if !f.capabilities.ttl {
        let result = f
            .store
            .put(event("ann", 1, 1, &[]), with_ttl(SHORT_TTL))
            .await;
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        return;
    }
    let (p, c) = (["ann".into()], [1.into(), 1.into()]);
    put(&*f.store, event("ann", 1, 1, &[("kept", 1.into())])).await;
    let expiring = event("ann", 1, 1, &[("brief", 2.into())]);
    f.store.put(expiring, with_ttl(SHORT_TTL)).await.unwrap();
    assert_eq!(cells_of(&*f.store, &p, &c).await.len(), 2);
    let started = Instant::now();
    while cells_of(&*f.store, &p, &c).await.contains_key("brief") {
        assert!(started.elapsed() < EXPIRY_BOUND, "cell did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cells_of(&*f.store, &p, &c).await,
        cells(&[("kept", 1.into())])
    );
}

pub async fn zero_ttl_is_invalid(new: impl Factory) {
    let f = new(events()).await;
    let result = f
        .store
        .put(event("ann", 1, 1, &[]), with_ttl(Duration::ZERO))
        .await;
    if !f.capabilities.ttl {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        return;
    }
    assert_invalid(result, "TTL");
    let batch = f
        .store
        .put_batch(vec![event("ann", 1, 1, &[])], with_ttl(Duration::ZERO))
        .await;
    assert_invalid(batch, "TTL");
    assert_eq!(
        f.store
            .get(&["ann".into()], &[1.into(), 1.into()])
            .await
            .unwrap(),
        None
    );
}
