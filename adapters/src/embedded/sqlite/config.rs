//! The options every embedded SQLite store takes, relational or document.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use crate::embedded::durability::Synchronous;

use super::{Location, PoolOptions};
use crate::store::ConnectContext;
use crate::units::ConfigDuration;

/// Options of an embedded SQLite store (`[stores.NAME]` with `backend = "embedded"`), shared by
/// the relational and document kinds.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database file, relative to the config file's folder; omitted: a private in-memory database.
    pub path: Option<PathBuf>,
    /// Connections in the pool (default 4; always 1 in memory).
    pub pool: Option<usize>,
    /// How long a call waits for a free pooled connection, and a statement for another
    /// connection's write lock, before failing as unavailable (default `5s`).
    pub busy_timeout: Option<ConfigDuration>,
    /// `"full"` (default: every commit is fsynced before it is acknowledged) or `"normal"`
    /// (faster; the last commits may be lost on power failure, never on a process crash).
    pub synchronous: Option<Synchronous>,
}

impl Config {
    pub(crate) fn pool_options(&self, context: &ConnectContext) -> PoolOptions {
        PoolOptions {
            location: match &self.path {
                Some(path) => Location::File(context.resolve(path)),
                None => Location::Memory,
            },
            size: self.pool.unwrap_or(4),
            busy_timeout: self.busy_timeout.map_or(Duration::from_secs(5), |d| d.0),
            sync_full: self.synchronous.unwrap_or_default() == Synchronous::Full,
        }
    }
}
