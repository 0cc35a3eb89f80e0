//! One direction of the topology: an immutable compressed-sparse-row base plus the changes made
//! since it was built.
//!
//! The base keeps every node's links in one contiguous run of a single array, sorted by
//! (label, other end), found through an offsets array: following an edge is reading four bytes
//! next to the previous ones, and a node's degree is a subtraction. Writes do not touch it:
//! an added link goes into a small sorted list of the node's own, a removed base link into a
//! set, and the node is marked as touched. Untouched nodes, nearly all of them, are read from
//! the base alone; touched ones merge the three. When the changes grow past a share of the
//! base, [`Side::merged`] folds them into a new base.

use std::collections::HashSet;
use std::sync::Arc;

use super::bits::Bits;

/// An edge seen from one of its ends: its label and the node at the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(in crate::embedded::graph) struct Link {
    /// The edge's label, interned.
    pub label: u32,
    /// The node at the other end, interned.
    pub other: u32,
}

/// Which labels a query follows, as interned ids.
#[derive(Clone, Debug)]
pub(in crate::embedded::graph) enum LabelSet {
    /// Every label.
    All,
    /// These, sorted; empty when none of the filter's labels was ever used.
    Only(Vec<u32>),
}

impl LabelSet {
    /// Whether a link with `label` is followed.
    #[inline]
    pub(in crate::embedded::graph) fn follows(&self, label: u32) -> bool {
        match self {
            LabelSet::All => true,
            LabelSet::Only(labels) => labels.binary_search(&label).is_ok(),
        }
    }
}

/// How the base stores its links' labels.
#[derive(Clone, Debug, PartialEq)]
pub(in crate::embedded::graph) enum BaseLabels {
    /// Every link has this label (graphs with one edge label keep no label per link).
    Uniform(u32),
    /// One label per link, parallel to the other ends.
    PerLink(Vec<u32>),
}

/// Links in compressed sparse rows: node `n`'s are `others[offsets[n]..offsets[n + 1]]`, with
/// their labels, sorted by (label, other). Nodes past `offsets.len() - 1` have none.
#[derive(Clone, Debug, PartialEq)]
pub(in crate::embedded::graph) struct Csr {
    pub offsets: Vec<u64>,
    pub others: Vec<u32>,
    pub labels: BaseLabels,
}

impl Default for Csr {
    fn default() -> Self {
        Csr {
            offsets: vec![0],
            others: Vec::new(),
            labels: BaseLabels::Uniform(0),
        }
    }
}

impl Csr {
    /// The nodes it has rows for.
    pub(in crate::embedded::graph) fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The range of node `n`'s links in `others`.
    #[inline]
    fn range(&self, n: u32) -> std::ops::Range<usize> {
        let n = n as usize;
        match (self.offsets.get(n), self.offsets.get(n + 1)) {
            (Some(&start), Some(&end)) => start as usize..end as usize,
            _ => 0..0,
        }
    }

    /// The label of the link at `at` in `others`.
    #[inline]
    fn label_at(&self, at: usize) -> u32 {
        match &self.labels {
            BaseLabels::Uniform(label) => *label,
            BaseLabels::PerLink(labels) => labels.get(at).copied().unwrap_or(u32::MAX),
        }
    }

    /// Node `n`'s links, in order.
    fn links(&self, n: u32) -> impl Iterator<Item = Link> + '_ {
        self.range(n).map(|at| Link {
            label: self.label_at(at),
            other: self.others[at],
        })
    }

    /// Whether node `n` has `link`.
    fn has(&self, n: u32, link: Link) -> bool {
        let range = self.range(n);
        let start = range.start;
        let slice = &self.others[range];
        match &self.labels {
            BaseLabels::Uniform(label) => {
                *label == link.label && slice.binary_search(&link.other).is_ok()
            }
            BaseLabels::PerLink(labels) => {
                let labels = &labels[start..start + slice.len()];
                let at = labels.partition_point(|&l| l < link.label);
                let end = labels.partition_point(|&l| l <= link.label);
                slice[at..end].binary_search(&link.other).is_ok()
            }
        }
    }

    /// Builds rows for `rows` nodes from each node's sorted links.
    pub(in crate::embedded::graph) fn build(
        rows: usize,
        mut links_of: impl FnMut(u32, &mut Vec<Link>),
    ) -> Csr {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0u64);
        let mut others = Vec::new();
        let mut labels = Vec::new();
        let mut buffer = Vec::new();
        for n in 0..rows {
            buffer.clear();
            links_of(n as u32, &mut buffer);
            for link in &buffer {
                others.push(link.other);
                labels.push(link.label);
            }
            offsets.push(others.len() as u64);
        }
        let labels = match labels.first() {
            None => BaseLabels::Uniform(0),
            Some(&first) if labels.iter().all(|&l| l == first) => BaseLabels::Uniform(first),
            Some(_) => BaseLabels::PerLink(labels),
        };
        others.shrink_to_fit();
        Csr {
            offsets,
            others,
            labels,
        }
    }
}

