//! Writes: nodes, edges and batches, staged against the topology and committed through
//! [`EntityGraph::write`].
//!
//! Edge properties are stored only for edges that have some, keyed `(from, label, to)`: a
//! graph loaded without edge properties writes, per edge, twelve bytes of change log and
//! nothing else, which is what lets a bulk load run at the speed of its encoding.

use std::collections::HashSet;

use fjall::WriteTransaction;

use super::engine::EntityGraph;
use super::topology::log::Op;
use super::topology::Graph;
use super::{codec, keys};
use crate::kinds::graph::{Edge, Node};
use crate::{Result, StoreError};

fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    Ok(())
}

fn check_node(node: &Node) -> Result<Vec<u8>> {
    check_id("a node id", &node.id)?;
    check_id("a node label", &node.label)?;
    codec::encode_node(&node.label, &node.properties)
}

/// Checks an edge; returns its encoded properties, `None` when it has none.
fn check_edge(edge: &Edge) -> Result<Option<Vec<u8>>> {
    check_id("an edge's `from` node id", &edge.from)?;
    check_id("an edge's `to` node id", &edge.to)?;
    check_id("an edge label", &edge.label)?;
    if edge.properties.is_empty() {
        return Ok(None);
    }
    codec::encode_edge(&edge.properties).map(Some)
}

/// The key of an edge's properties.
pub(super) fn props_key(from: &str, label: &str, to: &str) -> Vec<u8> {
    keys::encode(&[from, label, to])
}

impl EntityGraph {
    pub(super) fn upsert_node(&self, node: &Node) -> Result<()> {
        let value = check_node(node)?;
        self.write(|tx, graph, ops| {
            graph.stage_node(&node.id, ops)?;
            tx.insert(&self.parts.nodes, node.id.as_bytes(), value);
            Ok(true)
        })?;
        Ok(())
    }

    pub(super) fn delete_node(&self, id: &str) -> Result<bool> {
        self.write(|tx, graph, ops| {
            let Some(n) = graph.node(id) else {
                return Ok(false);
            };
            for outgoing in [true, false] {
                for (label, other) in graph.links(n, outgoing) {
                    let (label, other) = (graph.label_name(label), graph.node_name(other));
                    let key = if outgoing {
                        props_key(id, label, other)
                    } else {
                        props_key(other, label, id)
                    };
                    tx.remove(&self.parts.props, key);
                }
            }
            tx.remove(&self.parts.nodes, id.as_bytes());
            ops.push(Op::Unnode(n));
            Ok(true)
        })
    }

    pub(super) fn upsert_edge(&self, edge: &Edge) -> Result<()> {
        let value = check_edge(edge)?;
        self.write(|tx, graph, ops| {
            let mut ends = [0; 2];
            for (end, id) in ends.iter_mut().zip([&edge.from, &edge.to]) {
                *end = graph.node(id).ok_or_else(|| {
                    StoreError::not_found(format!(
                        "node `{id}` (an end of edge `{}` -[{}]-> `{}`); upsert the node first",
                        edge.from, edge.label, edge.to
                    ))
                })?;
            }
            let change = stage_edge(graph, ops, edge, ends, value.is_some(), &mut HashSet::new())?;
            self.change_props(tx, edge, change, value);
            Ok(true)
        })?;
        Ok(())
    }

    /// Writes `nodes`, then `edges`, in one commit: everything is checked and encoded first, so
    /// a bad item or an edge to a missing node commits nothing; later items overwrite earlier
    /// ones with the same key.
    pub(super) fn upsert_batch(&self, nodes: &[Node], edges: &[Edge]) -> Result<()> {
        let nodes: Vec<(&Node, Vec<u8>)> = nodes
            .iter()
            .map(|node| Ok((node, check_node(node)?)))
            .collect::<Result<_>>()?;
        let edges: Vec<(&Edge, Option<Vec<u8>>)> = edges
            .iter()
            .map(|edge| Ok((edge, check_edge(edge)?)))
            .collect::<Result<_>>()?;
        self.write(|tx, graph, ops| {
            // Nodes of this batch: they exist for its edges though not yet in the topology.
            let mut added = HashSet::new();
            for (node, value) in nodes {
                added.insert(graph.stage_node(&node.id, ops)?);
                tx.insert(&self.parts.nodes, node.id.as_bytes(), value);
            }
            let mut with_props = HashSet::new();
            // Consecutive edges usually share a source: look it up once.
            let mut last_from: Option<(&str, u32)> = None;
            for (edge, value) in edges {
                let end = |id: &str, graph: &Graph| {
                    graph
                        .node(id)
                        .or_else(|| graph.staged_node(id).filter(|n| added.contains(n)))
                        .ok_or_else(|| {
                            StoreError::not_found(format!(
                                "node `{id}` (an end of edge `{}` -[{}]-> `{}`); put it in the batch or upsert it first",
                                edge.from, edge.label, edge.to
                            ))
                        })
                };
                let from = match last_from {
                    Some((id, n)) if id == edge.from => n,
                    _ => end(&edge.from, graph)?,
                };
                last_from = Some((&edge.from, from));
                let to = end(&edge.to, graph)?;
                let change = stage_edge(graph, ops, edge, [from, to], value.is_some(), &mut with_props)?;
                self.change_props(tx, edge, change, value);
            }
            Ok(true)
        })?;
        Ok(())
    }

    pub(super) fn delete_edge(&self, from: &str, label: &str, to: &str) -> Result<bool> {
        self.write(|tx, graph, ops| {
            let (Some(f), Some(l), Some(t)) =
                (graph.node(from), graph.label(label), graph.node(to))
            else {
                return Ok(false);
            };
            if !graph.has_edge(f, l, t) {
                return Ok(false);
            }
            tx.remove(&self.parts.props, props_key(from, label, to));
            ops.push(Op::Unedge(f, l, t));
            Ok(true)
        })
    }
}

/// What staging an edge asks of the transaction for its properties.
enum PropsChange {
    Put,
    Remove,
    Keep,
}

impl EntityGraph {
    fn change_props(
        &self,
        tx: &mut WriteTransaction<'_>,
        edge: &Edge,
        change: PropsChange,
        value: Option<Vec<u8>>,
    ) {
        let key = || props_key(&edge.from, &edge.label, &edge.to);
        match (change, value) {
            (PropsChange::Put, Some(value)) => tx.insert(&self.parts.props, key(), value),
            (PropsChange::Remove, _) => tx.remove(&self.parts.props, key()),
            _ => {}
        }
    }
}

/// Stages edge `edge` between node numbers `ends`, logging it if new; returns what becomes of
/// its stored properties: written when it has some, removed when it has none now but had
/// before (or earlier in this batch).
fn stage_edge(
    graph: &mut Graph,
    ops: &mut Vec<Op>,
    edge: &Edge,
    [from, to]: [u32; 2],
    has_props: bool,
    with_props: &mut HashSet<(u32, u32, u32)>,
) -> Result<PropsChange> {
    let label = graph.stage_label(&edge.label, ops)?;
    let existed = graph.has_edge(from, label, to);
    if !existed {
        ops.push(Op::Edge(from, label, to));
    }
    Ok(if has_props {
        with_props.insert((from, label, to));
        PropsChange::Put
    } else if existed || with_props.remove(&(from, label, to)) {
        PropsChange::Remove
    } else {
        PropsChange::Keep
    })
}
