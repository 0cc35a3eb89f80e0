//! The graph on fjall: the keyspace, an entity's partitions and shared topology, and the one
//! write path every change goes through.
//!
//! A write is staged under the entity's topology lock (checked against the topology, its new
//! names numbered), committed as one fjall transaction holding its node records, edge
//! properties and change-log record, then applied to the topology before the lock is released:
//! changes apply in commit order and no reader sees half of one.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use fjall::{PartitionCreateOptions, PersistMode, TxKeyspace, TxPartitionHandle, WriteTransaction};
use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};

use super::checkpoints::{self, Pending};
use super::topology::log::{self, Op};
use super::topology::Graph;
use crate::{Result, StoreError};

/// Maps a fjall error, keeping it as the source.
pub(super) fn map_error(err: fjall::Error) -> StoreError {
    StoreError::backend_with("graph storage failed", err)
}

/// The store-wide partition holding the format version and each entity's checkpoint; `$` is
/// never in an entity name.
const META: &str = "$meta";
const FORMAT_KEY: &[u8] = b"format";
/// The format written today: topology in change logs and checkpoints, edge properties apart.
const FORMAT: &[u8] = b"polyroute-graph/2";
/// The first format, whose entities are converted when opened ([`checkpoints::convert`]).
pub(super) const FIRST_FORMAT: &[u8] = b"polyroute-graph/1";

/// One fjall keyspace, how its writes are made durable, and where checkpoints go.
pub(super) struct Engine {
    pub(super) keyspace: TxKeyspace,
    pub(super) meta: TxPartitionHandle,
    /// `None` in temporary mode: nothing is flushed on commit.
    durability: Option<PersistMode>,
    /// The folder of checkpoint files.
    pub(super) checkpoints: PathBuf,
    /// What the handles on each entity share.
    entities: Mutex<HashMap<String, Arc<Shared>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

/// Engines open in this process, by folder.
static OPEN: Mutex<Vec<(PathBuf, Weak<Engine>)>> = Mutex::new(Vec::new());

impl Engine {
    /// Opens the keyspace at `path` (or in a fresh temporary folder removed on close), or
    /// returns the engine already open on it in this process: two fjall instances on one folder
    /// would corrupt it, and an engine outlives its last store handle while a checkpoint is
    /// being written. A second opening must ask for the same durability.
    pub(super) fn open_shared(
        path: Option<PathBuf>,
        durability: Option<PersistMode>,
        cache_size: u64,
    ) -> Result<Arc<Self>> {
        let Some(path) = path else {
            return Ok(Arc::new(Engine::open(None, durability, cache_size)?));
        };
        let key = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let mut open = OPEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|(_, engine)| engine.strong_count() > 0);
        if let Some(engine) = open
            .iter()
            .filter(|(folder, _)| *folder == key)
            .find_map(|(_, engine)| engine.upgrade())
        {
            if engine.durability != durability {
                return Err(StoreError::invalid(format!(
                    "graph folder {} is already open in this process with another `synchronous` setting; \
                     give every store on one folder the same settings",
                    key.display()
                )));
            }
            return Ok(engine);
        }
        let engine = Arc::new(Engine::open(Some(path), durability, cache_size)?);
        open.push((key, Arc::downgrade(&engine)));
        Ok(engine)
    }

