//! Cheapest paths searched from both ends at once (bidirectional Dijkstra), ignoring the hop
//! limit: the caller checks the path's length and falls back to the exact bounded search.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::reads::{weight_of, Side, Snapshot};
use crate::kinds::graph::{Direction, Path, PathQuery};
use crate::Result;

/// A queued node and its cost, the cheapest first out of the max-heap.
#[derive(PartialEq)]
struct Queued(f64, String);

impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

/// One end of the search.
struct End {
    direction: Direction,
    heap: BinaryHeap<Queued>,
    /// Best known cost of each reached node and the node it was reached from.
    best: HashMap<String, (f64, Option<String>)>,
    settled: HashSet<String>,
}

impl End {
    fn new(start: &str, direction: Direction) -> Self {
        End {
            direction,
            heap: BinaryHeap::from([Queued(0.0, start.to_owned())]),
            best: HashMap::from([(start.to_owned(), (0.0, None))]),
            settled: HashSet::new(),
        }
    }

    fn top(&self) -> f64 {
        self.heap.peek().map_or(f64::INFINITY, |q| q.0)
    }

    /// The nodes from `node` back to this end's start, both included.
    fn walk_back(&self, node: &str) -> Vec<String> {
        let mut nodes = vec![node.to_owned()];
        let mut at = node;
        while let Some((_, Some(previous))) = self.best.get(at) {
            nodes.push(previous.clone());
            at = previous;
        }
        nodes
    }
}

/// The cheapest path from `query.from` to `query.to` of any length, or `None` if there is none.
pub(super) fn cheapest(
    snapshot: &Snapshot<'_>,
    query: &PathQuery,
    labels: &[&str],
    property: &str,
) -> Result<Option<Path>> {
    let backward = match query.edges.direction {
        Direction::Out => Direction::In,
        Direction::In => Direction::Out,
        Direction::Both => Direction::Both,
    };
    let mut ends = [
        End::new(&query.from, query.edges.direction),
        End::new(&query.to, backward),
    ];
    // The cheapest complete path seen: its cost and the edge (forward node, backward node)
    // where the two searches touched.
    let mut found: Option<(f64, String, String)> = None;
    loop {
        let bound = found.as_ref().map_or(f64::INFINITY, |f| f.0);
        let (top0, top1) = (ends[0].top(), ends[1].top());
        if top0.is_infinite() || top1.is_infinite() || top0 + top1 >= bound {
            break;
        }
        let side = usize::from(top1 < top0);
        let [a, b] = &mut ends;
        let (this, other) = if side == 0 { (a, &*b) } else { (b, &*a) };
        let Some(Queued(cost, id)) = this.heap.pop() else {
            break;
        };
        if !this.settled.insert(id.clone()) {
            continue;
        }
        let both = this.direction == Direction::Both;
        for &hop_side in Side::of(this.direction) {
            snapshot.each_hop(&id, hop_side, labels, |hop| {
                if both && hop_side == Side::In && hop.other == id {
                    return Ok(true);
                }
                let next = cost + weight_of(&hop, &id, property)?;
                if this.best.get(&hop.other).is_none_or(|&(c, _)| next < c) {
                    this.best
                        .insert(hop.other.clone(), (next, Some(id.clone())));
                    this.heap.push(Queued(next, hop.other.clone()));
                }
                if let Some(&(rest, _)) = other.best.get(&hop.other) {
                    let total = next + rest;
                    if found.as_ref().is_none_or(|f| total < f.0) {
                        let (forward, backward) = if side == 0 {
                            (id.clone(), hop.other.clone())
                        } else {
                            (hop.other.clone(), id.clone())
                        };
                        found = Some((total, forward, backward));
                    }
                }
                Ok(true)
            })?;
        }
    }
    let Some((cost, forward, backward)) = found else {
        return Ok(None);
    };
    // The forward half ends at `forward`, the backward half starts at `backward`; when the
    // searches met on a node reached by both, the two are the same node.
    let mut nodes = ends[0].walk_back(&forward);
    nodes.reverse();
    let tail = ends[1].walk_back(&backward);
    let skip = usize::from(nodes.last() == tail.first());
    nodes.extend(tail.into_iter().skip(skip));
    Ok(Some(Path { nodes, cost }))
}
