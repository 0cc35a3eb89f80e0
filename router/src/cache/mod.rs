//! Read-through caching of an entity's reads in a key-value store, one module per job:
//!
//! ```text
//! policy.rs        CachePolicy: store, ttl ± jitter, stale window, negative caching
//! envelope.rs      the bytes of one entry: version, fresh-until, present/absent, value
//! clock.rs         the wall-clock milliseconds entries are stamped with
//! flight.rs        one load per key in flight, shared by every reader of that key
//! read_through.rs  ReadThrough: lookup, load, write back, background refresh, invalidate
//! ```
//!
//! An entity with `cache = { store = "NAME" }` gets a [`ReadThrough`] over its own namespace
//! (`cache__<entity>`) in store `NAME`, called through that store's layers. The key-value and
//! document handles read through it and invalidate it after their writes; other code reaches
//! it with [`Router::cache_of`](crate::Router::cache_of) and may cache any read that yields
//! bytes.

mod clock;
mod envelope;
mod flight;
mod policy;
mod read_through;

pub use policy::{CachePolicy, DEFAULT_CACHE_JITTER, DEFAULT_CACHE_TTL, MAX_CACHE_JITTER};
pub use read_through::ReadThrough;

pub(crate) use polyroute_adapters::kinds::NAMESPACE_SEPARATOR;

/// The namespace (entity name in the cache store) of `entity`'s cache: `cache__<entity>`.
pub(crate) fn namespace(entity: &str) -> String {
    format!("cache{NAMESPACE_SEPARATOR}{entity}")
}

/// Drops `keys` from `cache`, if the entity has one, after a write to its system of record,
/// whatever the write's outcome (a write that timed out may still have landed). A cache that
/// cannot be reached is logged, not reported: the write is what the caller asked about, and
/// the entries expire on their own.
pub(crate) async fn invalidate_written<'k>(
    cache: Option<&ReadThrough>,
    keys: impl IntoIterator<Item = &'k str>,
) {
    let Some(cache) = cache else {
        return;
    };
    for key in keys {
        if let Err(err) = cache.invalidate(key).await {
            tracing::warn!(entity = cache.entity(), error = %err, "cache invalidation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyroute_adapters::kinds::is_entity_name;

    /// An entity named like another entity's cache namespace cannot exist, whatever the names.
    #[test]
    fn no_entity_name_is_a_cache_namespace() {
        for entity in ["products", "cache_products", "_x", "x_", "a1"] {
            assert!(is_entity_name(entity), "{entity}");
            let space = namespace(entity);
            assert!(polyroute_adapters::kinds::is_identifier(&space), "{space}");
            assert!(!is_entity_name(&space), "{space} could be an entity");
        }
        // The old scheme made `cache_products` both an entity and the cache of `products`.
        assert_ne!(namespace("products"), "cache_products");
        assert_ne!(namespace("products"), namespace("cache_products"));
        assert!(!is_entity_name("cache__products"));
        assert!(!is_entity_name("a__b"));
    }
}
