//! PostgreSQL backends (cargo feature `postgres`): every store kind (relational, key-value,
//! document, time-series, graph, wide-column and search) on one server, each store with its own
//! connection pool.
//!
//! - [`config`]: the options every kind shares (URL, pool, timeouts, schema, TLS);
//! - `conninfo`: the URL's TLS parameters (`sslmode`, `sslrootcert`, …), read like options;
//! - `tls`: the driver's TLS connector on rustls;
//! - `pool`: the pool, cached prepared statements, transaction-safe connection hand-back;
//! - `error`: SQLSTATEs to [`StoreError`](crate::StoreError) kinds, in one place;
//! - `migrate`: versioned schema changes under an advisory lock;
//! - `convert`: [`Value`](crate::Value)s to and from the wire format;
//! - one module per kind.
//!
//! Every table and index these backends create is listed in `docs/postgres.md`.

pub mod config;
mod conninfo;
mod convert;
pub mod document;
mod error;
pub mod graph;
pub mod key_value;
mod migrate;
mod pool;
mod purge;
pub mod relational;
pub mod search;
pub mod time_series;
mod tls;
pub mod wide_column;

pub use config::{Config, SynchronousCommit, TlsMode};
pub use document::PostgresDocument;
pub use graph::PostgresGraph;
pub use key_value::PostgresKeyValue;
pub use relational::PostgresRelational;
pub use search::PostgresSearch;
pub use time_series::PostgresTimeSeries;
pub use wide_column::PostgresWideColumn;

use std::sync::Arc;

use crate::backend::{Backend, BackendDescriptor};
use crate::store::ConnectContext;
use crate::{Result, Store, StoreKind};

/// The PostgreSQL backends, one per kind, as the registry lists them.
pub const BACKENDS: &[BackendDescriptor] = &[
    BackendDescriptor::of::<Postgres>(
        StoreKind::Relational,
        "postgres",
        "PostgreSQL, pooled, with cached prepared statements",
    ),
    BackendDescriptor::of::<Postgres>(
        StoreKind::KeyValue,
        "postgres",
        "a PostgreSQL table per entity with an expiry column",
    ),
    BackendDescriptor::of::<Postgres>(
        StoreKind::Document,
        "postgres",
        "JSONB in PostgreSQL with a GIN index and expression indexes",
    ),
    BackendDescriptor::of::<Postgres>(
        StoreKind::TimeSeries,
        "postgres",
        "PostgreSQL series, field-type and point tables; windows aggregated in SQL",
    ),
    BackendDescriptor::of::<Postgres>(
        StoreKind::Graph,
        "postgres",
        "node and edge tables in PostgreSQL; traversal by recursive CTE",
    ),
    BackendDescriptor::of::<Postgres>(
        StoreKind::WideColumn,
        "postgres",
        "a PostgreSQL table per entity keyed by partition then clustering columns",
    ),
    BackendDescriptor::of::<Postgres>(
        StoreKind::Search,
        "postgres",
        "PostgreSQL full-text search: a tsvector column with a GIN index per entity",
    ),
];

/// The PostgreSQL backend of every kind: one options type, a store type per kind.
#[derive(Debug)]
pub struct Postgres;

impl Backend for Postgres {
    type Config = Config;

    /// Connects a PostgreSQL store of `kind`: the options' files resolved, and the default
    /// `statement_timeout` the longest call to the store.
    async fn connect(
        kind: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        let config = config.resolve_paths(context).with_longest_call(context);
        Ok(match kind {
            StoreKind::Relational => Arc::new(PostgresRelational::open(config).await?),
            StoreKind::KeyValue => Arc::new(PostgresKeyValue::open(config).await?),
            StoreKind::Document => Arc::new(PostgresDocument::open(config).await?),
            StoreKind::TimeSeries => Arc::new(PostgresTimeSeries::open(config).await?),
            StoreKind::Graph => Arc::new(PostgresGraph::open(config).await?),
            StoreKind::Search => Arc::new(PostgresSearch::open(config).await?),
            StoreKind::WideColumn => Arc::new(PostgresWideColumn::open(config).await?),
        })
    }
}
