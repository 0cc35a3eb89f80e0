//! Shortest paths, by hops and by weight.

use polyroute_adapters::kinds::graph::{
    Direction, Edge, GraphStore, Path, PathQuery, DEFAULT_MAX_DEPTH,
};
use polyroute_adapters::{ErrorKind, Value};

use super::{assert_error, filter, seed};
use crate::support::Fixture;

fn query(from: &str, to: &str, direction: Direction, labels: &[&str], depth: u32) -> PathQuery {
    PathQuery {
        from: from.to_owned(),
        to: to.to_owned(),
        edges: filter(direction, labels),
        max_depth: depth,
        weight: None,
    }
}

fn weighted(from: &str, to: &str, depth: u32) -> PathQuery {
    PathQuery {
        weight: Some("w".to_owned()),
        ..query(from, to, Direction::Out, &[], depth)
    }
}

fn path(nodes: &[&str], cost: f64) -> Option<Path> {
    Some(Path {
        nodes: nodes.iter().map(|n| (*n).to_owned()).collect(),
        cost,
    })
}

/// Upserts nodes `ids` and edges `(from, to, weight)` labelled `road`.
async fn roads(store: &dyn GraphStore, ids: &[&str], edges: &[(&str, &str, Value)]) {
    seed(store, ids, &[]).await;
    for (from, to, w) in edges {
        let edge = Edge::new(*from, "road", *to).with("w", w.clone());
        store.upsert_edge(edge).await.unwrap();
    }
}

/// Checks that `found` is a path of `hops` hops from `from` to `to` along `edges`.
async fn assert_valid(store: &dyn GraphStore, found: &Path, from: &str, to: &str, hops: usize) {
    assert_eq!(found.nodes.len(), hops + 1, "{found:?}");
    assert_eq!(found.cost, hops as f64);
    assert_eq!(found.nodes.first().map(String::as_str), Some(from));
    assert_eq!(found.nodes.last().map(String::as_str), Some(to));
    for pair in found.nodes.windows(2) {
        let next = store
            .neighbors(&pair[0], &filter(Direction::Out, &[]), None)
            .await
            .unwrap();
        assert!(next.iter().any(|n| n.node.id == pair[1]), "{found:?}");
    }
}

pub async fn shortest_path_counts_hops(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    // Two routes of 2 hops (via b or c) and one of 3 (via x, y).
    seed(
        store,
        &["a", "b", "c", "x", "y", "z"],
        &[
            ("a", "e", "b"),
            ("a", "e", "c"),
            ("b", "e", "z"),
            ("c", "e", "z"),
            ("a", "e", "x"),
            ("x", "e", "y"),
            ("y", "e", "z"),
        ],
    )
    .await;
    let found = store
        .shortest_path(&query("a", "z", Direction::Out, &[], 10))
        .await
        .unwrap()
        .unwrap();
    assert_valid(store, &found, "a", "z", 2).await;
    let found = store
        .shortest_path(&query("a", "y", Direction::Out, &[], 10))
        .await
        .unwrap();
    assert_eq!(found, path(&["a", "x", "y"], 2.0));
}

pub async fn shortest_path_follows_direction_labels_and_depth(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    // a→b→c→d (next), a→d (jump), d→a (back).
    seed(
        store,
        &["a", "b", "c", "d"],
        &[
            ("a", "next", "b"),
            ("b", "next", "c"),
            ("c", "next", "d"),
            ("a", "jump", "d"),
            ("d", "back", "a"),
        ],
    )
    .await;
    let find = |q: PathQuery| async move { store.shortest_path(&q).await.unwrap() };
    assert_eq!(
        find(query("a", "d", Direction::Out, &[], 5)).await,
        path(&["a", "d"], 1.0)
    );
    assert_eq!(
        find(query("a", "d", Direction::Out, &["next"], 5)).await,
        path(&["a", "b", "c", "d"], 3.0)
    );
    assert_eq!(
        find(query("a", "d", Direction::Out, &["next"], 2)).await,
        None
    );
    assert_eq!(
        find(query("a", "d", Direction::Out, &["next"], 3)).await,
        path(&["a", "b", "c", "d"], 3.0)
    );
    // Against the edges: d is reached from c, c from b.
    assert_eq!(
        find(query("d", "b", Direction::In, &["next"], 5)).await,
        path(&["d", "c", "b"], 2.0)
    );
    assert_eq!(
        find(query("d", "b", Direction::Out, &["next"], 5)).await,
        None
    );
    assert_eq!(
        find(query("c", "a", Direction::Both, &["next"], 5)).await,
        path(&["c", "b", "a"], 2.0)
    );
    assert_eq!(
        find(query("b", "a", Direction::Out, &[], 5)).await,
        path(&["b", "c", "d", "a"], 3.0)
    );
}

