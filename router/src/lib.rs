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
//! Each kind's handle and the types its calls take and return are in the kind's module:
//! [`key_value`], [`document`], [`graph`], [`relational`], [`time_series`], [`wide_column`],
//! [`search`]. Record entities (a relational system of record whose changes reach derived
//! stores) are [`Records`] and [`Outbox`]; a router is configured by [`Config`] or built
//! from connected stores by [`RouterBuilder`], with the resilience [`layers`] and read-through
//! [`cache`] its calls go through.
//!
//! Writing a backend (a new engine for a kind) is the business of [`backend`]: the kind traits,
//! the registry and the work helpers.

pub use bytes::Bytes;
pub use polyroute_adapters::{
    Capabilities, EntitySettings, ErrorKind, Result, Store, StoreError, StoreInfo, StoreKind, Value,
};

pub mod backend;
mod builder;
pub mod cache;
mod call;
pub mod config;
mod error;
mod handles;
pub mod layers;
mod ops;
pub mod outbox;
mod router;

pub use builder::RouterBuilder;
pub use cache::{CachePolicy, ReadThrough};
pub use call::CallContext;
pub use config::{
    Config, ConfigError, ConfigProblem, ProblemKind, Propagation, RecordRoutes, RecordSettings,
};
pub use error::{RouterError, StartupFailure};
pub use outbox::{Outbox, RecordError, Records, RelayReport, Session, TargetStatus, Written};
pub use router::{EntityDescription, Router, StoreDescription};

pub mod key_value {
    //! Key-value entities: values by key, with time-to-live and conditional sets
    //! ([`Router::key_value`](crate::Router::key_value)).
    pub use crate::handles::KeyValue;
    pub use polyroute_adapters::kinds::key_value::{
        KeyValueSettings, SetCondition, SetOptions, MAX_KEY_BYTES,
    };
}

pub mod document {
    //! Document entities: JSON documents by id, found by filters on their fields, sorted and
    //! paged ([`Router::document`](crate::Router::document)).
    pub use crate::handles::Documents;
    pub use polyroute_adapters::kinds::document::{
        Document, DocumentSettings, FieldPath, Filter, FindQuery, Order, SortKey, StoredDocument,
        MAX_DEPTH, MAX_ID_BYTES,
    };
}

pub mod graph {
    //! Graph entities: nodes and labelled edges, neighbours, traversals and shortest paths
    //! ([`Router::graph`](crate::Router::graph)).
    pub use crate::handles::Graph;
    pub use polyroute_adapters::kinds::graph::{
        Direction, Edge, EdgeFilter, GraphSettings, Neighbor, Node, Path, PathQuery, TraverseQuery,
        Visit, DEFAULT_MAX_DEPTH, MAX_ID_BYTES, MAX_LABEL_BYTES,
    };
}

pub mod relational {
    //! Relational entities: SQL with parameters, and transactions
    //! ([`Router::relational`](crate::Router::relational)).
    pub use crate::handles::{Relational, Transaction};
    pub use polyroute_adapters::kinds::relational::{Dialect, RelationalSettings, Rows};
}

pub mod time_series {
    //! Time-series entities: points of tagged series, ranges, windows and last points
    //! ([`Router::time_series`](crate::Router::time_series)).
    pub use crate::handles::TimeSeries;
    pub use polyroute_adapters::kinds::time_series::{
        Aggregate, FieldValue, LastPoint, Point, RangeQuery, SeriesData, TagFilter,
        TimeSeriesSettings, WindowQuery, WindowSeries, MAX_NAME_BYTES, MAX_SERIES_KEY_BYTES,
        MAX_TAG_VALUE_BYTES,
    };
}

pub mod wide_column {
    //! Wide-column entities: rows by partition and clustering key, read in slices
    //! ([`Router::wide_column`](crate::Router::wide_column)).
    pub use crate::handles::WideColumn;
    pub use polyroute_adapters::kinds::wide_column::{
        SliceQuery, WideColumnSettings, WideRow, WriteOptions, MAX_KEY_BYTES,
    };
}

pub mod search {
    //! Search entities: full-text queries with filters over declared fields
    //! ([`Router::search`](crate::Router::search)).
    pub use crate::handles::Search;
    pub use polyroute_adapters::kinds::search::{
        SearchDocument, SearchField, SearchFieldKind, SearchFilter, SearchHit, SearchQuery,
        SearchResults, SearchSettings, Stemming, MAX_ID_BYTES, MAX_QUERY_BYTES, MAX_QUERY_DEPTH,
        MAX_QUERY_TERMS,
    };
}
