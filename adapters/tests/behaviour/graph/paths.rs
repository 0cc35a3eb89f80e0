//! Shortest paths, by hops and by weight.

use polyroute_adapters::kinds::graph::{Direction, Edge, GraphStore, Path, PathQuery};
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
