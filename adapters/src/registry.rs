//! The backend registry: from a store's `kind`, `backend` and options (as written in config) to
//! a connected [`Store`].
//!
//! Validation and connection are separate so a config can be checked completely, every store at
//! once, before anything is opened.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::embedded;
use crate::{Result, Store, StoreError, StoreKind};

/// A backend this build can connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendDescriptor {
    /// The kind it serves.
    pub kind: StoreKind,
    /// Its name in config.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
}

/// Every backend compiled into this build.
pub const BACKENDS: &[BackendDescriptor] = &[
    BackendDescriptor {
        kind: StoreKind::KeyValue,
        name: "embedded",
        summary: "in-process concurrent map with per-entry TTL and an optional memory bound",
    },
    BackendDescriptor {
        kind: StoreKind::Relational,
        name: "embedded",
        summary: "SQLite (bundled), in a file or in memory, pooled",
    },
    BackendDescriptor {
        kind: StoreKind::Document,
        name: "embedded",
        summary: "JSON documents in SQLite with expression indexes, in a file or in memory",
    },
    BackendDescriptor {
        kind: StoreKind::WideColumn,
        name: "embedded",
        summary:
            "partitions of clustered rows in an ordered LSM tree (fjall), last write wins, TTL",
    },
    BackendDescriptor {
        kind: StoreKind::Graph,
        name: "embedded",
        summary: "labelled property graph in an LSM (fjall) with two-way adjacency indexes",
    },
    BackendDescriptor {
        kind: StoreKind::TimeSeries,
        name: "embedded",
        summary: "columnar time partitions with a write-ahead log, under a directory or in memory",
    },
    BackendDescriptor {
        kind: StoreKind::Search,
        name: "embedded",
        summary: "tantivy indexes with BM25 ranking, one per entity, in a directory or in memory",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::Relational,
        name: "postgres",
        summary: "PostgreSQL, pooled, with cached prepared statements",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::KeyValue,
        name: "postgres",
        summary: "a PostgreSQL table per entity with an expiry column",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::Document,
        name: "postgres",
        summary: "JSONB in PostgreSQL with a GIN index and expression indexes",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::TimeSeries,
        name: "postgres",
        summary: "PostgreSQL series, field-type and point tables; windows aggregated in SQL",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::Graph,
        name: "postgres",
        summary: "node and edge tables in PostgreSQL; traversal by recursive CTE",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::WideColumn,
        name: "postgres",
        summary: "a PostgreSQL table per entity keyed by partition then clustering columns",
    },
    #[cfg(feature = "postgres")]
    BackendDescriptor {
        kind: StoreKind::Search,
        name: "postgres",
        summary: "PostgreSQL full-text search: a tsvector column with a GIN index per entity",
    },
    #[cfg(feature = "redis")]
    BackendDescriptor {
        kind: StoreKind::KeyValue,
        name: "redis",
        summary: "Redis, pooled, with native TTLs and pipelined batches",
    },
    #[cfg(feature = "scylla")]
    BackendDescriptor {
        kind: StoreKind::WideColumn,
        name: "scylla",
        summary: "ScyllaDB or Cassandra: a table per entity, cells merged last-write-wins",
    },
    #[cfg(feature = "neo4j")]
    BackendDescriptor {
        kind: StoreKind::Graph,
        name: "neo4j",
        summary: "Neo4j over Bolt: a label and relationship type per entity, MERGE upserts",
    },
    #[cfg(feature = "influxdb")]
    BackendDescriptor {
        kind: StoreKind::TimeSeries,
        name: "influxdb",
        summary: "InfluxDB 2 over HTTP: line-protocol writes, Flux reads, the delete API",
    },
    #[cfg(feature = "mongodb")]
    BackendDescriptor {
        kind: StoreKind::Document,
        name: "mongodb",
        summary: "a MongoDB collection per entity, with indexes on declared fields",
    },
    #[cfg(feature = "elasticsearch")]
    BackendDescriptor {
        kind: StoreKind::Search,
        name: "elasticsearch",
        summary: "an Elasticsearch index per entity with explicit mappings; bulk indexing",
    },
];

/// Backends that polyroute provides behind a cargo feature, so a config naming one in a build
/// without it gets "rebuild with the feature" instead of "unknown backend".
const FEATURE_BACKENDS: &[(&str, &str)] = &[
    ("postgres", "postgres"),
    ("redis", "redis"),
    ("neo4j", "neo4j"),
    ("scylla", "scylla"),
    ("influxdb", "influxdb"),
    ("mongodb", "mongodb"),
    ("elasticsearch", "elasticsearch"),
];

/// What a backend learns from its surroundings when it connects: where it resolves relative
/// paths in its options (the config file's folder), and how long calls to it may last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectContext {
    /// Base for relative paths; empty means the current directory.
    pub base_dir: PathBuf,
    /// The longest deadline any call to this store gets (the router's entity and per-operation
    /// timeouts), when known. Server backends make it their server-side time limit unless
    /// their options set one, so a statement whose caller has given up cannot run on for
    /// long even if its cancel request is lost.
    pub longest_call: Option<std::time::Duration>,
}

