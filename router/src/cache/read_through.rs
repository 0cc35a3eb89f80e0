//! [`ReadThrough`]: an entity's read-through cache over a key-value store.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueStore, SetOptions};
use polyroute_adapters::Result;

use super::clock::Clock;
use super::envelope::Entry;
use super::flight::{Flights, Role};
use super::policy::CachePolicy;
use crate::call::CallContext;
use crate::layers::retry::unit_random;

/// A read-through cache for one entity: answers reads from a key-value cache store and loads
/// what it lacks from the entity's system of record, through a loader the caller gives.
/// Cheap to clone; every clone shares the in-flight loads.
///
/// - **hit**: a fresh entry is answered from the cache.
/// - **miss**: one load per key runs at a time (concurrent readers share its outcome); its
///   value is stored for `ttl × (1 ± jitter)` and answered.
/// - **stale**: an entry past its fresh time by less than the policy's `stale` window is
///   answered at once, and one background load per key refreshes it.
/// - **negative**: a load that finds nothing is cached as absence only when the policy's
///   `negative` is set.
/// - **error**: when the cache store fails or its breaker is open, the read is answered by
///   the loader and nothing is written back.
///
/// Calls to the cache store go through that store's own layers (limit, breaker, retry,
/// deadline), as any entity's calls do. Each read is counted in
/// `polyroute_cache_requests_total{entity, result}` (result: hit, miss, stale, negative_hit,
/// error) and each load in `polyroute_cache_loads_total{entity}`.
#[derive(Clone, Debug)]
pub struct ReadThrough {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    entity: Arc<str>,
    store: Arc<dyn KeyValueStore>,
    /// Whether the cache store answers reads at once (in process): lookups ask it that way.
    answers_now: bool,
    context: CallContext,
    policy: CachePolicy,
    /// Whether the cache store expires entries itself (otherwise the envelope's time rules).
    expires: bool,
    clock: Clock,
    flights: Flights,
    refreshing: Mutex<HashSet<String>>,
    /// Invalidations so far: a load that saw one happen while it ran does not write back what
    /// it read, which may predate the write that invalidated it.
    invalidations: AtomicU64,
}

/// What the cache store holds for a key.
enum Lookup {
    Fresh(Option<Bytes>),
    Stale(Option<Bytes>),
    Miss,
    Failed,
}

impl ReadThrough {
    /// A cache for `entity` in `store` (a key-value handle scoped to this cache's namespace),
    /// calling it through `context` (the cache store's layers). `expires`: the store honours
    /// TTLs, so entries are written with one (fresh time plus the stale window).
    pub(crate) fn new(
        entity: &str,
        store: Arc<dyn KeyValueStore>,
        context: CallContext,
        policy: CachePolicy,
        expires: bool,
    ) -> Self {
        ReadThrough {
            inner: Arc::new(Inner {
                entity: Arc::from(entity),
                answers_now: store.answers_now(),
                store,
                context,
                policy,
                expires,
                clock: Clock::new(),
                flights: Flights::default(),
                refreshing: Mutex::new(HashSet::new()),
                invalidations: AtomicU64::new(0),
            }),
        }
    }

    /// The entity whose reads this caches.
    pub fn entity(&self) -> &str {
        &self.inner.entity
    }

    /// Its policy: store, TTL, jitter, stale window, negative caching.
    pub fn policy(&self) -> &CachePolicy {
        &self.inner.policy
    }

    /// The value of `key`: from the cache when it holds a fresh (or, within the stale window,
    /// stale) entry, else from `loader` (the system of record), whose answer is then cached.
    ///
    /// `loader` must be `'static` because a stale entry is refreshed in a background task;
    /// give it owned copies of what it needs. It runs at most once per call, and not at all
    /// when the cache answers or another reader's load of the same key does.
    pub async fn get_or_load<L, Fut>(&self, key: &str, loader: L) -> Result<Option<Bytes>>
    where
        L: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<Bytes>>> + Send + 'static,
    {
        match self.lookup(key).await {
            Lookup::Fresh(value) => {
                self.count(if value.is_some() {
                    "hit"
                } else {
                    "negative_hit"
                });
                Ok(value)
            }
            Lookup::Stale(value) => {
                self.count("stale");
                self.refresh_in_background(key, loader);
                Ok(value)
            }
            Lookup::Miss => {
                self.count("miss");
                self.load(key, loader, true).await
            }
            Lookup::Failed => {
                self.count("error");
                self.load(key, loader, false).await
            }
        }
    }

