//! The SQLite engine shared by the embedded relational and document backends: a small pool of
//! connections whose blocking calls run on tokio's blocking threads, never on the async
//! runtime's workers.

mod config;
mod convert;
mod pool;
mod read_only;
mod statistics;

pub use config::{Config, Synchronous};

pub(crate) use convert::{bind_params, map_error, read_rows, read_rows_at_most};
pub(crate) use pool::{Location, PoolOptions, PooledConnection, SqlitePool};
pub(crate) use read_only::Proven;
pub(crate) use statistics::Statistics;
