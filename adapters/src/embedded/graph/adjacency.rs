//! The graph's topology in memory: which nodes exist and which edges join them, with nodes and
//! labels as small integers, for traversals and hop-counted paths.
//!
//! A traversal over the LSM tree pays, for every edge it follows, a key lookup and the decoding
//! of three strings; at depth 3 or 4 of a social graph that is millions of them. Here following
//! an edge is reading eight bytes from a vector, and "seen before?" is one bit, so the same
//! traversal costs what the walk itself costs. Properties stay in the LSM tree: neighbour
//! queries, degrees and weighted paths read them there.
//!
//! Built from a snapshot the first time an entity is traversed (one scan of its nodes and of its
//! `out` partition), then kept up to date by every write, applied under the same lock as the
//! commit so it always equals the committed graph. It costs about 16 bytes per edge and 60 per
//! node.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockWriteGuard};

use super::keys;
use crate::kinds::graph::{Direction, EdgeFilter, Path, Visit};
use crate::{Result, StoreError};

/// One entity's topology, shared by every handle on the entity: absent until a query needs it.
#[derive(Debug, Default)]
pub(super) struct Topology(RwLock<Option<Adjacency>>);

impl Topology {
    /// Runs `query` on the topology, building it with `build` first if it is absent.
    pub(super) fn query<T>(
        &self,
        build: impl FnOnce() -> Result<Adjacency>,
        query: impl FnOnce(&Adjacency) -> T,
    ) -> Result<T> {
        if let Ok(guard) = self.0.read() {
            if let Some(adjacency) = guard.as_ref() {
                return Ok(query(adjacency));
            }
        }
        let mut guard = self.lock();
        if guard.is_none() {
            *guard = Some(build()?);
        }
        let adjacency: Option<&Adjacency> = guard.as_ref();
        adjacency
            .map(query)
            .ok_or_else(|| StoreError::backend("the graph topology was not built"))
    }

    /// Locks the topology for a commit: held from before the commit until its change is
    /// applied, so changes apply in commit order and no query sees one half applied.
    pub(super) fn lock(&self) -> RwLockWriteGuard<'_, Option<Adjacency>> {
        self.0.write().unwrap_or_else(|poisoned| {
            // A panic mid-change may have left it half applied: drop it, to be rebuilt.
            self.0.clear_poison();
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        })
    }
}

/// An edge seen from one of its ends: its label and the node at the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    label: u32,
    other: u32,
}

/// Text interned as dense integers.
#[derive(Debug, Default)]
struct Interner {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Interner {
    fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    fn intern(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.index.get(name) {
            return Ok(id);
        }
        let id = u32::try_from(self.names.len()).map_err(|_| {
            StoreError::backend("the in-memory graph topology holds at most 2^32 names")
        })?;
        self.names.push(name.into());
        self.index.insert(name.into(), id);
        Ok(id)
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }
}

/// Which labels a query follows, as interned ids.
enum Labels {
    All,
    /// Sorted; empty when none of the filter's labels was ever used, so nothing matches.
    Only(Vec<u32>),
}

impl Labels {
    fn follows(&self, label: u32) -> bool {
        match self {
            Labels::All => true,
            Labels::Only(labels) => labels.binary_search(&label).is_ok(),
        }
    }
}

/// The topology of one entity's graph.
#[derive(Debug, Default)]
pub(super) struct Adjacency {
    nodes: Interner,
    labels: Interner,
    /// Whether each interned node exists now (a deleted node keeps its number).
    alive: Vec<bool>,
    /// Edges leaving each node, sorted.
    out: Vec<Vec<Link>>,
    /// Edges reaching each node, sorted.
    into: Vec<Vec<Link>>,
}

impl Adjacency {
    /// The topology of a graph whose node ids are `nodes` and whose `out` partition holds the
    /// keys `edges`.
    pub(super) fn build(
        nodes: impl IntoIterator<Item = Result<fjall::Slice>>,
        edges: impl IntoIterator<Item = Result<fjall::Slice>>,
    ) -> Result<Self> {
        let mut graph = Adjacency::default();
        for id in nodes {
            let id = id?;
            let id = std::str::from_utf8(&id)
                .map_err(|_| StoreError::backend("a stored node id is not UTF-8"))?;
            graph.add_node(id)?;
        }
        for key in edges {
            let key = key?;
            let [from, label, to] = keys::split_triple(&key)
                .ok_or_else(|| StoreError::backend("a stored adjacency key is not well formed"))?;
            let (Some(from), Some(to)) = (graph.nodes.get(&from), graph.nodes.get(&to)) else {
                return Err(StoreError::backend(format!(
                    "edge `{from}` -[{label}]-> `{to}` has an end that is not a stored node"
                )));
            };
            let label = graph.labels.intern(&label)?;
            graph.out[from as usize].push(Link { label, other: to });
            graph.into[to as usize].push(Link { label, other: from });
        }
        for links in graph.out.iter_mut().chain(graph.into.iter_mut()) {
            links.sort_unstable();
            links.dedup();
            links.shrink_to_fit();
        }
        Ok(graph)
    }

