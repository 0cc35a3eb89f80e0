//! Traversals and shortest paths: by hops on the in-memory topology, by weight over a snapshot
//! of the topology and the stored edge properties.

use std::collections::{BinaryHeap, HashMap};

use super::engine::EntityGraph;
use super::meet;
use super::reads::{weight_of, Side, Snapshot};
use super::topology::Graph;
use crate::kinds::graph::search::State;
use crate::kinds::graph::{filter_labels, Direction, Path, PathQuery, TraverseQuery, Visit};
use crate::{Result, StoreError};

impl EntityGraph {
    /// Level by level from the start: each node once, at its smallest depth, ordered by depth
    /// then id; stops after the level that reaches the limit. Runs on the in-memory topology.
    pub(super) fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        filter_labels(&query.edges)?;
        let limit = query.limit.unwrap_or(usize::MAX);
        {
            let graph = self.read()?;
            let graph = &*graph;
            require(graph, &query.start)?;
            graph.traverse(&query.start, &query.edges, query.max_depth, limit)
        }
    }

    /// How many nodes [`EntityGraph::traverse`] would return, without naming them.
    pub(super) fn count_reachable(&self, query: &TraverseQuery) -> Result<u64> {
        filter_labels(&query.edges)?;
        let limit = query.limit.unwrap_or(usize::MAX);
        {
            let graph = self.read()?;
            let graph = &*graph;
            require(graph, &query.start)?;
            graph.count_reachable(&query.start, &query.edges, query.max_depth, limit)
        }
    }

    /// Fewest hops on the in-memory topology; cheapest by weight on a snapshot of storage,
    /// where the weights are.
    pub(super) fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        let labels = filter_labels(&query.edges)?;
        let itself = || Path {
            nodes: vec![query.from.clone()],
            cost: 0.0,
        };
        match &query.weight {
            None => {
                let graph = self.read()?;
                let graph = &*graph;
                require(graph, &query.from)?;
                require(graph, &query.to)?;
                if query.from == query.to {
                    return Ok(Some(itself()));
                }
                graph.fewest_hops(&query.from, &query.to, &query.edges, query.max_depth)
            }
            Some(property) => {
                let snapshot = self.snapshot()?;
                snapshot.require(&query.from)?;
                snapshot.require(&query.to)?;
                if query.from == query.to {
                    return Ok(Some(itself()));
                }
                lightest(&snapshot, query, &labels, property)
            }
        }
    }
}

/// `NotFound` unless node `id` exists.
fn require(graph: &Graph, id: &str) -> Result<()> {
    if graph.contains(id) {
        Ok(())
    } else {
        Err(StoreError::not_found(format!("node `{id}`")))
    }
}

/// The cheapest path within the hop limit. The cheapest path of any length first, searched from
/// both ends: when it fits the limit it is the answer. Only when it is too long does the exact
/// hop-bounded search run.
fn lightest(
    snapshot: &Snapshot<'_>,
    query: &PathQuery,
    labels: &[&str],
    property: &str,
) -> Result<Option<Path>> {
    match meet::cheapest(snapshot, query, labels, property)? {
        Some(path) if path.nodes.len() - 1 > query.max_depth as usize => {
            bounded(snapshot, query, labels, property)
        }
        found => Ok(found),
    }
}

/// Dijkstra from `query.from` on `(node, hops)` states so the hop limit stays exact: a node is
/// expanded again only when reached in fewer hops than every earlier (cheaper) expansion, which
/// keeps every path within the limit that could still be the cheapest.
fn bounded(
    snapshot: &Snapshot<'_>,
    query: &PathQuery,
    labels: &[&str],
    property: &str,
) -> Result<Option<Path>> {
    // Every state pushed: (node, state it came from).
    let mut arena: Vec<(String, Option<usize>)> = vec![(query.from.clone(), None)];
    // The fewest hops any expansion of each node had.
    let mut expanded: HashMap<String, u32> = HashMap::new();
    // The cheapest state pushed for each node, as (cost, hops).
    let mut pushed: HashMap<String, (f64, u32)> = HashMap::new();
    let mut heap = BinaryHeap::from([State {
        cost: 0.0,
        hops: 0,
        index: 0,
    }]);
    let both = query.edges.direction == Direction::Both;
    while let Some(State { cost, hops, index }) = heap.pop() {
        let id = arena[index].0.clone();
        if id == query.to {
            let mut nodes = Vec::with_capacity(hops as usize + 1);
            let mut at = Some(index);
            while let Some(i) = at {
                nodes.push(arena[i].0.clone());
                at = arena[i].1;
            }
            nodes.reverse();
            return Ok(Some(Path { nodes, cost }));
        }
        match expanded.get(&id) {
            Some(&fewest) if fewest <= hops => continue,
            _ => {
                expanded.insert(id.clone(), hops);
            }
        }
        if hops >= query.max_depth {
            continue;
        }
        for &side in Side::of(query.edges.direction) {
            snapshot.each_hop(&id, side, labels, |hop| {
                if both && side == Side::In && hop.other == id {
                    return Ok(true);
                }
                let weight = weight_of(&hop, &id, property)?;
                let (next_cost, next_hops) = (cost + weight, hops + 1);
                let settled =
                    matches!(expanded.get(&hop.other), Some(&fewest) if fewest <= next_hops);
                // A state no better in cost nor in hops than one already queued is dominated.
                let dominated = matches!(
                    pushed.get(&hop.other),
                    Some(&(c, h)) if c <= next_cost && h <= next_hops
                );
                if settled || dominated {
                    return Ok(true);
                }
                if pushed
                    .get(&hop.other)
                    .is_none_or(|&(c, h)| (next_cost, next_hops) < (c, h))
                {
                    pushed.insert(hop.other.clone(), (next_cost, next_hops));
                }
                arena.push((hop.other, Some(index)));
                heap.push(State {
                    cost: next_cost,
                    hops: next_hops,
                    index: arena.len() - 1,
                });
                Ok(true)
            })?;
        }
    }
    Ok(None)
}
