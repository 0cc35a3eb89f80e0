//! The contract's bounds: the entity's depth limit and the sizes of ids and labels. Every
//! backend refuses the same requests as invalid, before anything is stored, and keeps working.

use polyroute_adapters::kinds::graph::{
    Direction, Edge, EdgeFilter, GraphStore, Node, PathQuery, TraverseQuery, DEFAULT_MAX_DEPTH,
    MAX_ID_BYTES, MAX_LABEL_BYTES,
};
use polyroute_adapters::ErrorKind;

use super::{assert_error, seed};
use crate::support::Fixture;

fn traversal(start: &str, depth: u32) -> TraverseQuery {
    TraverseQuery {
        start: start.into(),
        edges: EdgeFilter::new(Direction::Both),
        max_depth: depth,
        limit: None,
        skip: 0,
    }
}

fn path(from: &str, to: &str, depth: u32) -> PathQuery {
    PathQuery {
        from: from.into(),
        to: to.into(),
        edges: EdgeFilter::new(Direction::Both),
        max_depth: depth,
        weight: None,
    }
}

/// The fixtures open entities with the default settings, so the limit is the default one.
pub async fn depth_above_the_entity_limit_is_refused(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["a", "b", "c"], &[("a", "r", "b"), ("b", "r", "c")]).await;
    for depth in [DEFAULT_MAX_DEPTH + 1, u32::MAX] {
        let text = assert_error(
            store.traverse(&traversal("a", depth)).await,
            ErrorKind::InvalidRequest,
        );
        assert!(text.contains("max_depth"), "{text}");
        assert!(text.contains(&DEFAULT_MAX_DEPTH.to_string()), "{text}");
        assert_error(
            store.count_reachable(&traversal("a", depth)).await,
            ErrorKind::InvalidRequest,
        );
        let text = assert_error(
            store.shortest_path(&path("a", "c", depth)).await,
            ErrorKind::InvalidRequest,
        );
        assert!(text.contains("max_depth"), "{text}");
    }
    // At the limit everything answers, and the store goes on answering.
    let visits = store
        .traverse(&traversal("a", DEFAULT_MAX_DEPTH))
        .await
        .unwrap();
    assert_eq!(visits.len(), 2);
    assert_eq!(
        store
            .count_reachable(&traversal("a", DEFAULT_MAX_DEPTH))
            .await
            .unwrap(),
        2
    );
    let found = store
        .shortest_path(&path("a", "c", DEFAULT_MAX_DEPTH))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.nodes, ["a", "b", "c"]);
}

/// Ids and labels at the limits are stored and read back by every backend (an edge's keys
/// hold two ids and a label); one byte more is refused naming the field.
pub async fn ids_and_labels_at_the_size_limits_round_trip(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    // Multi-byte characters: the limits count bytes.
    let a = "é".repeat(MAX_ID_BYTES / 2);
    let b = format!("{}b", "x".repeat(MAX_ID_BYTES - 1));
    let label = "λ".repeat(MAX_LABEL_BYTES / 2);
    store.upsert_node(Node::new(&a, &label)).await.unwrap();
    store.upsert_node(Node::new(&b, &label)).await.unwrap();
    store.upsert_edge(Edge::new(&a, &label, &b)).await.unwrap();
    assert_eq!(store.get_node(&a).await.unwrap().unwrap().label, label);
    let out = EdgeFilter::new(Direction::Out).label(&label);
    let neighbors = store.neighbors(&a, &out, None).await.unwrap();
    assert_eq!(neighbors.len(), 1);
    assert_eq!(neighbors[0].node.id, b);
    assert_eq!(
        store
            .degree(&b, &EdgeFilter::new(Direction::In))
            .await
            .unwrap(),
        1
    );
    let visits = store.traverse(&traversal(&a, 2)).await.unwrap();
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].id, b);
    assert!(store.delete_edge(&a, &label, &b).await.unwrap());
    assert!(store.delete_node(&a).await.unwrap());
}

pub async fn oversized_ids_and_labels_are_refused_and_the_store_keeps_working(
    f: Fixture<dyn GraphStore>,
) {
    let store = &*f.store;
    seed(store, &["a", "b"], &[]).await;
    let long_id = "i".repeat(MAX_ID_BYTES + 1);
    let huge_id = "h".repeat(70_000);
    let long_label = "l".repeat(MAX_LABEL_BYTES + 1);
    for id in [&long_id, &huge_id] {
        let text = assert_error(
            store.upsert_node(Node::new(id.as_str(), "n")).await,
            ErrorKind::InvalidRequest,
        );
        assert!(text.contains("`id`"), "{text}");
        assert!(text.contains(&MAX_ID_BYTES.to_string()), "{text}");
        assert!(!text.contains(id.as_str()), "the id is not echoed back");
        assert_error(store.get_node(id).await, ErrorKind::InvalidRequest);
        assert_error(store.delete_node(id).await, ErrorKind::InvalidRequest);
        let text = assert_error(
            store.upsert_edge(Edge::new("a", "r", id.as_str())).await,
            ErrorKind::InvalidRequest,
        );
        assert!(text.contains("`to`"), "{text}");
        assert_error(
            store.delete_edge(id, "r", "b").await,
            ErrorKind::InvalidRequest,
        );
        let both = EdgeFilter::new(Direction::Both);
        assert_error(
            store.neighbors(id, &both, None).await,
            ErrorKind::InvalidRequest,
        );
        assert_error(store.degree(id, &both).await, ErrorKind::InvalidRequest);
        assert_error(
            store.traverse(&traversal(id, 1)).await,
            ErrorKind::InvalidRequest,
        );
        assert_error(
            store.shortest_path(&path("a", id, 1)).await,
            ErrorKind::InvalidRequest,
        );
        let text = assert_error(
            store
                .upsert_batch(
                    vec![Node::new("c", "n"), Node::new(id.as_str(), "n")],
                    vec![],
                )
                .await,
            ErrorKind::InvalidRequest,
        );
        assert!(text.contains("nodes[1]"), "{text}");
    }
    let text = assert_error(
        store.upsert_node(Node::new("c", long_label.as_str())).await,
        ErrorKind::InvalidRequest,
    );
    assert!(text.contains("`label`"), "{text}");
    assert!(text.contains(&MAX_LABEL_BYTES.to_string()), "{text}");
    assert_error(
        store
            .upsert_edge(Edge::new("a", long_label.as_str(), "b"))
            .await,
        ErrorKind::InvalidRequest,
    );
    let text = assert_error(
        store
            .upsert_batch(vec![], vec![Edge::new("a", long_label.as_str(), "b")])
            .await,
        ErrorKind::InvalidRequest,
    );
    assert!(text.contains("edges[0]"), "{text}");
    let filter = EdgeFilter::new(Direction::Out).label(long_label.as_str());
    let text = assert_error(
        store.neighbors("a", &filter, None).await,
        ErrorKind::InvalidRequest,
    );
    assert!(text.contains("labels[0]"), "{text}");
    // Nothing of the refused writes landed, and writes and reads go on as before.
    assert_eq!(store.get_node("c").await.unwrap(), None);
    store.upsert_node(Node::new("c", "n")).await.unwrap();
    store.upsert_edge(Edge::new("a", "r", "c")).await.unwrap();
    store
        .upsert_batch(vec![Node::new("d", "n")], vec![Edge::new("c", "r", "d")])
        .await
        .unwrap();
    let visits = store.traverse(&traversal("a", 3)).await.unwrap();
    let ids: Vec<&str> = visits.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["c", "d"]);
}
