//! Shortest paths, driven from Rust over neighbour queries.
//!
//! Unweighted: breadth-first, one query per level fetching every matching edge of the whole
//! frontier (`src = ANY($1)`), so a path of `k` hops costs at most `k` round trips.
//! Weighted: Dijkstra on `(node, hops)` states so the hop limit stays exact, fetching the
//! edges of each node once (with their weight property) when it is first expanded.

use std::collections::{BinaryHeap, HashMap};

use serde_json::Value as Json;

use super::{json, text, Graph};
use crate::kinds::graph::search::State;
use crate::kinds::graph::{Direction, Path, PathQuery};
use crate::{Result, StoreError, Value};

/// One matching edge: the node it was reached from, the node it leads to, its label, and its
/// weight property (`None` when absent).
struct Hop {
    at: String,
    other: String,
    label: String,
    out: bool,
    weight: Option<Json>,
}

impl Graph {
    /// The matching edges at every node of `frontier`.
    async fn hops(
        &self,
        frontier: &[String],
        query: &PathQuery,
        labels: &[&str],
    ) -> Result<Vec<Hop>> {
        let e = &self.edges;
        let filter = "(cardinality($2::text[]) = 0 OR label = ANY($2::text[]))";
        let out = format!(
            "SELECT src, dst, label, props -> $3::text, true FROM {e} WHERE src = ANY($1) AND {filter}"
        );
        let inc = format!(
            "SELECT dst, src, label, props -> $3::text, false FROM {e} WHERE dst = ANY($1) AND {filter}"
        );
        let sql = match query.edges.direction {
            Direction::Out => out,
            Direction::In => inc,
            Direction::Both => format!("{out} UNION ALL {inc} AND src <> dst"),
        };
        let ids: Vec<&[u8]> = frontier.iter().map(|id| id.as_bytes()).collect();
        let property = query.weight.as_deref().unwrap_or("");
        let rows = self.query(&sql, &[&ids, &labels, &property]).await?;
        rows.into_iter()
            .map(|row| {
                let get = |e| self.pool.error(e);
                Ok(Hop {
                    at: text(row.try_get(0).map_err(get)?)?,
                    other: text(row.try_get(1).map_err(get)?)?,
                    label: row.try_get(2).map_err(get)?,
                    weight: row.try_get(3).map_err(get)?,
                    out: row.try_get(4).map_err(get)?,
                })
            })
            .collect()
    }

    /// Breadth-first from `query.from`, a level at a time.
    pub(super) async fn fewest_hops(
        &self,
        query: &PathQuery,
        labels: &[&str],
    ) -> Result<Option<Path>> {
        let mut parent: HashMap<String, Option<String>> =
            HashMap::from([(query.from.clone(), None)]);
        let mut frontier = vec![query.from.clone()];
        let mut hops = 0;
        while hops < query.max_depth && !frontier.is_empty() {
            hops += 1;
            let mut next = Vec::new();
            for hop in self.hops(&frontier, query, labels).await? {
                if parent.contains_key(&hop.other) {
                    continue;
                }
                parent.insert(hop.other.clone(), Some(hop.at));
                if hop.other == query.to {
                    let mut nodes = vec![hop.other];
                    while let Some(Some(previous)) = parent.get(&nodes[nodes.len() - 1]) {
                        nodes.push(previous.clone());
                    }
                    nodes.reverse();
                    return Ok(Some(Path {
                        nodes,
                        cost: f64::from(hops),
                    }));
                }
                next.push(hop.other);
            }
            frontier = next;
        }
        Ok(None)
    }

    /// Dijkstra from `query.from` on `(node, hops)` states: a node is expanded again only when
    /// reached in fewer hops than every earlier (cheaper) expansion, which keeps every path
    /// within the limit that could still be the cheapest.
    pub(super) async fn lightest(
        &self,
        query: &PathQuery,
        labels: &[&str],
        property: &str,
    ) -> Result<Option<Path>> {
        let mut arena: Vec<(String, Option<usize>)> = vec![(query.from.clone(), None)];
        let mut expanded: HashMap<String, u32> = HashMap::new();
        let mut pushed: HashMap<String, (f64, u32)> = HashMap::new();
        let mut edges: HashMap<String, Vec<(String, f64)>> = HashMap::new();
        let mut heap = BinaryHeap::from([State {
            cost: 0.0,
            hops: 0,
            index: 0,
        }]);
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
            if !edges.contains_key(&id) {
                let mut weighed = Vec::new();
                for hop in self.hops(std::slice::from_ref(&id), query, labels).await? {
                    let weight = weight_of(&hop, property)?;
                    weighed.push((hop.other, weight));
                }
                edges.insert(id.clone(), weighed);
            }
            for (other, weight) in edges.get(&id).map(Vec::as_slice).unwrap_or_default() {
                let (next_cost, next_hops) = (cost + weight, hops + 1);
                let settled = matches!(expanded.get(other), Some(&fewest) if fewest <= next_hops);
                let dominated = matches!(
                    pushed.get(other),
                    Some(&(c, h)) if c <= next_cost && h <= next_hops
                );
                if settled || dominated {
                    continue;
                }
                if pushed
                    .get(other)
                    .is_none_or(|&(c, h)| (next_cost, next_hops) < (c, h))
                {
                    pushed.insert(other.clone(), (next_cost, next_hops));
                }
                arena.push((other.clone(), Some(index)));
                heap.push(State {
                    cost: next_cost,
                    hops: next_hops,
                    index: arena.len() - 1,
                });
            }
        }
        Ok(None)
    }
}

/// The weight of `hop`: a non-negative number, else an invalid request naming the property and
/// the edge.
fn weight_of(hop: &Hop, property: &str) -> Result<f64> {
    let (from, to) = if hop.out {
        (&hop.at, &hop.other)
    } else {
        (&hop.other, &hop.at)
    };
    let edge = format!("edge `{from}` -[{}]-> `{to}`", hop.label);
    let value = match hop.weight.clone() {
        None => {
            return Err(StoreError::invalid(format!(
                "{edge} has no weight property `{property}`; weights must be non-negative numbers"
            )))
        }
        Some(json) => json::decode_value(json)?,
    };
    match value {
        Value::Int(_) | Value::Float(_) => {
            let weight = value.as_f64().unwrap_or(f64::NAN);
            if weight.is_nan() || weight < 0.0 {
                Err(StoreError::invalid(format!(
                    "weight property `{property}` of {edge} is {weight}; weights must be non-negative numbers"
                )))
            } else {
                Ok(weight)
            }
        }
        other => Err(StoreError::invalid(format!(
            "weight property `{property}` of {edge} is {}, not a number; weights must be non-negative numbers",
            other.type_name()
        ))),
    }
}
