//! An LDBC-SNB-like social graph: `n` persons `p<n>` joined by undirected `knows`
//! friendships, each stored as two directed edges.
//!
//! Like LDBC's Datagen, degrees follow a power law (most people have a few dozen friends, a few
//! have thousands) and friendships are mostly local: Datagen sorts persons by correlated
//! attributes (university, interests) and links people close in that order, which gives the
//! clustering of real social networks. Here:
//!
//! 1. each person draws a target degree from a Pareto law (tail exponent [`TAIL`]), scaled so the
//!    mean is the one asked for and capped at [`Social::cap`];
//! 2. persons are taken in id order, and each fills its remaining degree with partners that still
//!    have room: with probability [`LOCAL`] someone close in id order (a geometric distance, the
//!    stand-in for Datagen's sliding window), else anyone, chosen in proportion to target degree
//!    (preferential attachment, which keeps the hubs hubs).
//!
//! No self-loops, no repeated pairs; the same seed gives the same graph.

use crate::rng::Rng;

/// Exponent of the degree law's density (`p(d) ∝ d^-TAIL`); social networks measure 2–3.
pub const TAIL: f64 = 2.3;

/// Share of friendships made with someone close in id order.
pub const LOCAL: f64 = 0.7;

/// The id of person `n`.
pub fn person(n: u32) -> String {
    format!("p{n}")
}

/// The edge label of a friendship.
pub const KNOWS: &str = "knows";

/// A generated social graph.
#[derive(Clone, Debug)]
pub struct Social {
    /// Each person's friends, ascending; a friendship is in both lists.
    pub friends: Vec<Vec<u32>>,
}

impl Social {
    /// `people` persons with about `mean_degree` friends each, from `seed`.
    pub fn generate(people: u32, mean_degree: f64, seed: u64) -> Self {
        let n = people as usize;
        let mut rng = Rng::new(seed);
        let targets = targets(people, mean_degree, &mut rng);
        // Cumulative target degrees: a binary search picks a person in proportion to theirs.
        let mut cumulative = Vec::with_capacity(n);
        let mut total = 0u64;
        for &t in &targets {
            total += u64::from(t);
            cumulative.push(total);
        }
        let mut room: Vec<u32> = targets.clone();
        let mut friends: Vec<Vec<u32>> = targets
            .iter()
            .map(|&t| Vec::with_capacity(t as usize))
            .collect();
        // The typical distance of a local friendship.
        let window = (mean_degree * 2.0).max(4.0);
        for i in 0..n {
            let mut attempts = 0u32;
            let budget = 20 + 10 * room[i];
            while room[i] > 0 && attempts < budget {
                attempts += 1;
                let j = if rng.chance(LOCAL) {
                    // Geometric distance, either way round, wrapping around the id space.
                    let distance = 1 + (-(1.0 - rng.unit()).ln() * window) as u64;
                    let distance = (distance % n as u64) as usize;
                    if rng.chance(0.5) {
                        (i + distance) % n
                    } else {
                        (i + n - distance) % n
                    }
                } else {
                    let pick = rng.below(total.max(1));
                    cumulative.partition_point(|&c| c <= pick).min(n - 1)
                };
                if j == i || room[j] == 0 || friends[i].contains(&(j as u32)) {
                    continue;
                }
                friends[i].push(j as u32);
                friends[j].push(i as u32);
                room[i] -= 1;
                room[j] -= 1;
            }
        }
        for list in &mut friends {
            list.sort_unstable();
        }
        Social { friends }
    }

    /// The largest degree a person may draw among `people`, for a mean of `mean_degree`.
    pub fn cap(people: u32, mean_degree: f64) -> u32 {
        let cap = (mean_degree * 100.0).max(10.0) as u32;
        cap.min(people.saturating_sub(1)).max(1)
    }

    /// Persons.
    pub fn people(&self) -> u32 {
        self.friends.len() as u32
    }

    /// Directed `knows` edges (twice the friendships).
    pub fn edges(&self) -> u64 {
        self.friends.iter().map(|f| f.len() as u64).sum()
    }

    /// The mean number of friends.
    pub fn mean_degree(&self) -> f64 {
        self.edges() as f64 / f64::from(self.people().max(1))
    }

    /// The directed edges `(from, to)` in `from` order, both directions of each friendship.
    pub fn directed(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.friends
            .iter()
            .enumerate()
            .flat_map(|(i, list)| list.iter().map(move |&j| (i as u32, j)))
    }

