//! The PostgreSQL graph backend: the graph suite, and the tables and indexes it creates.

use std::time::{Duration, Instant};

use polyroute_adapters::kinds::graph::{
    Direction, Edge, EdgeFilter, GraphSettings, GraphStore, Node, TraverseQuery,
};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use polyroute_testkit::graph_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn fixture() -> Fixture<dyn GraphStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Graph, json!({})).await;
    let settings = EntitySettings::Graph(GraphSettings::default());
    let EntityHandle::Graph(handle) = support::open(&*store, &unique("roads"), settings).await
    else {
        panic!("postgres graph store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(schema.cleanup.clone())),
    }
}

gated!(graph_suite!(fixture));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn reopening_keeps_the_graph_and_incoming_edges_use_their_index() {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Graph, json!({})).await;
    let settings = || EntitySettings::Graph(GraphSettings::default());
    let EntityHandle::Graph(graph) = support::open(&*store, "roads", settings()).await else {
        panic!("another kind");
    };
    graph.upsert_node(Node::new("a", "city")).await.unwrap();
    graph.upsert_node(Node::new("b", "city")).await.unwrap();
    graph
        .upsert_edge(Edge::new("a", "road", "b"))
        .await
        .unwrap();
    // Opening again (a restart) changes nothing.
    let EntityHandle::Graph(again) = support::open(&*store, "roads", settings()).await else {
        panic!("another kind");
    };
    let incoming = again
        .degree("b", &EdgeFilter::new(Direction::In))
        .await
        .unwrap();
    assert_eq!(incoming, 1);
    let client = inspect().await;
    let rows = client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'graph_roads_edges'",
            &[&schema.name],
        )
        .await
        .unwrap();
    let definitions: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert!(
        definitions.iter().any(|d| d.contains("(dst, label, src)")),
        "{definitions:?}"
    );
    assert!(
        definitions
            .iter()
            .any(|d| d.contains("UNIQUE") && d.contains("(src, label, dst)")),
        "{definitions:?}"
    );
}

/// A complete graph of 30 nodes: every node is one hop from every other, so a search that
/// re-enters nodes at each depth does 29 edges × 30 nodes of work per level. Breadth-first
/// with each node expanded once answers any depth with one level of work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_postgres_tests),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL"
)]
async fn deep_traversals_of_a_dense_graph_expand_each_node_once() {
    const NODES: usize = 30;
    const DEEP: u32 = 100_000;
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Graph, json!({})).await;
    let settings = EntitySettings::Graph(GraphSettings::with_max_depth(DEEP));
    let EntityHandle::Graph(graph) = support::open(&*store, "dense", settings).await else {
        panic!("another kind");
    };
    let ids: Vec<String> = (0..NODES).map(|i| format!("n{i:02}")).collect();
    let nodes = ids.iter().map(|id| Node::new(id, "n")).collect();
    let mut edges = Vec::new();
    for a in &ids {
        for b in &ids {
            if a != b {
                edges.push(Edge::new(a, "k", b));
            }
        }
    }
    graph.upsert_batch(nodes, edges).await.unwrap();
    for (depth, direction) in [
        (20, Direction::Out),
        (20, Direction::Both),
        (DEEP, Direction::In),
    ] {
        let query = TraverseQuery {
            start: "n00".into(),
            edges: EdgeFilter::new(direction),
            max_depth: depth,
            limit: None,
            skip: 0,
        };
        let started = Instant::now();
        let visits = graph.traverse(&query).await.unwrap();
        let reached = graph.count_reachable(&query).await.unwrap();
        let took = started.elapsed();
        assert_eq!(visits.len(), NODES - 1, "{direction:?} depth {depth}");
        assert!(visits.iter().all(|v| v.depth == 1), "{visits:?}");
        assert_eq!(visits[0].id, "n01");
        assert_eq!(reached, (NODES - 1) as u64);
        assert!(
            took < Duration::from_secs(2),
            "{direction:?} depth {depth} took {took:?}"
        );
    }
}