pub async fn path_to_itself_is_the_node_alone(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["a"], &[]).await;
    assert_eq!(
        store
            .shortest_path(&query("a", "a", Direction::Out, &[], 0))
            .await
            .unwrap(),
        path(&["a"], 0.0)
    );
    if f.capabilities.weighted_paths {
        assert_eq!(
            store.shortest_path(&weighted("a", "a", 3)).await.unwrap(),
            path(&["a"], 0.0)
        );
    }
}

pub async fn unreachable_node_has_no_path(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["a", "b", "island"], &[("a", "e", "b")]).await;
    for direction in [Direction::Out, Direction::In, Direction::Both] {
        let found = store
            .shortest_path(&query("a", "island", direction, &[], 10))
            .await
            .unwrap();
        assert_eq!(found, None);
    }
    assert_eq!(
        store
            .shortest_path(&query("b", "a", Direction::Out, &[], 10))
            .await
            .unwrap(),
        None
    );
    assert_error(
        store
            .shortest_path(&query("a", "ghost", Direction::Out, &[], 3))
            .await,
        ErrorKind::NotFound,
    );
    assert_error(
        store
            .shortest_path(&query("ghost", "a", Direction::Out, &[], 3))
            .await,
        ErrorKind::NotFound,
    );
}

/// True when the backend has weighted paths; otherwise checks that a weighted query is refused
/// as unsupported and returns false.
async fn has_weighted_paths(f: &Fixture<dyn GraphStore>) -> bool {
    if f.capabilities.weighted_paths {
        return true;
    }
    seed(&*f.store, &["probe_a", "probe_b"], &[]).await;
    assert_error(
        f.store
            .shortest_path(&weighted("probe_a", "probe_b", 3))
            .await,
        ErrorKind::Unsupported,
    );
    false
}

pub async fn weighted_path_minimises_the_property(f: Fixture<dyn GraphStore>) {
    if !has_weighted_paths(&f).await {
        return;
    }
    let store = &*f.store;
    // Direct a→d costs 10; a→b→c→d costs 1 + 2.5 + 1 = 4.5; a→c→d costs 4 + 1 = 5.
    roads(
        store,
        &["a", "b", "c", "d"],
        &[
            ("a", "d", Value::Int(10)),
            ("a", "b", Value::Int(1)),
            ("b", "c", Value::Float(2.5)),
            ("c", "d", Value::Int(1)),
            ("a", "c", Value::Float(4.0)),
        ],
    )
    .await;
    assert_eq!(
        store.shortest_path(&weighted("a", "d", 10)).await.unwrap(),
        path(&["a", "b", "c", "d"], 4.5)
    );
    // Zero weights are allowed.
    store
        .upsert_edge(Edge::new("a", "road", "d").with("w", 0))
        .await
        .unwrap();
    assert_eq!(
        store.shortest_path(&weighted("a", "d", 10)).await.unwrap(),
        path(&["a", "d"], 0.0)
    );
    assert_eq!(
        store.shortest_path(&weighted("d", "a", 10)).await.unwrap(),
        None
    );
}

pub async fn weighted_path_respects_max_depth_exactly(f: Fixture<dyn GraphStore>) {
    if !has_weighted_paths(&f).await {
        return;
    }
    let store = &*f.store;
    // Cheapest: a→b→c→d→z (4 hops, cost 4). Within 3 hops: a→b→y→z (cost 7), not a→x→z (9).
    roads(
        store,
        &["a", "b", "c", "d", "x", "y", "z"],
        &[
            ("a", "b", Value::Int(1)),
            ("b", "c", Value::Int(1)),
            ("c", "d", Value::Int(1)),
            ("d", "z", Value::Int(1)),
            ("b", "y", Value::Int(5)),
            ("y", "z", Value::Int(1)),
            ("a", "x", Value::Int(1)),
            ("x", "z", Value::Int(8)),
        ],
    )
    .await;
    let find = |depth| async move {
        store
            .shortest_path(&weighted("a", "z", depth))
            .await
            .unwrap()
    };
    assert_eq!(find(10).await, path(&["a", "b", "c", "d", "z"], 4.0));
    assert_eq!(find(4).await, path(&["a", "b", "c", "d", "z"], 4.0));
    assert_eq!(find(3).await, path(&["a", "b", "y", "z"], 7.0));
    assert_eq!(find(2).await, path(&["a", "x", "z"], 9.0));
    assert_eq!(find(1).await, None);
}