    /// `count` distinct persons with at least one friend, drawn from `seed` (fewer if the graph
    /// has fewer).
    pub fn starts(&self, count: usize, seed: u64) -> Vec<u32> {
        let mut rng = Rng::new(seed);
        let candidates: Vec<u32> = (0..self.people())
            .filter(|&p| !self.friends[p as usize].is_empty())
            .collect();
        let mut chosen = Vec::new();
        let mut attempts = 0;
        while chosen.len() < count.min(candidates.len()) && attempts < 100 * count {
            attempts += 1;
            let p = candidates[rng.below(candidates.len() as u64) as usize];
            if !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        chosen
    }

    /// Distinct persons within `depth` hops of `start` (the start excluded), by breadth-first
    /// search: the reference every store's answer is compared with.
    pub fn reachable(&self, start: u32, depth: u32) -> Vec<u32> {
        self.levels(start, depth).into_iter().flatten().collect()
    }

    /// The persons first reached at each depth `1..=depth` from `start`.
    pub fn levels(&self, start: u32, depth: u32) -> Vec<Vec<u32>> {
        let mut seen = vec![false; self.friends.len()];
        let mut levels = Vec::new();
        let Some(first) = seen.get_mut(start as usize) else {
            return levels;
        };
        *first = true;
        let mut frontier = vec![start];
        for _ in 0..depth {
            let mut next = Vec::new();
            for &p in &frontier {
                for &q in &self.friends[p as usize] {
                    if !seen[q as usize] {
                        seen[q as usize] = true;
                        next.push(q);
                    }
                }
            }
            frontier = next.clone();
            levels.push(next);
        }
        levels
    }

    /// The links a top-down breadth-first search from `start` reads to reach `levels` (as
    /// [`Social::levels`] gives them): every link of the start and of each person in a level
    /// but the last. "Edges visited per second" is this over the time of one query.
    pub fn links_read(&self, start: u32, levels: &[Vec<u32>]) -> u64 {
        let degree = |p: u32| self.friends.get(p as usize).map_or(0, Vec::len) as u64;
        let inner = &levels[..levels.len().saturating_sub(1)];
        degree(start) + inner.iter().flatten().map(|&p| degree(p)).sum::<u64>()
    }

    /// Walks (paths with repeats) of exactly `1..=depth` hops from `start`: the rows a naive
    /// self-join produces before `DISTINCT`.
    pub fn walks(&self, start: u32, depth: u32) -> Vec<u64> {
        let mut counts: std::collections::HashMap<u32, u64> = [(start, 1)].into_iter().collect();
        let mut per_depth = Vec::new();
        for _ in 0..depth {
            let mut next: std::collections::HashMap<u32, u64> = Default::default();
            for (&p, &c) in &counts {
                for &q in &self.friends[p as usize] {
                    *next.entry(q).or_default() += c;
                }
            }
            per_depth.push(next.values().sum());
            counts = next;
        }
        per_depth
    }
}

/// Target degrees: Pareto draws scaled so that, once rounded and capped, they average
/// `mean_degree`.
fn targets(people: u32, mean_degree: f64, rng: &mut Rng) -> Vec<u32> {
    let cap = f64::from(Social::cap(people, mean_degree));
    let raw: Vec<f64> = (0..people)
        .map(|_| (1.0 - rng.unit()).powf(-1.0 / (TAIL - 1.0)))
        .collect();
    let shape = |scale: f64| -> Vec<u32> {
        raw.iter()
            .map(|w| (w * scale).round().clamp(1.0, cap) as u32)
            .collect()
    };
    let mean_of = |degrees: &[u32]| {
        degrees.iter().map(|&d| f64::from(d)).sum::<f64>() / degrees.len().max(1) as f64
    };
    let raw_mean = raw.iter().sum::<f64>() / raw.len().max(1) as f64;
    let mut scale = mean_degree / raw_mean.max(1e-9);
    // Capping and rounding move the mean: a few corrections bring it back.
    for _ in 0..8 {
        let mean = mean_of(&shape(scale));
        scale *= mean_degree / mean.max(1e-9);
    }
    shape(scale)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn same_seed_same_graph() {
        let a = Social::generate(2_000, 20.0, 9);
        let b = Social::generate(2_000, 20.0, 9);
        assert_eq!(a.friends, b.friends);
        assert_ne!(a.friends, Social::generate(2_000, 20.0, 10).friends);
    }

    #[test]
    fn mean_degree_is_near_the_target() {
        for (people, mean) in [(1_000, 10.0), (20_000, 50.0)] {
            let graph = Social::generate(people, mean, 1);
            let got = graph.mean_degree();
            assert!(
                (got - mean).abs() < mean * 0.1,
                "{people} people: mean {got}, target {mean}"
            );
        }
    }

    #[test]
    fn degrees_are_skewed() {
        let graph = Social::generate(20_000, 50.0, 2);
        let mut degrees: Vec<usize> = graph.friends.iter().map(Vec::len).collect();
        degrees.sort_unstable();
        let median = degrees[degrees.len() / 2] as f64;
        let max = degrees[degrees.len() - 1] as f64;
        let mean = graph.mean_degree();
        assert!(median < mean * 0.8, "median {median}, mean {mean}");
        assert!(max > mean * 10.0, "max {max}, mean {mean}");
        assert!(degrees
            .iter()
            .all(|&d| d as u32 <= Social::cap(20_000, 50.0)));
    }

    #[test]
    fn no_self_loops_or_repeated_pairs_and_symmetric() {
        let graph = Social::generate(5_000, 30.0, 3);
        let mut pairs = HashSet::new();
        for (from, to) in graph.directed() {
            assert_ne!(from, to);
            assert!(pairs.insert((from, to)), "repeated {from} -> {to}");
        }
        for &(from, to) in &pairs {
            assert!(pairs.contains(&(to, from)), "{from} -> {to} has no mirror");
        }
        assert_eq!(pairs.len() as u64, graph.edges());
    }

    #[test]
    fn friendships_are_mostly_local_and_reach_far() {
        let graph = Social::generate(10_000, 20.0, 4);
        let near = graph
            .directed()
            .filter(|&(a, b)| {
                let d = a.abs_diff(b);
                d.min(10_000 - d) <= 200
            })
            .count() as f64;
        assert!(near / graph.edges() as f64 > 0.4, "{near}");
        let start = graph.starts(1, 5)[0];
        let within3 = graph.reachable(start, 3).len();
        assert!(within3 > 1_000, "{within3}");
        assert_eq!(
            graph.walks(start, 1)[0],
            graph.friends[start as usize].len() as u64
        );
    }
}
