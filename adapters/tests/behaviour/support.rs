//! What every suite shares: fixtures and unique names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Store, StoreKind,
};

/// A fresh, isolated store of one kind and what its backend can do.
pub struct Fixture<T: ?Sized> {
    pub store: Arc<T>,
    pub capabilities: Capabilities,
    /// Keeps temporary files alive as long as the store.
    #[allow(dead_code)]
    pub guard: Option<tempfile::TempDir>,
}

/// A name no other test in this process uses: entities, keys and tables stay isolated when the
/// suites run in parallel against one shared server.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Connects a store through the registry, as the router does.
pub async fn connect(kind: StoreKind, backend: &str, options: serde_json::Value) -> Arc<dyn Store> {
    registry::connect(kind, backend, &options, &ConnectContext::default())
        .await
        .unwrap_or_else(|err| panic!("cannot connect {kind} backend `{backend}`: {err}"))
}

/// Opens the entity `name` with `settings` on `store`.
pub async fn open(store: &dyn Store, name: &str, settings: EntitySettings) -> EntityHandle {
    let spec = EntitySpec::new(name, settings).unwrap();
    store
        .open(&spec)
        .await
        .unwrap_or_else(|err| panic!("cannot open entity `{name}`: {err}"))
}
