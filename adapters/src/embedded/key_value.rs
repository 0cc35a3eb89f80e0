//! The embedded key-value backend: an in-process concurrent map with per-entry TTL and a
//! memory bound with least-recently-used eviction (built on `moka`): `max_memory`, by default
//! [`DEFAULT_MAX_MEMORY`], so no stream of writes can grow the process without limit.
//!
//! Every entity routed to one store shares one map (and one memory bound); an entity's keys are
//! prefixed with its name, which is an identifier and so can never contain the `:` separator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use moka::Expiry;
use serde::Deserialize;

use crate::backend::{Backend, BackendDescriptor};
use crate::kinds::key_value::{check_key, check_keys, KeyValueStore, SetCondition, SetOptions};
use crate::store::{wrong_settings, ConnectContext};
use crate::units::ByteSize;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreError, StoreInfo,
    StoreKind,
};

/// Options of an embedded key-value store (`[stores.NAME]` with `backend = "embedded"`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Upper bound on the memory held by keys and values (`"64MiB"` or bytes); past it the least
    /// recently used entries are evicted. Omitted: [`DEFAULT_MAX_MEMORY`].
    pub max_memory: Option<ByteSize>,
}

/// The memory bound of a store whose config sets none: 256 MiB, enough for a few million
/// sessions or cache entries, small enough that writes alone cannot exhaust a host.
pub const DEFAULT_MAX_MEMORY: u64 = 256 * 1024 * 1024;

/// Bookkeeping bytes counted per entry on top of its key and value.
const ENTRY_OVERHEAD: usize = 64;

#[derive(Clone, Debug)]
struct Entry {
    value: Bytes,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

struct PerEntryExpiry;

impl Expiry<String, Entry> for PerEntryExpiry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        entry.expires_at.map(|at| at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        entry.expires_at.map(|at| at.saturating_duration_since(now))
    }
}

/// An in-process key-value store shared by every entity routed to it.
#[derive(Clone)]
pub struct EmbeddedKeyValue {
    map: Cache<String, Entry>,
    max_memory: u64,
}

impl std::fmt::Debug for EmbeddedKeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKeyValue")
            .field("entries", &self.map.entry_count())
            .field("max_memory", &self.max_memory)
            .finish()
    }
}

impl EmbeddedKeyValue {
    /// Creates an empty store.
    pub fn open(config: Config) -> Result<Self> {
        let mut builder = Cache::builder()
            .expire_after(PerEntryExpiry)
            .eviction_policy(EvictionPolicy::lru())
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            });
        let limit = config
            .max_memory
            .map_or(DEFAULT_MAX_MEMORY, |ByteSize(limit)| limit);
        if limit == 0 {
            return Err(StoreError::invalid(format!(
                "max_memory must be more than 0 bytes; omit it for the default bound of {} MiB",
                DEFAULT_MAX_MEMORY >> 20
            )));
        }
        builder = builder.max_capacity(limit);
        Ok(EmbeddedKeyValue {
            map: builder.build(),
            max_memory: limit,
        })
    }

    /// The memory bound in bytes: `max_memory`, or [`DEFAULT_MAX_MEMORY`].
    pub fn max_memory(&self) -> u64 {
        self.max_memory
    }

    /// The bytes the store holds, counted as `max_memory` counts them (keys, values and a fixed
    /// overhead per entry), after applying the evictions and expiries still pending.
    pub fn memory_used(&self) -> u64 {
        self.map.run_pending_tasks();
        self.map.weighted_size()
    }
}

/// The embedded key-value backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedKeyValue>(
    StoreKind::KeyValue,
    "embedded",
    "in-process concurrent map with per-entry TTL and an optional memory bound",
);

impl Backend for EmbeddedKeyValue {
    type Config = Config;

    async fn connect(_: StoreKind, config: Config, _: &ConnectContext) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedKeyValue::open(config)?))
    }
}

#[async_trait]
impl Store for EmbeddedKeyValue {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::KeyValue,
            backend: "embedded",
            capabilities: Capabilities {
                ttl: true,
                atomic_increment: true,
                batch_writes: true,
                evicts: true,
                ..Capabilities::default()
            },
        }
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        match &entity.settings {
            EntitySettings::KeyValue(_) => Ok(EntityHandle::KeyValue(Arc::new(EntityMap {
                map: self.map.clone(),
                prefix: format!("{}:", entity.name),
            }))),
            _ => Err(wrong_settings(&self.info(), entity)),
        }
    }

    /// Writes, reads back and deletes a probe entry, so the map's whole path is exercised.
    async fn ping(&self) -> Result<()> {
        let key = String::from("\0polyroute:ping");
        let probe = Entry {
            value: Bytes::from_static(b"ping"),
            expires_at: expiry(Some(Duration::from_secs(10)))?,
        };
        self.map.insert(key.clone(), probe);
        let read = self.map.remove(&key);
        match read {
            Some(entry) if entry.value.as_ref() == b"ping" => Ok(()),
            _ => Err(StoreError::backend(
                "ping entry was not read back (the memory bound may be too small to hold one entry)",
            )),
        }
    }
}

