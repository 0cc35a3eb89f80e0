//! The key-value behaviour suite.
//!
//! Every case gets a fresh entity of its own. Cases that need a capability the backend lacks
//! check that the backend refuses the operation with `Unsupported` instead.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{
    KeyValueStore, SetCondition, SetOptions, MAX_KEY_BYTES,
};
use polyroute_adapters::{ErrorKind, Result};

use crate::support::Fixture;

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// returning `Fixture<dyn KeyValueStore>`, and the isolation case against `$pair`, an async fn
/// returning two fixtures for two entities opened on one store.
/// After a `;`, a bracketed list of attributes is added to every test, such as the
/// `#[cfg_attr(…, ignore = …)]` that skips a server backend's tests when its server is not set.
#[macro_export]
macro_rules! key_value_suite {
    ($factory:path, $pair:path) => {
        $crate::key_value_suite!($factory, $pair; []);
    };
    ($factory:path, $pair:path; $attrs:tt) => {
        $crate::__suite_cases!(key_value; $factory().await; $attrs;
            get_missing_returns_none,
            set_then_get_round_trips,
            get_now_agrees_with_get,
            delete_reports_whether_the_key_existed,
            set_overwrites_the_value,
            if_absent_writes_only_missing_keys,
            if_present_writes_only_existing_keys,
            get_many_keeps_order_and_reports_missing_keys,
            get_many_of_no_keys_is_empty,
            set_many_writes_every_entry,
            set_many_with_ttl_expires_every_entry,
            increment_creates_a_missing_key,
            increment_adds_positive_and_negative_deltas,
            increment_reads_and_writes_decimal_text,
            increment_of_a_non_integer_is_invalid,
            increment_overflow_is_invalid,
            entries_expire_after_their_ttl,
            expired_keys_count_as_absent,
            zero_ttl_is_invalid,
            overwrite_without_ttl_keeps_the_entry,
            increment_keeps_an_existing_ttl,
            unicode_keys_and_values_round_trip,
            empty_value_is_not_absent,
            large_value_round_trips,
            concurrent_increments_are_exact,
            concurrent_writers_on_distinct_keys_all_land,
            set_racing_increments_is_never_lost,
            delete_racing_increments_is_never_lost,
            keys_at_the_size_limit_round_trip_and_longer_ones_are_invalid,
        );

        $crate::key_value_suite!(@isolation $pair; $attrs);
    };
    (@isolation $pair:path; [$($attr:tt)*]) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn entities_on_one_store_are_isolated() {
            let [first, second] = $pair().await;
            $crate::key_value::entities_on_one_store_are_isolated(first, second).await;
        }
    };
}

/// How long a case waits for a short-lived entry to expire before failing: generous, since the
/// point is that it expires at all, not how promptly.
const EXPIRY_BOUND: Duration = Duration::from_secs(15);

/// A TTL short enough to wait out in a test.
const SHORT_TTL: Duration = Duration::from_millis(300);

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[track_caller]
fn assert_error<T: std::fmt::Debug>(result: Result<T>, kind: ErrorKind) {
    match result {
        Ok(value) => panic!("expected a {kind:?} error, got Ok({value:?})"),
        Err(err) => assert_eq!(err.kind(), kind, "unexpected error: {err}"),
    }
}

