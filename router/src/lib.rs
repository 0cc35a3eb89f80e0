//! polyroute: route each entity of a service to the store kind that fits it.
//!
//! A service declares its stores and entities in `polyroute.toml` (see [`config`]), builds a
//! [`Router`] from it, and asks for typed handles by entity name:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let router = polyroute::Router::from_config_path("polyroute.toml").await?;
//! router.key_value("sessions")?.set("s1", "alice").await?;
//! let rows = router
//!     .relational("orders")?
//!     .query("SELECT id FROM orders WHERE customer = $1", &["alice".into()])
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! Asking for an unknown entity, or for the wrong kind of handle, is an error, never a panic.
//! Every call goes through one path ([`CallContext::call`]) that applies the entity's deadline
//! and records a `tracing` span.
//!
//! The store-kind contracts and backends live in [`adapters`], re-exported here so a service
//! depends on this crate alone.

pub use bytes::Bytes;
pub use polyroute_adapters as adapters;
pub use polyroute_adapters::store::is_identifier;
pub use polyroute_adapters::{
    kinds, registry, units, Capabilities, Capability, EntitySettings, EntitySpec, ErrorKind,
    Result, Store, StoreError, StoreHandle, StoreInfo, StoreKind, Value,
};

mod builder;
pub mod cache;
mod call;
pub mod config;
mod error;
pub mod handles;
pub mod layers;
mod ops;
pub mod outbox;
mod router;
mod routes;

pub use builder::RouterBuilder;
pub use cache::{CachePolicy, ReadThrough};
pub use call::CallContext;
pub use config::{
    Config, ConfigError, ConfigProblem, ProblemKind, Propagation, RecordRoutes, RecordSettings,
};
pub use error::{RouterError, StartupFailure};
pub use handles::{
    Documents, Graph, KeyValue, Relational, Search, TimeSeries, Transaction, WideColumn,
};
pub use outbox::{Outbox, RecordError, Records, RelayReport, Session, TargetStatus, Written};
pub use router::{EntityDescription, Router, StoreDescription};
