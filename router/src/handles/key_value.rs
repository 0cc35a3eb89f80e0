//! [`KeyValue`]: the handle of a key-value entity.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use polyroute_adapters::kinds::key_value::{
    KeyValueSettings, KeyValueStore, SetCondition, SetOptions,
};
use polyroute_adapters::Result;

use crate::cache::{invalidate_written, ReadThrough};
use crate::call::CallContext;

/// A key-value entity: keys to byte values, with the entity's default TTL applied to writes
/// that set none. With a `cache`, `get` reads through it and every write invalidates the keys
/// it wrote once the store has answered.
#[derive(Clone, Debug)]
pub struct KeyValue {
    store: Arc<dyn KeyValueStore>,
    /// Whether the store answers reads at once (in process), so `get` asks it that way first.
    answers_now: bool,
    settings: KeyValueSettings,
    context: CallContext,
    cache: Option<ReadThrough>,
}

impl KeyValue {
    pub(crate) fn new(
        store: Arc<dyn KeyValueStore>,
        settings: KeyValueSettings,
        context: CallContext,
    ) -> Self {
        KeyValue {
            answers_now: store.answers_now(),
            store,
            settings,
            context,
            cache: None,
        }
    }

    /// This handle reading through `cache`, if any.
    pub(crate) fn with_cache(mut self, cache: Option<ReadThrough>) -> Self {
        self.cache = cache;
        self
    }

    /// The entity's read-through cache, if it has one.
    pub fn cache(&self) -> Option<&ReadThrough> {
        self.cache.as_ref()
    }

    /// Who calls are for, and their deadline.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// The TTL given to writes that set none (the entity's `ttl`).
    pub fn default_ttl(&self) -> Option<Duration> {
        self.settings.ttl
    }

    /// The value under `key`, or `None` if absent or expired; through the cache when the
    /// entity has one.
    pub fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Future<Output = Result<Option<Bytes>>> + Send + 'a {
        Get {
            handle: self,
            key,
            later: None,
        }
    }

    /// [`KeyValue::get`] the asynchronous way: through the cache, or as a call to the store.
    async fn get_later(&self, key: &str) -> Result<Option<Bytes>> {
        let Some(cache) = &self.cache else {
            return self
                .context
                .call_idempotent("get", || self.store.get(key))
                .await;
        };
        let store = Arc::clone(&self.store);
        let context = self.context.clone();
        let owned = key.to_owned();
        cache
            .get_or_load(key, move || async move {
                context.call_idempotent("get", || store.get(&owned)).await
            })
            .await
    }

    /// Writes `value` under `key`, expiring after the entity's default TTL if it has one.
    pub async fn set(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        let options = SetOptions {
            ttl: self.settings.ttl,
            ..SetOptions::default()
        };
        let value = value.into();
        // Straight to the call path (not through `set_with`): one future fewer on every write.
        // Writing the same value again lands the same: safe to retry.
        let written = self
            .context
            .call_idempotent("set", || self.store.set(key, value.clone(), options))
            .await;
        invalidate_written(self.cache.as_ref(), [key]).await;
        written.map(drop)
    }

    /// Writes `value` under `key` with `options`; an unset TTL becomes the entity's default.
    /// Returns `false` when the options' condition prevented the write.
    pub async fn set_with(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        mut options: SetOptions,
    ) -> Result<bool> {
        options.ttl = options.ttl.or(self.settings.ttl);
        let value = value.into();
        let written = if options.condition == SetCondition::Always {
            // Writing the same value again lands the same: safe to retry.
            self.context
                .call_idempotent("set", || self.store.set(key, value.clone(), options))
                .await
        } else {
            self.context
                .call("set", self.store.set(key, value, options))
                .await
        };
        invalidate_written(self.cache.as_ref(), [key]).await;
        written
    }

    /// Writes `value` only if `key` is absent (locks, idempotency keys). Returns whether it
    /// wrote.
    pub async fn set_if_absent(&self, key: &str, value: impl Into<Bytes>) -> Result<bool> {
        let options = SetOptions {
            ttl: self.settings.ttl,
            ..SetOptions::if_absent()
        };
        let written = self
            .context
            .call("set", self.store.set(key, value.into(), options))
            .await;
        invalidate_written(self.cache.as_ref(), [key]).await;
        written
    }

    /// Removes `key`. Returns whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let deleted = self
            .context
            .call_idempotent("delete", || self.store.delete(key))
            .await;
        invalidate_written(self.cache.as_ref(), [key]).await;
        deleted
    }

    /// The values of `keys`, in order, `None` for each absent key (from the store, not the
    /// cache).
    pub async fn get_many<I, K>(&self, keys: I) -> Result<Vec<Option<Bytes>>>
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.context
            .call_idempotent("get_many", || self.store.get_many(&keys))
            .await
    }

    /// Writes every entry with the entity's default TTL. Not atomic across keys.
    pub async fn set_many<I, K, V>(&self, entries: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Bytes>,
    {
        self.set_many_with_ttl(entries, None).await
    }

    /// Writes every entry, each expiring after `ttl` (or the entity's default when `None`).
    pub async fn set_many_with_ttl<I, K, V>(&self, entries: I, ttl: Option<Duration>) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Bytes>,
    {
        let entries: Vec<(String, Bytes)> = entries
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        let ttl = ttl.or(self.settings.ttl);
        let keys: Vec<String> = match self.cache {
            Some(_) => entries.iter().map(|(key, _)| key.clone()).collect(),
            None => Vec::new(),
        };
        let written = self
            .context
            .call("set_many", self.store.set_many(entries, ttl))
            .await;
        invalidate_written(self.cache.as_ref(), keys.iter().map(String::as_str)).await;
        written
    }

    /// Adds `delta` to the integer under `key` (absent counts as 0) and returns the new value.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        let counted = self
            .context
            .call("increment", self.store.increment(key, delta))
            .await;
        invalidate_written(self.cache.as_ref(), [key]).await;
        counted
    }
}

/// The future of [`KeyValue::get`]. A store that answers at once is asked on the first poll,
/// through the call path's layers but without a future of its own: on an in-process store
/// that future, and the nesting of the asynchronous call path around it, would cost more than
/// the read. Anything else (a cache, a store behind a socket, a read to hedge or retry) goes
/// the asynchronous way, boxed, which costs nothing next to a round trip.
struct Get<'a> {
    handle: &'a KeyValue,
    key: &'a str,
    later: Option<BoxFuture<'a, Result<Option<Bytes>>>>,
}

impl Future for Get<'_> {
    type Output = Result<Option<Bytes>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Get { handle, key, later } = &mut *self;
        let (handle, key) = (*handle, *key);
        if later.is_none() && handle.answers_now && handle.cache.is_none() {
            if let Some(answer) = handle.context.try_now("get", || handle.store.get_now(key)) {
                return Poll::Ready(answer);
            }
        }
        later
            .get_or_insert_with(|| Box::pin(handle.get_later(key)))
            .as_mut()
            .poll(cx)
    }
}