/// Polls until `key` reads as absent; false if it is still there after [`EXPIRY_BOUND`].
async fn expires(store: &dyn KeyValueStore, key: &str) -> bool {
    let deadline = tokio::time::Instant::now() + EXPIRY_BOUND;
    loop {
        if store.get(key).await.unwrap().is_none() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True when the backend has TTLs; otherwise checks that a write with one is refused as
/// unsupported and writes nothing, and returns false.
async fn has_ttl(f: &Fixture<dyn KeyValueStore>) -> bool {
    if f.capabilities.ttl {
        return true;
    }
    let store = &f.store;
    assert_error(
        store
            .set(
                "ttl_probe",
                bytes("v"),
                SetOptions::ttl(Duration::from_secs(60)),
            )
            .await,
        ErrorKind::Unsupported,
    );
    assert_error(
        store
            .set_many(
                vec![("ttl_probe".into(), bytes("v"))],
                Some(Duration::from_secs(60)),
            )
            .await,
        ErrorKind::Unsupported,
    );
    assert_eq!(store.get("ttl_probe").await.unwrap(), None);
    false
}

/// True when the backend has atomic increments; otherwise checks that one is refused as
/// unsupported and returns false.
async fn has_increment(f: &Fixture<dyn KeyValueStore>) -> bool {
    if f.capabilities.atomic_increment {
        return true;
    }
    assert_error(
        f.store.increment("counter_probe", 1).await,
        ErrorKind::Unsupported,
    );
    assert_eq!(f.store.get("counter_probe").await.unwrap(), None);
    false
}

pub async fn get_missing_returns_none(f: Fixture<dyn KeyValueStore>) {
    let store: Arc<dyn KeyValueStore> = f.store;
    assert_eq!(store.get("absent").await.unwrap(), None::<Bytes>);
}

pub async fn set_then_get_round_trips(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    assert!(store
        .set("greeting", bytes("hello"), SetOptions::default())
        .await
        .unwrap());
    assert_eq!(store.get("greeting").await.unwrap(), Some(bytes("hello")));
    let binary = Bytes::from((0..=255u8).collect::<Vec<u8>>());
    assert!(store
        .set("binary", binary.clone(), SetOptions::default())
        .await
        .unwrap());
    assert_eq!(store.get("binary").await.unwrap(), Some(binary));
}

/// A store that answers at once answers as `get` does (present, absent and expired keys), and
/// one that says it does answers every time.
pub async fn get_now_agrees_with_get(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    store
        .set("now_present", bytes("here"), SetOptions::default())
        .await
        .unwrap();
    if f.capabilities.ttl {
        store
            .set("now_expired", bytes("gone"), SetOptions::ttl(SHORT_TTL))
            .await
            .unwrap();
        assert!(expires(&*store, "now_expired").await, "never expired");
    }
    for key in ["now_present", "now_absent", "now_expired"] {
        match store.get_now(key) {
            Some(now) => assert_eq!(now.unwrap(), store.get(key).await.unwrap(), "{key}"),
            None => assert!(!store.answers_now(), "answers now, yet not for {key}"),
        }
    }
}

pub async fn delete_reports_whether_the_key_existed(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    store
        .set("doomed", bytes("x"), SetOptions::default())
        .await
        .unwrap();
    store
        .set("kept", bytes("y"), SetOptions::default())
        .await
        .unwrap();
    assert!(store.delete("doomed").await.unwrap());
    assert_eq!(store.get("doomed").await.unwrap(), None);
    assert!(!store.delete("doomed").await.unwrap());
    assert!(!store.delete("never_written").await.unwrap());
    assert_eq!(store.get("kept").await.unwrap(), Some(bytes("y")));
}

pub async fn set_overwrites_the_value(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    store
        .set("k", bytes("first"), SetOptions::default())
        .await
        .unwrap();
    assert!(store
        .set("k", bytes("second, and longer"), SetOptions::default())
        .await
        .unwrap());
    assert_eq!(
        store.get("k").await.unwrap(),
        Some(bytes("second, and longer"))
    );
    store
        .set("k", bytes("3"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(bytes("3")));
}

pub async fn if_absent_writes_only_missing_keys(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    assert!(store
        .set("lock", bytes("owner-a"), SetOptions::if_absent())
        .await
        .unwrap());
    assert!(!store
        .set("lock", bytes("owner-b"), SetOptions::if_absent())
        .await
        .unwrap());
    assert_eq!(store.get("lock").await.unwrap(), Some(bytes("owner-a")));
    store.delete("lock").await.unwrap();
    assert!(store
        .set("lock", bytes("owner-b"), SetOptions::if_absent())
        .await
        .unwrap());
    assert_eq!(store.get("lock").await.unwrap(), Some(bytes("owner-b")));
}

pub async fn if_present_writes_only_existing_keys(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    let if_present = SetOptions {
        condition: SetCondition::IfPresent,
        ..SetOptions::default()
    };
    assert!(!store.set("k", bytes("v1"), if_present).await.unwrap());
    assert_eq!(store.get("k").await.unwrap(), None);
    store
        .set("k", bytes("v2"), SetOptions::default())
        .await
        .unwrap();
    assert!(store.set("k", bytes("v3"), if_present).await.unwrap());
    assert_eq!(store.get("k").await.unwrap(), Some(bytes("v3")));
}

pub async fn get_many_keeps_order_and_reports_missing_keys(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    for (key, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
        store
            .set(key, bytes(value), SetOptions::default())
            .await
            .unwrap();
    }
    let values = store
        .get_many(&keys(&["c", "missing", "a", "b", "a", "also_missing"]))
        .await
        .unwrap();
    assert_eq!(
        values,
        vec![
            Some(bytes("3")),
            None,
            Some(bytes("1")),
            Some(bytes("2")),
            Some(bytes("1")),
            None
        ]
    );
}

pub async fn get_many_of_no_keys_is_empty(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    store
        .set("a", bytes("1"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.get_many(&[]).await.unwrap(),
        Vec::<Option<Bytes>>::new()
    );
    assert_eq!(
        store.get_many(&keys(&["missing"])).await.unwrap(),
        vec![None]
    );
}

pub async fn set_many_writes_every_entry(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    store
        .set("b", bytes("old"), SetOptions::default())
        .await
        .unwrap();
    let entries: Vec<(String, Bytes)> = (0..50)
        .map(|i| (format!("k{i}"), bytes(&format!("v{i}"))))
        .chain([("b".to_owned(), bytes("new"))])
        .collect();
    store.set_many(entries.clone(), None).await.unwrap();
    let names: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    let values = store.get_many(&names).await.unwrap();
    let expected: Vec<Option<Bytes>> = entries.into_iter().map(|(_, v)| Some(v)).collect();
    assert_eq!(values, expected);
    store.set_many(Vec::new(), None).await.unwrap();
}

pub async fn set_many_with_ttl_expires_every_entry(f: Fixture<dyn KeyValueStore>) {
    if !has_ttl(&f).await {
        return;
    }
    let store = f.store;
    store
        .set_many(
            vec![("s1".into(), bytes("a")), ("s2".into(), bytes("b"))],
            Some(SHORT_TTL),
        )
        .await
        .unwrap();
    store
        .set_many(
            vec![("l1".into(), bytes("c"))],
            Some(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    assert!(expires(&*store, "s1").await, "s1 never expired");
    assert!(expires(&*store, "s2").await, "s2 never expired");
    assert_eq!(store.get("l1").await.unwrap(), Some(bytes("c")));
}

pub async fn increment_creates_a_missing_key(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    let store = f.store;
    assert_eq!(store.increment("fresh", 5).await.unwrap(), 5);
    assert_eq!(store.get("fresh").await.unwrap(), Some(bytes("5")));
    assert_eq!(store.increment("fresh_zero", 0).await.unwrap(), 0);
    assert_eq!(store.get("fresh_zero").await.unwrap(), Some(bytes("0")));
}

pub async fn increment_adds_positive_and_negative_deltas(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    let store = f.store;
    assert_eq!(store.increment("n", 1).await.unwrap(), 1);
    assert_eq!(store.increment("n", 41).await.unwrap(), 42);
    assert_eq!(store.increment("n", -50).await.unwrap(), -8);
    assert_eq!(store.increment("n", 0).await.unwrap(), -8);
    assert_eq!(store.get("n").await.unwrap(), Some(bytes("-8")));
}

pub async fn increment_reads_and_writes_decimal_text(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    let store = f.store;
    store
        .set("n", bytes("41"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(store.increment("n", 1).await.unwrap(), 42);
    assert_eq!(store.get("n").await.unwrap(), Some(bytes("42")));
    store
        .set("neg", bytes("-7"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(store.increment("neg", 2).await.unwrap(), -5);
}

pub async fn increment_of_a_non_integer_is_invalid(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    let store = f.store;
    for (key, value) in [
        ("word", "abc"),
        ("float", "1.5"),
        ("empty", ""),
        ("big", "1e3"),
    ] {
        store
            .set(key, bytes(value), SetOptions::default())
            .await
            .unwrap();
        assert_error(store.increment(key, 1).await, ErrorKind::InvalidRequest);
        assert_eq!(store.get(key).await.unwrap(), Some(bytes(value)), "{key}");
    }
    let not_utf8 = Bytes::from_static(&[0xff, 0xfe]);
    store
        .set("binary", not_utf8.clone(), SetOptions::default())
        .await
        .unwrap();
    assert_error(
        store.increment("binary", 1).await,
        ErrorKind::InvalidRequest,
    );
    assert_eq!(store.get("binary").await.unwrap(), Some(not_utf8));
}

pub async fn increment_overflow_is_invalid(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    let store = f.store;
    let max = i64::MAX.to_string();
    assert_eq!(store.increment("max", i64::MAX).await.unwrap(), i64::MAX);
    assert_error(store.increment("max", 1).await, ErrorKind::InvalidRequest);
    assert_eq!(store.get("max").await.unwrap(), Some(bytes(&max)));
    assert_eq!(store.increment("max", -1).await.unwrap(), i64::MAX - 1);

    let min = i64::MIN.to_string();
    store
        .set("min", bytes(&min), SetOptions::default())
        .await
        .unwrap();
    assert_error(store.increment("min", -1).await, ErrorKind::InvalidRequest);
    assert_eq!(store.get("min").await.unwrap(), Some(bytes(&min)));
}

pub async fn entries_expire_after_their_ttl(f: Fixture<dyn KeyValueStore>) {
    if !has_ttl(&f).await {
        return;
    }
    let store = f.store;
    assert!(store
        .set("short", bytes("soon gone"), SetOptions::ttl(SHORT_TTL))
        .await
        .unwrap());
    store
        .set(
            "long",
            bytes("stays"),
            SetOptions::ttl(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    store
        .set("forever", bytes("stays too"), SetOptions::default())
        .await
        .unwrap();
    // Read right away it is either still there, with its value, or (on a stalled machine)
    // already gone; never anything else.
    if let Some(value) = store.get("short").await.unwrap() {
        assert_eq!(value, bytes("soon gone"));
    }
    assert!(expires(&*store, "short").await, "entry never expired");
    assert_eq!(store.get("long").await.unwrap(), Some(bytes("stays")));
    assert_eq!(
        store.get("forever").await.unwrap(),
        Some(bytes("stays too"))
    );
}

pub async fn expired_keys_count_as_absent(f: Fixture<dyn KeyValueStore>) {
    if !has_ttl(&f).await {
        return;
    }
    let store = f.store;
    for key in ["gone_delete", "gone_present", "gone_absent", "gone_counter"] {
        store
            .set(key, bytes("7"), SetOptions::ttl(SHORT_TTL))
            .await
            .unwrap();
    }
    for key in ["gone_delete", "gone_present", "gone_absent", "gone_counter"] {
        assert!(expires(&*store, key).await, "{key} never expired");
    }
    assert!(!store.delete("gone_delete").await.unwrap());
    let if_present = SetOptions {
        condition: SetCondition::IfPresent,
        ..SetOptions::default()
    };
    assert!(!store
        .set("gone_present", bytes("x"), if_present)
        .await
        .unwrap());
    assert_eq!(store.get("gone_present").await.unwrap(), None);
    assert!(store
        .set("gone_absent", bytes("x"), SetOptions::if_absent())
        .await
        .unwrap());
    assert_eq!(store.get("gone_absent").await.unwrap(), Some(bytes("x")));
    if f.capabilities.atomic_increment {
        assert_eq!(store.increment("gone_counter", 1).await.unwrap(), 1);
    }
}

pub async fn zero_ttl_is_invalid(f: Fixture<dyn KeyValueStore>) {
    let store = &f.store;
    // Without TTLs at all, refusing the option as unsupported is as good as refusing zero.
    let expected = |kind: ErrorKind| {
        kind == ErrorKind::InvalidRequest || (!f.capabilities.ttl && kind == ErrorKind::Unsupported)
    };
    for options in [
        SetOptions::ttl(Duration::ZERO),
        SetOptions::if_absent().with_ttl(Duration::ZERO),
    ] {
        let err = store.set("k", bytes("v"), options).await.unwrap_err();
        assert!(expected(err.kind()), "unexpected error: {err}");
    }
    let err = store
        .set_many(
            vec![("k".into(), bytes("v")), ("k2".into(), bytes("v"))],
            Some(Duration::ZERO),
        )
        .await
        .unwrap_err();
    assert!(expected(err.kind()), "unexpected error: {err}");
    assert_eq!(
        store.get_many(&keys(&["k", "k2"])).await.unwrap(),
        vec![None, None]
    );
}

pub async fn overwrite_without_ttl_keeps_the_entry(f: Fixture<dyn KeyValueStore>) {
    if !has_ttl(&f).await {
        return;
    }
    let store = f.store;
    store
        .set("k", bytes("temporary"), SetOptions::ttl(SHORT_TTL))
        .await
        .unwrap();
    store
        .set("k", bytes("permanent"), SetOptions::default())
        .await
        .unwrap();
    // A sentinel written after the overwrite, with the same TTL, tells when the first TTL has
    // certainly passed.
    store
        .set("sentinel", bytes("x"), SetOptions::ttl(SHORT_TTL))
        .await
        .unwrap();
    assert!(expires(&*store, "sentinel").await, "sentinel never expired");
    assert_eq!(store.get("k").await.unwrap(), Some(bytes("permanent")));
}

pub async fn increment_keeps_an_existing_ttl(f: Fixture<dyn KeyValueStore>) {
    if !has_ttl(&f).await || !has_increment(&f).await {
        return;
    }
    let store = f.store;
    // On a machine stalled past the TTL the increment finds the key expired and starts afresh
    // (without a TTL, correctly); then try again with a new key.
    for attempt in 0..5 {
        let key = format!("counter_{attempt}");
        store
            .set(
                &key,
                bytes("1"),
                SetOptions::ttl(Duration::from_millis(400)),
            )
            .await
            .unwrap();
        if store.increment(&key, 1).await.unwrap() != 2 {
            continue;
        }
        assert!(
            expires(&*store, &key).await,
            "the increment dropped the counter's TTL"
        );
        // A counter without a TTL keeps none after an increment.
        assert_eq!(store.increment("plain", 1).await.unwrap(), 1);
        store
            .set("sentinel", bytes("x"), SetOptions::ttl(SHORT_TTL))
            .await
            .unwrap();
        assert!(expires(&*store, "sentinel").await);
        assert_eq!(store.get("plain").await.unwrap(), Some(bytes("1")));
        return;
    }
    panic!("every increment found its counter already expired");
}

pub async fn unicode_keys_and_values_round_trip(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    let pairs = [
        ("clé", "valeur é"),
        ("ключ", "значение"),
        ("鍵🔑", "値 ✓"),
        ("spaces and: colons/slashes", "ok"),
        ("e\u{301}", "combining accent"),
        ("é", "precomposed accent"),
    ];
    for (key, value) in pairs {
        store
            .set(key, bytes(value), SetOptions::default())
            .await
            .unwrap();
    }
    for (key, value) in pairs {
        assert_eq!(store.get(key).await.unwrap(), Some(bytes(value)), "{key}");
    }
    let names: Vec<String> = pairs.iter().map(|(k, _)| (*k).to_owned()).collect();
    assert_eq!(store.get_many(&names).await.unwrap().len(), pairs.len());
    assert!(store.delete("鍵🔑").await.unwrap());
    assert_eq!(store.get("鍵🔑").await.unwrap(), None);
}

pub async fn empty_value_is_not_absent(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    store
        .set("empty", Bytes::new(), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(store.get("empty").await.unwrap(), Some(Bytes::new()));
    assert_eq!(
        store.get_many(&keys(&["empty", "missing"])).await.unwrap(),
        vec![Some(Bytes::new()), None]
    );
    assert!(!store
        .set("empty", bytes("x"), SetOptions::if_absent())
        .await
        .unwrap());
    assert!(store.delete("empty").await.unwrap());
}

pub async fn large_value_round_trips(f: Fixture<dyn KeyValueStore>) {
    let store = f.store;
    let large = Bytes::from(
        (0..1024 * 1024)
            .map(|i: u32| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    store
        .set("large", large.clone(), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(store.get("large").await.unwrap(), Some(large.clone()));
    store
        .set_many(vec![("large2".into(), large.clone())], None)
        .await
        .unwrap();
    assert_eq!(
        store.get_many(&keys(&["large2"])).await.unwrap(),
        vec![Some(large)]
    );
}

pub async fn concurrent_increments_are_exact(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    const TASKS: i64 = 16;
    const EACH: i64 = 200;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&f.store);
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(EACH as usize);
                for _ in 0..EACH {
                    seen.push(store.increment("shared", 1).await.unwrap());
                }
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    // Every increment saw a value no other saw: none was lost or applied twice.
    seen.sort_unstable();
    assert_eq!(seen, (1..=TASKS * EACH).collect::<Vec<_>>());
    assert_eq!(
        f.store.get("shared").await.unwrap(),
        Some(bytes(&(TASKS * EACH).to_string()))
    );
}

pub async fn concurrent_writers_on_distinct_keys_all_land(f: Fixture<dyn KeyValueStore>) {
    const TASKS: usize = 16;
    const EACH: usize = 100;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&f.store);
            tokio::spawn(async move {
                for i in 0..EACH {
                    let key = format!("t{task}_k{i}");
                    let value = bytes(&format!("{task}:{i}"));
                    if i % 2 == 0 {
                        store.set(&key, value, SetOptions::default()).await.unwrap();
                    } else {
                        store.set_many(vec![(key, value)], None).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let names: Vec<String> = (0..TASKS)
        .flat_map(|task| (0..EACH).map(move |i| format!("t{task}_k{i}")))
        .collect();
    let values = f.store.get_many(&names).await.unwrap();
    let expected: Vec<Option<Bytes>> = (0..TASKS)
        .flat_map(|task| (0..EACH).map(move |i| Some(bytes(&format!("{task}:{i}")))))
        .collect();
    assert_eq!(values, expected);
}

/// Starts `count` increments of `key` on another task, and returns once the first has landed.
async fn start_incrementing(
    store: &Arc<dyn KeyValueStore>,
    key: &str,
    count: usize,
) -> tokio::task::JoinHandle<Vec<i64>> {
    let task = {
        let (store, key) = (Arc::clone(store), key.to_owned());
        tokio::spawn(async move {
            let mut seen = Vec::with_capacity(count);
            for _ in 0..count {
                seen.push(store.increment(&key, 1).await.unwrap());
            }
            seen
        })
    };
    // A task that failed ends early: awaiting it then reports why.
    while store.get(key).await.unwrap().is_none() && !task.is_finished() {
        tokio::task::yield_now().await;
    }
    task
}

/// Rounds of a plain write racing a stream of increments on one key; the race is in timing,
/// so several rounds make a lost write likely to show.
const RACE_ROUNDS: usize = 40;
const RACE_INCREMENTS: usize = 2_000;

pub async fn set_racing_increments_is_never_lost(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    const BASE: i64 = 1_000_000_000_000;
    for round in 0..RACE_ROUNDS {
        let key = format!("race_set_{round}");
        let increments = start_incrementing(&f.store, &key, RACE_INCREMENTS).await;
        f.store
            .set(&key, bytes(&BASE.to_string()), SetOptions::default())
            .await
            .unwrap();
        let seen = increments.await.unwrap();
        // Whenever the write landed, every increment after it builds on it.
        let after = seen.iter().filter(|n| **n > BASE).count() as i64;
        assert_eq!(
            f.store.get(&key).await.unwrap(),
            Some(bytes(&(BASE + after).to_string())),
            "round {round}: the write was lost to an increment"
        );
    }
}

pub async fn delete_racing_increments_is_never_lost(f: Fixture<dyn KeyValueStore>) {
    if !has_increment(&f).await {
        return;
    }
    for round in 0..RACE_ROUNDS {
        let key = format!("race_delete_{round}");
        let increments = start_incrementing(&f.store, &key, RACE_INCREMENTS).await;
        assert!(f.store.delete(&key).await.unwrap());
        let seen = increments.await.unwrap();
        // The increments count 1, 2, … and, after the delete, start again from 1 (or, if the
        // delete came last, the key is gone).
        let restarts: Vec<usize> = (1..seen.len()).filter(|i| seen[*i] == 1).collect();
        let last = seen.last().copied();
        match restarts.as_slice() {
            [] => assert_eq!(
                f.store.get(&key).await.unwrap(),
                None,
                "round {round}: the delete was lost to an increment"
            ),
            [_] => assert_eq!(
                f.store.get(&key).await.unwrap(),
                last.map(|n| bytes(&n.to_string())),
                "round {round}"
            ),
            more => panic!("round {round}: counter restarted {} times", more.len()),
        }
    }
}

pub async fn entities_on_one_store_are_isolated(
    first: Fixture<dyn KeyValueStore>,
    second: Fixture<dyn KeyValueStore>,
) {
    let (a, b) = (first.store, second.store);
    a.set("shared", bytes("from a"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(b.get("shared").await.unwrap(), None);
    assert!(b
        .set("shared", bytes("from b"), SetOptions::if_absent())
        .await
        .unwrap());
    assert_eq!(a.get("shared").await.unwrap(), Some(bytes("from a")));
    assert_eq!(b.get("shared").await.unwrap(), Some(bytes("from b")));

    assert!(a.delete("shared").await.unwrap());
    assert_eq!(b.get("shared").await.unwrap(), Some(bytes("from b")));
    assert!(!a.delete("shared").await.unwrap());

    b.set_many(vec![("only_b".into(), bytes("1"))], None)
        .await
        .unwrap();
    assert_eq!(
        a.get_many(&keys(&["only_b", "shared"])).await.unwrap(),
        vec![None, None]
    );
    if first.capabilities.atomic_increment {
        assert_eq!(a.increment("count", 5).await.unwrap(), 5);
        assert_eq!(b.increment("count", 1).await.unwrap(), 1);
        assert_eq!(a.get("count").await.unwrap(), Some(bytes("5")));
    }
}

/// A key of [`MAX_KEY_BYTES`] is stored by every backend; one byte more is refused in every
/// operation, and nothing is written.
pub async fn keys_at_the_size_limit_round_trip_and_longer_ones_are_invalid(
    f: Fixture<dyn KeyValueStore>,
) {
    let store = &*f.store;
    let longest = "é".repeat(MAX_KEY_BYTES / 2);
    let value = Bytes::from_static(b"v");
    assert!(store
        .set(&longest, value.clone(), SetOptions::default())
        .await
        .unwrap());
    assert_eq!(store.get(&longest).await.unwrap(), Some(value.clone()));
    assert_eq!(
        store
            .increment(&"n".repeat(MAX_KEY_BYTES), 1)
            .await
            .unwrap(),
        1
    );
    assert!(store.delete(&longest).await.unwrap());

    let long = "k".repeat(MAX_KEY_BYTES + 1);
    let invalid = |result: Result<()>, op: &str| {
        let err = result.expect_err(op);
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{op}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("`key`") && text.contains(&MAX_KEY_BYTES.to_string()),
            "{text}"
        );
    };
    invalid(
        store
            .set(&long, value.clone(), SetOptions::default())
            .await
            .map(drop),
        "set",
    );
    invalid(store.get(&long).await.map(drop), "get");
    invalid(store.delete(&long).await.map(drop), "delete");
    invalid(store.increment(&long, 1).await.map(drop), "increment");
    invalid(
        store
            .get_many(&["a".to_owned(), long.clone()])
            .await
            .map(drop),
        "get_many",
    );
    invalid(
        store
            .set_many(
                vec![
                    ("a".to_owned(), value.clone()),
                    (long.clone(), value.clone()),
                ],
                None,
            )
            .await,
        "set_many",
    );
    if store.answers_now() {
        invalid(
            store.get_now(&long).expect("answers now").map(drop),
            "get_now",
        );
    }
    // The batch was refused whole: its valid key was not written.
    assert_eq!(store.get("a").await.unwrap(), None);
}
