//! The graph on fjall: opening the keyspace and an entity's partitions, writes, and the
//! snapshot reads that queries are built from.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fjall::{
    PartitionCreateOptions, PersistMode, ReadTransaction, TxKeyspace, TxPartitionHandle,
    WriteTransaction,
};

use super::adjacency::{Adjacency, Topology};
use super::{codec, keys};
use crate::kinds::graph::{Direction, Edge, EdgeFilter, Neighbor, Node};
use crate::{Result, StoreError, Value};

/// Maps a fjall error, keeping it as the source.
pub(super) fn map_error(err: fjall::Error) -> StoreError {
    StoreError::backend_with("graph storage failed", err)
}

/// The store-wide partition holding the format version; `$` is never in an entity name.
const META: &str = "$meta";
const FORMAT_KEY: &[u8] = b"format";
const FORMAT: &[u8] = b"polyroute-graph/1";

/// One fjall keyspace and how its writes are made durable.
pub(super) struct Engine {
    keyspace: TxKeyspace,
    meta: TxPartitionHandle,
    /// `None` in temporary mode: nothing is flushed on commit.
    durability: Option<PersistMode>,
    /// Each entity's in-memory topology, shared by every handle opened on it.
    topologies: Mutex<HashMap<String, Arc<Topology>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the keyspace at `path`, or in a fresh temporary folder removed on close.
    pub(super) fn open(
        path: Option<PathBuf>,
        durability: Option<PersistMode>,
        cache_size: u64,
    ) -> Result<Self> {
        let config = match path {
            Some(path) => fjall::Config::new(path),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("polyroute-graph-")
                    .tempdir()
                    .map_err(|err| {
                        StoreError::backend_with("cannot create a temporary graph folder", err)
                    })?;
                // fjall removes the folder when the keyspace closes.
                fjall::Config::new(dir.keep()).temporary(true)
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
            Some(format) => {
                return Err(StoreError::backend(format!(
                    "the graph folder holds format `{}`; this build reads `{}`",
                    String::from_utf8_lossy(&format),
                    String::from_utf8_lossy(FORMAT)
                )))
            }
            None => {
                let mut tx = keyspace.write_tx().durability(durability);
                tx.insert(&meta, FORMAT_KEY, FORMAT);
                tx.commit().map_err(map_error)?;
            }
        }
        Ok(Engine {
            keyspace,
            meta,
            durability,
            topologies: Mutex::default(),
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

    fn write(&self) -> WriteTransaction<'_> {
        self.keyspace.write_tx().durability(self.durability)
    }

    /// The topology of entity `name`, the same for every handle on it.
    fn topology(&self, name: &str) -> Arc<Topology> {
        let mut topologies = self
            .topologies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(topologies.entry(name.to_owned()).or_default())
    }
}

/// One entity's partitions.
#[derive(Debug)]
pub(super) struct EntityGraph {
    engine: Arc<Engine>,
    pub(super) parts: Partitions,
    topology: Arc<Topology>,
}

/// The three partitions of one entity.
pub(super) struct Partitions {
    nodes: TxPartitionHandle,
    out: TxPartitionHandle,
    into: TxPartitionHandle,
}

impl fmt::Debug for Partitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Partitions")
    }
}

/// One side of the adjacency index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Side {
    /// Edges leaving the node: keys `(from, label, to)`.
    Out,
    /// Edges reaching the node: keys `(to, label, from)`.
    In,
}

impl Side {
    /// The sides a direction reads.
    pub(super) fn of(direction: Direction) -> &'static [Side] {
        match direction {
            Direction::Out => &[Side::Out],
            Direction::In => &[Side::In],
            Direction::Both => &[Side::Out, Side::In],
        }
    }
}

/// One edge seen from one of its ends.
pub(super) struct Hop {
    pub side: Side,
    pub label: String,
    /// The node at the other end.
    pub other: String,
    /// The stored properties, still encoded.
    pub value: fjall::Slice,
}

impl Hop {
    /// The edge as the caller sees it, given the node it was read from.
    pub(super) fn edge(&self, node: &str) -> Result<Edge> {
        let (from, to) = match self.side {
            Side::Out => (node, self.other.as_str()),
            Side::In => (self.other.as_str(), node),
        };
        Ok(Edge {
            properties: codec::decode_edge(from, &self.label, to, &self.value)?,
            from: from.to_owned(),
            to: to.to_owned(),
            label: self.label.clone(),
        })
    }
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

fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    Ok(())
}

/// Checks a filter's labels; returns them sorted and without repeats.
pub(super) fn filter_labels(edges: &EdgeFilter) -> Result<Vec<&str>> {
    let mut labels: Vec<&str> = edges.labels.iter().map(String::as_str).collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err(StoreError::invalid(
            "an edge label in a filter must not be empty; leave `labels` empty to follow every label",
        ));
    }
    labels.sort_unstable();
    labels.dedup();
    Ok(labels)
}

