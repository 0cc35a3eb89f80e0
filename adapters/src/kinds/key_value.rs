//! Key-value stores: keys to opaque byte values, with optional expiry and atomic counters.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Result, StoreError};

/// The longest key accepted, in bytes of UTF-8, by every backend: a longer key is an invalid
/// request, refused before the store sees it. It fits a PostgreSQL B-tree entry (the smallest
/// key any backend allows) with the entity's prefix, and leaves room for a cache namespace.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks one key against [`MAX_KEY_BYTES`], naming the field and the fix.
pub fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::invalid(format!(
            "`key` is {} bytes long: a key may be at most {MAX_KEY_BYTES} bytes; use a shorter \
             one (such as a hash of the long value)",
            key.len()
        )));
    }
    Ok(())
}

/// Checks every key of a batch against [`MAX_KEY_BYTES`].
pub fn check_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<()> {
    keys.into_iter().try_for_each(check_key)
}

/// When a [`KeyValueStore::set`] should write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetCondition {
    /// Write whether or not the key exists.
    #[default]
    Always,
    /// Write only if the key does not exist (Redis `NX`): locks, idempotency keys.
    IfAbsent,
    /// Write only if the key already exists (Redis `XX`).
    IfPresent,
}

/// Options for a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// Expire the entry this long after the write; `None` keeps it until deleted (or the
    /// entity's default TTL, applied by the router).
    pub ttl: Option<Duration>,
    /// When to write.
    pub condition: SetCondition,
}

impl SetOptions {
    /// Options that expire the entry after `ttl`.
    pub fn ttl(ttl: Duration) -> Self {
        SetOptions {
            ttl: Some(ttl),
            ..SetOptions::default()
        }
    }

    /// Options that write only when the key is absent.
    pub fn if_absent() -> Self {
        SetOptions {
            condition: SetCondition::IfAbsent,
            ..SetOptions::default()
        }
    }

    /// These options with `ttl` as the time-to-live.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// Settings of one key-value entity, from its `[entities.NAME]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyValueSettings {
    /// Default time-to-live for writes that do not set their own.
    pub ttl: Option<Duration>,
}

impl KeyValueSettings {
    /// Settings with the given default TTL.
    pub fn with_ttl(ttl: Option<Duration>) -> Self {
        KeyValueSettings { ttl }
    }
}

/// A key-value store, scoped to one entity (its keys never collide with another entity's).
///
/// Values are opaque bytes; counters are stored as decimal text so every backend (and a human
/// reading Redis) sees the same thing. Keys are at most [`MAX_KEY_BYTES`] bytes: every backend
/// refuses a longer one, in every operation, as an invalid request ([`check_key`]).
#[async_trait]
pub trait KeyValueStore: Send + Sync + fmt::Debug {
    /// The value under `key`, or `None` if it is absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// Whether [`KeyValueStore::get_now`] answers (an in-process store): callers ask it
    /// first only then. Stores behind a socket keep this default.
    fn answers_now(&self) -> bool {
        false
    }

    /// What [`KeyValueStore::get`] would answer, given without waiting; `None` when the store
    /// cannot answer now, and the caller should ask with `get`. Lets the hottest read skip
    /// the future, and its allocation, that a call through the trait object costs: on a
    /// store answering from memory that is a large part of the call. Stores whose
    /// [`KeyValueStore::answers_now`] is true answer every call; others keep this default.
    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        let _ = key;
        None
    }

    /// Writes `value` under `key`. Returns `false` when `options.condition` prevented the write.
    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool>;

    /// Removes `key`. Returns whether it existed (and had not expired).
    async fn delete(&self, key: &str) -> Result<bool>;

    /// The values of `keys`, in the same order, `None` for each absent key.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>>;

    /// Writes every entry, each with `ttl` if given. Not atomic across keys.
    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()>;

    /// Adds `delta` to the integer under `key` (absent counts as 0) and returns the new value.
    /// An existing entry keeps its expiry; a new one has none (as Redis `INCRBY`). A key
    /// holding something other than a decimal integer is an invalid request.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64>;
}
