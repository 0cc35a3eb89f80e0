//! Breadth-first search a level at a time, switching direction by the frontier's size
//! (Beamer, Asanović and Patterson, "Direction-Optimizing Breadth-First Search", SC 2012).
//!
//! Top-down, each frontier node's links are followed and every unseen end joins the next
//! level: cheap while the frontier is small. On a social graph the frontier soon holds hubs
//! whose links reach most of the graph, and top-down then reads nearly every edge only to find
//! the ends already seen. Bottom-up turns this round: each node not yet seen looks along its
//! links the other way for one in the frontier, and stops at the first it finds, so the level
//! costs about one look per remaining node. The switch happens when the links leaving the
//! frontier outnumber a fraction of those of the nodes not yet seen.

use super::bits::Bits;
use super::csr::{LabelSet, Side};
use super::Graph;
use crate::kinds::graph::Direction;
use crate::Result;

/// Top-down gives way to bottom-up once the frontier's links exceed 1/ALPHA of the links of
/// the nodes not yet seen (the paper's α = 14).
const ALPHA: u64 = 14;

/// Bottom-up gives way to top-down once the frontier holds fewer than 1/BETA of the nodes
/// (the paper's β = 24).
const BETA: u64 = 24;

/// Nodes expanded between two checks for an abandoned call.
const CHECK_EVERY: usize = 1 << 14;

/// The sides a search in `direction` follows.
pub(super) fn sides(graph: &Graph, direction: Direction) -> Vec<&Side> {
    match direction {
        Direction::Out => vec![&graph.out],
        Direction::In => vec![&graph.into],
        Direction::Both => vec![&graph.out, &graph.into],
    }
}

/// The sides that lead back to where `direction` came from.
fn backward(direction: Direction) -> Direction {
    match direction {
        Direction::Out => Direction::In,
        Direction::In => Direction::Out,
        Direction::Both => Direction::Both,
    }
}

impl Graph {
    /// Breadth-first from `start` (which exists): `level` gets each level's new nodes and
    /// whether to go on. Each node is reached once, at its smallest depth; within a level the
    /// order is unspecified.
    pub(super) fn levels(
        &self,
        start: u32,
        direction: Direction,
        labels: &LabelSet,
        max_depth: u32,
        mut level: impl FnMut(u32, &[u32]) -> bool,
    ) -> Result<()> {
        let forward = sides(self, direction);
        let back = sides(self, backward(direction));
        let nodes = self.alive.len();
        let mut seen = Bits::new(nodes);
        let mut in_frontier = Bits::new(nodes);
        seen.insert(start);
        let degree = |n: u32| -> u64 { forward.iter().map(|s| s.degree_hint(n) as u64).sum() };
        // Links of the nodes not yet seen, which a top-down level may have to read.
        let mut unexplored = forward
            .iter()
            .map(|s| s.links())
            .sum::<u64>()
            .saturating_sub(degree(start));
        let mut remaining = self.living.saturating_sub(1) as u64;
        let mut frontier = vec![start];
        let mut next = Vec::new();
        let mut bottom_up = false;
        for depth in 1..=max_depth {
            crate::work::checkpoint()?;
            let frontier_links: u64 = frontier.iter().map(|&n| degree(n)).sum();
            bottom_up = if bottom_up {
                (frontier.len() as u64) * BETA >= nodes as u64
            } else {
                frontier_links * ALPHA > unexplored && remaining > 0
            };
            if bottom_up {
                in_frontier.clear();
                for &n in &frontier {
                    in_frontier.insert(n);
                }
                for v in 0..nodes as u32 {
                    if (v as usize).is_multiple_of(CHECK_EVERY) {
                        crate::work::checkpoint()?;
                    }
                    if seen.contains(v) || !self.alive[v as usize] {
                        continue;
                    }
                    if back
                        .iter()
                        .any(|side| side.any(v, labels, |u| in_frontier.contains(u)))
                    {
                        next.push(v);
                    }
                }
                for &v in &next {
                    seen.insert(v);
                }
            } else {
                for (i, &n) in frontier.iter().enumerate() {
                    if i % CHECK_EVERY == CHECK_EVERY - 1 {
                        crate::work::checkpoint()?;
                    }
                    for side in &forward {
                        side.any(n, labels, |other| {
                            if seen.insert(other) {
                                next.push(other);
                            }
                            false
                        });
                    }
                }
            }
            if next.is_empty() || !level(depth, &next) || depth == max_depth {
                return Ok(());
            }
            // Only a next level needs these: after the last one, the degrees of its nodes (a
            // cache miss each, for up to every node of the graph) would be read for nothing.
            unexplored = unexplored.saturating_sub(next.iter().map(|&n| degree(n)).sum());
            remaining = remaining.saturating_sub(next.len() as u64);
            std::mem::swap(&mut frontier, &mut next);
            next.clear();
        }
        Ok(())
    }
}
