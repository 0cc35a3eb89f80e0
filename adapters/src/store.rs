//! [`Store`]: one connected store (a `[stores.NAME]` of the config), which opens a handle of its
//! kind for each entity routed to it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::kinds::document::{DocumentSettings, DocumentStore};
use crate::kinds::graph::{GraphSettings, GraphStore};
use crate::kinds::key_value::{KeyValueSettings, KeyValueStore};
use crate::kinds::relational::{RelationalSettings, RelationalStore};
use crate::kinds::search::{SearchSettings, SearchStore};
use crate::kinds::time_series::{TimeSeriesSettings, TimeSeriesStore};
use crate::kinds::wide_column::{WideColumnSettings, WideColumnStore};
use crate::{Capabilities, Result, StoreError, StoreKind};

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

/// What a connected store is: its kind, its backend and what that backend can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// The kind it serves.
    pub kind: StoreKind,
    /// The backend's name as written in config (`embedded`, `postgres`, `redis`, …).
    pub backend: &'static str,
    /// What the backend can do.
    pub capabilities: Capabilities,
}

/// The kind-specific settings of one entity.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EntitySettings {
    /// A key-value entity.
    KeyValue(KeyValueSettings),
    /// A time-series entity.
    TimeSeries(TimeSeriesSettings),
    /// A graph entity.
    Graph(GraphSettings),
    /// A relational entity.
    Relational(RelationalSettings),
    /// A wide-column entity.
    WideColumn(WideColumnSettings),
    /// A document entity.
    Document(DocumentSettings),
    /// A search entity.
    Search(SearchSettings),
}

impl EntitySettings {
    /// The kind these settings are for.
    pub fn kind(&self) -> StoreKind {
        match self {
            EntitySettings::KeyValue(_) => StoreKind::KeyValue,
            EntitySettings::TimeSeries(_) => StoreKind::TimeSeries,
            EntitySettings::Graph(_) => StoreKind::Graph,
            EntitySettings::Relational(_) => StoreKind::Relational,
            EntitySettings::WideColumn(_) => StoreKind::WideColumn,
            EntitySettings::Document(_) => StoreKind::Document,
            EntitySettings::Search(_) => StoreKind::Search,
        }
    }
}

/// One entity as a store sees it: a name that scopes its data, and its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EntitySpec {
    /// The entity's name: a key prefix, collection, table or index name in the store. Always an
    /// identifier (ASCII letters, digits and `_`, not starting with a digit).
    pub name: String,
    /// Kind-specific settings.
    pub settings: EntitySettings,
}

impl EntitySpec {
    /// Checks `name` and pairs it with `settings`.
    pub fn new(name: &str, settings: EntitySettings) -> Result<Self> {
        if !is_identifier(name) {
            return Err(StoreError::invalid(format!(
                "entity name `{name}` is not valid: use ASCII letters, digits and `_`, starting with a letter or `_` (at most 63 characters)"
            )));
        }
        Ok(EntitySpec {
            name: name.to_owned(),
            settings,
        })
    }
}

pub use crate::kinds::is_identifier;

/// An entity's handle on its store: the trait object of the store's kind.
#[derive(Clone, Debug)]
pub enum EntityHandle {
    /// A key-value handle.
    KeyValue(Arc<dyn KeyValueStore>),
    /// A time-series handle.
    TimeSeries(Arc<dyn TimeSeriesStore>),
    /// A graph handle.
    Graph(Arc<dyn GraphStore>),
    /// A relational handle.
    Relational(Arc<dyn RelationalStore>),
    /// A wide-column handle.
    WideColumn(Arc<dyn WideColumnStore>),
    /// A document handle.
    Document(Arc<dyn DocumentStore>),
    /// A search handle.
    Search(Arc<dyn SearchStore>),
}

impl EntityHandle {
    /// The kind of this handle.
    pub fn kind(&self) -> StoreKind {
        match self {
            EntityHandle::KeyValue(_) => StoreKind::KeyValue,
            EntityHandle::TimeSeries(_) => StoreKind::TimeSeries,
            EntityHandle::Graph(_) => StoreKind::Graph,
            EntityHandle::Relational(_) => StoreKind::Relational,
            EntityHandle::WideColumn(_) => StoreKind::WideColumn,
            EntityHandle::Document(_) => StoreKind::Document,
            EntityHandle::Search(_) => StoreKind::Search,
        }
    }
}

/// A connected store: one backend instance with its pools, serving every entity routed to it.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Kind, backend and capabilities.
    fn info(&self) -> StoreInfo;

    /// Opens the handle for `entity`, creating what it needs (tables, indexes) idempotently.
    /// Settings of another kind than the store's are an invalid request.
    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle>;

    /// One cheap round trip to the backend, to prove it is reachable and answering.
    async fn ping(&self) -> Result<()>;
}

/// The error for settings of the wrong kind, shared by every backend's `open`.
pub(crate) fn wrong_settings(info: &StoreInfo, entity: &EntitySpec) -> StoreError {
    StoreError::invalid(format!(
        "entity `{}` has {} settings but store backend `{}` serves {}",
        entity.name,
        entity.settings.kind(),
        info.backend,
        info.kind
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier("orders"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier("naïve"));
        assert!(!is_identifier(&"a".repeat(64)));
        assert!(
            EntitySpec::new("bad name", EntitySettings::Graph(GraphSettings::default())).is_err()
        );
    }
}
