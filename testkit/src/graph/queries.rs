//! Neighbours, degree and traversal.

use polyroute_adapters::kinds::graph::{
    Direction, Edge, GraphStore, Node, PathQuery, TraverseQuery, Visit,
};
use polyroute_adapters::{ErrorKind, Value};

use super::{assert_error, filter, neighbor_ids, seed};
use crate::support::Fixture;

/// a→b, a→c (knows); a→d (likes); b→d (knows); e→a (knows); c→a (likes).
async fn small_graph(store: &dyn GraphStore) {
    seed(
        store,
        &["a", "b", "c", "d", "e"],
        &[
            ("a", "knows", "b"),
            ("a", "knows", "c"),
            ("a", "likes", "d"),
            ("b", "knows", "d"),
            ("e", "knows", "a"),
            ("c", "likes", "a"),
        ],
    )
    .await;
}

fn visits(pairs: &[(&str, u32)]) -> Vec<Visit> {
    pairs
        .iter()
        .map(|(id, depth)| Visit {
            id: (*id).to_owned(),
            depth: *depth,
        })
        .collect()
}

fn traverse(start: &str, direction: Direction, labels: &[&str], depth: u32) -> TraverseQuery {
    TraverseQuery {
        start: start.to_owned(),
        edges: filter(direction, labels),
        max_depth: depth,
        limit: None,
        skip: 0,
    }
}

pub async fn neighbors_follow_direction_and_labels(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let ids = |direction, labels: &'static [&'static str]| {
        let edges = filter(direction, labels);
        async move { neighbor_ids(store, "a", &edges).await }
    };
    assert_eq!(ids(Direction::Out, &[]).await, ["b", "c", "d"]);
    assert_eq!(ids(Direction::Out, &["knows"]).await, ["b", "c"]);
    assert_eq!(
        ids(Direction::Out, &["likes", "knows"]).await,
        ["b", "c", "d"]
    );
    assert_eq!(ids(Direction::Out, &["nope"]).await, Vec::<String>::new());
    assert_eq!(ids(Direction::In, &[]).await, ["e", "c"]);
    assert_eq!(ids(Direction::In, &["likes"]).await, ["c"]);
    // Ordered by (label, neighbour id, out before in).
    assert_eq!(ids(Direction::Both, &[]).await, ["b", "c", "e", "c", "d"]);
}

pub async fn neighbors_are_ordered_and_limited(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    let ids: Vec<String> = (0..30).map(|i| format!("n{i:02}")).collect();
    let mut all: Vec<&str> = ids.iter().map(String::as_str).collect();
    all.push("hub");
    seed(store, &all, &[]).await;
    // Written out of order, half in each direction.
    for (i, id) in ids.iter().enumerate().rev() {
        let edge = if i % 2 == 0 {
            Edge::new("hub", "e", id)
        } else {
            Edge::new(id, "e", "hub")
        };
        store.upsert_edge(edge).await.unwrap();
    }
    let both = filter(Direction::Both, &[]);
    assert_eq!(neighbor_ids(store, "hub", &both).await, ids);
    let first = store.neighbors("hub", &both, Some(7)).await.unwrap();
    let first: Vec<&str> = first.iter().map(|n| n.node.id.as_str()).collect();
    assert_eq!(first, ids[..7]);
    assert!(store
        .neighbors("hub", &both, Some(0))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .neighbors("hub", &both, Some(100))
            .await
            .unwrap()
            .len(),
        30
    );
    let out = store
        .neighbors("hub", &filter(Direction::Out, &[]), Some(3))
        .await
        .unwrap();
    let out: Vec<&str> = out.iter().map(|n| n.node.id.as_str()).collect();
    assert_eq!(out, ["n00", "n02", "n04"]);
}

