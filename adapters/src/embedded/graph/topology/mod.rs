//! The graph's topology in memory: which nodes exist and which edges join them, with nodes and
//! labels as small integers, for traversals, hop-counted paths, neighbours and degrees.
//!
//! A traversal over an LSM tree pays, for every edge it follows, a key lookup and the decoding
//! of three strings; at depth 3 or 4 of a social graph that is millions of them. Here each
//! direction is a compressed-sparse-row array with the changes since it was built kept beside
//! it ([`csr`]), "seen before?" is one bit, and a level whose frontier is large is searched
//! bottom-up ([`bfs`]), so the same traversal costs about one look per node it reaches. Ids
//! are translated back to text only for the rows a query returns.
//!
//! The topology is the graph's record of which edges exist: every write that changes it is
//! appended to the entity's change log ([`log`]) in the commit that writes its node records and
//! edge properties, and applied here under the same lock, so it always equals the committed
//! graph. Once the changes since the arrays were built reach a quarter of the graph, the arrays
//! are rebuilt and written out as a checkpoint ([`file`]) that lets the log be cut; opening an
//! entity reads its checkpoint and replays the log after it. It costs about 8 bytes per edge
//! (4 per direction; 8 when the graph has more than one edge label) and about 60 per node.

mod bfs;
mod bits;
mod csr;
pub(super) mod file;
pub(super) mod log;

use std::collections::HashMap;
use std::sync::Arc;

use self::csr::{Csr, LabelSet, Link, Side};
use self::file::{Checkpoint, Loaded, Names};
use self::log::Op;
use super::keys;
use crate::kinds::graph::{Direction, EdgeFilter, Path, Visit};
use crate::{Result, StoreError};

/// Changes below this many never trigger a rebuild of the arrays.
const MIN_CHANGES: usize = 1 << 12;

/// The arrays are rebuilt once the changes since reach this fraction (1/n) of the graph.
const REBUILD_FRACTION: u64 = 4;

/// Text interned as dense integers.
#[derive(Debug, Default)]
struct Interner {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Interner {
    fn from_names(names: Vec<Box<str>>) -> Result<Self> {
        let mut index = HashMap::with_capacity(names.len());
        for (n, name) in names.iter().enumerate() {
            let n = u32::try_from(n).map_err(|_| too_many())?;
            if index.insert(name.clone(), n).is_some() {
                return Err(StoreError::backend(format!(
                    "a graph checkpoint names `{name}` twice"
                )));
            }
        }
        Ok(Interner { names, index })
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    fn intern(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.index.get(name) {
            return Ok(id);
        }
        let id = u32::try_from(self.names.len()).map_err(|_| too_many())?;
        self.names.push(name.into());
        self.index.insert(name.into(), id);
        Ok(id)
    }

    /// Forgets every name from number `len` on.
    fn truncate(&mut self, len: usize) {
        for name in self.names.drain(len.min(self.names.len())..) {
            self.index.remove(&name);
        }
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }
}

fn too_many() -> StoreError {
    StoreError::backend("the graph topology holds at most 2^32 node or label names")
}

fn damaged(what: &str) -> StoreError {
    StoreError::backend(format!("the graph change log is damaged: {what}"))
}

/// How far the name tables had grown before a write staged its changes, to undo them when
/// the write does not commit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    nodes: usize,
    labels: usize,
}

/// The topology of one entity's graph.
#[derive(Debug, Default)]
pub(super) struct Graph {
    nodes: Interner,
    labels: Interner,
    /// Whether each interned node exists now (a deleted node keeps its number).
    alive: Vec<bool>,
    /// How many are alive.
    living: usize,
    /// Edges by their source.
    out: Side,
    /// Edges by their target.
    into: Side,
    /// The change-log position of the last change applied.
    seq: u64,
    /// Changes applied since the arrays were built.
    changes: usize,
}

impl Graph {
    /// The topology a checkpoint holds.
    pub(super) fn from_checkpoint(loaded: Loaded) -> Result<Self> {
        let living = loaded.alive.iter().filter(|&&alive| alive).count();
        Ok(Graph {
            nodes: Interner::from_names(loaded.nodes)?,
            labels: Interner::from_names(loaded.labels)?,
            alive: loaded.alive,
            living,
            out: Side::new(Arc::new(loaded.out)),
            into: Side::new(Arc::new(loaded.into)),
            seq: loaded.seq,
            changes: 0,
        })
    }

