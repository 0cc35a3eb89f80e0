//! A handwritten key-value store for tests: records the TTLs it is given, can be slow, can
//! lack capabilities, can refuse to open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use polyroute::backend::kinds::key_value::{KeyValueStore, SetOptions};
use polyroute::backend::{EntityHandle, EntitySpec};
use polyroute::{
    Bytes, Capabilities, EntitySettings, Result, Store, StoreError, StoreInfo, StoreKind,
};

/// How the fake behaves.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// What it claims to support.
    pub capabilities: Capabilities,
    /// How long each `get` takes.
    pub get_delay: Option<Duration>,
    /// Whether `open` fails.
    pub fail_open: bool,
}

/// The fake store; every entity shares one map.
#[derive(Debug)]
pub struct FakeKv {
    behaviour: Behaviour,
    map: Arc<FakeMap>,
}

/// The map behind every entity, with a log of the TTLs writes asked for.
#[derive(Debug, Default)]
pub struct FakeMap {
    entries: Mutex<HashMap<String, Bytes>>,
    ttls: Mutex<Vec<Option<Duration>>>,
    get_delay: Option<Duration>,
}

impl FakeKv {
    pub fn new(behaviour: Behaviour) -> Arc<Self> {
        let map = Arc::new(FakeMap {
            get_delay: behaviour.get_delay,
            ..FakeMap::default()
        });
        Arc::new(FakeKv { behaviour, map })
    }

    /// The TTL of every write so far, in order.
    pub fn ttls(&self) -> Vec<Option<Duration>> {
        self.map.ttls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Store for FakeKv {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::KeyValue,
            backend: "fake",
            capabilities: self.behaviour.capabilities,
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        if self.behaviour.fail_open {
            return Err(StoreError::unavailable("fake refuses to open"));
        }
        match entity.settings {
            EntitySettings::KeyValue(_) => Ok(EntityHandle::KeyValue(self.map.clone())),
            _ => Err(StoreError::invalid("not key-value settings")),
        }
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl KeyValueStore for FakeMap {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Some(delay) = self.get_delay {
            tokio::time::sleep(delay).await;
        }
        Ok(self.entries.lock().unwrap().get(key).cloned())
    }

    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        self.ttls.lock().unwrap().push(options.ttl);
        self.entries.lock().unwrap().insert(key.to_owned(), value);
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.entries.lock().unwrap().remove(key).is_some())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let entries = self.entries.lock().unwrap();
        Ok(keys.iter().map(|key| entries.get(key).cloned()).collect())
    }

    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        let mut map = self.entries.lock().unwrap();
        for (key, value) in entries {
            self.ttls.lock().unwrap().push(ttl);
            map.insert(key, value);
        }
        Ok(())
    }

    async fn increment(&self, _key: &str, _delta: i64) -> Result<i64> {
        Err(StoreError::Unsupported {
            operation: "increment",
            backend: "fake",
        })
    }
}

/// Capabilities with TTL support.
pub fn with_ttl() -> Capabilities {
    Capabilities {
        ttl: true,
        ..Capabilities::default()
    }
}
