//! Breadth-first traversal and shortest paths over a snapshot.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::engine::{filter_labels, weight_of, EntityGraph, Side, Snapshot};
use crate::kinds::graph::{Direction, EdgeFilter, Path, PathQuery, TraverseQuery, Visit};
use crate::Result;

impl Snapshot<'_> {
    /// Calls `visit` with the id of every node one matching edge away from `id`.
    fn each_neighbor(
        &self,
        id: &str,
        edges: &EdgeFilter,
        labels: &[&str],
        mut visit: impl FnMut(String),
    ) -> Result<()> {
        for &side in Side::of(edges.direction) {
            self.each_hop(id, side, labels, |hop| {
                visit(hop.other);
                Ok(true)
            })?;
        }
        Ok(())
    }
}

impl EntityGraph {
    /// Level by level from the start: each node once, at its smallest depth, ordered by depth
    /// then id; stops after the level that reaches the limit.
    pub(super) fn traverse(&self, query: &TraverseQuery) -> Result<Vec<Visit>> {
        let labels = filter_labels(&query.edges)?;
        let snapshot = self.snapshot();
        snapshot.require(&query.start)?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut seen: HashSet<String> = HashSet::from([query.start.clone()]);
        let mut frontier = vec![query.start.clone()];
        let mut visits = Vec::new();
        let mut depth = 0;
        while depth < query.max_depth && visits.len() < limit && !frontier.is_empty() {
            depth += 1;
            let mut next = Vec::new();
            for id in &frontier {
                snapshot.each_neighbor(id, &query.edges, &labels, |other| {
                    if !seen.contains(&other) {
                        seen.insert(other.clone());
                        next.push(other);
                    }
                })?;
            }
            next.sort_unstable();
            visits.extend(next.iter().map(|id| Visit {
                id: id.clone(),
                depth,
            }));
            frontier = next;
        }
        visits.truncate(limit);
        Ok(visits)
    }

    pub(super) fn shortest_path(&self, query: &PathQuery) -> Result<Option<Path>> {
        let labels = filter_labels(&query.edges)?;
        let snapshot = self.snapshot();
        snapshot.require(&query.from)?;
        snapshot.require(&query.to)?;
        if query.from == query.to {
            return Ok(Some(Path {
                nodes: vec![query.from.clone()],
                cost: 0.0,
            }));
        }
        match &query.weight {
            None => fewest_hops(&snapshot, query, &labels),
            Some(property) => lightest(&snapshot, query, &labels, property),
        }
    }
}

/// Breadth-first search from `from`, stopping when `to` is reached.
fn fewest_hops(
    snapshot: &Snapshot<'_>,
    query: &PathQuery,
    labels: &[&str],
) -> Result<Option<Path>> {
    // Each reached node and the node it was reached from.
    let mut parent: HashMap<String, String> = HashMap::new();
    let mut frontier = vec![query.from.clone()];
    for _ in 0..query.max_depth {
        let mut next = Vec::new();
        for id in &frontier {
            let mut found = false;
            snapshot.each_neighbor(id, &query.edges, labels, |other| {
                if other == query.from || found {
                    return;
                }
                if let Entry::Vacant(slot) = parent.entry(other) {
                    found = *slot.key() == query.to;
                    next.push(slot.key().clone());
                    slot.insert(id.clone());
                }
            })?;
            if found {
                let nodes = walk_back(&parent, &query.from, &query.to);
                let cost = (nodes.len() - 1) as f64;
                return Ok(Some(Path { nodes, cost }));
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(None)
}

fn walk_back(parent: &HashMap<String, String>, from: &str, to: &str) -> Vec<String> {
    let mut nodes = vec![to.to_owned()];
    let mut at = to;
    while at != from {
        match parent.get(at) {
            Some(previous) => {
                nodes.push(previous.clone());
                at = previous;
            }
            None => break,
        }
    }
    nodes.reverse();
    nodes
}

/// A search state: a node reached with some cost in some number of hops.
struct State {
    cost: f64,
    hops: u32,
    /// Index of this state in the arena of reached states.
    index: usize,
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for State {}
impl PartialOrd for State {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for State {
    /// Reversed, so the max-heap pops the cheapest state first (then the one with fewer hops).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .cost
            .total_cmp(&self.cost)
            .then(other.hops.cmp(&self.hops))
            .then(other.index.cmp(&self.index))
    }
}

/// Dijkstra on `(node, hops)` states so the hop bound stays exact: a node is expanded again
/// only when reached more cheaply-per-pop but in fewer hops than every earlier expansion, which
/// keeps every path of at most `max_depth` hops that could still be the cheapest.
fn lightest(
    snapshot: &Snapshot<'_>,
    query: &PathQuery,
    labels: &[&str],
    property: &str,
) -> Result<Option<Path>> {
    // Every state pushed: (node, state it came from).
    let mut arena: Vec<(String, Option<usize>)> = vec![(query.from.clone(), None)];
    // The fewest hops any expansion of each node had.
    let mut expanded: HashMap<String, u32> = HashMap::new();
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
                if !matches!(expanded.get(&hop.other), Some(&fewest) if fewest <= hops + 1) {
                    arena.push((hop.other, Some(index)));
                    heap.push(State {
                        cost: cost + weight,
                        hops: hops + 1,
                        index: arena.len() - 1,
                    });
                }
                Ok(true)
            })?;
        }
    }
    Ok(None)
}