/// One direction of the topology: a base and the changes since.
#[derive(Clone, Debug, Default)]
pub(in crate::embedded::graph) struct Side {
    base: Arc<Csr>,
    /// Links added since the base, per node, sorted; shorter than the node count when the last
    /// nodes have none.
    added: Vec<Vec<Link>>,
    /// Base links removed since, by node.
    removed: HashSet<(u32, Link)>,
    /// One bit per node: it has added or removed links, so the base alone is not its answer.
    touched: Bits,
    /// One bit per node: it has removed base links.
    shrunk: Bits,
    /// Links added plus base links removed: how far the base is from the truth.
    changes: usize,
    /// Links in all.
    links: u64,
}

impl Side {
    /// A side whose base is `base`, with no changes.
    pub(in crate::embedded::graph) fn new(base: Arc<Csr>) -> Self {
        let links = base.others.len() as u64;
        Side {
            base,
            links,
            ..Side::default()
        }
    }

    /// The arrays the changes are kept beside.
    pub(in crate::embedded::graph) fn base(&self) -> &Arc<Csr> {
        &self.base
    }

    /// Links added and base links removed since the base was built.
    pub(in crate::embedded::graph) fn changes(&self) -> usize {
        self.changes
    }

    /// Links in all.
    pub(in crate::embedded::graph) fn links(&self) -> u64 {
        self.links
    }

    #[inline]
    fn is_touched(&self, n: u32) -> bool {
        self.touched.contains(n)
    }

    fn touch(&mut self, n: u32) {
        self.touched.insert(n);
    }

    /// About how many links node `n` has (exact unless it has removed base links).
    #[inline]
    pub(in crate::embedded::graph) fn degree_hint(&self, n: u32) -> usize {
        let base = self.base.range(n).len();
        if self.is_touched(n) {
            base + self.added.get(n as usize).map_or(0, Vec::len)
        } else {
            base
        }
    }

    /// Calls `visit` with the other end of each of node `n`'s links that `labels` follows
    /// (base links first, then those added since), until it returns `true`; returns whether it
    /// did. Only nodes with removed base links pay a lookup per link.
    #[inline]
    pub(in crate::embedded::graph) fn any(
        &self,
        n: u32,
        labels: &LabelSet,
        mut visit: impl FnMut(u32) -> bool,
    ) -> bool {
        let range = self.base.range(n);
        let touched = self.is_touched(n);
        let found = if touched && self.shrunk.contains(n) {
            self.base.links(n).any(|link| {
                labels.follows(link.label)
                    && !self.removed.contains(&(n, link))
                    && visit(link.other)
            })
        } else {
            let others = &self.base.others[range.clone()];
            match (labels, &self.base.labels) {
                (LabelSet::All, _) => others.iter().any(|&other| visit(other)),
                (_, BaseLabels::Uniform(label)) => {
                    labels.follows(*label) && others.iter().any(|&other| visit(other))
                }
                (_, BaseLabels::PerLink(all)) => all[range]
                    .iter()
                    .zip(others)
                    .any(|(&label, &other)| labels.follows(label) && visit(other)),
            }
        };
        found
            || (touched
                && self.added.get(n as usize).is_some_and(|added| {
                    added
                        .iter()
                        .any(|link| labels.follows(link.label) && visit(link.other))
                }))
    }

