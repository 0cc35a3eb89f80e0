//! The embedded graph backend: labelled nodes and directed, labelled edges, the topology in
//! memory as compressed sparse rows, the records in fjall (an LSM tree with partitions and a
//! write-ahead journal).
//!
//! # Layout
//!
//! One fjall keyspace (a folder) per store; each entity has three partitions of its own and a
//! checkpoint file:
//!
//! | where | key | value |
//! |---|---|---|
//! | `<entity>.nodes` | node id | label and properties |
//! | `<entity>.props` | `(from, label, to)` | the edge's properties, for edges that have any |
//! | `<entity>.log` | change-log position | topology changes (`topology::log`) |
//! | `topology/<entity>.<generation>.topology` | | the whole topology (`topology::file`) |
//!
//! The topology (`topology`) is the record of which nodes and edges exist. Every write is
//! staged against it under the entity's lock, committed as one fjall write transaction (its
//! node records, edge properties and change-log record together), then applied to it before
//! the lock is released (`engine`): a batch lands whole or not at all, an edge can never
//! point at a node being deleted, and readers see the committed graph. Checkpoints are written
//! in the background and cut the log (`checkpoints`); opening an entity reads its checkpoint
//! and replays the log after it. Property keys are tuples in the order-preserving encoding of
//! [`keys`]; values are stored as described in [`codec`].
//!
//! # Semantics
//!
//! Those of [`GraphStore`]: ids and labels are non-empty text; asking about a missing node is
//! [`StoreError::NotFound`]; results are ordered as the trait documents.

mod checkpoints;
mod codec;
mod engine;
mod keys;
mod meet;
mod reads;
mod search;
mod topology;
mod writes;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use fjall::PersistMode;
use serde::Deserialize;

use self::engine::{Engine, EntityGraph};
use crate::backend::{Backend, BackendDescriptor};
pub use crate::embedded::durability::Synchronous;
use crate::kinds::graph::{
    Bounded, Edge, EdgeFilter, GraphStore, Neighbor, Node, Path, PathQuery, TraverseQuery, Visit,
};
use crate::store::{wrong_settings, ConnectContext};
use crate::units::ByteSize;
use crate::{
    Capabilities, EntityHandle, EntitySettings, EntitySpec, Result, Store, StoreInfo, StoreKind,
};

/// Options of an embedded graph store (`[stores.NAME]` with `kind = "graph"`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data folder, relative to the config file's folder; omitted: a private temporary folder
    /// deleted when the store closes (not durable).
    pub path: Option<PathBuf>,
    /// `"full"` (default: every write is fsynced before it is acknowledged) or `"normal"`
    /// (faster; an acknowledged write survives a crash of the process, not of the machine).
    pub synchronous: Option<Synchronous>,
    /// Size of the block cache shared by every entity of the store (default `"32MiB"`).
    pub cache_size: Option<ByteSize>,
}

const DEFAULT_CACHE: u64 = 32 * 1024 * 1024;

const INFO: StoreInfo = StoreInfo {
    kind: StoreKind::Graph,
    backend: "embedded",
    capabilities: Capabilities {
        ttl: false,
        transactions: false,
        ordered_scan: true,
        durable: true,
        secondary_indexes: false,
        atomic_increment: false,
        full_text: false,
        weighted_paths: true,
        batch_writes: true,
        evicts: false,
    },
};

/// An embedded graph database; every graph entity routed to it has its own partitions in it.
#[derive(Clone, Debug)]
pub struct EmbeddedGraph {
    engine: Arc<Engine>,
}