    /// The number of node `id`, if it exists.
    fn node(&self, id: &str) -> Option<u32> {
        self.nodes
            .get(id)
            .filter(|&n| self.alive.get(n as usize).copied().unwrap_or(false))
    }

    /// Whether node `id` exists.
    pub(super) fn contains(&self, id: &str) -> bool {
        self.node(id).is_some()
    }

    /// Records that node `id` exists.
    pub(super) fn add_node(&mut self, id: &str) -> Result<()> {
        let n = self.nodes.intern(id)? as usize;
        if n == self.alive.len() {
            self.alive.push(true);
            self.out.push(Vec::new());
            self.into.push(Vec::new());
        } else {
            self.alive[n] = true;
        }
        Ok(())
    }

    /// Records that node `id` and every edge touching it are gone.
    pub(super) fn remove_node(&mut self, id: &str) {
        let Some(n) = self.node(id) else { return };
        let out = std::mem::take(&mut self.out[n as usize]);
        let into = std::mem::take(&mut self.into[n as usize]);
        for link in out {
            remove(&mut self.into[link.other as usize], link.label, n);
        }
        for link in into {
            remove(&mut self.out[link.other as usize], link.label, n);
        }
        self.alive[n as usize] = false;
    }

    /// Records edge `(from, label, to)`; both ends exist (the caller checked).
    pub(super) fn add_edge(&mut self, from: &str, label: &str, to: &str) -> Result<()> {
        let (Some(f), Some(t)) = (self.node(from), self.node(to)) else {
            return Err(StoreError::backend(format!(
                "the in-memory topology lacks an end of edge `{from}` -[{label}]-> `{to}`"
            )));
        };
        let label = self.labels.intern(label)?;
        insert(&mut self.out[f as usize], label, t);
        insert(&mut self.into[t as usize], label, f);
        Ok(())
    }

    /// Records that edge `(from, label, to)` is gone.
    pub(super) fn remove_edge(&mut self, from: &str, label: &str, to: &str) {
        let (Some(f), Some(t), Some(label)) =
            (self.node(from), self.node(to), self.labels.get(label))
        else {
            return;
        };
        remove(&mut self.out[f as usize], label, t);
        remove(&mut self.into[t as usize], label, f);
    }

    fn labels_of(&self, edges: &EdgeFilter) -> Labels {
        if edges.labels.is_empty() {
            return Labels::All;
        }
        let mut labels: Vec<u32> = edges
            .labels
            .iter()
            .filter_map(|label| self.labels.get(label))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        Labels::Only(labels)
    }

    /// Calls `visit` with every node one matching edge away from `n`.
    fn each_neighbor(
        &self,
        n: u32,
        direction: Direction,
        labels: &Labels,
        mut visit: impl FnMut(u32),
    ) {
        let sides: &[&Vec<Vec<Link>>] = match direction {
            Direction::Out => &[&self.out],
            Direction::In => &[&self.into],
            Direction::Both => &[&self.out, &self.into],
        };
        for side in sides {
            for link in &side[n as usize] {
                if labels.follows(link.label) {
                    visit(link.other);
                }
            }
        }
    }

