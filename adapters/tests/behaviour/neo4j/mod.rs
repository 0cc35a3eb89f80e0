//! The Neo4j graph backend through the graph suite, against a live server.
//!
//! `POLYROUTE_TEST_NEO4J_URL` names the server (such as `bolt://127.0.0.1:7687`);
//! `POLYROUTE_TEST_NEO4J_USER`, `POLYROUTE_TEST_NEO4J_PASSWORD` and
//! `POLYROUTE_TEST_NEO4J_DATABASE` are optional (defaults `neo4j`, empty, `neo4j`). Without the
//! URL the tests are reported as ignored; with `POLYROUTE_REQUIRE_SERVICES=1` a missing URL or
//! an unreachable server fails them. Each test works on an entity of its own (its own node
//! label and relationship type), whose nodes, constraint and index are dropped when it ends.

use polyroute_adapters::kinds::graph::{Edge, EdgeFilter, GraphSettings, GraphStore, Node};
use polyroute_adapters::{EntityHandle, EntitySettings, ErrorKind, StoreKind};
use serde_json::json;

use polyroute_testkit::cleanup::Cleanup;
use polyroute_testkit::graph_suite;
use polyroute_testkit::support::{self, unique, Fixture};

/// Adds to every suite test: ignored when no server is configured.
macro_rules! gated {
    ($($suite:tt)*) => {
        polyroute_testkit::gated!(polyroute_neo4j_tests, "set POLYROUTE_TEST_NEO4J_URL to run the Neo4j tests", $($suite)*);
    };
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The server's URL. Fails when unset, which only happens with `POLYROUTE_REQUIRE_SERVICES=1`.
fn url() -> String {
    polyroute_testkit::server_url!(
        "POLYROUTE_TEST_NEO4J_URL",
        "a Neo4j server, such as bolt://127.0.0.1:7687"
    )
}

fn options() -> serde_json::Value {
    json!({
        "url": url(),
        "user": variable("POLYROUTE_TEST_NEO4J_USER").unwrap_or_else(|| "neo4j".to_owned()),
        "password": variable("POLYROUTE_TEST_NEO4J_PASSWORD").unwrap_or_default(),
        "database": variable("POLYROUTE_TEST_NEO4J_DATABASE").unwrap_or_else(|| "neo4j".to_owned()),
        "pool": 4,
        "connect_timeout": "10s",
    })
}

/// Removes everything entity `name` created.
fn drop_entity(name: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = options();
        let config = neo4rs::ConfigBuilder::default()
            .uri(options["url"].as_str().unwrap())
            .user(options["user"].as_str().unwrap())
            .password(options["password"].as_str().unwrap())
            .db(options["database"].as_str().unwrap())
            .max_connections(1)
            .build()
            .unwrap();
        let graph = neo4rs::Graph::connect(config).await.unwrap();
        for statement in [
            format!("MATCH (n:`PrNode_{name}`) DETACH DELETE n"),
            format!("DROP CONSTRAINT `pr_{name}_node_id` IF EXISTS"),
            format!("DROP INDEX `pr_{name}_edge_label` IF EXISTS"),
        ] {
            graph
                .run(neo4rs::query(&statement))
                .await
                .unwrap_or_else(|err| panic!("cannot clean up entity {name}: {err}"));
        }
    });
}

async fn fixture() -> Fixture<dyn GraphStore> {
    let store = support::connect(StoreKind::Graph, "neo4j", options()).await;
    let name = unique("g");
    let cleanup = {
        let name = name.clone();
        Cleanup::new(move || drop_entity(&name))
    };
    let settings = EntitySettings::Graph(GraphSettings::default());
    let EntityHandle::Graph(handle) = support::open(&*store, &name, settings).await else {
        panic!("neo4j store opened a handle of another kind");
    };
    Fixture {
        store: handle,
        capabilities: store.info().capabilities,
        guard: Some(Box::new(cleanup)),
    }
}

gated!(graph_suite!(fixture));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(polyroute_neo4j_tests),
    ignore = "set POLYROUTE_TEST_NEO4J_URL to run the Neo4j tests"
)]
async fn entities_on_one_database_stay_apart() {
    let store = support::connect(StoreKind::Graph, "neo4j", options()).await;
    let (a, b) = (unique("ga"), unique("gb"));
    let _cleanup = (
        Cleanup::new({
            let a = a.clone();
            move || drop_entity(&a)
        }),
        Cleanup::new({
            let b = b.clone();
            move || drop_entity(&b)
        }),
    );
    let settings = || EntitySettings::Graph(GraphSettings::default());
    let EntityHandle::Graph(first) = support::open(&*store, &a, settings()).await else {
        panic!("another kind");
    };
    let EntityHandle::Graph(second) = support::open(&*store, &b, settings()).await else {
        panic!("another kind");
    };
    first.upsert_node(Node::new("x", "n")).await.unwrap();
    first.upsert_node(Node::new("y", "n")).await.unwrap();
    first.upsert_edge(Edge::new("x", "l", "y")).await.unwrap();
    assert!(second.get_node("x").await.unwrap().is_none());
    second.upsert_node(Node::new("x", "other")).await.unwrap();
    assert_eq!(
        first.get_node("x").await.unwrap().unwrap().label,
        "n",
        "the second entity's node replaced the first's"
    );
    let err = second
        .degree("y", &EdgeFilter::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // Opening again (a restart) is idempotent: the constraint already exists.
    support::open(&*store, &a, settings()).await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let options = json!({"url": "bolt://127.0.0.1:1", "connect_timeout": "2s"});
    let err = support::connect_unreachable(StoreKind::Graph, "neo4j", options).await;
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[test]
fn options_are_validated_without_connecting() {
    use polyroute_adapters::registry::validate;
    assert!(validate(StoreKind::Graph, "neo4j", &json!({"url": "bolt://h:7687"})).is_ok());
    let err = validate(StoreKind::Graph, "neo4j", &json!({"url": "x", "pool": 0})).unwrap_err();
    assert!(err.to_string().contains("pool"), "{err}");
    let err = validate(StoreKind::Graph, "neo4j", &json!({"url": "x", "db": "a"})).unwrap_err();
    assert!(err.to_string().contains("db"), "{err}");
    let err = validate(
        StoreKind::Graph,
        "neo4j",
        &json!({"url": "x", "connect_timeout": "soon"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("connect_timeout"), "{err}");
}
