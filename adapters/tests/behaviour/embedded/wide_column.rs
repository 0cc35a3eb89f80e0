//! The embedded wide-column backend through the wide-column suite, plus durability (reopening,
//! and a writer killed with SIGKILL), purging and its own options.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::embedded::wide_column::{Config, EmbeddedWideColumn};
use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WriteOptions,
};
use polyroute_adapters::registry::ConnectContext;
use polyroute_adapters::units::ConfigDuration;
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind, Value};
use serde_json::json;

use polyroute_testkit::support::{self, unique, Fixture};
use polyroute_testkit::wide_column::{cells, event, events};
use polyroute_testkit::wide_column_suite;

async fn open(
    store: &dyn Store,
    name: &str,
    settings: WideColumnSettings,
) -> Arc<dyn WideColumnStore> {
    let EntityHandle::WideColumn(handle) =
        support::open(store, name, EntitySettings::WideColumn(settings)).await
    else {
        panic!("embedded wide-column store opened a handle of another kind");
    };
    handle
}

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::WideColumn, "embedded", options).await
}

async fn fixture(settings: WideColumnSettings) -> Fixture<dyn WideColumnStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = connect(json!({ "path": dir.path(), "synchronous": "normal" })).await;
    Fixture {
        store: open(&*store, &unique("wc"), settings).await,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(dir)),
    }
}

async fn entity_pair(settings: WideColumnSettings) -> [Fixture<dyn WideColumnStore>; 2] {
    let store = connect(json!({})).await;
    let entity = |name: String| {
        let (store, settings) = (store.clone(), settings.clone());
        async move {
            Fixture {
                store: open(&*store, &name, settings).await,
                capabilities: store.info().capabilities,
                guard: None,
            }
        }
    };
    [entity(unique("wc")).await, entity(unique("wc")).await]
}

wide_column_suite!(fixture, entity_pair);

/// The same suite on the default, fully synchronous, durable store.
mod synchronous_full {
    use super::*;

    async fn fixture(settings: WideColumnSettings) -> Fixture<dyn WideColumnStore> {
        let dir = tempfile::tempdir().unwrap();
        let store = connect(json!({ "path": dir.path() })).await;
        assert!(store.info().capabilities.durable);
        Fixture {
            store: open(&*store, &unique("wc"), settings).await,
            capabilities: store.info().capabilities,
            guard: Some(Box::new(dir)),
        }
    }

    wide_column_suite!(fixture, entity_pair);
}

async fn connect_at(path: &Path, synchronous: &str) -> Arc<dyn Store> {
    connect(json!({ "path": path, "synchronous": synchronous })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_survive_reopening_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let ttl_row = |ttl| WriteOptions {
        ttl: Some(ttl),
        ..WriteOptions::default()
    };
    {
        let store = connect_at(dir.path(), "full").await;
        assert!(store.info().capabilities.durable);
        let events_table = open(&*store, "events", events()).await;
        let rows = (0..100)
            .map(|i| event("ann", i, 0, &[("i", i.into())]))
            .collect();
        events_table
            .put_batch(rows, WriteOptions::default())
            .await
            .unwrap();
        events_table
            .put(
                event("bob", 1, 1, &[("a", 1.into())]),
                WriteOptions::default(),
            )
            .await
            .unwrap();
        events_table
            .put(
                event("bob", 1, 1, &[("a", 2.into())]),
                WriteOptions::default(),
            )
            .await
            .unwrap();
        events_table
            .put(event("bob", 2, 2, &[]), ttl_row(Duration::from_secs(3600)))
            .await
            .unwrap();
        assert!(events_table
            .delete(&["ann".into()], &[0.into(), 0.into()])
            .await
            .unwrap());
        events_table
            .put_batch(vec![event("cat", 1, 1, &[])], WriteOptions::default())
            .await
            .unwrap();
        events_table
            .delete_partition(&["cat".into()])
            .await
            .unwrap();
    }
    let store = connect_at(dir.path(), "full").await;
    let events_table = open(&*store, "events", events()).await;
    let ann = events_table
        .slice(&SliceQuery::partition(vec!["ann".into()]))
        .await
        .unwrap();
    assert_eq!(ann.len(), 99);
    assert_eq!(ann[0].clustering, vec![Value::Int(1), Value::Int(0)]);
    assert_eq!(ann[98].cells, cells(&[("i", 99.into())]));
    let bob = events_table
        .get(&["bob".into()], &[1.into(), 1.into()])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.cells, cells(&[("a", 2.into())]));
    assert!(events_table
        .get(&["bob".into()], &[2.into(), 2.into()])
        .await
        .unwrap()
        .is_some());
    let cat = events_table
        .slice(&SliceQuery::partition(vec!["cat".into()]))
        .await
        .unwrap();
    assert!(cat.is_empty());
    // The deletion still shadows a late write stamped before it.
    let late = WriteOptions {
        timestamp: Some(1),
        ..WriteOptions::default()
    };
    events_table
        .put(event("ann", 0, 0, &[]), late)
        .await
        .unwrap();
    assert_eq!(
        events_table
            .get(&["ann".into()], &[0.into(), 0.into()])
            .await
            .unwrap(),
        None
    );
}

