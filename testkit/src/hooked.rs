//! The one forwarding wrapper: a store whose document, search and key-value handles call a
//! [`Hook`] around every write (and before document reads), and hand every other call, the
//! trait's provided methods included, to the store inside. Tests use it to make chosen calls
//! fail, or to journal the writes that succeeded.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use polyroute_adapters::kinds::document::{
    Document, DocumentStore, FieldPath, Filter, FindQuery, StoredDocument,
};
use polyroute_adapters::kinds::key_value::{KeyValueStore, SetOptions};
use polyroute_adapters::kinds::search::{SearchDocument, SearchQuery, SearchResults, SearchStore};
use polyroute_adapters::{EntityHandle, EntitySpec, Result, Store, StoreInfo};

/// What happens around each write.
pub trait Hook: Send + Sync + fmt::Debug {
    /// Before writing `key` of `entity`: an error fails the write without doing it.
    fn before(&self, _entity: &str, _key: &str) -> Result<()> {
        Ok(())
    }
    /// After the write of `key` of `entity` succeeded.
    fn after(&self, _entity: &str, _key: &str) {}
    /// Before a document `get` of `key` of `entity`: an error fails the read.
    fn before_read(&self, _entity: &str, _key: &str) -> Result<()> {
        Ok(())
    }
}

/// Wraps `inner`: every handle it opens calls `hook` around its writes.
#[derive(Debug)]
pub struct Hooked {
    inner: Arc<dyn Store>,
    hook: Arc<dyn Hook>,
}

impl Hooked {
    /// `inner`, with `hook` around the writes of every handle it opens.
    pub fn wrap(inner: Arc<dyn Store>, hook: Arc<dyn Hook>) -> Arc<dyn Store> {
        Arc::new(Hooked { inner, hook })
    }
}

#[async_trait]
impl Store for Hooked {
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let handle = self.inner.open(entity).await?;
        let name = entity.name.clone();
        let hook = Arc::clone(&self.hook);
        Ok(match handle {
            EntityHandle::Document(inner) => {
                EntityHandle::Document(Arc::new(Wrap { name, hook, inner }))
            }
            EntityHandle::Search(inner) => {
                EntityHandle::Search(Arc::new(Wrap { name, hook, inner }))
            }
            EntityHandle::KeyValue(inner) => {
                EntityHandle::KeyValue(Arc::new(Wrap { name, hook, inner }))
            }
            other => other,
        })
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

/// One handle with its hook. The traits' provided methods are forwarded too: a wrapper that
/// kept a provided method's default would change how the router calls the store inside.
struct Wrap<T: ?Sized> {
    name: String,
    hook: Arc<dyn Hook>,
    inner: Arc<T>,
}

impl<T: ?Sized> fmt::Debug for Wrap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hooked({})", self.name)
    }
}

impl<T: ?Sized> Wrap<T> {
    async fn around<R>(
        &self,
        key: &str,
        write: impl std::future::Future<Output = Result<R>>,
    ) -> Result<R> {
        self.hook.before(&self.name, key)?;
        let out = write.await?;
        self.hook.after(&self.name, key);
        Ok(out)
    }
}

#[async_trait]
impl DocumentStore for Wrap<dyn DocumentStore> {
    async fn put(&self, id: &str, document: Document) -> Result<()> {
        self.around(id, self.inner.put(id, document)).await
    }
    async fn insert(&self, id: &str, document: Document) -> Result<()> {
        self.around(id, self.inner.insert(id, document)).await
    }
    async fn get(&self, id: &str) -> Result<Option<Document>> {
        self.hook.before_read(&self.name, id)?;
        self.inner.get(id).await
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        self.around(id, self.inner.delete(id)).await
    }
    async fn find(&self, query: &FindQuery) -> Result<Vec<StoredDocument>> {
        self.inner.find(query).await
    }
    async fn count(&self, filter: &Filter) -> Result<u64> {
        self.inner.count(filter).await
    }
    async fn create_index(&self, path: &FieldPath) -> Result<()> {
        self.inner.create_index(path).await
    }
}

#[async_trait]
impl SearchStore for Wrap<dyn SearchStore> {
    async fn index(&self, documents: Vec<SearchDocument>) -> Result<()> {
        let keys: Vec<String> = documents.iter().map(|d| d.id.clone()).collect();
        for key in &keys {
            self.hook.before(&self.name, key)?;
        }
        self.inner.index(documents).await?;
        for key in &keys {
            self.hook.after(&self.name, key);
        }
        Ok(())
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        self.around(id, self.inner.delete(id)).await
    }
    async fn query(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.inner.query(query).await
    }
    async fn refresh(&self) -> Result<()> {
        self.inner.refresh().await
    }
}

#[async_trait]
impl KeyValueStore for Wrap<dyn KeyValueStore> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    fn answers_now(&self) -> bool {
        self.inner.answers_now()
    }
    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        self.inner.get_now(key)
    }
    async fn set(&self, key: &str, value: Bytes, options: SetOptions) -> Result<bool> {
        self.around(key, self.inner.set(key, value, options)).await
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        self.around(key, self.inner.delete(key)).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.inner.get_many(keys).await
    }
    async fn set_many(&self, entries: Vec<(String, Bytes)>, ttl: Option<Duration>) -> Result<()> {
        for (key, _) in &entries {
            self.hook.before(&self.name, key)?;
        }
        let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
        self.inner.set_many(entries, ttl).await?;
        for key in &keys {
            self.hook.after(&self.name, key);
        }
        Ok(())
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        self.around(key, self.inner.increment(key, delta)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Behaviour, FakeKv};
    use polyroute_adapters::kinds::key_value::KeyValueSettings;
    use polyroute_adapters::EntitySettings;

    #[derive(Debug)]
    struct Nothing;
    impl Hook for Nothing {}

    /// A provided method left at its default would make the router take the slow way around a
    /// wrapped store, or lose an answer: the wrapper passes them through.
    #[tokio::test]
    async fn provided_methods_reach_the_store_inside() {
        let fake = FakeKv::with(Behaviour {
            answers_now: true,
            ..Behaviour::default()
        });
        fake.put("k", "v");
        let store = Hooked::wrap(fake.store(), Arc::new(Nothing));
        let spec =
            EntitySpec::new("e", EntitySettings::KeyValue(KeyValueSettings::default())).unwrap();
        let EntityHandle::KeyValue(handle) = store.open(&spec).await.unwrap() else {
            panic!("not a key-value handle");
        };
        assert!(handle.answers_now());
        let answer = handle.get_now("k").unwrap().unwrap();
        assert_eq!(answer.as_deref(), Some(&b"v"[..]));
        assert_eq!(fake.answered_now(), 1);
    }
}
