//! The embedded graph backend through the graph suite, on disk and in temporary mode, plus
//! durability across reopening and across `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use polyroute_adapters::kinds::graph::{
    Direction, Edge, EdgeFilter, GraphSettings, GraphStore, Node, PathQuery, TraverseQuery,
};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, Store, StoreKind, Value};
use serde_json::json;

use polyroute_testkit::graph_suite;
use polyroute_testkit::support::{self, unique, Fixture};

async fn connect(options: serde_json::Value) -> Arc<dyn Store> {
    support::connect(StoreKind::Graph, "embedded", options).await
}

async fn open(store: &dyn Store, name: &str) -> Arc<dyn GraphStore> {
    let settings = EntitySettings::Graph(GraphSettings::default());
    let EntityHandle::Graph(handle) = support::open(store, name, settings).await else {
        panic!("embedded graph store opened a handle of another kind");
    };
    handle
}

/// A data folder on disk, every write fsynced.
mod disk {
    use super::*;

    async fn fixture() -> Fixture<dyn GraphStore> {
        let dir = tempfile::tempdir().unwrap();
        let store = connect(json!({ "path": dir.path().join("graph") })).await;
        assert!(store.info().capabilities.durable);
        Fixture {
            store: open(&*store, &unique("g")).await,
            capabilities: store.info().capabilities,
            guard: Some(Box::new(dir)),
        }
    }

    graph_suite!(fixture);
}

/// No path: a private temporary folder, removed on close, not durable.
mod temporary {
    use super::*;

    async fn fixture() -> Fixture<dyn GraphStore> {
        let store = connect(json!({})).await;
        assert!(!store.info().capabilities.durable);
        Fixture {
            store: open(&*store, &unique("g")).await,
            capabilities: store.info().capabilities,
            guard: None,
        }
    }