/// One entity's view of the shared map.
#[derive(Clone)]
struct EntityMap {
    map: Cache<String, Entry>,
    prefix: String,
}

impl std::fmt::Debug for EntityMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityMap")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl EntityMap {
    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    /// Writes `entry` under the key lock that [`KeyValueStore::increment`] and conditional sets
    /// take, so a plain write can never land between their read and their write and be lost.
    fn put(&self, key: String, entry: Entry) {
        self.map.entry(key).and_compute_with(|_| Op::Put(entry));
    }

    fn live(&self, key: &str) -> Option<Bytes> {
        let now = Instant::now();
        self.map
            .get(&self.key(key))
            .filter(|entry| entry.live(now))
            .map(|entry| entry.value)
    }
}

fn expiry(ttl: Option<Duration>) -> Result<Option<Instant>> {
    match ttl {
        None => Ok(None),
        Some(ttl) if ttl.is_zero() => Err(StoreError::invalid(
            "ttl must be more than zero; omit it to keep the entry until deleted",
        )),
        Some(ttl) => Ok(Some(Instant::now().checked_add(ttl).ok_or_else(|| {
            StoreError::invalid(format!("ttl {ttl:?} is too large"))
        })?)),
    }
}

#[async_trait]
impl KeyValueStore for EntityMap {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        check_key(key)?;
        Ok(self.live(key))
    }

    fn answers_now(&self) -> bool {
        true
    }

    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        if let Err(err) = check_key(key) {
            return Some(Err(err));
        }
        Some(Ok(self.live(key)))
    }

    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        check_key(key)?;
        let entry = Entry {
            value,
            expires_at: expiry(options.ttl)?,
        };
        let key = self.key(key);
        if options.condition == SetCondition::Always {
            self.put(key, entry);
            return Ok(true);
        }
        let now = Instant::now();
        let mut written = false;
        self.map.entry(key).and_compute_with(|current| {
            let exists = current.is_some_and(|c| c.value().live(now));
            let write = match options.condition {
                SetCondition::IfAbsent => !exists,
                SetCondition::IfPresent => exists,
                SetCondition::Always => true,
            };
            written = write;
            if write {
                Op::Put(entry)
            } else {
                Op::Nop
            }
        });
        Ok(written)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let now = Instant::now();
        let mut existed = false;
        self.map
            .entry(self.key(key))
            .and_compute_with(|current| match current {
                Some(current) => {
                    existed = current.value().live(now);
                    Op::Remove
                }
                None => Op::Nop,
            });
        Ok(existed)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        check_keys(keys.iter().map(String::as_str))?;
        Ok(keys.iter().map(|key| self.live(key)).collect())
    }

    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        check_keys(entries.iter().map(|(key, _)| key.as_str()))?;
        let expires_at = expiry(ttl)?;
        for (key, value) in entries {
            self.put(self.key(&key), Entry { value, expires_at });
        }
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        check_key(key)?;
        let now = Instant::now();
        let mut outcome: Result<i64> = Err(StoreError::backend("increment did not run"));
        self.map.entry(self.key(key)).and_compute_with(|current| {
            let current = current.map(|c| c.into_value()).filter(|c| c.live(now));
            let (base, expires_at) = match &current {
                None => (Ok(0), None),
                Some(entry) => (parse_counter(key, &entry.value), entry.expires_at),
            };
            outcome = base.and_then(|base| {
                base.checked_add(delta).ok_or_else(|| {
                    StoreError::invalid(format!(
                        "incrementing `{key}` by {delta} overflows a 64-bit integer"
                    ))
                })
            });
            match &outcome {
                Ok(next) => Op::Put(Entry {
                    value: Bytes::from(next.to_string()),
                    expires_at,
                }),
                Err(_) => Op::Nop,
            }
        });
        outcome
    }
}

fn parse_counter(key: &str, value: &[u8]) -> Result<i64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| {
            StoreError::invalid(format!(
                "`{key}` holds a value that is not a decimal integer, so it cannot be incremented"
            ))
        })
}