    /// Breadth-first from `start` (which exists), a level at a time: `level` gets each level's
    /// new nodes and whether to go on. Each node is reached once, at its smallest depth.
    fn levels(
        &self,
        start: u32,
        edges: &EdgeFilter,
        max_depth: u32,
        mut level: impl FnMut(u32, &[u32]) -> bool,
    ) {
        let labels = self.labels_of(edges);
        let mut seen = vec![0u64; self.alive.len().div_ceil(64)];
        let mark = |seen: &mut [u64], n: u32| {
            let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
            let fresh = seen[word] & bit == 0;
            seen[word] |= bit;
            fresh
        };
        mark(&mut seen, start);
        let mut frontier = vec![start];
        let mut next = Vec::new();
        for depth in 1..=max_depth {
            for &n in &frontier {
                self.each_neighbor(n, edges.direction, &labels, |other| {
                    if mark(&mut seen, other) {
                        next.push(other);
                    }
                });
            }
            if next.is_empty() || !level(depth, &next) {
                return;
            }
            std::mem::swap(&mut frontier, &mut next);
            next.clear();
        }
    }

    /// What `GraphStore::traverse` returns: every node within `max_depth` of `start` (which
    /// exists), ordered by (depth, id), stopping after the level that reaches `limit`.
    pub(super) fn traverse(
        &self,
        start: &str,
        edges: &EdgeFilter,
        max_depth: u32,
        limit: usize,
    ) -> Vec<Visit> {
        let Some(start) = self.node(start) else {
            return Vec::new();
        };
        let mut visits = Vec::new();
        self.levels(start, edges, max_depth, |depth, level| {
            let mut ids: Vec<&str> = level.iter().map(|&n| self.nodes.name(n)).collect();
            ids.sort_unstable();
            visits.extend(ids.into_iter().map(|id| Visit {
                id: id.to_owned(),
                depth,
            }));
            visits.len() < limit
        });
        visits.truncate(limit);
        visits
    }

    /// How many nodes [`Adjacency::traverse`] would return.
    pub(super) fn count_reachable(
        &self,
        start: &str,
        edges: &EdgeFilter,
        max_depth: u32,
        limit: usize,
    ) -> u64 {
        let Some(start) = self.node(start) else {
            return 0;
        };
        let mut count = 0usize;
        self.levels(start, edges, max_depth, |_, level| {
            count += level.len();
            count < limit
        });
        count.min(limit) as u64
    }

    /// The path with the fewest hops from `from` to `to` (both exist, and differ) within
    /// `max_depth`: breadth-first from both ends at once, a whole level at a time on the side
    /// with the smaller frontier, stopping at the first node both sides reach (every shorter
    /// path would have met at an earlier level). The backward side follows the edges against
    /// their direction. On graphs with hubs it reads a small fraction of a one-sided search.
    pub(super) fn fewest_hops(
        &self,
        from: &str,
        to: &str,
        edges: &EdgeFilter,
        max_depth: u32,
    ) -> Option<Path> {
        let (from, to) = (self.node(from)?, self.node(to)?);
        let labels = self.labels_of(edges);
        let backward = match edges.direction {
            Direction::Out => Direction::In,
            Direction::In => Direction::Out,
            Direction::Both => Direction::Both,
        };
        let mut ends = [
            Frontier::new(from, edges.direction),
            Frontier::new(to, backward),
        ];
        let mut hops = 0;
        while hops < max_depth && ends.iter().all(|end| !end.nodes.is_empty()) {
            hops += 1;
            let [forward, backward] = &mut ends;
            let meeting = if forward.nodes.len() <= backward.nodes.len() {
                forward.expand(backward, self, &labels)
            } else {
                backward.expand(forward, self, &labels)
            };
            if let Some(meeting) = meeting {
                let mut nodes = forward.walk_back(meeting);
                nodes.reverse();
                nodes.pop();
                nodes.extend(backward.walk_back(meeting));
                let cost = (nodes.len() - 1) as f64;
                let nodes = nodes
                    .into_iter()
                    .map(|n| self.nodes.name(n).to_owned())
                    .collect();
                return Some(Path { nodes, cost });
            }
        }
        None
    }
}

/// Adds `(label, other)` to a sorted list, once.
fn insert(links: &mut Vec<Link>, label: u32, other: u32) {
    let link = Link { label, other };
    if let Err(at) = links.binary_search(&link) {
        links.insert(at, link);
    }
}

/// Takes `(label, other)` out of a sorted list.
fn remove(links: &mut Vec<Link>, label: u32, other: u32) {
    if let Ok(at) = links.binary_search(&Link { label, other }) {
        links.remove(at);
    }
}

/// One end of a bidirectional search: its last level and how each node was reached.
struct Frontier {
    direction: Direction,
    nodes: Vec<u32>,
    /// Each reached node and the node it was reached from (itself for the start).
    parent: HashMap<u32, u32>,
}

impl Frontier {
    fn new(start: u32, direction: Direction) -> Self {
        Frontier {
            direction,
            nodes: vec![start],
            parent: HashMap::from([(start, start)]),
        }
    }

