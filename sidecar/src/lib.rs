//! polyroute over HTTP: the sidecar a service in any language runs beside itself to reach the
//! stores its `polyroute.toml` routes to.
//!
//! Every operation of every store kind is a JSON route under `/v1/{kind}/{entity}/…` (see
//! [`routes`]); relational entities run only the named statements declared in the config.
//! Callers present bearer tokens scoped per entity to read or write ([`auth`]); bodies are size
//! limited, requests have a deadline, excess concurrency is shed with 503, and writes carrying an
//! `Idempotency-Key` are applied once ([`idempotency`]). `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json` serve operations, and SIGTERM drains in-flight requests ([`shutdown`]).
//! The listener ([`listener`]) bounds connections — header and idle timeouts, a connection
//! cap — and speaks TLS when `[sidecar.tls]` is set ([`tls`]), with optional client
//! certificates.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = polyroute::Config::from_path("polyroute.toml")?;
//! let sidecar_config = polyroute_sidecar::SidecarConfig::from_config(&config)?;
//! // Before the router, so that its metrics land in the recorder `/metrics` renders.
//! let exporter = polyroute_sidecar::metrics::Exporter::global();
//! let router = polyroute::Router::connect(config).await?;
//! let sidecar = polyroute_sidecar::Sidecar::bind_with(router, sidecar_config, exporter).await?;
//! println!("listening on {}", sidecar.local_addr());
//! sidecar.serve(polyroute_sidecar::shutdown::signal()).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use polyroute::{Router, StoreError};
use tokio::net::TcpListener;

pub mod auth;
pub mod body;
pub mod browser;
pub mod config;
pub mod errors;
pub mod exposure;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod idempotency;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod readiness;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod tls;
pub mod values;

pub use config::SidecarConfig;
pub use errors::ApiError;
pub use state::AppState;