impl ConnectContext {
    /// `path` as given when absolute, else joined to the base folder.
    pub fn resolve(&self, path: &std::path::Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// One problem with a store's backend options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionProblem {
    /// The option's path inside the store's table (`pool`, `tls.ca`), or empty for the table.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for OptionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Why a store's `kind`/`backend`/options cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No compiled backend of that name serves that kind.
    #[error("no backend `{backend}` for kind {kind}; available for {kind}: {}", available_names(*kind))]
    UnknownBackend {
        /// The kind asked for.
        kind: StoreKind,
        /// The backend asked for.
        backend: String,
    },
    /// The backend exists but is behind a cargo feature this build was compiled without.
    #[error("backend `{backend}` is not compiled into this build; rebuild polyroute with `--features {feature}`")]
    NotCompiled {
        /// The backend asked for.
        backend: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// The backend's options are wrong.
    #[error("{problem}")]
    InvalidOption {
        /// The first problem found (serde stops at the first).
        problem: OptionProblem,
    },
}

fn available_names(kind: StoreKind) -> String {
    let names: Vec<&str> = BACKENDS
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| b.name)
        .collect();
    if names.is_empty() {
        "none in this build".to_owned()
    } else {
        names.join(", ")
    }
}

/// Backend options, typed: one variant per compiled backend.
// Only the embedded backends are compiled without features, so every variant shares a prefix.
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
enum BackendConfig {
    EmbeddedKeyValue(embedded::key_value::Config),
    EmbeddedRelational(embedded::relational::Config),
    EmbeddedDocument(embedded::document::Config),
    EmbeddedWideColumn(embedded::wide_column::Config),
    EmbeddedGraph(embedded::graph::Config),
    EmbeddedTimeSeries(embedded::time_series::Config),
    EmbeddedSearch(embedded::search::Config),
    #[cfg(feature = "postgres")]
    Postgres(StoreKind, crate::postgres::Config),
    #[cfg(feature = "redis")]
    Redis(crate::redis::Config),
    #[cfg(feature = "scylla")]
    Scylla(crate::scylla::Config),
    #[cfg(feature = "neo4j")]
    Neo4j(crate::neo4j::Config),
    #[cfg(feature = "influxdb")]
    InfluxDb(crate::influxdb::Config),
    #[cfg(feature = "mongodb")]
    MongoDocument(crate::mongodb::Config),
    #[cfg(feature = "elasticsearch")]
    ElasticsearchSearch(crate::elasticsearch::Config),
}

fn parse<T: DeserializeOwned>(options: &serde_json::Value) -> Result<T, RegistryError> {
    serde_path_to_error::deserialize(options).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        RegistryError::InvalidOption {
            problem: OptionProblem {
                field,
                message: err.into_inner().to_string(),
            },
        }
    })
}

fn parse_config(
    kind: StoreKind,
    backend: &str,
    options: &serde_json::Value,
) -> Result<BackendConfig, RegistryError> {
    match (kind, backend) {
        (StoreKind::KeyValue, "embedded") => parse(options).map(BackendConfig::EmbeddedKeyValue),
        (StoreKind::Relational, "embedded") => {
            parse(options).map(BackendConfig::EmbeddedRelational)
        }
        (StoreKind::Document, "embedded") => parse(options).map(BackendConfig::EmbeddedDocument),
        (StoreKind::WideColumn, "embedded") => {
            parse(options).map(BackendConfig::EmbeddedWideColumn)
        }
        (StoreKind::Graph, "embedded") => parse(options).map(BackendConfig::EmbeddedGraph),
        (StoreKind::TimeSeries, "embedded") => {
            parse(options).map(BackendConfig::EmbeddedTimeSeries)
        }
        (StoreKind::Search, "embedded") => parse(options).map(BackendConfig::EmbeddedSearch),
        #[cfg(feature = "postgres")]
        (_, "postgres") => parse(options).map(|config| BackendConfig::Postgres(kind, config)),
        #[cfg(feature = "redis")]
        (StoreKind::KeyValue, "redis") => parse(options).map(BackendConfig::Redis),
        #[cfg(feature = "scylla")]
        (StoreKind::WideColumn, "scylla") => parse(options)
            .and_then(|config: crate::scylla::Config| {
                config
                    .check()
                    .map_err(|message| RegistryError::InvalidOption {
                        problem: OptionProblem {
                            field: String::new(),
                            message,
                        },
                    })?;
                Ok(config)
            })
            .map(BackendConfig::Scylla),
        #[cfg(feature = "neo4j")]
        (StoreKind::Graph, "neo4j") => parse(options).map(BackendConfig::Neo4j),
        #[cfg(feature = "influxdb")]
        (StoreKind::TimeSeries, "influxdb") => parse(options).map(BackendConfig::InfluxDb),
        #[cfg(feature = "mongodb")]
        (StoreKind::Document, "mongodb") => parse(options).map(BackendConfig::MongoDocument),
        #[cfg(feature = "elasticsearch")]
        (StoreKind::Search, "elasticsearch") => {
            parse(options).map(BackendConfig::ElasticsearchSearch)
        }

        _ => Err(
            match FEATURE_BACKENDS
                .iter()
                .find(|(name, _)| *name == backend && !BACKENDS.iter().any(|b| b.name == backend))
            {
                Some((_, feature)) => RegistryError::NotCompiled {
                    backend: backend.to_owned(),
                    feature,
                },
                None => RegistryError::UnknownBackend {
                    kind,
                    backend: backend.to_owned(),
                },
            },
        ),
    }
}

