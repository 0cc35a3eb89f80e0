//! [`RouterError`]: why a router could not be built, or a handle or store could not be had.

use std::fmt;

use polyroute_adapters::{StoreError, StoreKind};

use crate::config::ConfigError;

/// Why a router could not be built, or a name could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The config (or the builder's declarations) has mistakes: all of them.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Stores that could not be connected and entities that could not be opened: all of them,
    /// one per line in `Display`.
    #[error("{}", list(.0))]
    Startup(Vec<StartupFailure>),
    /// No entity of that name is routed.
    #[error("unknown entity `{name}`; routed entities: {}", names(known))]
    UnknownEntity {
        /// The name asked for.
        name: String,
        /// The routed entities.
        known: Vec<String>,
    },
    /// The entity exists but is of another kind than the handle asked for.
    #[error("entity `{entity}` is {actual} (on store `{store}`), not {expected}; use `router.{actual}(\"{entity}\")`")]
    WrongKind {
        /// The entity.
        entity: String,
        /// The kind of handle asked for.
        expected: StoreKind,
        /// The entity's kind.
        actual: StoreKind,
        /// The store it is routed to.
        store: String,
    },
    /// The entity is not a record entity (or, for an outbox, propagates nowhere).
    #[error("entity `{entity}` is not a record entity{}; declare `table`/`key` (and `propagate = {{ to = [...] }}`) on a relational entity", if *.outbox { " with `propagate`" } else { "" })]
    NotRecord {
        /// The entity.
        entity: String,
        /// Whether an outbox (propagation) was asked for.
        outbox: bool,
    },
    /// No store of that name is connected.
    #[error("unknown store `{name}`; connected stores: {}", names(known))]
    UnknownStore {
        /// The name asked for.
        name: String,
        /// The connected stores.
        known: Vec<String>,
    },
    /// A store operation (such as a ping) failed.
    #[error("store `{store}`: {source}")]
    Store {
        /// The store.
        store: String,
        /// What failed.
        #[source]
        source: StoreError,
    },
}

/// A store that could not be connected, or an entity that could not be opened on its store.
#[derive(Debug)]
pub struct StartupFailure {
    /// The store.
    pub store: String,
    /// The entity, when opening it failed (`None`: connecting the store failed).
    pub entity: Option<String>,
    /// What failed.
    pub error: StoreError,
}

impl fmt::Display for StartupFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entity {
            None => write!(f, "stores.{}: cannot connect: {}", self.store, self.error),
            Some(entity) => write!(
                f,
                "entities.{entity}: cannot open on store `{}`: {}",
                self.store, self.error
            ),
        }
    }
}

fn list(failures: &[StartupFailure]) -> String {
    let lines: Vec<String> = failures.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

fn names(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