    /// The topology of a graph stored in the first format, whose node ids are `nodes` and
    /// whose `out` partition holds the keys `edges`.
    pub(super) fn build(
        nodes: impl IntoIterator<Item = Result<fjall::Slice>>,
        edges: impl IntoIterator<Item = Result<fjall::Slice>>,
    ) -> Result<Self> {
        let mut graph = Graph::default();
        for id in nodes {
            let id = id?;
            let id = std::str::from_utf8(&id)
                .map_err(|_| StoreError::backend("a stored node id is not UTF-8"))?;
            graph.add_node(id)?;
        }
        let mut out: Vec<Vec<Link>> = vec![Vec::new(); graph.alive.len()];
        let mut into: Vec<Vec<Link>> = vec![Vec::new(); graph.alive.len()];
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
            out[from as usize].push(Link { label, other: to });
            into[to as usize].push(Link { label, other: from });
        }
        let rows = graph.alive.len();
        let csr = |mut lists: Vec<Vec<Link>>| {
            Csr::build(rows, |n, links| {
                let list = &mut lists[n as usize];
                list.sort_unstable();
                list.dedup();
                links.append(list);
            })
        };
        graph.out = Side::new(Arc::new(csr(out)));
        graph.into = Side::new(Arc::new(csr(into)));
        graph.changes = 0;
        Ok(graph)
    }

    /// The change-log position of the last change applied.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Records that every change up to log position `seq` is applied.
    pub(super) fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Where the name tables stand, for [`Graph::rollback`].
    pub(super) fn mark(&self) -> Mark {
        Mark {
            nodes: self.nodes.names.len(),
            labels: self.labels.names.len(),
        }
    }

    /// Forgets the names interned since `mark` by a write that did not commit, so that names
    /// keep being numbered in log order.
    pub(super) fn rollback(&mut self, mark: Mark) {
        self.nodes.truncate(mark.nodes);
        self.labels.truncate(mark.labels);
    }

    fn is_alive(&self, n: u32) -> bool {
        self.alive.get(n as usize).copied().unwrap_or(false)
    }

    /// The number of node `id`, if it exists.
    pub(super) fn node(&self, id: &str) -> Option<u32> {
        self.nodes.get(id).filter(|&n| self.is_alive(n))
    }

    /// The number of node `id` whether or not it exists: a node staged by the write in
    /// progress has one before it exists.
    pub(super) fn staged_node(&self, id: &str) -> Option<u32> {
        self.nodes.get(id)
    }

    /// The number of label `name`, if it was ever used.
    pub(super) fn label(&self, name: &str) -> Option<u32> {
        self.labels.get(name)
    }

    /// Node number `n`'s id.
    pub(super) fn node_name(&self, n: u32) -> &str {
        self.nodes.name(n)
    }

    /// Label number `label`'s name.
    pub(super) fn label_name(&self, label: u32) -> &str {
        self.labels.name(label)
    }

    /// Whether node `id` exists.
    pub(super) fn contains(&self, id: &str) -> bool {
        self.node(id).is_some()
    }

    /// Stages "node `id` exists": its number (new ones interned now, to be undone by
    /// [`Graph::rollback`] if the write fails) and the change, if it is one, pushed on `ops`.
    pub(super) fn stage_node(&mut self, id: &str, ops: &mut Vec<Op>) -> Result<u32> {
        match self.nodes.get(id) {
            Some(n) if self.is_alive(n) => Ok(n),
            Some(n) => {
                ops.push(Op::Node(n));
                Ok(n)
            }
            None => {
                let n = self.nodes.intern(id)?;
                ops.push(Op::NewNode(id.into()));
                Ok(n)
            }
        }
    }

