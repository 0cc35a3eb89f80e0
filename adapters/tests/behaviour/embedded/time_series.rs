//! The embedded time-series backend through the time-series suite, in memory, under a data
//! directory, and with checkpoints after every write; plus its durability.

use std::sync::Arc;
use std::time::Duration;

use polyroute_adapters::kinds::time_series::{TimeSeriesSettings, TimeSeriesStore};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind};
use serde_json::json;

use polyroute_testkit::support::{self, unique, Fixture};
use polyroute_testkit::time_series_suite;

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::TimeSeries, "embedded", options).await
}

async fn handle(
    store: &Arc<dyn Store>,
    name: &str,
    retention: Option<Duration>,
) -> Arc<dyn TimeSeriesStore> {
    let mut settings = TimeSeriesSettings::default();
    settings.retention = retention;
    let settings = EntitySettings::TimeSeries(settings);
    let EntityHandle::TimeSeries(handle) = support::open(&**store, name, settings).await else {
        panic!("embedded time-series store opened a handle of another kind");
    };
    handle
}

/// A fixture on a fresh store with `options`; a `path` of `"{dir}"` becomes a temporary folder.
async fn fixture_with(
    options: serde_json::Value,
    retention: Option<Duration>,
) -> Fixture<dyn TimeSeriesStore> {
    let (options, guard) = with_temp_dir(options);
    let store = connect(options).await;
    assert_eq!(store.info().capabilities.durable, guard.is_some());
    assert!(store.info().capabilities.ordered_scan);
    assert!(!store.info().capabilities.ttl);
    Fixture {
        store: handle(&store, &unique("ts"), retention).await,
        capabilities: store.info().capabilities,
        guard: guard.map(|dir| Box::new(dir) as _),
    }
}

fn with_temp_dir(mut options: serde_json::Value) -> (serde_json::Value, Option<tempfile::TempDir>) {
    if options.get("path").is_none() {
        return (options, None);
    }
    let dir = tempfile::tempdir().unwrap();
    options["path"] = json!(dir.path().join("data"));
    (options, Some(dir))
}

async fn pair_with(options: serde_json::Value) -> [Fixture<dyn TimeSeriesStore>; 2] {
    let (options, guard) = with_temp_dir(options);
    let store = connect(options).await;
    let first = Fixture {
        store: handle(&store, &unique("ts"), None).await,
        capabilities: store.info().capabilities,
        guard: guard.map(|dir| Box::new(dir) as _),
    };
    let second = Fixture {
        store: handle(&store, &unique("ts"), None).await,
        capabilities: store.info().capabilities,
        guard: None,
    };
    [first, second]
}

/// In memory only.
mod memory {
    use super::*;

    async fn fixture() -> Fixture<dyn TimeSeriesStore> {
        fixture_with(json!({}), None).await
    }

    async fn retained(retention: Duration) -> Fixture<dyn TimeSeriesStore> {
        fixture_with(json!({}), Some(retention)).await
    }

    async fn pair() -> [Fixture<dyn TimeSeriesStore>; 2] {
        pair_with(json!({})).await
    }

    time_series_suite!(fixture, retained, pair);
}

/// Under a data directory, with the default log size: reads come from the heads and the log.
mod directory {
    use super::*;

    const OPTIONS: &str = r#"{"path": "{dir}", "synchronous": "normal"}"#;

    fn options() -> serde_json::Value {
        serde_json::from_str(OPTIONS).unwrap()
    }

    async fn fixture() -> Fixture<dyn TimeSeriesStore> {
        fixture_with(options(), None).await
    }

    async fn retained(retention: Duration) -> Fixture<dyn TimeSeriesStore> {
        fixture_with(options(), Some(retention)).await
    }

    async fn pair() -> [Fixture<dyn TimeSeriesStore>; 2] {
        pair_with(options()).await
    }

    time_series_suite!(fixture, retained, pair);
}

/// A checkpoint after every write, into ten-minute partitions: every read merges segment
/// blocks, and every write rewrites segment files.
mod checkpointed {
    use super::*;

    fn options() -> serde_json::Value {
        json!({"path": "{dir}", "wal_size": 1, "partition": "10m", "synchronous": "normal"})
    }

    async fn fixture() -> Fixture<dyn TimeSeriesStore> {
        fixture_with(options(), None).await
    }

    async fn retained(retention: Duration) -> Fixture<dyn TimeSeriesStore> {
        fixture_with(options(), Some(retention)).await
    }

    async fn pair() -> [Fixture<dyn TimeSeriesStore>; 2] {
        pair_with(options()).await
    }

    time_series_suite!(fixture, retained, pair);
}

mod durability;

/// Opening an entity again returns a handle on the same series and the same log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_of_one_entity_share_its_data() {
    use polyroute_testkit::time_series::{everything, value, T0};

    let dir = tempfile::tempdir().unwrap();
    let options = json!({"path": dir.path()});
    {
        let store = connect(options.clone()).await;
        let (a, b) = (
            handle(&store, "shared", None).await,
            handle(&store, "shared", None).await,
        );
        a.write(vec![value("cpu", &[], 1.0, T0)]).await.unwrap();
        b.write(vec![value("cpu", &[], 2.0, T0 + 1)]).await.unwrap();
        assert_eq!(everything(&*a, "cpu").await[0].timestamps, vec![T0, T0 + 1]);
        store.ping().await.unwrap();
    }
    let store = connect(options).await;
    let again = handle(&store, "shared", None).await;
    assert_eq!(
        everything(&*again, "cpu").await[0].timestamps,
        vec![T0, T0 + 1]
    );
}

#[test]
fn options_are_checked_by_name_and_type() {
    use polyroute_adapters::registry::validate;

    let kind = StoreKind::TimeSeries;
    assert!(validate(
        kind,
        "embedded",
        &json!({"path": "x", "synchronous": "normal", "partition": "1d", "wal_size": "1MiB"})
    )
    .is_ok());
    let err = validate(kind, "embedded", &json!({"retention": "1d"})).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    let err = validate(kind, "embedded", &json!({"synchronous": "always"})).unwrap_err();
    assert!(err.to_string().contains("synchronous"), "{err}");
    let err = validate(kind, "embedded", &json!({"partition": "soon"})).unwrap_err();
    assert!(err.to_string().contains("partition"), "{err}");
}
