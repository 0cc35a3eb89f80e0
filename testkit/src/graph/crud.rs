//! Nodes and edges: upserts, reads, deletes, validation and concurrent writers.

use std::collections::BTreeMap;
use std::sync::Arc;

use polyroute_adapters::kinds::graph::{Direction, Edge, GraphStore, Node};
use polyroute_adapters::{ErrorKind, Value};

use super::{assert_error, filter, neighbor_ids, seed};
use crate::support::Fixture;

pub async fn get_missing_node_returns_none(f: Fixture<dyn GraphStore>) {
    assert_eq!(f.store.get_node("nobody").await.unwrap(), None);
}

pub async fn upsert_then_get_node_round_trips_every_value_type(f: Fixture<dyn GraphStore>) {
    let node = Node::new("alice", "person")
        .with("null", Value::Null)
        .with("bool", true)
        .with("int", i64::MIN)
        .with("float", 0.1)
        .with("text", "héllo")
        .with("bytes", vec![0u8, 255])
        .with("at", Value::Timestamp(1_700_000_000_123_456_789))
        .with("list", Value::List(vec![Value::Int(1), "two".into()]))
        .with(
            "map",
            Value::Map(BTreeMap::from([("k".to_owned(), Value::Bool(false))])),
        );
    f.store.upsert_node(node.clone()).await.unwrap();
    assert_eq!(f.store.get_node("alice").await.unwrap(), Some(node));
}

pub async fn upsert_node_replaces_label_and_properties(f: Fixture<dyn GraphStore>) {
    let store = &f.store;
    store
        .upsert_node(Node::new("a", "draft").with("x", 1).with("y", 2))
        .await
        .unwrap();
    let replacement = Node::new("a", "final").with("z", 3);
    store.upsert_node(replacement.clone()).await.unwrap();
    assert_eq!(store.get_node("a").await.unwrap(), Some(replacement));
}

pub async fn delete_node_reports_whether_it_existed(f: Fixture<dyn GraphStore>) {
    let store = &f.store;
    seed(&*store.clone(), &["a"], &[]).await;
    assert!(store.delete_node("a").await.unwrap());
    assert_eq!(store.get_node("a").await.unwrap(), None);
    assert!(!store.delete_node("a").await.unwrap());
    assert!(!store.delete_node("never").await.unwrap());
}

pub async fn delete_node_removes_every_incident_edge(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(
        store,
        &["hub", "a", "b", "c"],
        &[
            ("hub", "knows", "a"),
            ("hub", "likes", "b"),
            ("c", "knows", "hub"),
            ("hub", "self", "hub"),
            ("a", "knows", "b"),
        ],
    )
    .await;
    assert!(store.delete_node("hub").await.unwrap());
    let both = filter(Direction::Both, &[]);
    for id in ["a", "b", "c"] {
        let ids = neighbor_ids(store, id, &both).await;
        assert!(!ids.contains(&"hub".to_owned()), "{id}: {ids:?}");
    }
    // Edges between other nodes stay.
    assert_eq!(neighbor_ids(store, "a", &both).await, ["b"]);
    // A node re-created under the same id starts without edges.
    seed(store, &["hub"], &[]).await;
    assert_eq!(store.degree("hub", &both).await.unwrap(), 0);
    assert!(!store.delete_edge("hub", "knows", "a").await.unwrap());
}

pub async fn edge_with_a_missing_end_is_not_found(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["a"], &[]).await;
    let message = assert_error(
        store.upsert_edge(Edge::new("a", "knows", "ghost")).await,
        ErrorKind::NotFound,
    );
    assert!(message.contains("ghost"), "{message}");
    assert_error(
        store.upsert_edge(Edge::new("ghost", "knows", "a")).await,
        ErrorKind::NotFound,
    );
    assert_eq!(
        store
            .degree("a", &filter(Direction::Both, &[]))
            .await
            .unwrap(),
        0
    );
}

pub async fn upsert_edge_replaces_its_properties(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["a", "b"], &[]).await;
    let first = Edge::new("a", "rated", "b")
        .with("stars", 2)
        .with("note", "meh");
    store.upsert_edge(first).await.unwrap();
    let second = Edge::new("a", "rated", "b").with("stars", 5);
    store.upsert_edge(second.clone()).await.unwrap();
    let out = store
        .neighbors("a", &filter(Direction::Out, &[]), None)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].edge, second);
    let incoming = store
        .neighbors("b", &filter(Direction::In, &[]), None)
        .await
        .unwrap();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].edge, second);
}

pub async fn edges_differing_only_in_label_are_distinct(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(
        store,
        &["a", "b"],
        &[("a", "knows", "b"), ("a", "likes", "b")],
    )
    .await;
    let out = filter(Direction::Out, &[]);
    assert_eq!(store.degree("a", &out).await.unwrap(), 2);
    assert!(store.delete_edge("a", "likes", "b").await.unwrap());
    let left = store.neighbors("a", &out, None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].edge.label, "knows");
}