pub async fn neighbors_carry_nodes_and_edges(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    let bob = Node::new("bob", "person").with("age", 41);
    store.upsert_node(Node::new("ann", "person")).await.unwrap();
    store.upsert_node(bob.clone()).await.unwrap();
    let edge = Edge::new("ann", "knows", "bob").with("since", 2010);
    store.upsert_edge(edge.clone()).await.unwrap();
    let out = store
        .neighbors("ann", &filter(Direction::Out, &[]), None)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].node, bob);
    assert_eq!(out[0].edge, edge);
    // Seen from the other end the edge is the same edge, still from ann to bob.
    let incoming = store
        .neighbors("bob", &filter(Direction::In, &[]), None)
        .await
        .unwrap();
    assert_eq!(incoming[0].node.id, "ann");
    assert_eq!(incoming[0].edge, edge);
    assert_eq!(incoming[0].edge.properties["since"], Value::Int(2010));
}

pub async fn both_directions_count_a_self_loop_once(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["a", "b"], &[("a", "self", "a"), ("a", "to", "b")]).await;
    assert_eq!(
        neighbor_ids(store, "a", &filter(Direction::Out, &[])).await,
        ["a", "b"]
    );
    assert_eq!(
        neighbor_ids(store, "a", &filter(Direction::In, &[])).await,
        ["a"]
    );
    assert_eq!(
        neighbor_ids(store, "a", &filter(Direction::Both, &[])).await,
        ["a", "b"]
    );
    assert_eq!(
        store
            .degree("a", &filter(Direction::Both, &[]))
            .await
            .unwrap(),
        2
    );
}

pub async fn degree_counts_matching_edges(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let degree = |direction, labels: &'static [&'static str]| {
        let edges = filter(direction, labels);
        async move { store.degree("a", &edges).await.unwrap() }
    };
    assert_eq!(degree(Direction::Out, &[]).await, 3);
    assert_eq!(degree(Direction::Out, &["knows"]).await, 2);
    assert_eq!(degree(Direction::In, &[]).await, 2);
    assert_eq!(degree(Direction::In, &["knows"]).await, 1);
    assert_eq!(degree(Direction::Both, &[]).await, 5);
    assert_eq!(degree(Direction::Both, &["likes", "likes"]).await, 2);
    assert_eq!(degree(Direction::Both, &["nope"]).await, 0);
}

pub async fn queries_about_a_missing_node_are_not_found(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let any = filter(Direction::Both, &[]);
    assert_error(
        store.neighbors("ghost", &any, None).await,
        ErrorKind::NotFound,
    );
    assert_error(store.degree("ghost", &any).await, ErrorKind::NotFound);
    let message = assert_error(
        store
            .traverse(&traverse("ghost", Direction::Out, &[], 2))
            .await,
        ErrorKind::NotFound,
    );
    assert!(message.contains("ghost"), "{message}");
}

pub async fn empty_label_in_a_filter_is_invalid(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let bad = filter(Direction::Out, &["knows", ""]);
    assert_error(
        store.neighbors("a", &bad, None).await,
        ErrorKind::InvalidRequest,
    );
    assert_error(store.degree("a", &bad).await, ErrorKind::InvalidRequest);
    let mut query = traverse("a", Direction::Out, &[], 2);
    query.edges = bad;
    assert_error(store.traverse(&query).await, ErrorKind::InvalidRequest);
}

pub async fn node_without_edges_has_no_neighbors(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["alone"], &[]).await;
    let both = filter(Direction::Both, &[]);
    assert!(store
        .neighbors("alone", &both, None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.degree("alone", &both).await.unwrap(), 0);
    let reached = store
        .traverse(&traverse("alone", Direction::Both, &[], 5))
        .await
        .unwrap();
    assert!(reached.is_empty());
}