    graph_suite!(fixture);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_on_one_store_are_isolated() {
    let store = connect(json!({})).await;
    let (first, second) = (open(&*store, "first").await, open(&*store, "second").await);
    for graph in [&first, &second] {
        graph.upsert_node(Node::new("a", "n")).await.unwrap();
        graph.upsert_node(Node::new("b", "n")).await.unwrap();
    }
    first.upsert_edge(Edge::new("a", "e", "b")).await.unwrap();
    assert!(second.delete_node("b").await.unwrap());
    let out = EdgeFilter::new(Direction::Out);
    assert_eq!(first.degree("a", &out).await.unwrap(), 1);
    assert_eq!(second.degree("a", &out).await.unwrap(), 0);
    assert!(first.get_node("b").await.unwrap().is_some());
    // Opening an entity again reaches the same data.
    let again = open(&*store, "first").await;
    assert_eq!(again.degree("a", &out).await.unwrap(), 1);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn options_are_checked() {
    let check = |options| registry::validate(StoreKind::Graph, "embedded", &options);
    assert!(check(json!({"path": "g", "synchronous": "normal", "cache_size": "8MiB"})).is_ok());
    let err = check(json!({"synchronous": "sometimes"})).unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");
    let err = check(json!({"cache": 1})).unwrap_err();
    assert!(err.to_string().contains("cache_size"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_paths_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let context = ConnectContext {
        base_dir: dir.path().to_owned(),
        ..Default::default()
    };
    let options = json!({"path": "data/graph"});
    let store = registry::connect(StoreKind::Graph, "embedded", &options, &context)
        .await
        .unwrap();
    open(&*store, "g")
        .await
        .upsert_node(Node::new("a", "n"))
        .await
        .unwrap();
    assert!(dir.path().join("data/graph").is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_survives_reopening_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let options = json!({ "path": dir.path().join("graph") });
    let alice = Node::new("alice", "person")
        .with("age", 30)
        .with("city", "Lyon");
    let road = |from: &str, to: &str, w: f64| Edge::new(from, "road", to).with("w", w);
    {
        let store = connect(options.clone()).await;
        let graph = open(&*store, "city").await;
        graph.upsert_node(alice.clone()).await.unwrap();
        for id in ["bob", "carol", "dave"] {
            graph.upsert_node(Node::new(id, "person")).await.unwrap();
        }
        graph.upsert_edge(road("alice", "bob", 1.0)).await.unwrap();
        graph.upsert_edge(road("bob", "carol", 1.5)).await.unwrap();
        graph
            .upsert_edge(road("alice", "carol", 5.0))
            .await
            .unwrap();
        graph.upsert_edge(road("carol", "dave", 1.0)).await.unwrap();
        assert!(graph.delete_node("dave").await.unwrap());
        assert!(graph.delete_edge("alice", "road", "carol").await.unwrap());
    }
    let store = connect(options).await;
    let graph = open(&*store, "city").await;
    assert_eq!(graph.get_node("alice").await.unwrap(), Some(alice));
    assert_eq!(graph.get_node("dave").await.unwrap(), None);
    let out = graph
        .neighbors("alice", &EdgeFilter::new(Direction::Out), None)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].edge, road("alice", "bob", 1.0));
    let both = EdgeFilter::new(Direction::Both);
    assert_eq!(graph.degree("carol", &both).await.unwrap(), 1);
    let path = graph
        .shortest_path(&PathQuery {
            from: "alice".into(),
            to: "carol".into(),
            edges: EdgeFilter::new(Direction::Out),
            max_depth: 5,
            weight: Some("w".into()),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(path.nodes, ["alice", "bob", "carol"]);
    assert_eq!(path.cost, 2.5);
    // Traversals run on a topology rebuilt from the folder.
    let reach = TraverseQuery {
        start: "alice".into(),
        edges: EdgeFilter::new(Direction::Out),
        max_depth: 5,
        limit: None,
        skip: 0,
    };
    let visits = graph.traverse(&reach).await.unwrap();
    let ids: Vec<&str> = visits.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["bob", "carol"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_on_one_entity_share_what_traversals_see() {
    let store = connect(json!({})).await;
    let (first, second) = (open(&*store, "g").await, open(&*store, "g").await);
    for id in ["a", "b", "c"] {
        first.upsert_node(Node::new(id, "n")).await.unwrap();
    }
    first.upsert_edge(Edge::new("a", "e", "b")).await.unwrap();
    let reach = TraverseQuery {
        start: "a".into(),
        edges: EdgeFilter::new(Direction::Out),
        max_depth: 3,
        limit: None,
        skip: 0,
    };
    // Both handles have traversed, then one writes: the other sees it.
    assert_eq!(first.count_reachable(&reach).await.unwrap(), 1);
    assert_eq!(second.count_reachable(&reach).await.unwrap(), 1);
    second.upsert_edge(Edge::new("b", "e", "c")).await.unwrap();
    assert_eq!(first.count_reachable(&reach).await.unwrap(), 2);
    first.delete_node("b").await.unwrap();
    assert_eq!(second.count_reachable(&reach).await.unwrap(), 0);
}

/// Runs `test` of this binary again in a child process with `env` set to `folder`, reads the
/// numbers it prints after `prefix` (one per acknowledged write), and kills it with SIGKILL
/// (no destructor, no flush, no journal sync runs in it) once `kill_after` are acknowledged.
/// Returns the last number acknowledged.
fn kill_9_after(test: &str, env: &str, folder: &Path, prefix: &str, kill_after: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(env, folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = None;
    let mut note = |line: String| {
        if let Some(i) = line.strip_prefix(prefix) {
            acknowledged = Some(i.parse::<u64>().unwrap());
        }
        acknowledged
    };
    for line in lines.by_ref() {
        if note(line.unwrap()).is_some_and(|i| i + 1 >= kill_after) {
            break;
        }
    }
    let _ = child.kill();
    child.wait().unwrap();
    // The child went on writing until the signal landed: what it acknowledged meanwhile is
    // still in the pipe, and must be there after the restart too.
    for line in lines {
        note(line.unwrap());
    }
    let last = acknowledged.expect("the child acknowledged nothing");
    assert!(
        last + 1 >= kill_after,
        "the child stopped after {} writes",
        last + 1
    );
    last
}

/// Set in the child process that writes until it is killed: the data folder.
const WRITER_ENV: &str = "POLYROUTE_GRAPH_KILL_WRITER";
/// The most writes the child makes, so it ends even if never killed.
const MAX_WRITES: usize = 20_000;
/// How many acknowledgements the parent waits for before killing the child.
const KILL_AFTER: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        return write_until_killed(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("graph");
    let last = kill_9_after(
        "embedded::graph::acknowledged_writes_survive_kill_9",
        WRITER_ENV,
        &folder,
        "ack ",
        KILL_AFTER as u64,
    ) as usize;

    let store = connect(json!({ "path": folder, "synchronous": "normal" })).await;
    let graph = open(&*store, "log").await;
    for i in 0..=last {
        let node = graph.get_node(&format!("n{i}")).await.unwrap();
        assert_eq!(
            node.map(|n| n.properties),
            Some([("i".to_owned(), Value::Int(i as i64))].into()),
            "acknowledged node n{i} was lost"
        );
    }
    let chain = EdgeFilter::new(Direction::Out).label("next");
    for i in 1..=last {
        let next = graph
            .neighbors(&format!("n{}", i - 1), &chain, None)
            .await
            .unwrap();
        assert_eq!(
            next.len(),
            1,
            "acknowledged edge n{} -> n{i} was lost",
            i - 1
        );
    }
}

/// The child's side: a chain n0 → n1 → …, one line per acknowledged node-and-edge write.
async fn write_until_killed(folder: &Path) {
    let store = connect(json!({ "path": folder, "synchronous": "normal" })).await;
    let graph = open(&*store, "log").await;
    for i in 0..MAX_WRITES {
        let node = Node::new(format!("n{i}"), "entry").with("i", i as i64);
        graph.upsert_node(node).await.unwrap();
        if i > 0 {
            let edge = Edge::new(format!("n{}", i - 1), "next", format!("n{i}"));
            graph.upsert_edge(edge).await.unwrap();
        }
        println!("ack {i}");
    }
}

/// Set in the child process that bulk-loads until it is killed: the data folder.
const LOADER_ENV: &str = "POLYROUTE_GRAPH_KILL_LOADER";
/// Nodes of the bulk-loaded graph; edges per batch; most batches the child loads.
const LOAD_NODES: u64 = 5_000;
const LOAD_BATCH: u64 = 2_000;
const LOAD_BATCHES: u64 = 400;
/// How many acknowledged batches the parent waits for before killing the child: enough for
/// several checkpoints to be written, and likely one to be in flight.
const LOAD_KILL_AFTER: u64 = 40;

/// Edge `e` of the bulk load: distinct for every `e`.
fn loaded_edge(e: u64) -> Edge {
    Edge::new(
        format!("n{}", e % LOAD_NODES),
        format!("l{}", e / LOAD_NODES % 3),
        format!("n{}", (e % LOAD_NODES + 1 + e / LOAD_NODES) % LOAD_NODES),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_kill_9_during_a_bulk_load() {
    if let Ok(dir) = std::env::var(LOADER_ENV) {
        return load_until_killed(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("graph");
    let last = kill_9_after(
        "embedded::graph::acknowledged_batches_survive_kill_9_during_a_bulk_load",
        LOADER_ENV,
        &folder,
        "batch ",
        LOAD_KILL_AFTER,
    );

    let store = connect(json!({ "path": folder, "synchronous": "normal" })).await;
    let graph = open(&*store, "load").await;
    // Every edge of every acknowledged batch is there; the batch in flight is all or nothing.
    let acked = (last + 1) * LOAD_BATCH;
    for e in (0..acked).step_by(97).chain([acked - 1]) {
        let edge = loaded_edge(e);
        let filter = EdgeFilter::new(Direction::Out).label(edge.label.as_str());
        let found = graph.neighbors(&edge.from, &filter, None).await.unwrap();
        assert!(
            found.iter().any(|n| n.node.id == edge.to),
            "acknowledged edge {e} was lost"
        );
    }
    let mut total = 0;
    for n in 0..LOAD_NODES {
        total += graph
            .degree(&format!("n{n}"), &EdgeFilter::new(Direction::Out))
            .await
            .unwrap();
    }
    assert!(
        total == acked || total == acked + LOAD_BATCH,
        "{total} edges after {acked} acknowledged"
    );
    // Traversals run on the reloaded topology and agree with the stored degrees.
    let friends = TraverseQuery {
        start: "n0".into(),
        edges: EdgeFilter::new(Direction::Out),
        max_depth: 1,
        limit: None,
        skip: 0,
    };
    let out = EdgeFilter::new(Direction::Out);
    assert_eq!(
        graph.count_reachable(&friends).await.unwrap(),
        graph.degree("n0", &out).await.unwrap()
    );
}

/// The child's side: every node in one batch, then batches of edges, one line per
/// acknowledged batch.
async fn load_until_killed(folder: &Path) {
    let store = connect(json!({ "path": folder, "synchronous": "normal" })).await;
    let graph = open(&*store, "load").await;
    let nodes = (0..LOAD_NODES)
        .map(|n| Node::new(format!("n{n}"), "n"))
        .collect();
    graph.upsert_batch(nodes, Vec::new()).await.unwrap();
    for batch in 0..LOAD_BATCHES {
        let edges = (batch * LOAD_BATCH..(batch + 1) * LOAD_BATCH)
            .map(loaded_edge)
            .collect();
        graph.upsert_batch(Vec::new(), edges).await.unwrap();
        println!("batch {batch}");
    }
}
