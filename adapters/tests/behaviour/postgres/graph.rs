//! The PostgreSQL graph backend: the graph suite, and the tables and indexes it creates.

use std::sync::Arc;

use polyroute_adapters::kinds::graph::{
    Direction, Edge, EdgeFilter, GraphSettings, GraphStore, Node,
};
use polyroute_adapters::{EntitySettings, StoreHandle, StoreKind};
use serde_json::json;

use super::{gated, inspect, Schema};
use crate::graph::graph_suite;
use crate::guarded::Guarded;
use crate::support::{self, unique, Fixture};

async fn fixture() -> Fixture<dyn GraphStore> {
    let schema = Schema::new();
    let store = schema.connect(StoreKind::Graph, json!({})).await;
    let settings = EntitySettings::Graph(GraphSettings::default());
    let StoreHandle::Graph(handle) = support::open(&*store, &unique("roads"), settings).await
    else {
        panic!("postgres graph store opened a handle of another kind");
    };
    Fixture {
        store: Arc::new(Guarded::new(handle, schema.cleanup.clone())),
        capabilities: store.info().capabilities,
        guard: None,
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
    let StoreHandle::Graph(graph) = support::open(&*store, "roads", settings()).await else {
        panic!("another kind");
    };
    graph.upsert_node(Node::new("a", "city")).await.unwrap();
    graph.upsert_node(Node::new("b", "city")).await.unwrap();
    graph
        .upsert_edge(Edge::new("a", "road", "b"))
        .await
        .unwrap();
    // Opening again (a restart) changes nothing.
    let StoreHandle::Graph(again) = support::open(&*store, "roads", settings()).await else {
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
