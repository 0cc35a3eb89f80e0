//! One driver per store kind: connects an embedded store, loads the synthetic records, and
//! runs one access at a time, timing only the access itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use polyroute_adapters::kinds::document::{DocumentSettings, FieldPath};
use polyroute_adapters::kinds::graph::GraphSettings;
use polyroute_adapters::kinds::key_value::KeyValueSettings;
use polyroute_adapters::kinds::relational::RelationalSettings;
use polyroute_adapters::kinds::search::{SearchField, SearchFieldKind, SearchSettings};
use polyroute_adapters::kinds::time_series::TimeSeriesSettings;
use polyroute_adapters::kinds::wide_column::WideColumnSettings;
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreError, StoreKind};
use serde_json::json;

use super::data::{Data, Picker};
use crate::spec::Access;

mod document;
mod graph;
mod key_value;
mod relational;
mod search;
mod time_series;
mod wide_column;

/// The outcome of one run of an access.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// It ran; this long.
    Timed(Duration),
    /// The kind has no way to serve this op in the replay.
    NotServed,
}

/// Times `future`, returning its output and how long it took.
pub(crate) async fn timed<T>(
    future: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<Duration, StoreError> {
    let started = Instant::now();
    future.await?;
    Ok(started.elapsed())
}

/// A connected, loaded embedded store of one kind.
pub struct Driver {
    // Kept so the store (and its temporary folder) lives as long as the handle.
    _store: Arc<dyn Store>,
    handle: EntityHandle,
    data: Data,
}

/// Options of the embedded backends for a replay: in memory, or without fsync, so the replay
/// times the engines' data structures rather than the disk.
fn options(kind: StoreKind) -> serde_json::Value {
    match kind {
        StoreKind::WideColumn | StoreKind::Graph => json!({ "synchronous": "normal" }),
        _ => json!({}),
    }
}

fn settings(kind: StoreKind) -> Result<EntitySettings, StoreError> {
    Ok(match kind {
        StoreKind::KeyValue => EntitySettings::KeyValue(KeyValueSettings::default()),
        StoreKind::Relational => EntitySettings::Relational(RelationalSettings::default()),
        StoreKind::Graph => EntitySettings::Graph(GraphSettings::default()),
        StoreKind::TimeSeries => EntitySettings::TimeSeries(TimeSeriesSettings::default()),
        StoreKind::Document => EntitySettings::Document(DocumentSettings::with_indexes(vec![
            FieldPath::parse("grp")?,
            FieldPath::parse("attr")?,
            FieldPath::parse("ts")?,
        ])),
        StoreKind::WideColumn => EntitySettings::WideColumn(WideColumnSettings::new(
            vec!["grp".to_owned()],
            vec!["ts".to_owned(), "id".to_owned()],
        )),
        StoreKind::Search => EntitySettings::Search(SearchSettings::with_fields(vec![
            SearchField {
                name: "body".to_owned(),
                kind: SearchFieldKind::Text,
            },
            SearchField {
                name: "attr".to_owned(),
                kind: SearchFieldKind::Keyword,
            },
            SearchField {
                name: "grp".to_owned(),
                kind: SearchFieldKind::Integer,
            },
        ])),
    })
}

impl Driver {
    /// Connects an embedded store of `kind` and loads `data` into it.
    pub async fn open(kind: StoreKind, data: Data) -> Result<Driver, StoreError> {
        let store =
            registry::connect(kind, "embedded", &options(kind), &ConnectContext::default()).await?;
        let handle = store
            .open(&EntitySpec::new("replay", settings(kind)?)?)
            .await?;
        let driver = Driver {
            _store: store,
            handle,
            data,
        };
        driver.load().await?;
        Ok(driver)
    }

    async fn load(&self) -> Result<(), StoreError> {
        let data = &self.data;
        match &self.handle {
            EntityHandle::KeyValue(store) => key_value::load(store.as_ref(), data).await,
            EntityHandle::Relational(store) => relational::load(store.as_ref(), data).await,
            EntityHandle::Document(store) => document::load(store.as_ref(), data).await,
            EntityHandle::WideColumn(store) => wide_column::load(store.as_ref(), data).await,
            EntityHandle::TimeSeries(store) => time_series::load(store.as_ref(), data).await,
            EntityHandle::Graph(store) => graph::load(store.as_ref(), data).await,
            EntityHandle::Search(store) => search::load(store.as_ref(), data).await,
        }
    }

    /// Runs `access` once, on records chosen by `pick`; `step` numbers the runs (new records
    /// get fresh ids from it).
    pub async fn run(
        &self,
        access: &Access,
        pick: &mut Picker,
        step: usize,
    ) -> Result<Step, StoreError> {
        let data = &self.data;
        match &self.handle {
            EntityHandle::KeyValue(store) => {
                key_value::run(store.as_ref(), data, access, pick, step).await
            }
            EntityHandle::Relational(store) => {
                relational::run(store.as_ref(), data, access, pick, step).await
            }
            EntityHandle::Document(store) => {
                document::run(store.as_ref(), data, access, pick, step).await
            }
            EntityHandle::WideColumn(store) => {
                wide_column::run(store.as_ref(), data, access, pick, step).await
            }
            EntityHandle::TimeSeries(store) => {
                time_series::run(store.as_ref(), data, access, pick, step).await
            }
            EntityHandle::Graph(store) => {
                graph::run(store.as_ref(), data, access, pick, step).await
            }
            EntityHandle::Search(store) => {
                search::run(store.as_ref(), data, access, pick, step).await
            }
        }
    }
}

/// Deepest traversal a replay runs: past it the synthetic graph's fan-out covers every record
/// and the time says nothing more about the store.
pub const MAX_REPLAY_DEPTH: u32 = 4;

/// The depth of a traversal access, capped for the replay.
pub(crate) fn depth(access: &Access) -> u32 {
    access.depth.unwrap_or(1).min(MAX_REPLAY_DEPTH)
}