/// Why the sidecar could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SidecarError {
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; choose a free port with `[sidecar] bind` or --bind"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The address is reachable from other machines and no tokens are configured.
    #[error(transparent)]
    Exposed(#[from] exposure::Exposed),
    /// A `[sidecar.schema]` statement failed.
    #[error("sidecar.schema.{entity}: {source}")]
    Schema {
        /// The entity whose statement failed.
        entity: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// A `[sidecar.schema]` entity is not a relational entity of the router.
    #[error("sidecar.schema.{entity}: {message}")]
    Entity {
        /// The entity.
        entity: String,
        /// Why.
        message: String,
    },
    /// A read statement of `[sidecar.queries]` (one without `write = true`) could not be
    /// proven to only read: it would run with a read token.
    #[error("sidecar.queries.{entity}.{name}: {message}")]
    ReadStatement {
        /// The relational entity.
        entity: String,
        /// The statement's name.
        name: String,
        /// Why, and the fix.
        message: String,
    },
    /// `[sidecar.tls]` files cannot be used.
    #[error("{}", tls_problems(.0))]
    Tls(Vec<tls::TlsError>),
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

impl SidecarError {
    /// Whether the config is what must change (exposure, `[sidecar.schema]` entities, read
    /// statements that write, unusable TLS files), as opposed to a store or the network
    /// failing: `polyroute serve` exits 2 for these, as for every other config mistake.
    pub fn is_config_mistake(&self) -> bool {
        matches!(
            self,
            SidecarError::Exposed(_)
                | SidecarError::Entity { .. }
                | SidecarError::ReadStatement { .. }
                | SidecarError::Tls(_)
        )
    }
}

fn tls_problems(problems: &[tls::TlsError]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A sidecar bound to its address, ready to serve.
#[derive(Debug)]
pub struct Sidecar {
    state: Arc<AppState>,
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Sidecar {
    /// Runs the `[sidecar.schema]` statements, checks that every read statement of
    /// `[sidecar.queries]` only reads, then binds `config.bind`; `/metrics` shows the
    /// sidecar's own series, from a recorder of its own ([`metrics::Exporter::local`]).
    pub async fn bind(router: Router, config: SidecarConfig) -> Result<Sidecar, SidecarError> {
        Sidecar::bind_with(router, config, metrics::Exporter::local()).await
    }

    /// Like [`Sidecar::bind`], recording into and rendering `exporter` (with
    /// [`metrics::Exporter::global`], the router's series are on `/metrics` too).
    ///
    /// Refuses ([`SidecarError::Exposed`]) to listen without tokens on an address other
    /// machines can reach, unless `allow_anonymous` is set ([`exposure::check`]), whatever set
    /// `config.bind`; nothing is run or bound then.
    pub async fn bind_with(
        router: Router,
        config: SidecarConfig,
        exporter: metrics::Exporter,
    ) -> Result<Sidecar, SidecarError> {
        exposure::check(&config, config.bind)?;
        for (entity, sql) in &config.schema {
            let handle = router
                .relational(entity)
                .map_err(|error| SidecarError::Entity {
                    entity: entity.clone(),
                    message: error.to_string(),
                })?;
            handle
                .execute_script(sql)
                .await
                .map_err(|source| SidecarError::Schema {
                    entity: entity.clone(),
                    source,
                })?;
        }
        routes::relational::check_read_statements(&router, &config).await?;
        let tls = match &config.tls {
            Some(files) => Some(files.server_config().map_err(SidecarError::Tls)?),
            None => None,
        };
        let addr = config.bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SidecarError::Bind { addr, source })?;
        // The real port when port 0 was asked for: the Host check compares against it.
        let mut config = config;
        config.bind = listener.local_addr().unwrap_or(addr);
        Ok(Sidecar {
            state: Arc::new(AppState::with_exporter(router, config, exporter)),
            listener,
            tls,
        })
    }

    /// The address it listens on (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.config.bind)
    }

    /// `https` when the listener speaks TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The shared state (for metrics and tests).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves until `stop` resolves, then stops accepting connections and waits up to
    /// `shutdown_grace` for in-flight requests to finish.
    pub async fn serve(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SidecarError> {
        let addr = self.local_addr();
        let state = self.state;
        if self.tls.is_none() && !addr.ip().is_loopback() && !state.config.tokens.is_empty() {
            tracing::warn!(
                %addr,
                "bearer tokens travel in clear text: the sidecar listens beyond loopback without TLS; set `[sidecar.tls]` or keep it on a trusted network"
            );
        }
        let transport = listener::Transport {
            header_timeout: state.config.header_timeout,
            idle_timeout: state.config.idle_timeout,
            max_connections: state.config.max_connections,
            tls: self.tls,
        };
        let app = server::app(state.clone());
        let upkeep = tokio::spawn(upkeep(state.metrics.exporter().clone()));
        let relays = spawn_relays(&state.router, &state.shutdown);
        let trigger = state.shutdown.clone();
        let signal = async move {
            stop.await;
            tracing::info!("shutdown requested: draining in-flight requests");
            trigger.trigger();
        };
        let server = listener::serve(self.listener, app, transport, signal);
        let grace = state.config.shutdown_grace;
        let draining = state.shutdown.clone();
        let deadline = async move {
            draining.started().await;
            tokio::time::sleep(grace).await;
        };
        let outcome = tokio::select! {
            () = server => Ok(()),
            () = deadline => {
                tracing::warn!(grace = ?grace, "in-flight requests did not finish within the shutdown grace; exiting");
                Ok(())
            }
        };
        // The relays stop at shutdown too (a round in progress finishes) and give up their
        // leases, so another relay can take over at once.
        state.shutdown.trigger();
        for relay in relays {
            if let Err(err) = relay.await {
                tracing::warn!(error = %err, "an outbox relay task failed");
            }
        }
        upkeep.abort();
        outcome
    }
}

/// Folds the exporter's recent histogram samples into their buckets every
/// [`metrics::UPKEEP_EVERY`], so memory stays bounded between scrapes.
async fn upkeep(exporter: metrics::Exporter) {
    let mut every = tokio::time::interval(metrics::UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        exporter.run_upkeep();
    }
}

/// One background relay per record entity with `propagate`, each running until shutdown.
fn spawn_relays(
    router: &polyroute::Router,
    shutdown: &shutdown::Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut relays = Vec::new();
    for entity in router.outboxes() {
        match router.outbox(entity) {
            Ok(outbox) => {
                let stop = shutdown.clone();
                tracing::info!(entity, "outbox relay started");
                relays.push(tokio::spawn(async move {
                    outbox.run(stop.started()).await;
                }));
            }
            Err(err) => tracing::warn!(entity, error = %err, "cannot start the outbox relay"),
        }
    }
    relays
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect(sidecar: &str) -> (Router, SidecarConfig) {
        let text = format!(
            "[stores.kv]\nkind = \"key_value\"\n[entities.sessions]\nstore = \"kv\"\n{sidecar}"
        );
        let config = polyroute::Config::from_toml_str(&text, ".").unwrap();
        let sidecar = SidecarConfig::from_config(&config).unwrap();
        (Router::connect(config).await.unwrap(), sidecar)
    }

    #[tokio::test]
    async fn bind_with_refuses_an_open_address_without_tokens() {
        let (router, mut config) = connect("").await;
        // Set after the config was read, as `--bind` or a library caller does.
        config.bind = "0.0.0.0:0".parse().unwrap();
        let refused = Sidecar::bind_with(router, config, metrics::Exporter::local())
            .await
            .unwrap_err();
        assert!(matches!(refused, SidecarError::Exposed(_)), "{refused}");
        let message = refused.to_string();
        assert!(message.contains("0.0.0.0:0"), "{message}");
        assert!(message.contains("[[sidecar.tokens]]"), "{message}");
    }

    #[tokio::test]
    async fn bind_with_serves_loopback_or_consenting_anonymous_addresses() {
        let (router, mut config) = connect("").await;
        config.bind = "127.0.0.1:0".parse().unwrap();
        let sidecar = Sidecar::bind_with(router, config, metrics::Exporter::local())
            .await
            .unwrap();
        assert_ne!(sidecar.local_addr().port(), 0);
        assert_eq!(sidecar.state().config.bind, sidecar.local_addr());
        let (router, mut config) = connect("[sidecar]\nallow_anonymous = true\n").await;
        config.bind = "0.0.0.0:0".parse().unwrap();
        assert!(
            Sidecar::bind_with(router, config, metrics::Exporter::local())
                .await
                .is_ok()
        );
    }
}