pub async fn delete_edge_reports_whether_it_existed(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(
        store,
        &["a", "b"],
        &[("a", "knows", "b"), ("b", "knows", "a")],
    )
    .await;
    assert!(store.delete_edge("a", "knows", "b").await.unwrap());
    assert!(!store.delete_edge("a", "knows", "b").await.unwrap());
    assert!(!store.delete_edge("a", "other", "b").await.unwrap());
    assert!(!store.delete_edge("x", "knows", "y").await.unwrap());
    // The reverse edge is another edge.
    assert_eq!(
        neighbor_ids(store, "b", &filter(Direction::Out, &[])).await,
        ["a"]
    );
    assert_eq!(
        neighbor_ids(store, "b", &filter(Direction::In, &[])).await,
        Vec::<String>::new()
    );
}

pub async fn empty_ids_and_labels_are_invalid(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    assert_error(
        store.upsert_node(Node::new("", "n")).await,
        ErrorKind::InvalidRequest,
    );
    assert_error(
        store.upsert_node(Node::new("a", "")).await,
        ErrorKind::InvalidRequest,
    );
    seed(store, &["a", "b"], &[]).await;
    assert_error(
        store.upsert_edge(Edge::new("a", "", "b")).await,
        ErrorKind::InvalidRequest,
    );
    assert_error(
        store.upsert_edge(Edge::new("", "l", "b")).await,
        ErrorKind::InvalidRequest,
    );
    assert_error(
        store.upsert_edge(Edge::new("a", "l", "")).await,
        ErrorKind::InvalidRequest,
    );
    assert_eq!(
        store
            .degree("a", &filter(Direction::Both, &[]))
            .await
            .unwrap(),
        0
    );
}

pub async fn unicode_and_prefix_like_ids_stay_apart(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    let ids = ["a", "a\0", "a\0b", "ab", "ä", "日本", "😀"];
    seed(store, &ids, &[]).await;
    for (i, from) in ids.iter().enumerate() {
        let to = ids[(i + 1) % ids.len()];
        store
            .upsert_edge(Edge::new(*from, "→ ünï", to).with("i", i as i64))
            .await
            .unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        let out = store
            .neighbors(id, &filter(Direction::Out, &[]), None)
            .await
            .unwrap();
        assert_eq!(out.len(), 1, "{id:?}");
        assert_eq!(out[0].node.id, ids[(i + 1) % ids.len()]);
        assert_eq!(out[0].edge.label, "→ ünï");
        assert_eq!(out[0].edge.properties["i"], Value::Int(i as i64));
        let incoming = neighbor_ids(store, id, &filter(Direction::In, &["→ ünï"])).await;
        assert_eq!(incoming, [ids[(i + ids.len() - 1) % ids.len()]]);
    }
    assert!(store.delete_node("a").await.unwrap());
    for id in &ids[1..] {
        assert!(store.get_node(id).await.unwrap().is_some(), "{id:?}");
    }
    assert_eq!(
        store
            .degree("a\0", &filter(Direction::Both, &[]))
            .await
            .unwrap(),
        1
    );
}

pub async fn large_properties_round_trip(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    let text = "x".repeat(1 << 20);
    let list = Value::List((0..10_000).map(Value::Int).collect());
    let node = Node::new("big", "blob")
        .with("text", text.as_str())
        .with("list", list.clone());
    store.upsert_node(node.clone()).await.unwrap();
    assert_eq!(store.get_node("big").await.unwrap(), Some(node));
    seed(store, &["other"], &[]).await;
    let edge = Edge::new("big", "has", "other").with("text", text.as_str());
    store.upsert_edge(edge.clone()).await.unwrap();
    let out = store
        .neighbors("big", &filter(Direction::Out, &[]), None)
        .await
        .unwrap();
    assert_eq!(out[0].edge, edge);
}

pub async fn concurrent_writers_all_land(f: Fixture<dyn GraphStore>) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let store: Arc<dyn GraphStore> = f.store;
    seed(&*store, &["root"], &[]).await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..EACH {
                    let id = format!("w{w}_{i}");
                    store.upsert_node(Node::new(&id, "n")).await.unwrap();
                    store
                        .upsert_edge(Edge::new("root", "has", &id))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let out = filter(Direction::Out, &["has"]);
    assert_eq!(
        store.degree("root", &out).await.unwrap(),
        (WRITERS * EACH) as u64
    );
    for w in 0..WRITERS {
        for i in 0..EACH {
            let id = format!("w{w}_{i}");
            assert_eq!(
                neighbor_ids(&*store, &id, &filter(Direction::In, &[])).await,
                ["root"]
            );
        }
    }
}