pub async fn traverse_visits_each_node_once_at_its_smallest_depth(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    // s→x→y→z and a shortcut s→z; a cycle z→s.
    seed(
        store,
        &["s", "x", "y", "z", "far"],
        &[
            ("s", "e", "x"),
            ("x", "e", "y"),
            ("y", "e", "z"),
            ("s", "e", "z"),
            ("z", "e", "s"),
            ("z", "e", "far"),
        ],
    )
    .await;
    let reached = store
        .traverse(&traverse("s", Direction::Out, &[], 10))
        .await
        .unwrap();
    assert_eq!(reached, visits(&[("x", 1), ("z", 1), ("far", 2), ("y", 2)]));
    let reached = store
        .traverse(&traverse("s", Direction::Out, &[], 1))
        .await
        .unwrap();
    assert_eq!(reached, visits(&[("x", 1), ("z", 1)]));
}

pub async fn traverse_follows_direction_and_labels(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let run = |direction, labels: &'static [&'static str], depth| {
        let query = traverse("a", direction, labels, depth);
        async move { store.traverse(&query).await.unwrap() }
    };
    assert_eq!(
        run(Direction::Out, &["knows"], 3).await,
        visits(&[("b", 1), ("c", 1), ("d", 2)])
    );
    assert_eq!(
        run(Direction::Out, &["likes"], 3).await,
        visits(&[("d", 1)])
    );
    assert_eq!(
        run(Direction::In, &[], 3).await,
        visits(&[("c", 1), ("e", 1)])
    );
    assert_eq!(
        run(Direction::Both, &[], 3).await,
        visits(&[("b", 1), ("c", 1), ("d", 1), ("e", 1)])
    );
    // From d, only incoming edges lead anywhere.
    let query = traverse("d", Direction::In, &["knows"], 3);
    assert_eq!(
        store.traverse(&query).await.unwrap(),
        visits(&[("b", 1), ("a", 2), ("e", 3)])
    );
}

pub async fn traverse_limit_keeps_the_nearest(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    // root → m0..m4, each mi → leaf_i.
    let mids: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    let leaves: Vec<String> = (0..5).map(|i| format!("leaf{i}")).collect();
    let mut ids: Vec<&str> = vec!["root"];
    ids.extend(mids.iter().map(String::as_str));
    ids.extend(leaves.iter().map(String::as_str));
    seed(store, &ids, &[]).await;
    for (mid, leaf) in mids.iter().zip(&leaves) {
        store
            .upsert_edge(Edge::new("root", "e", mid))
            .await
            .unwrap();
        store.upsert_edge(Edge::new(mid, "e", leaf)).await.unwrap();
    }
    let mut query = traverse("root", Direction::Out, &[], 2);
    query.limit = Some(3);
    assert_eq!(
        store.traverse(&query).await.unwrap(),
        visits(&[("m0", 1), ("m1", 1), ("m2", 1)])
    );
    query.limit = Some(7);
    let reached = store.traverse(&query).await.unwrap();
    assert_eq!(reached.len(), 7);
    assert!(reached[..5].iter().all(|v| v.depth == 1));
    assert_eq!(reached[5..], visits(&[("leaf0", 2), ("leaf1", 2)]));
    query.limit = Some(0);
    assert!(store.traverse(&query).await.unwrap().is_empty());
}

pub async fn traverse_pages_visit_every_node_once_in_order(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    for direction in [Direction::Out, Direction::Both] {
        let whole = traverse("a", direction, &[], 3);
        let everything = store.traverse(&whole).await.unwrap();
        for size in [1, 2, 3] {
            let mut query = whole.clone().limit(size);
            let mut read = Vec::new();
            loop {
                let page = store.traverse(&query).await.unwrap();
                assert!(page.len() <= size, "{query:?}");
                assert_eq!(
                    store.count_reachable(&query).await.unwrap(),
                    page.len() as u64,
                    "{query:?}"
                );
                let done = page.len() < size;
                query = query.next_page(page.len());
                read.extend(page);
                if done {
                    break;
                }
            }
            assert_eq!(read, everything, "{direction:?}, pages of {size}");
        }
        let mut past = whole.clone();
        past.skip = everything.len() + 1;
        assert!(store.traverse(&past).await.unwrap().is_empty());
        assert_eq!(store.count_reachable(&past).await.unwrap(), 0);
    }
}