    /// Opens the keyspace at `path`, or in a fresh temporary folder removed on close.
    pub(super) fn open(
        path: Option<PathBuf>,
        durability: Option<PersistMode>,
        cache_size: u64,
    ) -> Result<Self> {
        let (config, folder) = match path {
            Some(path) => (fjall::Config::new(&path), path),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("polyroute-graph-")
                    .tempdir()
                    .map_err(|err| {
                        StoreError::backend_with("cannot create a temporary graph folder", err)
                    })?;
                // fjall removes the folder, checkpoints included, when the keyspace closes.
                let folder = dir.keep();
                (fjall::Config::new(&folder).temporary(true), folder)
            }
        };
        let keyspace = config
            .cache_size(cache_size)
            .manual_journal_persist(true)
            .open_transactional()
            .map_err(map_error)?;
        let meta = keyspace
            .open_partition(META, PartitionCreateOptions::default())
            .map_err(map_error)?;
        match meta.get(FORMAT_KEY).map_err(map_error)? {
            Some(format) if &*format == FORMAT => {}
            None => {
                let mut tx = keyspace.write_tx().durability(durability);
                tx.insert(&meta, FORMAT_KEY, FORMAT);
                tx.commit().map_err(map_error)?;
            }
            Some(format) if &*format == FIRST_FORMAT => {
                // Entities still in the first format are converted as they are opened; a
                // build that reads only the first format must no longer open the folder.
                let mut tx = keyspace.write_tx().durability(Some(PersistMode::SyncAll));
                tx.insert(&meta, FORMAT_KEY, FORMAT);
                tx.commit().map_err(map_error)?;
            }
            Some(format) => {
                return Err(StoreError::backend(format!(
                    "the graph folder holds format `{}`; this build reads `{}`",
                    String::from_utf8_lossy(&format),
                    String::from_utf8_lossy(FORMAT)
                )))
            }
        }
        Ok(Engine {
            keyspace,
            meta,
            durability,
            checkpoints: folder.join("topology"),
            entities: Mutex::default(),
        })
    }

    /// Whether acknowledged writes survive a restart.
    pub(super) fn is_durable(&self) -> bool {
        self.durability.is_some()
    }

    /// Reads the format marker back.
    pub(super) fn ping(&self) -> Result<()> {
        match self.meta.get(FORMAT_KEY).map_err(map_error)? {
            Some(_) => Ok(()),
            None => Err(StoreError::backend("the graph format marker is missing")),
        }
    }

    /// A write transaction with the store's durability.
    pub(super) fn write(&self) -> WriteTransaction<'_> {
        self.keyspace.write_tx().durability(self.durability)
    }

    /// A write transaction flushed to disk whenever the store is durable at all: for metadata
    /// that files on disk are removed on the strength of.
    pub(super) fn write_synced(&self) -> WriteTransaction<'_> {
        let durability = self.durability.map(|_| PersistMode::SyncAll);
        self.keyspace.write_tx().durability(durability)
    }

    /// What the handles on entity `name` share, the same for every handle on it.
    fn shared(&self, name: &str) -> Arc<Shared> {
        let mut entities = self
            .entities
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(entities.entry(name.to_owned()).or_default())
    }
}

/// What every handle on one entity shares: its topology, absent until loaded (or after a panic
/// while it was being changed), and its checkpoint writer's state.
#[derive(Debug, Default)]
pub(super) struct Shared {
    graph: RwLock<Option<Graph>>,
    pub(super) pending: Mutex<Pending>,
}

/// One entity's partitions.
#[derive(Clone)]
pub(super) struct Partitions {
    /// Node id → label and properties.
    pub(super) nodes: TxPartitionHandle,
    /// `(from, label, to)` → properties, for the edges that have any.
    pub(super) props: TxPartitionHandle,
    /// Change-log position → topology changes ([`log`]).
    pub(super) log: TxPartitionHandle,
}

impl fmt::Debug for Partitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Partitions")
    }
}

/// One entity's graph.
#[derive(Debug)]
pub(super) struct EntityGraph {
    pub(super) engine: Arc<Engine>,
    pub(super) name: String,
    pub(super) parts: Partitions,
    pub(super) shared: Arc<Shared>,
}

/// Runs `work`, turning a panic inside it into an error: a request must never take the process
/// or the store down, whatever an engine asserts.
pub(super) fn contained<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(StoreError::backend(format!(
            "the graph engine failed this call ({what}); nothing was written"
        )))
    })
}

/// The key of a change-log record.
pub(super) fn log_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

impl EntityGraph {
    /// Opens (creating if needed) the partitions of entity `name` and loads its topology.
    pub(super) fn open(engine: Arc<Engine>, name: &str) -> Result<Self> {
        let open = |suffix: &str| {
            engine
                .keyspace
                .open_partition(
                    &format!("{name}.{suffix}"),
                    PartitionCreateOptions::default(),
                )
                .map_err(map_error)
        };
        let parts = Partitions {
            nodes: open("nodes")?,
            props: open("props")?,
            log: open("log")?,
        };
        let shared = engine.shared(name);
        let graph = EntityGraph {
            engine,
            name: name.to_owned(),
            parts,
            shared,
        };
        checkpoints::convert(&graph)?;
        graph.read().map(drop)?;
        Ok(graph)
    }