impl EmbeddedGraph {
    /// Opens (creating if needed) the data folder `config` describes.
    pub async fn open(config: Config, context: &ConnectContext) -> Result<Self> {
        let path = config.path.as_deref().map(|path| context.resolve(path));
        let durability = match (&path, config.synchronous.unwrap_or_default()) {
            (None, _) => None,
            (Some(_), Synchronous::Full) => Some(PersistMode::SyncAll),
            (Some(_), Synchronous::Normal) => Some(PersistMode::Buffer),
        };
        let cache = config.cache_size.map_or(DEFAULT_CACHE, |size| size.0);
        let engine = blocking(move || Engine::open_shared(path, durability, cache)).await?;
        Ok(EmbeddedGraph { engine })
    }
}

/// Runs `work` on tokio's blocking threads (fjall does file I/O and takes locks), a panic
/// inside it turned into an error ([`engine::contained`]), stopped at its next checkpoint when
/// the call is abandoned ([`crate::work::blocking`]).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    crate::work::blocking(move || engine::contained(work)).await
}

/// The embedded graph backend, as the registry lists it.
pub const BACKEND: BackendDescriptor = BackendDescriptor::of::<EmbeddedGraph>(
    StoreKind::Graph,
    "embedded",
    "labelled property graph: compressed-row topology in memory, kept by a change log and checkpoints; records in an LSM (fjall)",
);

impl Backend for EmbeddedGraph {
    type Config = Config;

    async fn connect(
        _: StoreKind,
        config: Config,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EmbeddedGraph::open(config, context).await?))
    }
}

#[async_trait]
impl Store for EmbeddedGraph {
    fn info(&self) -> StoreInfo {
        let mut info = INFO;
        info.capabilities.durable = self.engine.is_durable();
        info
    }

    async fn open(&self, entity: &EntitySpec) -> Result<EntityHandle> {
        let EntitySettings::Graph(settings) = &entity.settings else {
            return Err(wrong_settings(&self.info(), entity));
        };
        let (engine, name) = (Arc::clone(&self.engine), entity.name.clone());
        let graph = blocking(move || EntityGraph::open(engine, &name)).await?;
        Ok(EntityHandle::Graph(Bounded::wrap(
            settings,
            Arc::new(Handle(Arc::new(graph))),
        )))
    }

    async fn ping(&self) -> Result<()> {
        let engine = Arc::clone(&self.engine);
        blocking(move || engine.ping()).await
    }
}

/// One entity's graph, as the trait object handed out.
#[derive(Debug)]
struct Handle(Arc<EntityGraph>);

impl Handle {
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EntityGraph) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let graph = Arc::clone(&self.0);
        blocking(move || work(&graph)).await
    }
}

#[async_trait]
impl GraphStore for Handle {
    async fn upsert_node(&self, node: Node) -> Result<()> {
        self.run(move |g| g.upsert_node(&node)).await
    }

    async fn get_node(&self, id: &str) -> Result<Option<Node>> {
        let id = id.to_owned();
        self.run(move |g| g.get_node(&id)).await
    }

    async fn delete_node(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.run(move |g| g.delete_node(&id)).await
    }

    async fn upsert_edge(&self, edge: Edge) -> Result<()> {
        self.run(move |g| g.upsert_edge(&edge)).await
    }

    async fn upsert_batch(&self, nodes: Vec<Node>, edges: Vec<Edge>) -> Result<()> {
        self.run(move |g| g.upsert_batch(&nodes, &edges)).await
    }

    async fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        let (from, label, to) = (from.to_owned(), label.to_owned(), to.to_owned());
        self.run(move |g| g.delete_edge(&from, &label, &to)).await
    }

    async fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        let (id, edges) = (id.to_owned(), edges.clone());
        self.run(move |g| g.neighbors(&id, &edges, limit)).await
    }

    async fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        let query = query.clone();
        self.run(move |g| g.traverse(&query)).await
    }

    async fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        let query = query.clone();
        self.run(move |g| g.count_reachable(&query)).await
    }

    async fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        let query = query.clone();
        self.run(move |g| g.shortest_path(&query)).await
    }

    async fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        let (id, edges) = (id.to_owned(), edges.clone());
        self.run(move |g| g.degree(&id, &edges)).await
    }
}