const WRITER_ENV: &str = "POLYROUTE_WIDE_COLUMN_KILL_WRITER";
const KILL_AFTER: usize = 200;

/// One test, two roles: as the parent it starts itself as a writer, reads the writer's
/// acknowledgements, kills it with SIGKILL and checks every acknowledged row is on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    if let Ok(path) = std::env::var(WRITER_ENV) {
        let store = connect_at(Path::new(&path), "normal").await;
        let table = open(&*store, "events", events()).await;
        // Bounded: the parent kills the writer long before it runs out.
        for i in 0..100_000i64 {
            let row = event("ann", i, 0, &[("i", i.into())]);
            if i % 2 == 0 {
                table.put(row, WriteOptions::default()).await.unwrap();
            } else {
                table
                    .put_batch(vec![row, event("bob", i, 0, &[])], WriteOptions::default())
                    .await
                    .unwrap();
            }
            println!("ack {i}");
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embedded::wide_column::acknowledged_writes_survive_kill_9",
            "--nocapture",
        ])
        .env(WRITER_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines arrive through a channel so the wait for them is bounded.
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut acknowledged = Vec::new();
    while acknowledged.len() < KILL_AFTER {
        match received.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(i) = line.strip_prefix("ack ") {
                    acknowledged.push(i.parse::<i64>().unwrap());
                }
            }
            // Stopped writing (timeout) or exited (disconnected): checked below.
            Err(_) => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acknowledged.len(), KILL_AFTER, "the writer stopped early");
    let store = connect_at(dir.path(), "full").await;
    let table = open(&*store, "events", events()).await;
    for i in acknowledged {
        let found = table
            .get(&["ann".into()], &[i.into(), 0.into()])
            .await
            .unwrap();
        assert_eq!(
            found.map(|r| r.cells),
            Some(cells(&[("i", i.into())])),
            "acknowledged row {i} lost"
        );
        if i % 2 == 1 {
            assert!(table
                .get(&["bob".into()], &[i.into(), 0.into()])
                .await
                .unwrap()
                .is_some());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_drops_expired_and_deleted_rows_after_the_grace() {
    let config = Config {
        tombstone_grace: Some(ConfigDuration(Duration::ZERO)),
        ..Config::default()
    };
    let store = EmbeddedWideColumn::open(config, &ConnectContext::default())
        .await
        .unwrap();
    assert!(!store.info().capabilities.durable, "no path: not durable");
    let table = open(&store, "events", events()).await;
    let brief = WriteOptions {
        ttl: Some(Duration::from_millis(1)),
        ..WriteOptions::default()
    };
    for i in 0..10 {
        table.put(event("ann", i, 0, &[]), brief).await.unwrap();
        table
            .put(event("bob", i, 0, &[]), WriteOptions::default())
            .await
            .unwrap();
    }
    table
        .delete(&["bob".into()], &[0.into(), 0.into()])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.purge().await.unwrap(), 11);
    assert_eq!(store.purge().await.unwrap(), 0);
    let bob = table
        .slice(&SliceQuery::partition(vec!["bob".into()]))
        .await
        .unwrap();
    assert_eq!(bob.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_keeps_deletions_until_it_passes() {
    let store = EmbeddedWideColumn::open(Config::default(), &ConnectContext::default())
        .await
        .unwrap();
    let table = open(&store, "events", events()).await;
    table
        .put(event("ann", 1, 0, &[]), WriteOptions::default())
        .await
        .unwrap();
    table
        .delete(&["ann".into()], &[1.into(), 0.into()])
        .await
        .unwrap();
    assert_eq!(
        store.purge().await.unwrap(),
        0,
        "the default grace is an hour"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_an_entity_with_other_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = connect_at(dir.path(), "full").await;
        open(&*store, "events", events()).await;
        let other = WideColumnSettings::new(vec!["user".into()], vec!["at".into()]);
        let spec = polyroute_adapters::EntitySpec::new(
            "events",
            EntitySettings::WideColumn(other.clone()),
        )
        .unwrap();
        let err = store.open(&spec).await.unwrap_err();
        assert!(
            err.to_string().contains("clustering key (at, seq)"),
            "{err}"
        );
    }
    let store = connect_at(dir.path(), "full").await;
    let other = WideColumnSettings::new(vec!["user".into()], vec!["at".into()]);
    let spec =
        polyroute_adapters::EntitySpec::new("events", EntitySettings::WideColumn(other)).unwrap();
    let err = store.open(&spec).await.unwrap_err();
    assert!(err.to_string().contains("exists with"), "{err}");
    open(&*store, "events", events()).await;
}

#[tokio::test]
async fn bad_entity_settings_are_refused() {
    let store = connect(json!({})).await;
    let cases = [
        (
            WideColumnSettings::new(vec![], vec!["at".into()]),
            "at least one partition key",
        ),
        (
            WideColumnSettings::new(vec!["a".into()], vec!["a".into()]),
            "`a`",
        ),
        (
            WideColumnSettings::new(vec!["a".into(), "".into()], vec![]),
            "distinct",
        ),
    ];
    for (settings, needle) in cases {
        let spec =
            polyroute_adapters::EntitySpec::new("t", EntitySettings::WideColumn(settings)).unwrap();
        let err = store.open(&spec).await.unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    store.ping().await.unwrap();
}

#[tokio::test]
async fn options_are_checked() {
    use polyroute_adapters::registry::validate;
    let err = validate(
        StoreKind::WideColumn,
        "embedded",
        &json!({"synchronous": "off"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("synchronous"), "{err}");
    let err = validate(StoreKind::WideColumn, "embedded", &json!({"cache": 1})).unwrap_err();
    assert!(err.to_string().contains("cache_size"), "{err}");
    let options = json!({"path": "x", "synchronous": "normal", "cache_size": "8MiB", "tombstone_grace": "10m"});
    validate(StoreKind::WideColumn, "embedded", &options).unwrap();
}

#[tokio::test]
async fn oversized_keys_are_invalid_not_fatal() {
    use polyroute_adapters::kinds::wide_column::MAX_KEY_BYTES;
    let store = connect(json!({})).await;
    let table = open(&*store, "events", events()).await;
    let long = "x".repeat(MAX_KEY_BYTES);
    let err = table
        .put(event(&long, 1, 1, &[]), WriteOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
    let err = table
        .get(&[long.as_str().into()], &[1.into(), 1.into()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, polyroute_adapters::StoreError::InvalidRequest { .. }),
        "{err}"
    );
    let query = SliceQuery::partition(vec!["ann".into()]).from(std::ops::Bound::Included(vec![
        Value::Int(1),
        Value::Text(long),
    ]));
    assert!(table.slice(&query).await.is_err());
    // Just under the limit is fine.
    let fits = "y".repeat(MAX_KEY_BYTES - 100);
    table
        .put(event(&fits, 1, 1, &[]), WriteOptions::default())
        .await
        .unwrap();
    assert!(table
        .get(&[fits.as_str().into()], &[1.into(), 1.into()])
        .await
        .unwrap()
        .is_some());
    store.ping().await.unwrap();
}
