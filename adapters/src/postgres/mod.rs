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

use crate::{Result, Store, StoreKind};

/// Connects a PostgreSQL store of `kind`.
pub(crate) async fn connect(kind: StoreKind, config: Config) -> Result<Arc<dyn Store>> {
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