    /// Node `n`'s links, sorted by (label, other).
    pub(in crate::embedded::graph) fn links_of(
        &self,
        n: u32,
    ) -> Box<dyn Iterator<Item = Link> + '_> {
        if !self.is_touched(n) {
            return Box::new(self.base.links(n));
        }
        let added = self.added.get(n as usize).map_or(&[][..], Vec::as_slice);
        let shrunk = self.shrunk.contains(n);
        let base = self
            .base
            .links(n)
            .filter(move |link| !(shrunk && self.removed.contains(&(n, *link))));
        Box::new(Merge {
            a: base.peekable(),
            b: added.iter().copied().peekable(),
        })
    }

    /// Whether node `n` has `link`.
    pub(in crate::embedded::graph) fn has(&self, n: u32, link: Link) -> bool {
        if self.base.has(n, link) {
            return !self.is_touched(n) || !self.removed.contains(&(n, link));
        }
        self.is_touched(n)
            && self
                .added
                .get(n as usize)
                .is_some_and(|added| added.binary_search(&link).is_ok())
    }

    /// Adds `link` to node `n`; returns whether it was new.
    pub(in crate::embedded::graph) fn insert(&mut self, n: u32, link: Link) -> bool {
        if self.base.has(n, link) {
            return self.restore(n, link);
        }
        self.add(n, link)
    }

    /// Adds `link` to node `n` when the caller knows the base rows lack it unless it was
    /// removed since (a write staged it as absent, and the write's own earlier changes only
    /// add). For a node that lost no base link the rows are not searched, which saves a cache
    /// miss per end of every edge a bulk load adds. Returns whether it was new.
    pub(in crate::embedded::graph) fn insert_absent(&mut self, n: u32, link: Link) -> bool {
        if self.shrunk.contains(n) {
            // A removed base link may come back twice in one write: only the rows tell.
            return self.insert(n, link);
        }
        self.add(n, link)
    }

    /// Brings back a base link removed since the last rebuild; returns whether it was removed.
    fn restore(&mut self, n: u32, link: Link) -> bool {
        if self.is_touched(n) && self.removed.remove(&(n, link)) {
            self.changes -= 1;
            self.links += 1;
            return true;
        }
        false
    }

    /// Adds `link`, which the base rows lack, to node `n`'s added links; returns whether it
    /// was not there yet.
    fn add(&mut self, n: u32, link: Link) -> bool {
        let at = n as usize;
        if self.added.len() <= at {
            self.added.resize_with(at + 1, Vec::new);
        }
        let Err(position) = self.added[at].binary_search(&link) else {
            return false;
        };
        self.added[at].insert(position, link);
        self.touch(n);
        self.changes += 1;
        self.links += 1;
        true
    }

    /// Takes `link` away from node `n`; returns whether it was there.
    pub(in crate::embedded::graph) fn remove(&mut self, n: u32, link: Link) -> bool {
        if let Some(added) = self.added.get_mut(n as usize) {
            if let Ok(position) = added.binary_search(&link) {
                added.remove(position);
                self.changes -= 1;
                self.links -= 1;
                return true;
            }
        }
        if self.base.has(n, link) && self.removed.insert((n, link)) {
            self.touch(n);
            self.shrunk.insert(n);
            self.changes += 1;
            self.links -= 1;
            return true;
        }
        false
    }

    /// The base with every change folded in, for `rows` nodes.
    pub(in crate::embedded::graph) fn merged(&self, rows: usize) -> Csr {
        Csr::build(rows, |n, links| links.extend(self.links_of(n)))
    }
}

/// Two sorted iterators as one.
struct Merge<A: Iterator<Item = Link>, B: Iterator<Item = Link>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = Link>, B: Iterator<Item = Link>> Iterator for Merge<A, B> {
    type Item = Link;

    fn next(&mut self) -> Option<Link> {
        match (self.a.peek(), self.b.peek()) {
            (Some(a), Some(b)) if b < a => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(label: u32, other: u32) -> Link {
        Link { label, other }
    }

    fn all(side: &Side, n: u32) -> Vec<Link> {
        side.links_of(n).collect()
    }

    #[test]
    fn changes_read_like_a_rebuilt_base() {
        let mut side = Side::default();
        assert!(side.insert(0, link(1, 5)));
        assert!(side.insert(0, link(0, 7)));
        assert!(!side.insert(0, link(0, 7)));
        assert!(side.insert(3, link(0, 1)));
        assert_eq!(all(&side, 0), [link(0, 7), link(1, 5)]);
        let merged = Arc::new(side.merged(4));
        assert_eq!(merged.labels, BaseLabels::PerLink(vec![0, 1, 0]));
        let mut side = Side::new(merged);
        assert_eq!(side.changes(), 0);
        assert_eq!(side.links(), 3);
        assert!(side.has(0, link(1, 5)));
        assert!(!side.has(0, link(1, 7)));
        assert!(side.remove(0, link(1, 5)));
        assert!(!side.remove(0, link(1, 5)));
        assert!(side.insert(0, link(0, 2)));
        assert_eq!(all(&side, 0), [link(0, 2), link(0, 7)]);
        assert!(side.insert(0, link(1, 5)));
        assert_eq!(side.changes(), 1);
        assert_eq!(all(&side, 0), [link(0, 2), link(0, 7), link(1, 5)]);
        let only_one = LabelSet::Only(vec![1]);
        let mut seen = Vec::new();
        side.any(0, &only_one, |o| {
            seen.push(o);
            false
        });
        assert_eq!(seen, [5]);
        assert_eq!(side.merged(4).rows(), 4);
        assert_eq!(side.degree_hint(3), 1);
        assert_eq!(all(&side, 9), []);
    }

    #[test]
    fn a_graph_with_one_label_keeps_none_per_link() {
        let mut side = Side::default();
        side.insert(0, link(4, 1));
        side.insert(1, link(4, 0));
        let base = side.merged(2);
        assert_eq!(base.labels, BaseLabels::Uniform(4));
        let side = Side::new(Arc::new(base));
        assert!(side.has(0, link(4, 1)));
        assert!(!side.has(0, link(3, 1)));
        assert!(!side.any(0, &LabelSet::Only(vec![3]), |_| true));
        assert!(side.any(0, &LabelSet::Only(vec![4]), |_| true));
    }
}
