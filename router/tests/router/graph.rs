//! A graph entity on the embedded graph store, from TOML to a call through the typed handle.

use polyroute::graph::{Direction, Edge, EdgeFilter, Node, PathQuery};
use polyroute::{Config, Router};

use crate::support::env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_graph_serves_a_graph_entity_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
        [stores.social]
        kind = "graph"
        path = "data/social"
        synchronous = "normal"

        [entities.follows]
        store = "social"
    "#;
    let config = Config::from_toml_str_with_env(text, dir.path(), &env(&[])).unwrap();
    let router = Router::connect(config).await.unwrap();
    let follows = router.graph("follows").unwrap();
    for id in ["ann", "bob", "cat"] {
        follows.upsert_node(Node::new(id, "user")).await.unwrap();
    }
    follows
        .upsert_edge(Edge::new("ann", "follows", "bob"))
        .await
        .unwrap();
    follows
        .upsert_edge(Edge::new("bob", "follows", "cat"))
        .await
        .unwrap();
    let path = follows
        .shortest_path(&PathQuery {
            from: "ann".into(),
            to: "cat".into(),
            edges: EdgeFilter::new(Direction::Out),
            max_depth: 3,
            weight: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(path.nodes, ["ann", "bob", "cat"]);
    // The store's folder resolved against the config's folder.
    assert!(dir.path().join("data/social").is_dir());
}