/// Checks that `backend` serves `kind` in this build and that `options` (a JSON object of the
/// store's table without `kind` and `backend`) are valid for it, without connecting.
pub fn validate(
    kind: StoreKind,
    backend: &str,
    options: &serde_json::Value,
) -> Result<(), RegistryError> {
    parse_config(kind, backend, options).map(drop)
}

/// Validates the options, then connects: opens files, pools, and checks the backend answers.
pub async fn connect(
    kind: StoreKind,
    backend: &str,
    options: &serde_json::Value,
    context: &ConnectContext,
) -> Result<Arc<dyn Store>> {
    let config =
        parse_config(kind, backend, options).map_err(|err| StoreError::invalid(err.to_string()))?;
    Ok(match config {
        BackendConfig::EmbeddedKeyValue(config) => {
            Arc::new(embedded::key_value::EmbeddedKeyValue::open(config)?)
        }
        BackendConfig::EmbeddedRelational(config) => {
            Arc::new(embedded::relational::EmbeddedRelational::open(config, context).await?)
        }
        BackendConfig::EmbeddedDocument(config) => {
            Arc::new(embedded::document::EmbeddedDocument::open(config, context).await?)
        }
        BackendConfig::EmbeddedWideColumn(config) => {
            Arc::new(embedded::wide_column::EmbeddedWideColumn::open(config, context).await?)
        }
        BackendConfig::EmbeddedGraph(config) => {
            Arc::new(embedded::graph::EmbeddedGraph::open(config, context).await?)
        }
        BackendConfig::EmbeddedTimeSeries(config) => {
            Arc::new(embedded::time_series::EmbeddedTimeSeries::open(config, context).await?)
        }
        BackendConfig::EmbeddedSearch(config) => {
            Arc::new(embedded::search::EmbeddedSearch::open(config, context).await?)
        }
        #[cfg(feature = "postgres")]
        BackendConfig::Postgres(kind, config) => {
            crate::postgres::connect(
                kind,
                config.resolve_paths(context).with_longest_call(context),
            )
            .await?
        }
        #[cfg(feature = "redis")]
        BackendConfig::Redis(config) => {
            Arc::new(crate::redis::RedisKeyValue::open(config.resolve_paths(context)).await?)
        }
        #[cfg(feature = "scylla")]
        BackendConfig::Scylla(config) => {
            Arc::new(crate::scylla::ScyllaWideColumn::open(config.resolve_paths(context)).await?)
        }
        #[cfg(feature = "neo4j")]
        BackendConfig::Neo4j(config) => Arc::new(crate::neo4j::Neo4jGraph::open(config).await?),
        #[cfg(feature = "influxdb")]
        BackendConfig::InfluxDb(config) => {
            Arc::new(crate::influxdb::InfluxTimeSeries::open(config).await?)
        }
        #[cfg(feature = "mongodb")]
        BackendConfig::MongoDocument(config) => {
            Arc::new(crate::mongodb::MongoDocument::open(config).await?)
        }
        #[cfg(feature = "elasticsearch")]
        BackendConfig::ElasticsearchSearch(config) => {
            Arc::new(crate::elasticsearch::ElasticsearchSearch::open(config).await?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_and_uncompiled_backends_are_told_apart() {
        let err = validate(StoreKind::KeyValue, "memcached", &json!({})).unwrap_err();
        assert!(matches!(err, RegistryError::UnknownBackend { .. }));
        assert!(
            err.to_string()
                .contains("available for key_value: embedded"),
            "{err}"
        );
        if cfg!(not(feature = "mongodb")) {
            let err = validate(StoreKind::Document, "mongodb", &json!({})).unwrap_err();
            assert!(err.to_string().contains("--features mongodb"), "{err}");
        }
    }

    #[test]
    fn option_problems_name_the_field() {
        let err =
            validate(StoreKind::Relational, "embedded", &json!({"pool": "many"})).unwrap_err();
        let RegistryError::InvalidOption { problem } = err else {
            panic!("expected an option problem");
        };
        assert_eq!(problem.field, "pool");
        let err = validate(StoreKind::KeyValue, "embedded", &json!({"max_mem": 1})).unwrap_err();
        assert!(err.to_string().contains("max_memory"), "{err}");
        assert!(validate(
            StoreKind::KeyValue,
            "embedded",
            &json!({"max_memory": "1MiB"})
        )
        .is_ok());
    }
}
