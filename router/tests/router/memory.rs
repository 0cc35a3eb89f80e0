//! An in-memory key-value store for the cache, hedge and per-operation timeout tests: counts
//! its calls, records the TTLs it is given, can be slowed per `get` and can be taken down.
//! Also a recorder of the `metrics` counters the router emits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use polyroute::backend::kinds::key_value::{KeyValueStore, SetOptions};
use polyroute::backend::{EntityHandle, EntitySpec};
use polyroute::{Bytes, Capabilities, Result, Store, StoreError, StoreInfo, StoreKind};

/// The map, its call counts and its failure switches.
#[derive(Debug, Default)]
pub struct Memory {
    entries: Mutex<HashMap<String, Bytes>>,
    ttls: Mutex<Vec<Option<Duration>>>,
    gets: AtomicU32,
    sets: AtomicU32,
    deletes: AtomicU32,
    get_delays: Mutex<VecDeque<Duration>>,
    every_get_delay: Mutex<Option<Duration>>,
    down: AtomicBool,
    answers_now: bool,
    answered_now: AtomicU32,
}

impl Memory {
    pub fn new() -> Arc<Self> {
        Arc::new(Memory::default())
    }

    /// A store that also answers its reads at once, as an in-process store does (but for
    /// reads it was told to slow down).
    pub fn answering_now() -> Arc<Self> {
        Arc::new(Memory {
            answers_now: true,
            ..Memory::default()
        })
    }

    /// Writes `value` under `key` without counting a call.
    pub fn put(&self, key: &str, value: &str) {
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_owned(), Bytes::copy_from_slice(value.as_bytes()));
    }

    /// The raw bytes under `key`.
    pub fn raw(&self, key: &str) -> Option<Bytes> {
        self.entries.lock().unwrap().get(key).cloned()
    }

    pub fn gets(&self) -> u32 {
        self.gets.load(Ordering::SeqCst)
    }

    /// Of the `gets`, those answered at once.
    pub fn answered_now(&self) -> u32 {
        self.answered_now.load(Ordering::SeqCst)
    }

    pub fn sets(&self) -> u32 {
        self.sets.load(Ordering::SeqCst)
    }

    pub fn deletes(&self) -> u32 {
        self.deletes.load(Ordering::SeqCst)
    }

    /// The TTL of every `set` so far.
    pub fn ttls(&self) -> Vec<Option<Duration>> {
        self.ttls.lock().unwrap().clone()
    }

    /// The next `get`s take these times, in order.
    pub fn slow_gets(&self, delays: &[Duration]) {
        self.get_delays
            .lock()
            .unwrap()
            .extend(delays.iter().copied());
    }

    /// Every `get` (after the scripted ones) takes `delay`.
    pub fn every_get_takes(&self, delay: Duration) {
        *self.every_get_delay.lock().unwrap() = Some(delay);
    }

    /// Whether every call fails as unavailable.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("memory store is down"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl KeyValueStore for Memory {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let delay = self
            .get_delays
            .lock()
            .unwrap()
            .pop_front()
            .or(*self.every_get_delay.lock().unwrap());
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        self.check()?;
        Ok(self.entries.lock().unwrap().get(key).cloned())
    }

    fn answers_now(&self) -> bool {
        self.answers_now
    }

    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        let slowed = !self.get_delays.lock().unwrap().is_empty()
            || self.every_get_delay.lock().unwrap().is_some();
        if !self.answers_now || slowed {
            return None;
        }
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.answered_now.fetch_add(1, Ordering::SeqCst);
        Some(
            self.check()
                .map(|()| self.entries.lock().unwrap().get(key).cloned()),
        )
    }

    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        self.sets.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.ttls.lock().unwrap().push(options.ttl);
        self.entries.lock().unwrap().insert(key.to_owned(), value);
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        Ok(self.entries.lock().unwrap().remove(key).is_some())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.check()?;
        let entries = self.entries.lock().unwrap();
        Ok(keys.iter().map(|key| entries.get(key).cloned()).collect())
    }

    async fn set_many(&self, entries: Vec<(String, Bytes)>, _ttl: Option<Duration>) -> Result<()> {
        self.check()?;
        self.entries.lock().unwrap().extend(entries);
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        self.check()?;
        let mut entries = self.entries.lock().unwrap();
        let now = entries.get(key).map_or(0, |v| {
            std::str::from_utf8(v).unwrap().parse::<i64>().unwrap()
        }) + delta;
        entries.insert(key.to_owned(), Bytes::from(now.to_string()));
        Ok(now)
    }
}

/// A key-value store whose every entity is the one `Memory` (with TTL support).
#[derive(Debug)]
pub struct Host(pub Arc<Memory>);

impl Host {
    pub fn of(memory: &Arc<Memory>) -> Arc<Host> {
        Arc::new(Host(memory.clone()))
    }
}

#[async_trait]
impl Store for Host {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::KeyValue,
            backend: "memory",
            capabilities: Capabilities {
                ttl: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, _entity: &EntitySpec) -> Result<EntityHandle> {
        Ok(EntityHandle::KeyValue(self.0.clone()))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// The counters recorded on this thread while it lives (tests run on one thread).
pub struct Counters {
    snapshotter: Snapshotter,
    totals: Mutex<BTreeMap<String, u64>>,
    _recorder: &'static DebuggingRecorder,
    _guard: metrics::LocalRecorderGuard<'static>,
}

impl Counters {
    pub fn install() -> Counters {
        let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
        let snapshotter = recorder.snapshotter();
        let guard = metrics::set_default_local_recorder(recorder);
        Counters {
            snapshotter,
            totals: Mutex::new(BTreeMap::new()),
            _recorder: recorder,
            _guard: guard,
        }
    }

    /// The total of counter `name` with exactly `labels` (as `key=value`, in any order).
    pub fn get(&self, name: &str, labels: &[&str]) -> u64 {
        let mut totals = self.totals.lock().unwrap();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            if let DebugValue::Counter(n) = value {
                let key = key.key();
                let mut parts: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                parts.sort();
                *totals
                    .entry(format!("{}{{{}}}", key.name(), parts.join(",")))
                    .or_default() += n;
            }
        }
        let mut wanted: Vec<&str> = labels.to_vec();
        wanted.sort_unstable();
        totals
            .get(&format!("{name}{{{}}}", wanted.join(",")))
            .copied()
            .unwrap_or(0)
    }
}
