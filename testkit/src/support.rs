//! What every suite shares: fixtures, unique names, and the way a live server's tests find it.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, ErrorKind, Store, StoreError, StoreKind,
};

/// What a fixture keeps alive until its case ends: a temporary directory, the [`Cleanup`] of
/// the case's data on a shared server.
///
/// [`Cleanup`]: crate::cleanup::Cleanup
pub type Guard = Option<Box<dyn Any + Send + Sync>>;

/// A fresh, isolated store of one kind and what its backend can do.
pub struct Fixture<T: ?Sized> {
    /// The entity's handle, the backend's own (no wrapper between the suite and the backend).
    pub store: Arc<T>,
    /// What the backend can do: cases that need a capability it lacks check that it refuses.
    pub capabilities: Capabilities,
    /// Held, not read: dropped after the handle when the case ends.
    pub guard: Guard,
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

/// Connects `backend` of `kind` with `options` that name a server that is not there, and checks
/// the failure comes within 10 s as `Unavailable` (so the router's retries and breaker treat it
/// as the store being down). Returns the error for the backend's own checks.
pub async fn connect_unreachable(
    kind: StoreKind,
    backend: &str,
    options: serde_json::Value,
) -> StoreError {
    let started = Instant::now();
    let err = match registry::connect(kind, backend, &options, &ConnectContext::default()).await {
        Ok(_) => panic!("{kind} backend `{backend}` connected to a server that is not there"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?} to find no server",
        started.elapsed()
    );
    err
}

/// Opens the entity `name` with `settings` on `store`.
pub async fn open(store: &dyn Store, name: &str, settings: EntitySettings) -> EntityHandle {
    let spec = EntitySpec::new(name, settings).unwrap();
    store
        .open(&spec)
        .await
        .unwrap_or_else(|err| panic!("cannot open entity `{name}`: {err}"))
}

/// The URL of a live server for a backend's tests, read by [`server_url!`](crate::server_url):
/// the variable's value when the tests run, else when they were built. Panics naming the
/// variable and an `example` when neither is set, which happens only when
/// `POLYROUTE_REQUIRE_SERVICES` asks for the server's tests.
pub fn server_url(
    variable: &str,
    now: Option<String>,
    built: Option<&str>,
    example: &str,
) -> String {
    now.or_else(|| built.map(str::to_owned))
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "POLYROUTE_REQUIRE_SERVICES asks for these tests but {variable} is not set: set it \
                 to {example}"
            )
        })
}

/// The URL of a live server named by environment variable `$variable` (see
/// [`support::server_url`](crate::support::server_url)); `$example` says what to set it to.
#[macro_export]
macro_rules! server_url {
    ($variable:literal, $example:literal) => {
        $crate::support::server_url(
            $variable,
            std::env::var($variable).ok(),
            option_env!($variable),
            $example,
        )
    };
}

/// Runs a kind's suite (`$suite!(…)`) with every case ignored unless `cfg` `$cfg` is set (the
/// build sets it when the server's URL is, see `adapters/build.rs`), `$why` saying how to run
/// them.
#[macro_export]
macro_rules! gated {
    ($cfg:ident, $why:literal, $suite:ident!($($args:tt)*)) => {
        $suite!($($args)*; [#[cfg_attr(not($cfg), ignore = $why)]]);
    };
}
