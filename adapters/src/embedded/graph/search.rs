//! Breadth-first traversal and shortest paths over a snapshot.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::engine::{filter_labels, weight_of, EntityGraph, Side, Snapshot};
use super::meet;
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

/// Breadth-first search from both ends at once, a whole level at a time on the side with the
/// smaller frontier: on graphs with hubs it reads a small fraction of what a one-sided search
/// does. The backward side follows the same edges against their direction (the `in` index for
/// an `out` query). Stops at the first node both sides reach: every shorter path would have met
/// at an earlier level.
fn fewest_hops(
    snapshot: &Snapshot<'_>,
    query: &PathQuery,
    labels: &[&str],
) -> Result<Option<Path>> {
    let backward = EdgeFilter {
        direction: match query.edges.direction {
            Direction::Out => Direction::In,
            Direction::In => Direction::Out,
            Direction::Both => Direction::Both,
        },
        labels: Vec::new(),
    };
    let mut ends = [
        Frontier::new(&query.from, &query.edges),
        Frontier::new(&query.to, &backward),
    ];
    let mut hops = 0;
    while hops < query.max_depth && ends.iter().all(|end| !end.nodes.is_empty()) {
        hops += 1;
        let [forward, backward] = &mut ends;
        let meeting = if forward.nodes.len() <= backward.nodes.len() {
            forward.expand(backward, snapshot, labels)?
        } else {
            backward.expand(forward, snapshot, labels)?
        };
        if let Some(meeting) = meeting {
            let mut nodes = forward.walk_back(&meeting);
            nodes.reverse();
            nodes.pop();
            nodes.extend(backward.walk_back(&meeting));
            let cost = (nodes.len() - 1) as f64;
            return Ok(Some(Path { nodes, cost }));
        }
    }
    Ok(None)
}

/// One end of a bidirectional search: its last level and how each node was reached.
struct Frontier<'q> {
    edges: &'q EdgeFilter,
    nodes: Vec<String>,
    /// Each reached node and the node it was reached from (`None` for the start).
    parent: HashMap<String, Option<String>>,
}

impl<'q> Frontier<'q> {
    fn new(start: &str, edges: &'q EdgeFilter) -> Self {
        Frontier {
            edges,
            nodes: vec![start.to_owned()],
            parent: HashMap::from([(start.to_owned(), None)]),
        }
    }

    /// Advances one level; returns the first node reached that `other` has reached too.
    fn expand(
        &mut self,
        other: &Frontier<'_>,
        snapshot: &Snapshot<'_>,
        labels: &[&str],
    ) -> Result<Option<String>> {
        let mut next = Vec::new();
        let mut meeting = None;
        for id in &self.nodes {
            snapshot.each_neighbor(id, self.edges, labels, |reached| {
                if meeting.is_some() || self.parent.contains_key(&reached) {
                    return;
                }
                if other.parent.contains_key(&reached) {
                    meeting = Some(reached.clone());
                }
                self.parent.insert(reached.clone(), Some(id.clone()));
                next.push(reached);
            })?;
            if meeting.is_some() {
                return Ok(meeting);
            }
        }
        self.nodes = next;
        Ok(None)
    }

    /// The nodes from `node` back to this end's start, both included.
    fn walk_back(&self, node: &str) -> Vec<String> {
        let mut nodes = vec![node.to_owned()];
        let mut at = node;
        while let Some(Some(previous)) = self.parent.get(at) {
            nodes.push(previous.clone());
            at = previous;
        }
        nodes
    }
}

/// A search state: a node reached with some cost in some number of hops.
pub(crate) struct State {
    pub(crate) cost: f64,
    pub(crate) hops: u32,
    /// Index of this state in the arena of reached states.
    pub(crate) index: usize,
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
