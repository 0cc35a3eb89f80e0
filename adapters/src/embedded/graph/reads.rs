//! Reads: nodes, neighbours and degrees, and the edge-by-edge view weighted path searches
//! walk, all on one snapshot of the topology and of the stored records.

use std::collections::BTreeMap;

use fjall::ReadTransaction;
use parking_lot::MappedRwLockReadGuard;

use super::codec;
use super::engine::{map_error, EntityGraph, Partitions};
use super::topology::Graph;
use super::writes::props_key;
use crate::kinds::graph::{filter_labels, Direction, Edge, EdgeFilter, Neighbor, Node};
use crate::{Result, StoreError, Value};

/// One side of a node's edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Side {
    /// Edges leaving the node.
    Out,
    /// Edges reaching the node.
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
    /// The stored properties, still encoded; `None` when the edge has none.
    pub value: Option<fjall::Slice>,
}

impl Hop {
    /// The edge's `(from, to)`, given the node it was read from.
    fn ends<'a>(&'a self, node: &'a str) -> (&'a str, &'a str) {
        match self.side {
            Side::Out => (node, self.other.as_str()),
            Side::In => (self.other.as_str(), node),
        }
    }

    /// The edge's properties, given the node it was read from.
    pub(super) fn properties(&self, node: &str) -> Result<BTreeMap<String, Value>> {
        let (from, to) = self.ends(node);
        match &self.value {
            Some(value) => codec::decode_edge(from, &self.label, to, value),
            None => Ok(BTreeMap::new()),
        }
    }

    /// The edge as the caller sees it, given the node it was read from.
    pub(super) fn edge(&self, node: &str) -> Result<Edge> {
        let (from, to) = self.ends(node);
        Ok(Edge {
            properties: self.properties(node)?,
            from: from.to_owned(),
            to: to.to_owned(),
            label: self.label.clone(),
        })
    }
}

/// A consistent view of one entity's graph: the topology, read-locked so no write lands
/// while it is held, and a snapshot of the stored records taken under that lock.
pub(super) struct Snapshot<'a> {
    pub(super) graph: MappedRwLockReadGuard<'a, Graph>,
    tx: ReadTransaction,
    parts: &'a Partitions,
}

impl EntityGraph {
    /// A consistent view to read from.
    pub(super) fn snapshot(&self) -> Result<Snapshot<'_>> {
        let graph = self.read()?;
        Ok(Snapshot {
            graph,
            tx: self.engine.keyspace.read_tx(),
            parts: &self.parts,
        })
    }

    pub(super) fn get_node(&self, id: &str) -> Result<Option<Node>> {
        self.snapshot()?.node(id)
    }

    pub(super) fn neighbors(
        &self,
        id: &str,
        edges: &EdgeFilter,
        limit: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        let labels = filter_labels(edges)?;
        let snapshot = self.snapshot()?;
        snapshot.require(id)?;
        let limit = limit.unwrap_or(usize::MAX);
        let hops = snapshot.hops(id, edges.direction, &labels, limit)?;
        let mut neighbors = Vec::with_capacity(hops.len());
        for mut hop in hops {
            hop.value = snapshot.props(id, &hop)?;
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
        let snapshot = self.snapshot()?;
        snapshot.require(id)?;
        Ok(snapshot.links(id, edges.direction, &labels)?.len() as u64)
    }
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
        if self.graph.contains(id) {
            Ok(())
        } else {
            Err(StoreError::not_found(format!("node `{id}`")))
        }
    }

    /// The edges at `id` in `direction` whose label is in `labels` (every label when empty),
    /// as (side, label number, other node number), in no particular order. With both
    /// directions a self-loop is one edge, reported by its out side.
    fn links(
        &self,
        id: &str,
        direction: Direction,
        labels: &[&str],
    ) -> Result<Vec<(Side, u32, u32)>> {
        crate::work::checkpoint()?;
        let graph = &*self.graph;
        let Some(n) = graph.node(id) else {
            return Ok(Vec::new());
        };
        let wanted: Option<Vec<u32>> =
            (!labels.is_empty()).then(|| labels.iter().filter_map(|l| graph.label(l)).collect());
        let mut links = Vec::new();
        for &side in Side::of(direction) {
            for (label, other) in graph.links(n, side == Side::Out) {
                if wanted.as_ref().is_some_and(|w| !w.contains(&label)) {
                    continue;
                }
                if direction == Direction::Both && side == Side::In && other == n {
                    continue;
                }
                links.push((side, label, other));
            }
        }
        Ok(links)
    }

    /// The first `limit` of [`Snapshot::links`] ordered by (label, other node, side), with
    /// their names, properties not yet read. Ordering compares the interned names in place,
    /// so only the rows returned are turned into text.
    fn hops(
        &self,
        id: &str,
        direction: Direction,
        labels: &[&str],
        limit: usize,
    ) -> Result<Vec<Hop>> {
        let graph = &*self.graph;
        let key = |&(side, label, other): &(Side, u32, u32)| {
            (graph.label_name(label), graph.node_name(other), side)
        };
        let mut links = self.links(id, direction, labels)?;
        if limit < links.len() {
            links.select_nth_unstable_by(limit, |a, b| key(a).cmp(&key(b)));
            links.truncate(limit);
        }
        links.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        Ok(links
            .into_iter()
            .map(|(side, label, other)| Hop {
                side,
                label: graph.label_name(label).to_owned(),
                other: graph.node_name(other).to_owned(),
                value: None,
            })
            .collect())
    }

    /// The stored properties of `hop`, read from `node`.
    fn props(&self, node: &str, hop: &Hop) -> Result<Option<fjall::Slice>> {
        let (from, to) = hop.ends(node);
        self.tx
            .get(&self.parts.props, props_key(from, &hop.label, to))
            .map_err(map_error)
    }

    /// Calls `visit` with each edge at `id` on `side` whose label is in `labels` (every label
    /// when empty), properties read, ordered by (label, other node), until it returns `false`.
    pub(super) fn each_hop(
        &self,
        id: &str,
        side: Side,
        labels: &[&str],
        mut visit: impl FnMut(Hop) -> Result<bool>,
    ) -> Result<()> {
        let direction = match side {
            Side::Out => Direction::Out,
            Side::In => Direction::In,
        };
        for mut hop in self.hops(id, direction, labels, usize::MAX)? {
            hop.value = self.props(id, &hop)?;
            if !visit(hop)? {
                break;
            }
        }
        Ok(())
    }
}

/// Reads a numeric weight from an edge's properties.
pub(super) fn weight_of(hop: &Hop, node: &str, property: &str) -> Result<f64> {
    let describe = || {
        let (from, to) = hop.ends(node);
        format!("edge `{from}` -[{}]-> `{to}`", hop.label)
    };
    let properties = hop.properties(node)?;
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
