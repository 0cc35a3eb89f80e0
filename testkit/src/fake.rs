//! One test double for code that sits in front of stores (the router's layers, its cache, its
//! builder): a key-value store in memory that plays a script of failures, can be slowed, taken
//! down or refuse to open, claims the capabilities it is given, and counts what it is asked.
//!
//! ```text
//! let fake = FakeKv::with(Behaviour { script: vec![Step::Down], ..Behaviour::default() });
//! let router = Router::builder().store("s", fake.store()).entity(...).build().await?;
//! // ... the first call meets an outage, the second answers.
//! assert_eq!(fake.calls(), 2);
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueStore, SetCondition, SetOptions};
use polyroute_adapters::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// What the fake does on one call, before it does the call itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Does the call.
    Answer,
    /// Fails as a store that is down: `Unavailable`, worth a retry.
    Down,
    /// Fails as a store that refuses the request: `Invalid`, never retried.
    Refuse,
    /// Waits an hour, then does the call: a store that hangs.
    Hang,
}

/// How a [`FakeKv`] behaves; the default is a plain map that claims no capabilities.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// What the store claims to support.
    pub capabilities: Capabilities,
    /// Whether opening an entity fails (as an outage).
    pub fail_open: bool,
    /// Whether reads are also answered at once, as an in-process store answers them
    /// ([`KeyValueStore::get_now`]): all but slowed reads and a [`Step::Hang`].
    pub answers_now: bool,
    /// The first calls' steps, one per call (then [`Step::Answer`]).
    pub script: Vec<Step>,
}

impl Behaviour {
    /// A plain map that supports TTLs, as a cache store does.
    pub fn ttl() -> Self {
        Behaviour {
            capabilities: with_ttl(),
            ..Behaviour::default()
        }
    }
}

/// The fake store: one map that every entity opened on it shares.
#[derive(Debug, Default)]
pub struct FakeKv {
    behaviour: Behaviour,
    entries: Mutex<HashMap<String, Bytes>>,
    ttls: Mutex<Vec<Option<Duration>>>,
    script: Mutex<VecDeque<Step>>,
    get_delays: Mutex<VecDeque<Duration>>,
    every_get_delay: Mutex<Option<Duration>>,
    down: AtomicBool,
    calls: AtomicU32,
    gets: AtomicU32,
    answered_now: AtomicU32,
    sets: AtomicU32,
    deletes: AtomicU32,
}

impl FakeKv {
    /// A plain map that claims no capabilities.
    pub fn new() -> Arc<Self> {
        Self::with(Behaviour::default())
    }

    /// A fake that behaves as `behaviour` says.
    pub fn with(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(FakeKv {
            script: Mutex::new(behaviour.script.iter().copied().collect()),
            behaviour,
            ..FakeKv::default()
        })
    }

    /// The store to give a router: every entity it opens is this map.
    pub fn store(self: &Arc<Self>) -> Arc<dyn Store> {
        Arc::new(Host(Arc::clone(self)))
    }

    /// Plays `steps` after what is left of the script.
    pub fn then(&self, steps: &[Step]) {
        self.script.lock().unwrap().extend(steps.iter().copied());
    }

