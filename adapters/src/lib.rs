//! Store-kind contracts and backends for polyroute.
//!
//! - [`kinds`]: one object-safe async trait per store kind (key-value, time-series, graph,
//!   relational, wide-column, document, search), with its request and response types;
//! - [`Store`]: a connected backend that opens a handle of its kind per entity;
//! - [`registry`]: from a config's `kind` + `backend` + options to a connected [`Store`];
//! - [`problem`]: how every reader of a user's file reports its mistakes (path, message, fix,
//!   "did you mean");
//! - [`embedded`]: the default backends, which need no server;
//! - `postgres`, `redis`, `scylla`, `neo4j`, `influxdb`, `mongodb` and `elasticsearch` (cargo
//!   features of the same names): server backends.
//!
//! Services normally depend on the `polyroute` crate, which re-exports this one.

pub mod backend;
pub mod capabilities;
#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
pub mod embedded;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "influxdb")]
pub mod influxdb;
pub mod kinds;
#[cfg(feature = "mongodb")]
pub mod mongodb;
#[cfg(feature = "neo4j")]
pub mod neo4j;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod problem;
#[cfg(feature = "redis")]
pub mod redis;
pub mod registry;
#[cfg(feature = "scylla")]
pub mod scylla;
pub mod store;
#[cfg(any(feature = "postgres", feature = "redis", feature = "scylla"))]
mod tls;
pub mod units;
pub mod value;
pub mod work;

pub use capabilities::{Capabilities, Capability};
pub use error::{BoxError, ErrorKind, Result, StoreError};
pub use kinds::StoreKind;
pub use store::{EntityHandle, EntitySettings, EntitySpec, Store, StoreInfo};
pub use value::Value;