impl EntityGraph {
    /// Opens (creating if needed) the partitions of entity `name`.
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
            out: open("out")?,
            into: open("in")?,
        };
        let topology = engine.topology(name);
        Ok(EntityGraph {
            engine,
            parts,
            topology,
        })
    }

    /// Commits `tx`, then applies `change` to the in-memory topology if it is built, under
    /// the topology's lock so changes apply in commit order. A change that cannot be applied
    /// drops the topology, to be rebuilt from storage by the next query that needs it.
    fn commit(
        &self,
        tx: WriteTransaction<'_>,
        change: impl FnOnce(&mut Adjacency) -> Result<()>,
    ) -> Result<()> {
        let mut topology = self.topology.lock();
        tx.commit().map_err(map_error)?;
        if let Some(adjacency) = topology.as_mut() {
            if change(adjacency).is_err() {
                *topology = None;
            }
        }
        Ok(())
    }

    /// Runs `query` on the in-memory topology, building it from a snapshot first if needed.
    pub(super) fn with_topology<T>(&self, query: impl FnOnce(&Adjacency) -> T) -> Result<T> {
        self.topology.query(
            || {
                let snapshot = self.snapshot();
                Adjacency::build(
                    snapshot
                        .tx
                        .keys(&self.parts.nodes)
                        .map(|k| k.map_err(map_error)),
                    snapshot
                        .tx
                        .keys(&self.parts.out)
                        .map(|k| k.map_err(map_error)),
                )
            },
            query,
        )
    }

    /// A consistent snapshot to read from.
    pub(super) fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            tx: self.engine.keyspace.read_tx(),
            parts: &self.parts,
        }
    }

    /// Stages a write on a fresh write transaction, then commits it and applies `change` to
    /// the topology (see [`commit`](Self::commit)); `stage` returns whether there is anything to
    /// commit, and so does this.
    ///
    /// Staging runs under [`contained`] while the transaction stays owned here: should fjall
    /// panic (it asserts on what it cannot store), the panic becomes an error and the
    /// transaction is dropped the ordinary way, rolled back, so fjall's writer lock is released
    /// unpoisoned and every later write still works.
    fn write<'s>(
        &'s self,
        stage: impl FnOnce(&mut WriteTransaction<'s>) -> Result<bool>,
        change: impl FnOnce(&mut Adjacency) -> Result<()>,
    ) -> Result<bool> {
        let mut tx = self.engine.write();
        if !contained(|| stage(&mut tx))? {
            return Ok(false);
        }
        self.commit(tx, change)?;
        Ok(true)
    }

    pub(super) fn upsert_node(&self, node: &Node) -> Result<()> {
        check_id("a node id", &node.id)?;
        check_id("a node label", &node.label)?;
        let value = codec::encode_node(&node.label, &node.properties)?;
        self.write(
            |tx| {
                tx.insert(&self.parts.nodes, node.id.as_bytes(), value);
                Ok(true)
            },
            |adjacency| adjacency.add_node(&node.id),
        )?;
        Ok(())
    }

    pub(super) fn get_node(&self, id: &str) -> Result<Option<Node>> {
        self.snapshot().node(id)
    }

    pub(super) fn delete_node(&self, id: &str) -> Result<bool> {
        let stage = |tx: &mut WriteTransaction<'_>| -> Result<bool> {
            if !tx.contains_key(&self.parts.nodes, id).map_err(map_error)? {
                return Ok(false);
            }
            let prefix = keys::encode(&[id]);
            let mut doomed = Vec::new();
            for (side, partition) in [(Side::Out, &self.parts.out), (Side::In, &self.parts.into)] {
                for item in tx.prefix(partition, &prefix) {
                    let (key, _) = item.map_err(map_error)?;
                    let (_, label, other) = decode_key(&key)?;
                    doomed.push((side, label, other));
                }
            }
            for (side, label, other) in doomed {
                let (from, to) = match side {
                    Side::Out => (id, other.as_str()),
                    Side::In => (other.as_str(), id),
                };
                tx.remove(&self.parts.out, keys::encode(&[from, &label, to]));
                tx.remove(&self.parts.into, keys::encode(&[to, &label, from]));
            }
            tx.remove(&self.parts.nodes, id.as_bytes());
            Ok(true)
        };
        self.write(stage, |adjacency| {
            adjacency.remove_node(id);
            Ok(())
        })
    }

    pub(super) fn upsert_edge(&self, edge: &Edge) -> Result<()> {
        check_id("an edge's `from` node id", &edge.from)?;
        check_id("an edge's `to` node id", &edge.to)?;
        check_id("an edge label", &edge.label)?;
        let value = codec::encode_edge(&edge.properties)?;
        let stage = |tx: &mut WriteTransaction<'_>| -> Result<bool> {
            for end in [&edge.from, &edge.to] {
                if !tx.contains_key(&self.parts.nodes, end).map_err(map_error)? {
                    return Err(StoreError::not_found(format!(
                        "node `{end}` (an end of edge `{}` -[{}]-> `{}`); upsert the node first",
                        edge.from, edge.label, edge.to
                    )));
                }
            }
            self.insert_edge(tx, &edge.from, &edge.label, &edge.to, value);
            Ok(true)
        };
        self.write(stage, |adjacency| {
            adjacency.add_edge(&edge.from, &edge.label, &edge.to)
        })?;
        Ok(())
    }

    /// Stages an edge and its mirror (`out` by source, `in` by target) in `tx`, so the two
    /// always commit together.
    fn insert_edge(
        &self,
        tx: &mut WriteTransaction<'_>,
        from: &str,
        label: &str,
        to: &str,
        value: Vec<u8>,
    ) {
        tx.insert(
            &self.parts.out,
            keys::encode(&[from, label, to]),
            value.clone(),
        );
        tx.insert(&self.parts.into, keys::encode(&[to, label, from]), value);
    }

    /// Writes `nodes`, then `edges`, in one write transaction: everything is checked and
    /// encoded first, so a bad item or an edge to a missing node commits nothing; later items
    /// overwrite earlier ones with the same key.
    pub(super) fn upsert_batch(&self, nodes: &[Node], edges: &[Edge]) -> Result<()> {
        let mut encoded_nodes = Vec::with_capacity(nodes.len());
        for node in nodes {
            check_id("a node id", &node.id)?;
            check_id("a node label", &node.label)?;
            encoded_nodes.push(codec::encode_node(&node.label, &node.properties)?);
        }
        let mut encoded_edges = Vec::with_capacity(edges.len());
        for edge in edges {
            check_id("an edge's `from` node id", &edge.from)?;
            check_id("an edge's `to` node id", &edge.to)?;
            check_id("an edge label", &edge.label)?;
            encoded_edges.push(codec::encode_edge(&edge.properties)?);
        }
        let stage = |tx: &mut WriteTransaction<'_>| -> Result<bool> {
            let mut present: HashSet<&str> = nodes.iter().map(|node| node.id.as_str()).collect();
            for edge in edges {
                for end in [&edge.from, &edge.to] {
                    if present.contains(end.as_str()) {
                        continue;
                    }
                    if !tx.contains_key(&self.parts.nodes, end).map_err(map_error)? {
                        return Err(StoreError::not_found(format!(
                            "node `{end}` (an end of edge `{}` -[{}]-> `{}`); put it in the batch or upsert it first",
                            edge.from, edge.label, edge.to
                        )));
                    }
                    present.insert(end);
                }
            }
            for (node, value) in nodes.iter().zip(encoded_nodes) {
                tx.insert(&self.parts.nodes, node.id.as_bytes(), value);
            }
            for (edge, value) in edges.iter().zip(encoded_edges) {
                self.insert_edge(tx, &edge.from, &edge.label, &edge.to, value);
            }
            Ok(true)
        };
        self.write(stage, |adjacency| {
            for node in nodes {
                adjacency.add_node(&node.id)?;
            }
            for edge in edges {
                adjacency.add_edge(&edge.from, &edge.label, &edge.to)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    pub(super) fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        let stage = |tx: &mut WriteTransaction<'_>| -> Result<bool> {
            let out_key = keys::encode(&[from, label, to]);
            if !tx
                .contains_key(&self.parts.out, &out_key)
                .map_err(map_error)?
            {
                return Ok(false);
            }
            tx.remove(&self.parts.out, out_key);
            tx.remove(&self.parts.into, keys::encode(&[to, label, from]));
            Ok(true)
        };
        self.write(stage, |adjacency| {
            adjacency.remove_edge(from, label, to);
            Ok(())
        })
    }

    pub(super) fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        let labels = filter_labels(edges)?;
        let snapshot = self.snapshot();
        snapshot.require(id)?;
        let limit = limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut hops = Vec::new();
        for &side in Side::of(edges.direction) {
            let mut taken = 0;
            snapshot.each_hop(id, side, &labels, |hop| {
                // With both directions a self-loop is one edge, reported by its out side.
                if !(edges.direction == Direction::Both && side == Side::In && hop.other == id) {
                    hops.push(hop);
                    taken += 1;
                }
                Ok(taken < limit)
            })?;
        }
        // Each side is ordered by (label, other); merge them and keep the first `limit`.
        hops.sort_by(|a, b| (&a.label, &a.other, a.side).cmp(&(&b.label, &b.other, b.side)));
        hops.truncate(limit);
        let mut neighbors = Vec::with_capacity(hops.len());
        for hop in hops {
            let node = snapshot.node(&hop.other)?.ok_or_else(|| {
                StoreError::backend(format!(
                    "edge at `{id}` points at node `{}`, which is missing",
                    hop.other
                ))
            })?;
            neighbors.push(Neighbor {
                edge: hop.edge(id)?,
                node,
            });
        }
        Ok(neighbors)
    }

    pub(super) fn degree(&self, id: &str, edges: &EdgeFilter) -> Result<u64> {
        let labels = filter_labels(edges)?;
        let snapshot = self.snapshot();
        snapshot.require(id)?;
        let mut count = 0u64;
        for &side in Side::of(edges.direction) {
            snapshot.each_hop(id, side, &labels, |hop| {
                if !(edges.direction == Direction::Both && side == Side::In && hop.other == id) {
                    count += 1;
                }
                Ok(true)
            })?;
        }
        Ok(count)
    }
}

