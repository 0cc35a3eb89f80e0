//! A router with a record entity `products` (SQLite) propagating to a document, a search and
//! a key-value entity, each behind a [`Hooked`] store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use polyroute::backend::registry::{self, ConnectContext};
use polyroute::key_value::KeyValueSettings;
use polyroute::search::SearchFieldKind;
use polyroute::{
    EntitySettings, Propagation, RecordSettings, Result, Router, StoreError, StoreKind,
};
use serde_json::json;
use tempfile::TempDir;

use crate::products;
use polyroute_testkit::hooked::{Hook, Hooked};

/// Fails chosen writes, and counts the writes that succeeded per (entity, key).
#[derive(Debug, Default)]
pub struct Faults {
    /// (entity, key) → how many more writes fail, and whether passing (`Unavailable`).
    failing: Mutex<HashMap<(String, String), (u32, bool)>>,
    /// (entity, key) → writes done.
    pub written: Mutex<HashMap<(String, String), u32>>,
    /// (entity, key) whose document reads fail with `Unavailable`.
    unreadable: Mutex<Vec<(String, String)>>,
}

impl Faults {
    /// The next `times` writes of `key` in `entity` fail (passing errors if `passing`).
    pub fn fail(&self, entity: &str, key: &str, times: u32, passing: bool) {
        self.failing
            .lock()
            .unwrap()
            .insert((entity.into(), key.into()), (times, passing));
    }

    /// Document reads of `key` in `entity` fail with a passing error from now on.
    pub fn fail_reads(&self, entity: &str, key: &str) {
        self.unreadable
            .lock()
            .unwrap()
            .push((entity.into(), key.into()));
    }

    /// Writes of `key` in `entity` that succeeded.
    pub fn writes(&self, entity: &str, key: &str) -> u32 {
        let written = self.written.lock().unwrap();
        written
            .get(&(entity.to_owned(), key.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl Hook for Faults {
    fn before(&self, entity: &str, key: &str) -> Result<()> {
        let mut failing = self.failing.lock().unwrap();
        if let Some((left, passing)) = failing.get_mut(&(entity.to_owned(), key.to_owned())) {
            if *left > 0 {
                *left -= 1;
                return Err(if *passing {
                    StoreError::unavailable("injected outage")
                } else {
                    StoreError::invalid("injected refusal")
                });
            }
        }
        Ok(())
    }

    fn before_read(&self, entity: &str, key: &str) -> Result<()> {
        let unreadable = self.unreadable.lock().unwrap();
        if unreadable.iter().any(|(e, k)| e == entity && k == key) {
            return Err(StoreError::unavailable("injected outage"));
        }
        Ok(())
    }

    fn after(&self, entity: &str, key: &str) {
        *self
            .written
            .lock()
            .unwrap()
            .entry((entity.to_owned(), key.to_owned()))
            .or_default() += 1;
    }
}

pub struct Setup {
    pub router: Router,
    pub faults: Arc<Faults>,
    _dir: TempDir,
}

pub const TARGETS: [&str; 3] = ["products_docs", "products_search", "products_kv"];

async fn connect(
    kind: StoreKind,
    options: serde_json::Value,
    hook: &Arc<Faults>,
) -> Arc<dyn polyroute::Store> {
    let store = registry::connect(kind, "embedded", &options, &ConnectContext::default())
        .await
        .unwrap();
    Hooked::wrap(store, Arc::clone(hook) as Arc<dyn Hook>)
}

/// The record settings the tests use; `adjust` changes them.
pub fn record(read_your_writes: bool) -> RecordSettings {
    let mut propagation = Propagation::to(TARGETS.iter().map(|t| (*t).to_owned()).collect());
    propagation.backoff = Duration::from_millis(1);
    propagation.attempts = 3;
    propagation.poll_interval = Duration::from_millis(10);
    propagation.batch = 4;
    propagation.lease = Duration::from_millis(300);
    let mut record = products::record(propagation);
    record.read_your_writes = read_your_writes;
    record
}

pub async fn setup(record: RecordSettings) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let main = registry::connect(
        StoreKind::Relational,
        "embedded",
        &json!({ "path": dir.path().join("main.db").to_str().unwrap() }),
        &ConnectContext::default(),
    )
    .await
    .unwrap();
    let docs = connect(StoreKind::Document, json!({}), &faults).await;
    let catalog = connect(StoreKind::Search, json!({}), &faults).await;
    let cache = connect(StoreKind::KeyValue, json!({}), &faults).await;
    let fields = products::search_fields(&[
        ("name", SearchFieldKind::Text),
        ("category", SearchFieldKind::Keyword),
        ("price", SearchFieldKind::Float),
        ("stock", SearchFieldKind::Integer),
    ]);
    let router = products::builder(main, docs, catalog, fields, record)
        .store("cache", cache)
        .entity(
            "products_kv",
            "cache",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity_timeout("products", Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    router
        .relational("products")
        .unwrap()
        .execute_script(
            "CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, name TEXT NOT NULL, \
             category TEXT, price REAL, stock INTEGER)",
        )
        .await
        .unwrap();
    Setup {
        router,
        faults,
        _dir: dir,
    }
}

/// A product row's fields.
pub fn product(name: &str, price: f64, stock: i64) -> serde_json::Value {
    json!({ "name": name, "category": "tools", "price": price, "stock": stock })
}