    /// Writes `value` under `key` without counting a call.
    pub fn put(&self, key: &str, value: &str) {
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_owned(), Bytes::copy_from_slice(value.as_bytes()));
    }

    /// The bytes under `key`, read without counting a call.
    pub fn raw(&self, key: &str) -> Option<Bytes> {
        self.entries.lock().unwrap().get(key).cloned()
    }

    /// Every call that reached the store, whatever its outcome.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The `get`s among the calls.
    pub fn gets(&self) -> u32 {
        self.gets.load(Ordering::SeqCst)
    }

    /// Of the `gets`, those answered at once.
    pub fn answered_now(&self) -> u32 {
        self.answered_now.load(Ordering::SeqCst)
    }

    /// The `set`s among the calls.
    pub fn sets(&self) -> u32 {
        self.sets.load(Ordering::SeqCst)
    }

    /// The `delete`s among the calls.
    pub fn deletes(&self) -> u32 {
        self.deletes.load(Ordering::SeqCst)
    }

    /// The TTL of every write so far, in order (one per entry of a `set_many`).
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

    /// Every `get` (after those given to [`slow_gets`](Self::slow_gets)) takes `delay`.
    pub fn every_get_takes(&self, delay: Duration) {
        *self.every_get_delay.lock().unwrap() = Some(delay);
    }

    /// Whether every call fails as unavailable, until set back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Counts one call and plays its step.
    async fn step(&self) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let step = self.script.lock().unwrap().pop_front();
        if step == Some(Step::Hang) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        self.outcome(step.unwrap_or(Step::Answer))
    }

    /// The step of a call answered at once, counted; `None` (nothing counted, the step left in
    /// place) for a hang, which cannot be answered now.
    fn step_now(&self) -> Option<Result<()>> {
        let mut script = self.script.lock().unwrap();
        if script.front() == Some(&Step::Hang) {
            return None;
        }
        let step = script.pop_front().unwrap_or(Step::Answer);
        self.calls.fetch_add(1, Ordering::SeqCst);
        Some(self.outcome(step))
    }

    fn outcome(&self, step: Step) -> Result<()> {
        match step {
            Step::Down => Err(StoreError::unavailable("connection refused")),
            Step::Refuse => Err(StoreError::invalid("no such thing")),
            Step::Answer | Step::Hang if self.down.load(Ordering::SeqCst) => {
                Err(StoreError::unavailable("the fake store is down"))
            }
            Step::Answer | Step::Hang => Ok(()),
        }
    }

    fn slowed(&self) -> bool {
        !self.get_delays.lock().unwrap().is_empty()
            || self.every_get_delay.lock().unwrap().is_some()
    }

    fn write(&self, key: String, value: Bytes, ttl: Option<Duration>) {
        self.ttls.lock().unwrap().push(ttl);
        self.entries.lock().unwrap().insert(key, value);
    }
}

#[async_trait]
impl KeyValueStore for FakeKv {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let every = *self.every_get_delay.lock().unwrap();
        let delay = self.get_delays.lock().unwrap().pop_front().or(every);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        self.step().await?;
        Ok(self.raw(key))
    }

    fn answers_now(&self) -> bool {
        self.behaviour.answers_now
    }

    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        if !self.behaviour.answers_now || self.slowed() {
            return None;
        }
        let outcome = self.step_now()?;
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.answered_now.fetch_add(1, Ordering::SeqCst);
        Some(outcome.map(|()| self.raw(key)))
    }

    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        self.sets.fetch_add(1, Ordering::SeqCst);
        self.step().await?;
        let present = self.raw(key).is_some();
        let skip = match options.condition {
            SetCondition::Always => false,
            SetCondition::IfAbsent => present,
            SetCondition::IfPresent => !present,
        };
        if skip {
            return Ok(false);
        }
        self.write(key.to_owned(), value, options.ttl);
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.step().await?;
        Ok(self.entries.lock().unwrap().remove(key).is_some())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.step().await?;
        Ok(keys.iter().map(|key| self.raw(key)).collect())
    }

    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        self.step().await?;
        for (key, value) in entries {
            self.write(key, value, ttl);
        }
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        self.step().await?;
        let mut entries = self.entries.lock().unwrap();
        let now = match entries.get(key) {
            None => 0,
            Some(value) => std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| StoreError::invalid(format!("`{key}` does not hold a number")))?,
        } + delta;
        entries.insert(key.to_owned(), Bytes::from(now.to_string()));
        Ok(now)
    }
}

/// The store around one [`FakeKv`]: what a router is given.
#[derive(Debug)]
struct Host(Arc<FakeKv>);

#[async_trait]
impl Store for Host {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::KeyValue,
            backend: "fake",
            capabilities: self.0.behaviour.capabilities,
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        if self.0.behaviour.fail_open {
            return Err(StoreError::unavailable("the fake store refuses to open"));
        }
        match entity.settings {
            EntitySettings::KeyValue(_) => Ok(EntityHandle::KeyValue(self.0.clone())),
            _ => Err(StoreError::invalid(
                "the fake store holds key-value entities only",
            )),
        }
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// Capabilities with TTL support, the most a cache needs.
pub fn with_ttl() -> Capabilities {
    Capabilities {
        ttl: true,
        ..Capabilities::default()
    }
}