    /// The topology, loaded first if absent, for reading.
    pub(super) fn read(&self) -> Result<MappedRwLockReadGuard<'_, Graph>> {
        loop {
            match RwLockReadGuard::try_map(self.shared.graph.read(), Option::as_ref) {
                Ok(graph) => return Ok(graph),
                Err(absent) => {
                    drop(absent);
                    self.load_into(&mut self.shared.graph.write())?;
                }
            }
        }
    }

    /// Loads the topology from storage into `slot` unless it holds one already.
    fn load_into(&self, slot: &mut Option<Graph>) -> Result<()> {
        if slot.is_none() {
            let (graph, checkpoint) = checkpoints::load(self)?;
            *slot = Some(graph);
            if let Some(checkpoint) = checkpoint {
                checkpoints::submit(self, checkpoint);
            }
        }
        Ok(())
    }

    /// The one write path: stages a change with `stage` on a fresh transaction and the
    /// topology, appends its change-log records, commits, and applies the changes to the
    /// topology, all under the topology's lock. `stage` returns whether there is anything to
    /// commit, and so does this.
    ///
    /// The topology is taken out of its slot while it is changed: should anything panic
    /// (fjall asserts on what it cannot store), the panic becomes an error, the slot stays
    /// empty and the next call reloads the topology from storage. The transaction stays owned
    /// here, so a failed write is dropped the ordinary way, rolled back, and fjall's writer lock
    /// is released unpoisoned.
    pub(super) fn write<'s>(
        &'s self,
        stage: impl FnOnce(&mut WriteTransaction<'s>, &mut Graph, &mut Vec<Op>) -> Result<bool>,
    ) -> Result<bool> {
        let mut guard = self.shared.graph.write();
        self.load_into(&mut guard)?;
        let Some(mut graph) = guard.take() else {
            return Err(StoreError::backend(
                "the graph topology could not be loaded",
            ));
        };
        let mark = graph.mark();
        let mut tx = self.engine.write();
        let mut ops = Vec::new();
        let staged = contained(|| stage(&mut tx, &mut graph, &mut ops));
        if !matches!(staged, Ok(true)) {
            graph.rollback(mark);
            *guard = Some(graph);
            return staged;
        }
        let mut seq = graph.seq();
        for chunk in ops.chunks(log::OPS_PER_RECORD) {
            seq += 1;
            tx.insert(&self.parts.log, log_key(seq), log::encode(chunk));
        }
        if let Err(err) = contained(|| tx.commit().map_err(map_error)) {
            graph.rollback(mark);
            *guard = Some(graph);
            return Err(err);
        }
        // Committed: from here the topology must follow, or be reloaded from storage.
        for op in &ops {
            if let Err(err) = graph.apply_staged(op) {
                tracing::error!(entity = %self.name, %err, "graph topology out of step; reloading it");
                return Ok(true);
            }
        }
        graph.set_seq(seq);
        let checkpoint = graph.settle();
        *guard = Some(graph);
        drop(guard);
        if let Some(checkpoint) = checkpoint {
            checkpoints::submit(self, checkpoint);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::graph::{Edge, Node};
    use crate::ErrorKind;

    fn graph() -> EntityGraph {
        let engine = Arc::new(Engine::open(None, None, 1 << 20).unwrap());
        EntityGraph::open(engine, "g").unwrap()
    }

    /// A key fjall cannot store (it asserts keys are below 64 KiB) reaches the engine only past
    /// the contract's checks; even then the write fails as an error and the next ones work.
    #[test]
    fn an_engine_panic_fails_one_write_and_leaves_the_store_usable() {
        let graph = graph();
        let huge = "x".repeat(70_000);
        let err = graph.upsert_node(&Node::new(&huge, "person")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        graph.upsert_node(&Node::new("a", "person")).unwrap();
        graph.upsert_node(&Node::new("b", "person")).unwrap();
        assert!(graph
            .upsert_edge(&Edge::new("a", huge.as_str(), "b").with("w", 1))
            .is_err());
        assert!(graph.upsert_batch(&[Node::new(&huge, "p")], &[]).is_err());
        assert!(!matches!(graph.delete_edge("a", &huge, "b"), Ok(true)));
        graph.upsert_edge(&Edge::new("a", "knows", "b")).unwrap();
        // A read fjall cannot serve is contained the same way (every call runs under
        // `contained` on the blocking threads).
        assert!(contained(|| graph.get_node(&huge)).is_err());
        assert_eq!(graph.get_node("a").unwrap().unwrap().label, "person");
        assert!(graph.delete_edge("a", "knows", "b").unwrap());
        assert!(graph.delete_node("b").unwrap());
        // The failed writes gave their names back: the log numbers every name as the
        // topology does, so the graph reopens the same.
        let snapshot = graph.snapshot().unwrap();
        assert!(snapshot.graph.contains("a"));
        assert!(!snapshot.graph.contains(&huge));
    }
}
