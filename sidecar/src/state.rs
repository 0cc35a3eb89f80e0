//! [`AppState`]: what every handler and layer shares — the router, the checked config, and the
//! auth, browser, readiness, metrics, idempotency, shutdown and load-shedding state.

use std::collections::BTreeMap;
use std::sync::Arc;

use polyroute::{Router, StoreKind};
use tokio::sync::Semaphore;

use crate::auth::Auth;
use crate::browser::BrowserPolicy;
use crate::config::SidecarConfig;
use crate::idempotency::Idempotency;
use crate::metrics::{Exporter, Metrics};
use crate::readiness::Readiness;
use crate::shutdown::Shutdown;

/// The state shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The connected stores and entities.
    pub router: Router,
    /// The `[sidecar]` section.
    pub config: SidecarConfig,
    /// The tokens and their scopes.
    pub auth: Auth,
    /// The Origin and Host checks.
    pub browser: BrowserPolicy,
    /// The last readiness check.
    pub readiness: Readiness,
    /// Every metric.
    pub metrics: Metrics,
    /// The answers kept for idempotent retries.
    pub idempotency: Idempotency,
    /// Whether shutdown has begun.
    pub shutdown: Shutdown,
    /// One permit per request slot (`max_concurrency`); none left: shed.
    pub slots: Arc<Semaphore>,
    /// Each routed entity's kind, to answer 404 before reading a body.
    pub kinds: BTreeMap<String, StoreKind>,
}

impl AppState {
    /// The state for `router` under `config`, its metrics in a recorder of its own
    /// ([`Exporter::local`]).
    pub fn new(router: Router, config: SidecarConfig) -> Self {
        AppState::with_exporter(router, config, Exporter::local())
    }

    /// The state for `router` under `config`, its metrics recorded into and rendered from
    /// `exporter`.
    pub fn with_exporter(router: Router, config: SidecarConfig, exporter: Exporter) -> Self {
        let entities: BTreeMap<String, String> = router
            .entities()
            .map(|e| (e.name.to_owned(), e.store.to_owned()))
            .collect();
        let kinds = router
            .entities()
            .map(|e| (e.name.to_owned(), e.kind))
            .collect();
        AppState {
            kinds,
            auth: Auth::new(config.tokens.clone()),
            browser: BrowserPolicy::new(&config),
            readiness: Readiness::new(),
            metrics: Metrics::new(entities, config.max_concurrency, exporter),
            idempotency: Idempotency::new(
                config.idempotency_ttl,
                config.idempotency_capacity,
                config.idempotency_max_bytes,
            ),
            shutdown: Shutdown::new(),
            slots: Arc::new(Semaphore::new(config.max_concurrency)),
            router,
            config,
        }
    }
}