fn decode_key(key: &[u8]) -> Result<(String, String, String)> {
    keys::decode_triple(key)
        .ok_or_else(|| StoreError::backend("a stored adjacency key is not well formed"))
}

/// A consistent view of one entity's graph.
pub(super) struct Snapshot<'a> {
    tx: ReadTransaction,
    parts: &'a Partitions,
}

impl Snapshot<'_> {
    /// Node `id`, if it exists.
    pub(super) fn node(&self, id: &str) -> Result<Option<Node>> {
        let Some(bytes) = self.tx.get(&self.parts.nodes, id).map_err(map_error)? else {
            return Ok(None);
        };
        let record = codec::decode_node(id, &bytes)?;
        Ok(Some(Node {
            id: id.to_owned(),
            label: record.label,
            properties: record.properties,
        }))
    }

    /// `NotFound` unless node `id` exists.
    pub(super) fn require(&self, id: &str) -> Result<()> {
        if self
            .tx
            .contains_key(&self.parts.nodes, id)
            .map_err(map_error)?
        {
            Ok(())
        } else {
            Err(StoreError::not_found(format!("node `{id}`")))
        }
    }

    /// Calls `visit` with each edge at `id` on `side` whose label is in `labels` (every label
    /// when empty), ordered by (label, other node), until it returns `false`.
    pub(super) fn each_hop(
        &self,
        id: &str,
        side: Side,
        labels: &[&str],
        mut visit: impl FnMut(Hop) -> Result<bool>,
    ) -> Result<()> {
        // Every traversal and path search expands nodes here: an abandoned call stops at the
        // next node.
        crate::work::checkpoint()?;
        let partition = match side {
            Side::Out => &self.parts.out,
            Side::In => &self.parts.into,
        };
        let mut prefixes = Vec::with_capacity(labels.len().max(1));
        if labels.is_empty() {
            prefixes.push(keys::encode(&[id]));
        } else {
            prefixes.extend(labels.iter().map(|label| keys::encode(&[id, label])));
        }
        for prefix in prefixes {
            for item in self.tx.prefix(partition, prefix) {
                let (key, value) = item.map_err(map_error)?;
                let (_, label, other) = decode_key(&key)?;
                if !visit(Hop {
                    side,
                    label,
                    other,
                    value,
                })? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Reads a numeric weight from an edge's encoded properties.
pub(super) fn weight_of(hop: &Hop, node: &str, property: &str) -> Result<f64> {
    let describe = || match hop.edge(node) {
        Ok(edge) => format!("edge `{}` -[{}]-> `{}`", edge.from, edge.label, edge.to),
        Err(_) => format!("an edge `{}` at `{node}`", hop.label),
    };
    let properties = codec::decode_edge(node, &hop.label, &hop.other, &hop.value)?;
    match properties.get(property) {
        Some(value @ (Value::Int(_) | Value::Float(_))) => {
            let weight = value.as_f64().unwrap_or(f64::NAN);
            if weight.is_nan() || weight < 0.0 {
                Err(StoreError::invalid(format!(
                    "weight property `{property}` of {} is {weight}; weights must be non-negative numbers",
                    describe()
                )))
            } else {
                Ok(weight)
            }
        }
        Some(other) => Err(StoreError::invalid(format!(
            "weight property `{property}` of {} is {}, not a number; weights must be non-negative numbers",
            describe(),
            other.type_name()
        ))),
        None => Err(StoreError::invalid(format!(
            "{} has no weight property `{property}`; every edge a weighted search follows needs it",
            describe()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            .upsert_edge(&Edge::new("a", huge.as_str(), "b"))
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
    }
}