    /// Advances one level; returns the first node reached that `other` has reached too.
    fn expand(&mut self, other: &Frontier, graph: &Adjacency, labels: &Labels) -> Option<u32> {
        let mut next = Vec::new();
        for &n in &self.nodes {
            let mut meeting = None;
            graph.each_neighbor(n, self.direction, labels, |reached| {
                if meeting.is_some() || self.parent.contains_key(&reached) {
                    return;
                }
                if other.parent.contains_key(&reached) {
                    meeting = Some(reached);
                }
                self.parent.insert(reached, n);
                next.push(reached);
            });
            if meeting.is_some() {
                return meeting;
            }
        }
        self.nodes = next;
        None
    }

    /// The nodes from `n` back to this end's start, both included.
    fn walk_back(&self, mut n: u32) -> Vec<u32> {
        let mut nodes = vec![n];
        while let Some(&previous) = self.parent.get(&n) {
            if previous == n {
                break;
            }
            nodes.push(previous);
            n = previous;
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str, &str)]) -> Adjacency {
        let mut graph = Adjacency::default();
        for &(from, label, to) in edges {
            graph.add_node(from).unwrap();
            graph.add_node(to).unwrap();
            graph.add_edge(from, label, to).unwrap();
        }
        graph
    }

    fn ids(visits: &[Visit]) -> Vec<(String, u32)> {
        visits.iter().map(|v| (v.id.clone(), v.depth)).collect()
    }

    #[test]
    fn traverses_by_depth_then_id_and_counts_the_same() {
        let g = graph(&[
            ("a", "k", "c"),
            ("a", "k", "b"),
            ("b", "k", "d"),
            ("c", "k", "d"),
            ("d", "k", "a"),
        ]);
        let out = EdgeFilter::new(Direction::Out);
        let visits = g.traverse("a", &out, 5, usize::MAX);
        assert_eq!(
            ids(&visits),
            [("b".into(), 1), ("c".into(), 1), ("d".into(), 2)]
        );
        assert_eq!(g.count_reachable("a", &out, 5, usize::MAX), 3);
        assert_eq!(g.count_reachable("a", &out, 1, usize::MAX), 2);
        assert_eq!(g.count_reachable("a", &out, 5, 1), 1);
        assert_eq!(g.traverse("a", &out, 5, 1).len(), 1);
        assert_eq!(
            g.count_reachable("d", &EdgeFilter::new(Direction::In), 1, 9),
            2
        );
    }

    #[test]
    fn filters_labels_and_forgets_removed_edges_and_nodes() {
        let mut g = graph(&[("a", "x", "b"), ("a", "y", "c"), ("c", "x", "d")]);
        let x = EdgeFilter::new(Direction::Out).label("x");
        assert_eq!(g.count_reachable("a", &x, 3, usize::MAX), 1);
        let never = EdgeFilter::new(Direction::Out).label("never");
        assert_eq!(g.count_reachable("a", &never, 3, usize::MAX), 0);
        let all = EdgeFilter::new(Direction::Out);
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX), 3);
        g.remove_edge("a", "y", "c");
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX), 1);
        g.remove_node("b");
        assert!(!g.contains("b"));
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX), 0);
        g.add_node("b").unwrap();
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX), 0);
    }

    #[test]
    fn finds_fewest_hops_both_ways() {
        let g = graph(&[
            ("a", "k", "b"),
            ("b", "k", "c"),
            ("c", "k", "d"),
            ("a", "k", "e"),
            ("e", "k", "d"),
        ]);
        let out = EdgeFilter::new(Direction::Out);
        let path = g.fewest_hops("a", "d", &out, 5).unwrap();
        assert_eq!(path.nodes, ["a", "e", "d"]);
        assert_eq!(path.cost, 2.0);
        assert!(g.fewest_hops("a", "d", &out, 1).is_none());
        assert!(g.fewest_hops("d", "a", &out, 5).is_none());
        let both = EdgeFilter::new(Direction::Both);
        assert_eq!(g.fewest_hops("d", "a", &both, 5).unwrap().nodes.len(), 3);
    }
}