pub async fn concurrent_edge_writes_and_node_delete_leave_no_dangling_edge(
    f: Fixture<dyn GraphStore>,
) {
    const SPOKES: usize = 40;
    let store: Arc<dyn GraphStore> = f.store;
    let spokes: Vec<String> = (0..SPOKES).map(|i| format!("s{i}")).collect();
    let mut ids: Vec<&str> = spokes.iter().map(String::as_str).collect();
    ids.push("hub");
    seed(&*store, &ids, &[]).await;
    let writer = {
        let (store, spokes) = (Arc::clone(&store), spokes.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            for spoke in &spokes {
                match store.upsert_edge(Edge::new(spoke, "to", "hub")).await {
                    Ok(()) => {}
                    Err(err) if err.kind() == ErrorKind::NotFound => refused += 1,
                    Err(err) => panic!("unexpected error: {err}"),
                }
            }
            refused
        })
    };
    tokio::task::yield_now().await;
    assert!(store.delete_node("hub").await.unwrap());
    let refused = writer.await.unwrap();
    // Every edge either landed before the delete (and went with it) or was refused after.
    let mut dangling = 0;
    for spoke in &spokes {
        dangling += store
            .degree(spoke, &filter(Direction::Out, &[]))
            .await
            .unwrap();
    }
    assert_eq!(dangling, 0, "{refused} writes refused");
}

pub async fn upsert_batch_round_trips_nodes_and_edges(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    let nodes: Vec<Node> = (0..50)
        .map(|i| Node::new(format!("n{i:02}"), "person").with("i", i as i64))
        .collect();
    let edges: Vec<Edge> = (0..49)
        .map(|i| Edge::new(format!("n{i:02}"), "knows", format!("n{:02}", i + 1)).with("w", 1.5))
        .collect();
    store
        .upsert_batch(nodes.clone(), edges.clone())
        .await
        .unwrap();
    for node in &nodes {
        assert_eq!(store.get_node(&node.id).await.unwrap().as_ref(), Some(node));
    }
    let out = store
        .neighbors("n10", &filter(Direction::Out, &[]), None)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].edge, edges[10]);
    assert_eq!(
        neighbor_ids(store, "n10", &filter(Direction::Both, &[])).await,
        ["n09", "n11"]
    );
    // Empty batches are fine.
    store.upsert_batch(Vec::new(), Vec::new()).await.unwrap();
}

pub async fn upsert_batch_with_an_edge_to_a_missing_node_writes_nothing(
    f: Fixture<dyn GraphStore>,
) {
    let store = &*f.store;
    seed(store, &["old"], &[]).await;
    let result = store
        .upsert_batch(
            vec![Node::new("a", "n"), Node::new("old", "changed")],
            vec![
                Edge::new("a", "knows", "old"),
                Edge::new("old", "knows", "ghost"),
            ],
        )
        .await;
    assert_error(result, ErrorKind::NotFound);
    assert_eq!(store.get_node("a").await.unwrap(), None);
    assert_eq!(
        store.get_node("old").await.unwrap(),
        Some(Node::new("old", "n"))
    );
    assert_eq!(
        store
            .degree("old", &filter(Direction::Both, &[]))
            .await
            .unwrap(),
        0
    );
    // An invalid item fails the whole batch too.
    let result = store
        .upsert_batch(vec![Node::new("b", "n"), Node::new("", "n")], Vec::new())
        .await;
    assert_error(result, ErrorKind::InvalidRequest);
    assert_eq!(store.get_node("b").await.unwrap(), None);
}

pub async fn upsert_batch_edge_may_join_a_node_of_the_same_batch(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    seed(store, &["stored"], &[]).await;
    store
        .upsert_batch(
            vec![Node::new("fresh", "n")],
            vec![
                Edge::new("stored", "knows", "fresh"),
                Edge::new("fresh", "knows", "fresh"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        neighbor_ids(store, "stored", &filter(Direction::Out, &[])).await,
        ["fresh"]
    );
    assert_eq!(
        neighbor_ids(store, "fresh", &filter(Direction::In, &[])).await,
        ["fresh", "stored"]
    );
}

pub async fn upsert_batch_duplicates_keep_the_last(f: Fixture<dyn GraphStore>) {
    let store = &*f.store;
    store
        .upsert_batch(
            vec![
                Node::new("a", "first").with("v", 1),
                Node::new("b", "n"),
                Node::new("a", "last").with("v", 2),
            ],
            vec![
                Edge::new("a", "knows", "b").with("v", 1),
                Edge::new("a", "knows", "b").with("v", 2),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_node("a").await.unwrap(),
        Some(Node::new("a", "last").with("v", 2))
    );
    let out = store
        .neighbors("a", &filter(Direction::Out, &[]), None)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].edge, Edge::new("a", "knows", "b").with("v", 2));
    assert_eq!(
        store
            .degree("b", &filter(Direction::In, &[]))
            .await
            .unwrap(),
        1
    );
}