    /// Drops `key` from the cache, after a write to the system of record: the next read loads
    /// the new value. A load already running when this is called does not write back.
    ///
    /// Fails when the cache store cannot be reached; the entry then lives until its fresh time
    /// and stale window end, which bound how stale a read can be.
    pub async fn invalidate(&self, key: &str) -> Result<()> {
        let inner = &*self.inner;
        inner.invalidations.fetch_add(1, Ordering::AcqRel);
        inner
            .context
            .call_idempotent("delete", || inner.store.delete(key))
            .await
            .map(drop)
    }

    async fn lookup(&self, key: &str) -> Lookup {
        let inner = &*self.inner;
        let answered = match inner.answers_now {
            true => inner.context.try_now("get", || inner.store.get_now(key)),
            false => None,
        };
        let fetched = match answered {
            Some(answer) => answer,
            None => {
                inner
                    .context
                    .call_idempotent("get", || inner.store.get(key))
                    .await
            }
        };
        let bytes = match fetched {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Lookup::Miss,
            Err(err) => {
                tracing::debug!(entity = %inner.entity, error = %err, "cache store failed; reading through");
                return Lookup::Failed;
            }
        };
        let Some(entry) = Entry::decode(&bytes) else {
            return Lookup::Miss;
        };
        if entry.value.is_none() && inner.policy.negative.is_none() {
            return Lookup::Miss;
        }
        let now = inner.clock.now_ms();
        if now < entry.fresh_until {
            Lookup::Fresh(entry.value)
        } else if now < entry.fresh_until.saturating_add(millis(inner.policy.stale)) {
            Lookup::Stale(entry.value)
        } else {
            Lookup::Miss
        }
    }

    /// Loads `key` once for every reader waiting on it; `write_back`: cache the answer.
    async fn load<L, Fut>(&self, key: &str, loader: L, write_back: bool) -> Result<Option<Bytes>>
    where
        L: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>>>,
    {
        loop {
            let lead = match self.inner.flights.join(key) {
                Role::Leader(lead) => lead,
                Role::Follower(follow) => match follow.outcome().await {
                    Some(outcome) => return outcome,
                    // The leader went away without an answer: lead in its place.
                    None => continue,
                },
            };
            let inner = &*self.inner;
            let seen = inner.invalidations.load(Ordering::Acquire);
            metrics::counter!("polyroute_cache_loads_total", "entity" => Arc::clone(&inner.entity))
                .increment(1);
            let outcome = loader().await;
            lead.publish(&outcome);
            if let Ok(value) = &outcome {
                if write_back && inner.invalidations.load(Ordering::Acquire) == seen {
                    self.store(key, value).await;
                }
            }
            return outcome;
        }
    }

    /// Caches `value` (or its absence, when negative caching is on) under `key`.
    async fn store(&self, key: &str, value: &Option<Bytes>) {
        let inner = &*self.inner;
        let Some(fresh) = inner.policy.fresh_for(value.is_some(), unit_random()) else {
            return;
        };
        let entry = Entry {
            fresh_until: inner.clock.now_ms().saturating_add(millis(fresh)),
            value: value.clone(),
        }
        .encode();
        let options = SetOptions {
            ttl: inner.expires.then(|| fresh + inner.policy.stale),
            ..SetOptions::default()
        };
        if let Err(err) = inner
            .context
            .call_idempotent("set", || inner.store.set(key, entry.clone(), options))
            .await
        {
            tracing::debug!(entity = %inner.entity, error = %err, "cache store write failed");
        }
    }

    /// Refreshes `key` in a task of its own, unless a refresh of it is already running.
    fn refresh_in_background<L, Fut>(&self, key: &str, loader: L)
    where
        L: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<Bytes>>> + Send + 'static,
    {
        if !self.inner.lock_refreshing().insert(key.to_owned()) {
            return;
        }
        let cache = self.clone();
        let key = key.to_owned();
        tokio::spawn(async move {
            let _running = Refreshing {
                inner: Arc::clone(&cache.inner),
                key: key.clone(),
            };
            if let Err(err) = cache.load(&key, loader, true).await {
                tracing::debug!(entity = %cache.inner.entity, error = %err, "background refresh failed");
            }
        });
    }

    fn count(&self, result: &'static str) {
        metrics::counter!(
            "polyroute_cache_requests_total",
            "entity" => Arc::clone(&self.inner.entity),
            "result" => result,
        )
        .increment(1);
    }
}

impl Inner {
    fn lock_refreshing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks a background refresh as running until dropped (finished, failed or cancelled).
struct Refreshing {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for Refreshing {
    fn drop(&mut self) {
        self.inner.lock_refreshing().remove(&self.key);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