    /// Stages the use of label `name`: its number, interning it (and pushing the change) if new.
    pub(super) fn stage_label(&mut self, name: &str, ops: &mut Vec<Op>) -> Result<u32> {
        if let Some(label) = self.labels.get(name) {
            return Ok(label);
        }
        let label = self.labels.intern(name)?;
        ops.push(Op::NewLabel(name.into()));
        Ok(label)
    }

    /// Whether edge `(from, label, to)` exists.
    pub(super) fn has_edge(&self, from: u32, label: u32, to: u32) -> bool {
        self.out.has(from, Link { label, other: to })
    }

    /// Node `n`'s edges on one side (`outgoing`, or incoming), as (label, other end), sorted.
    pub(super) fn links(&self, n: u32, outgoing: bool) -> impl Iterator<Item = (u32, u32)> + '_ {
        let side = if outgoing { &self.out } else { &self.into };
        side.links_of(n).map(|link| (link.label, link.other))
    }

    /// Applies one change this process staged and committed. An edge is staged only when
    /// [`Graph::has_edge`] said it is absent, and nothing changes between staging and applying
    /// but the write's own earlier changes (which only add), so its links are added without
    /// searching the base rows ([`Side::insert_absent`]): that search was the costliest step
    /// of a bulk load, a cache miss per end.
    pub(super) fn apply_staged(&mut self, op: &Op) -> Result<()> {
        let &Op::Edge(from, label, to) = op else {
            return self.apply(op);
        };
        self.changes += 1;
        self.check_edge_ends(from, label, to)?;
        if self.out.insert_absent(from, Link { label, other: to }) {
            self.into.insert_absent(to, Link { label, other: from });
        }
        Ok(())
    }

    fn check_edge_ends(&self, from: u32, label: u32, to: u32) -> Result<()> {
        if !(self.is_alive(from) && self.is_alive(to)) || label as usize >= self.labels.names.len()
        {
            return Err(damaged("an edge joins nodes that do not exist"));
        }
        Ok(())
    }

    /// Applies one committed (or replayed) change.
    pub(super) fn apply(&mut self, op: &Op) -> Result<()> {
        self.changes += 1;
        match op {
            Op::NewNode(name) => {
                let n = self.nodes.intern(name)?;
                self.revive(n);
            }
            Op::Node(n) => {
                if *n as usize >= self.nodes.names.len() {
                    return Err(damaged("it revives a node it never named"));
                }
                self.revive(*n);
            }
            Op::Unnode(n) => self.remove(*n),
            Op::NewLabel(name) => {
                self.labels.intern(name)?;
            }
            &Op::Edge(from, label, to) => {
                self.check_edge_ends(from, label, to)?;
                self.out.insert(from, Link { label, other: to });
                self.into.insert(to, Link { label, other: from });
            }
            &Op::Unedge(from, label, to) => {
                self.out.remove(from, Link { label, other: to });
                self.into.remove(to, Link { label, other: from });
            }
        }
        Ok(())
    }

    fn revive(&mut self, n: u32) {
        let at = n as usize;
        if at >= self.alive.len() {
            self.alive.resize(at + 1, false);
        }
        if !self.alive[at] {
            self.alive[at] = true;
            self.living += 1;
        }
    }

    /// Node `n` and every edge touching it are gone.
    fn remove(&mut self, n: u32) {
        if !self.is_alive(n) {
            return;
        }
        let out: Vec<Link> = self.out.links_of(n).collect();
        let into: Vec<Link> = self.into.links_of(n).collect();
        for link in out {
            self.out.remove(n, link);
            self.into.remove(
                link.other,
                Link {
                    label: link.label,
                    other: n,
                },
            );
        }
        for link in into {
            self.into.remove(n, link);
            self.out.remove(
                link.other,
                Link {
                    label: link.label,
                    other: n,
                },
            );
        }
        self.alive[n as usize] = false;
        self.living -= 1;
    }

    /// Rebuilds the arrays once the changes since they were built are a large enough share of
    /// the graph, so reads stay on the fast path and the change log can be cut; returns the
    /// checkpoint to write when it did.
    pub(super) fn settle(&mut self) -> Option<Checkpoint> {
        let size = self.out.links() + self.into.links() + self.alive.len() as u64;
        if self.changes < MIN_CHANGES || (self.changes as u64) * REBUILD_FRACTION < size {
            return None;
        }
        Some(self.rebuild())
    }

    /// Folds every change into new arrays, and returns them as a checkpoint.
    pub(super) fn rebuild(&mut self) -> Checkpoint {
        let rows = self.alive.len();
        if self.out.changes() + self.into.changes() > 0 || self.out.base().rows() != rows {
            self.out = Side::new(Arc::new(self.out.merged(rows)));
            self.into = Side::new(Arc::new(self.into.merged(rows)));
        }
        self.changes = 0;
        let mut alive = vec![0u64; rows.div_ceil(64)];
        for (n, _) in self.alive.iter().enumerate().filter(|(_, &a)| a) {
            alive[n / 64] |= 1 << (n % 64);
        }
        Checkpoint {
            seq: self.seq,
            nodes: Names::of(self.nodes.names.iter().map(|name| &**name)),
            labels: Names::of(self.labels.names.iter().map(|name| &**name)),
            alive,
            out: Arc::clone(self.out.base()),
            into: Arc::clone(self.into.base()),
        }
    }

    /// Stages and applies changes directly, as a write does, for tests and the first format's
    /// rebuild.
    fn change(&mut self, stage: impl FnOnce(&mut Graph, &mut Vec<Op>) -> Result<()>) -> Result<()> {
        let mut ops = Vec::new();
        stage(self, &mut ops)?;
        for op in &ops {
            self.apply_staged(op)?;
        }
        Ok(())
    }

    /// Records that node `id` exists.
    pub(super) fn add_node(&mut self, id: &str) -> Result<()> {
        self.change(|g, ops| g.stage_node(id, ops).map(drop))
    }

    /// Records that node `id` and every edge touching it are gone.
    #[cfg(test)]
    fn remove_node(&mut self, id: &str) {
        if let Some(n) = self.node(id) {
            self.remove(n);
        }
    }

    /// Records edge `(from, label, to)` `times` times in one change, staged as a write stages
    /// it (only when absent); both ends exist.
    #[cfg(test)]
    fn add_edge_times(&mut self, from: &str, label: &str, to: &str, times: usize) -> Result<()> {
        let (Some(f), Some(t)) = (self.node(from), self.node(to)) else {
            return Err(StoreError::backend("an end of the edge does not exist"));
        };
        self.change(|g, ops| {
            let label = g.stage_label(label, ops)?;
            if !g.has_edge(f, label, t) {
                ops.extend(std::iter::repeat_n(Op::Edge(f, label, t), times));
            }
            Ok(())
        })?;
        self.settle();
        Ok(())
    }

    /// Records edge `(from, label, to)`; both ends exist.
    #[cfg(test)]
    fn add_edge(&mut self, from: &str, label: &str, to: &str) -> Result<()> {
        self.add_edge_times(from, label, to, 1)
    }

    /// Records that edge `(from, label, to)` is gone.
    #[cfg(test)]
    fn remove_edge(&mut self, from: &str, label: &str, to: &str) {
        if let (Some(f), Some(t), Some(label)) = (self.node(from), self.node(to), self.label(label))
        {
            self.change(|_, ops| {
                ops.push(Op::Unedge(f, label, t));
                Ok(())
            })
            .unwrap();
            self.settle();
        }
    }

    fn labels_of(&self, edges: &EdgeFilter) -> LabelSet {
        if edges.labels.is_empty() {
            return LabelSet::All;
        }
        let mut labels: Vec<u32> = edges
            .labels
            .iter()
            .filter_map(|label| self.labels.get(label))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        if labels.len() == self.labels.names.len() {
            return LabelSet::All;
        }
        LabelSet::Only(labels)
    }

    /// What `GraphStore::traverse` returns: every node within `max_depth` of `start` (which
    /// exists), ordered by (depth, id), stopping after the level that reaches `limit`.
    pub(super) fn traverse(
        &self,
        start: &str,
        edges: &EdgeFilter,
        max_depth: u32,
        limit: usize,
    ) -> Result<Vec<Visit>> {
        let Some(start) = self.node(start) else {
            return Ok(Vec::new());
        };
        let mut visits = Vec::new();
        self.levels(
            start,
            edges.direction,
            &self.labels_of(edges),
            max_depth,
            |depth, level| {
                let mut ids: Vec<&str> = level.iter().map(|&n| self.nodes.name(n)).collect();
                ids.sort_unstable();
                visits.extend(ids.into_iter().map(|id| Visit {
                    id: id.to_owned(),
                    depth,
                }));
                visits.len() < limit
            },
        )?;
        visits.truncate(limit);
        Ok(visits)
    }

    /// How many nodes [`Graph::traverse`] would return.
    pub(super) fn count_reachable(
        &self,
        start: &str,
        edges: &EdgeFilter,
        max_depth: u32,
        limit: usize,
    ) -> Result<u64> {
        let Some(start) = self.node(start) else {
            return Ok(0);
        };
        let mut count = 0usize;
        self.levels(
            start,
            edges.direction,
            &self.labels_of(edges),
            max_depth,
            |_, level| {
                count += level.len();
                count < limit
            },
        )?;
        Ok(count.min(limit) as u64)
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
    ) -> Result<Option<Path>> {
        let (Some(from), Some(to)) = (self.node(from), self.node(to)) else {
            return Ok(None);
        };
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
            crate::work::checkpoint()?;
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
                return Ok(Some(Path { nodes, cost }));
            }
        }
        Ok(None)
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
    fn expand(&mut self, other: &Frontier, graph: &Graph, labels: &LabelSet) -> Option<u32> {
        let mut next = Vec::new();
        let sides = bfs::sides(graph, self.direction);
        for &n in &self.nodes {
            let mut meeting = None;
            for side in &sides {
                side.any(n, labels, |reached| {
                    if self.parent.contains_key(&reached) {
                        return false;
                    }
                    if other.parent.contains_key(&reached) {
                        meeting = Some(reached);
                    }
                    self.parent.insert(reached, n);
                    next.push(reached);
                    meeting.is_some()
                });
                if meeting.is_some() {
                    return meeting;
                }
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

    fn graph(edges: &[(&str, &str, &str)]) -> Graph {
        let mut graph = Graph::default();
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
        let visits = g.traverse("a", &out, 5, usize::MAX).unwrap();
        assert_eq!(
            ids(&visits),
            [("b".into(), 1), ("c".into(), 1), ("d".into(), 2)]
        );
        assert_eq!(g.count_reachable("a", &out, 5, usize::MAX).unwrap(), 3);
        assert_eq!(g.count_reachable("a", &out, 1, usize::MAX).unwrap(), 2);
        assert_eq!(g.count_reachable("a", &out, 5, 1).unwrap(), 1);
        assert_eq!(g.traverse("a", &out, 5, 1).unwrap().len(), 1);
        assert_eq!(
            g.count_reachable("d", &EdgeFilter::new(Direction::In), 1, 9)
                .unwrap(),
            2
        );
    }

    #[test]
    fn filters_labels_and_forgets_removed_edges_and_nodes() {
        let mut g = graph(&[("a", "x", "b"), ("a", "y", "c"), ("c", "x", "d")]);
        let x = EdgeFilter::new(Direction::Out).label("x");
        assert_eq!(g.count_reachable("a", &x, 3, usize::MAX).unwrap(), 1);
        let never = EdgeFilter::new(Direction::Out).label("never");
        assert_eq!(g.count_reachable("a", &never, 3, usize::MAX).unwrap(), 0);
        let all = EdgeFilter::new(Direction::Out);
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX).unwrap(), 3);
        g.remove_edge("a", "y", "c");
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX).unwrap(), 1);
        g.remove_node("b");
        assert!(!g.contains("b"));
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX).unwrap(), 0);
        g.add_node("b").unwrap();
        assert_eq!(g.count_reachable("a", &all, 3, usize::MAX).unwrap(), 0);
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
        let path = g.fewest_hops("a", "d", &out, 5).unwrap().unwrap();
        assert_eq!(path.nodes, ["a", "e", "d"]);
        assert_eq!(path.cost, 2.0);
        assert!(g.fewest_hops("a", "d", &out, 1).unwrap().is_none());
        assert!(g.fewest_hops("d", "a", &out, 5).unwrap().is_none());
        let both = EdgeFilter::new(Direction::Both);
        assert_eq!(
            g.fewest_hops("d", "a", &both, 5)
                .unwrap()
                .unwrap()
                .nodes
                .len(),
            3
        );
    }

    /// The same searches as a plain breadth-first search over edge lists, on random graphs
    /// changed by random writes: through many rebuilds, both labels, every direction, and
    /// frontiers large enough to go bottom-up.
    #[test]
    fn agrees_with_a_plain_search_through_random_changes() {
        use std::collections::{BTreeSet, HashSet};
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % below
        };
        let name = |n: u64| format!("n{n}");
        let mut g = Graph::default();
        let mut nodes: BTreeSet<u64> = BTreeSet::new();
        let mut edges: HashSet<(u64, &str, u64)> = HashSet::new();
        for round in 0..24_000u64 {
            let (a, b) = (next(300), next(300));
            let label = if next(4) == 0 { "y" } else { "x" };
            match next(20) {
                0..=3 => {
                    g.add_node(&name(a)).unwrap();
                    nodes.insert(a);
                }
                4 if round > 12_000 => {
                    g.remove_node(&name(a));
                    nodes.remove(&a);
                    edges.retain(|&(f, _, t)| f != a && t != a);
                }
                5..=6 => {
                    g.remove_edge(&name(a), label, &name(b));
                    edges.remove(&(a, label, b));
                }
                // A batch may name one new edge twice.
                times if nodes.contains(&a) && nodes.contains(&b) => {
                    let times = if times == 7 { 2 } else { 1 };
                    g.add_edge_times(&name(a), label, &name(b), times).unwrap();
                    edges.insert((a, label, b));
                }
                _ => {}
            }
            // Each side holds every edge once.
            assert_eq!(g.out.links(), edges.len() as u64, "round {round}");
            assert_eq!(g.into.links(), edges.len() as u64, "round {round}");
            if round % 3_000 != 2_999 {
                continue;
            }
            for &start in nodes.iter().take(5) {
                for direction in [Direction::Out, Direction::In, Direction::Both] {
                    for filter in [None, Some("x")] {
                        let mut expected: Vec<(String, u32)> = Vec::new();
                        let mut seen = HashSet::from([start]);
                        let mut frontier = vec![start];
                        for depth in 1..=4 {
                            let mut level = BTreeSet::new();
                            for &n in &frontier {
                                for &(f, l, t) in &edges {
                                    if filter.is_some_and(|x| x != l) {
                                        continue;
                                    }
                                    let out = matches!(direction, Direction::Out | Direction::Both);
                                    let inn = matches!(direction, Direction::In | Direction::Both);
                                    if out && f == n && seen.insert(t) {
                                        level.insert(name(t));
                                    }
                                    if inn && t == n && seen.insert(f) {
                                        level.insert(name(f));
                                    }
                                }
                            }
                            frontier = level.iter().map(|id| id[1..].parse().unwrap()).collect();
                            expected.extend(level.into_iter().map(|id| (id, depth)));
                        }
                        let mut query = EdgeFilter::new(direction);
                        if let Some(label) = filter {
                            query = query.label(label);
                        }
                        let got = g.traverse(&name(start), &query, 4, usize::MAX).unwrap();
                        assert_eq!(ids(&got), expected, "from {start} {direction:?} {filter:?}");
                        assert_eq!(
                            g.count_reachable(&name(start), &query, 4, usize::MAX)
                                .unwrap(),
                            expected.len() as u64
                        );
                    }
                }
            }
        }
    }
}