pub async fn bad_weights_are_invalid_and_name_the_property(f: Fixture<dyn GraphStore>) {
    if !has_weighted_paths(&f).await {
        return;
    }
    let store = &*f.store;
    let cases = [
        ("negative", Some(Value::Int(-1))),
        ("nan", Some(Value::Float(f64::NAN))),
        ("text", Some(Value::Text("3".into()))),
        ("missing", None),
    ];
    for (name, w) in cases {
        let (from, to) = (format!("{name}_from"), format!("{name}_to"));
        seed(store, &[from.as_str(), to.as_str()], &[]).await;
        let mut edge = Edge::new(&from, "road", &to);
        if let Some(w) = w {
            edge = edge.with("w", w);
        }
        store.upsert_edge(edge).await.unwrap();
        let message = assert_error(
            store.shortest_path(&weighted(&from, &to, 3)).await,
            ErrorKind::InvalidRequest,
        );
        assert!(message.contains("`w`"), "{name}: {message}");
        // Unweighted, the same edge is an ordinary hop.
        let hops = store
            .shortest_path(&query(&from, &to, Direction::Out, &[], 3))
            .await
            .unwrap();
        assert_eq!(hops, path(&[from.as_str(), to.as_str()], 1.0), "{name}");
    }
}

/// A small deterministic generator for random graphs.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The cheapest cost from `from` to every node in at most `depth` hops (Bellman-Ford, one
/// round per hop), following `(from, to, weight)` edges in `direction`.
fn reference(
    nodes: usize,
    edges: &[(usize, usize, f64)],
    direction: Direction,
    from: usize,
    depth: u32,
) -> Vec<Option<f64>> {
    let mut best = vec![None; nodes];
    best[from] = Some(0.0);
    for _ in 0..depth {
        let mut next = best.clone();
        for &(a, b, w) in edges {
            let mut relax = |x: usize, y: usize| {
                if let Some(cost) = best[x] {
                    if next[y].is_none_or(|known: f64| cost + w < known) {
                        next[y] = Some(cost + w);
                    }
                }
            };
            match direction {
                Direction::Out => relax(a, b),
                Direction::In => relax(b, a),
                Direction::Both => {
                    relax(a, b);
                    relax(b, a);
                }
            }
        }
        best = next;
    }
    best
}

pub async fn paths_match_a_reference_on_a_random_graph(f: Fixture<dyn GraphStore>) {
    const NODES: usize = 40;
    let store = &*f.store;
    let mut rng = Lcg(7);
    let ids: Vec<String> = (0..NODES).map(|i| format!("v{i}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    seed(store, &names, &[]).await;
    let mut edges = Vec::new();
    for _ in 0..90 {
        let (a, b) = (
            rng.below(NODES as u64) as usize,
            rng.below(NODES as u64) as usize,
        );
        let w = rng.below(9) as f64 + 0.5;
        if edges.iter().any(|&(x, y, _)| (x, y) == (a, b)) {
            continue;
        }
        edges.push((a, b, w));
        let edge = Edge::new(&ids[a], "road", &ids[b]).with("w", w);
        store.upsert_edge(edge).await.unwrap();
    }
    let hops: Vec<(usize, usize, f64)> = edges.iter().map(|&(a, b, _)| (a, b, 1.0)).collect();
    for direction in [Direction::Out, Direction::In, Direction::Both] {
        // The deepest is the most the entity allows.
        for depth in [2, 4, DEFAULT_MAX_DEPTH] {
            for from in [0, 3, 17] {
                let by_hops = reference(NODES, &hops, direction, from, depth);
                let by_weight = reference(NODES, &edges, direction, from, depth);
                for to in 0..NODES {
                    let mut q = query(&ids[from], &ids[to], direction, &[], depth);
                    let found = store.shortest_path(&q).await.unwrap();
                    let context = format!("{direction:?} depth {depth} {from}->{to}");
                    assert_eq!(found.as_ref().map(|p| p.cost), by_hops[to], "{context}");
                    if let Some(found) = &found {
                        assert_eq!(found.nodes.len() as f64, found.cost + 1.0, "{context}");
                        assert_follows(found, &ids, &edges, direction, &context);
                    }
                    if !f.capabilities.weighted_paths {
                        continue;
                    }
                    q.weight = Some("w".to_owned());
                    let found = store.shortest_path(&q).await.unwrap();
                    assert_eq!(
                        found.as_ref().map(|p| p.cost),
                        by_weight[to],
                        "{context} weighted"
                    );
                    if let Some(found) = &found {
                        assert!(found.nodes.len() as u32 <= depth + 1, "{context}");
                        assert_follows(found, &ids, &edges, direction, &context);
                    }
                }
            }
        }
    }
}

/// Checks that consecutive nodes of `path` are joined by an edge in `direction`.
fn assert_follows(
    path: &Path,
    ids: &[String],
    edges: &[(usize, usize, f64)],
    direction: Direction,
    context: &str,
) {
    let index = |id: &String| ids.iter().position(|x| x == id).unwrap();
    for pair in path.nodes.windows(2) {
        let (a, b) = (index(&pair[0]), index(&pair[1]));
        let joined = edges.iter().any(|&(x, y, _)| match direction {
            Direction::Out => (x, y) == (a, b),
            Direction::In => (x, y) == (b, a),
            Direction::Both => (x, y) == (a, b) || (x, y) == (b, a),
        });
        assert!(
            joined,
            "{context}: no edge between {} and {}",
            pair[0], pair[1]
        );
    }
}