pub async fn traverse_of_depth_zero_is_empty(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let reached = store
        .traverse(&traverse("a", Direction::Both, &[], 0))
        .await
        .unwrap();
    assert!(reached.is_empty());
}

pub async fn count_reachable_matches_traverse(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    for direction in [Direction::Out, Direction::In, Direction::Both] {
        for labels in [&[][..], &["knows"], &["likes", "knows"], &["nope"]] {
            for depth in 0..4 {
                for limit in [None, Some(0), Some(1), Some(3)] {
                    let mut query = traverse("a", direction, labels, depth);
                    query.limit = limit;
                    let visits = store.traverse(&query).await.unwrap();
                    assert_eq!(
                        store.count_reachable(&query).await.unwrap(),
                        visits.len() as u64,
                        "{query:?}"
                    );
                }
            }
        }
    }
    let ghost = traverse("ghost", Direction::Out, &[], 2);
    let message = assert_error(store.count_reachable(&ghost).await, ErrorKind::NotFound);
    assert!(message.contains("ghost"), "{message}");
    let mut bad = traverse("a", Direction::Out, &[], 2);
    bad.edges = filter(Direction::Out, &[""]);
    assert_error(store.count_reachable(&bad).await, ErrorKind::InvalidRequest);
}

pub async fn traversals_see_every_committed_write(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    small_graph(store).await;
    let reach = |start: &'static str, depth| {
        let query = traverse(start, Direction::Out, &[], depth);
        async move { store.traverse(&query).await.unwrap() }
    };
    // A first traversal, then every kind of write; each must show in the next one.
    assert_eq!(reach("a", 3).await, visits(&[("b", 1), ("c", 1), ("d", 1)]));
    store.upsert_node(Node::new("f", "n")).await.unwrap();
    store
        .upsert_edge(Edge::new("d", "knows", "f"))
        .await
        .unwrap();
    assert_eq!(
        reach("a", 3).await,
        visits(&[("b", 1), ("c", 1), ("d", 1), ("f", 2)])
    );
    assert!(store.delete_edge("a", "likes", "d").await.unwrap());
    assert_eq!(
        reach("a", 3).await,
        visits(&[("b", 1), ("c", 1), ("d", 2), ("f", 3)])
    );
    assert!(store.delete_node("b").await.unwrap());
    assert_eq!(reach("a", 3).await, visits(&[("c", 1)]));
    let message = assert_error(
        store.traverse(&traverse("b", Direction::Out, &[], 1)).await,
        ErrorKind::NotFound,
    );
    assert!(message.contains('b'), "{message}");
    store
        .upsert_batch(
            vec![Node::new("b", "n"), Node::new("g", "n")],
            vec![Edge::new("c", "knows", "b"), Edge::new("b", "knows", "g")],
        )
        .await
        .unwrap();
    assert_eq!(reach("a", 3).await, visits(&[("c", 1), ("b", 2), ("g", 3)]));
    // A batch that fails writes nothing, there or in traversals.
    let failed = store
        .upsert_batch(
            vec![Node::new("h", "n")],
            vec![
                Edge::new("a", "knows", "h"),
                Edge::new("h", "knows", "ghost"),
            ],
        )
        .await;
    assert_error(failed, ErrorKind::NotFound);
    assert_eq!(
        store
            .count_reachable(&traverse("a", Direction::Out, &[], 3))
            .await
            .unwrap(),
        3
    );
    let path = store
        .shortest_path(&PathQuery {
            from: "a".into(),
            to: "g".into(),
            edges: filter(Direction::Out, &[]),
            max_depth: 5,
            weight: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(path.nodes, ["a", "c", "b", "g"]);
}
