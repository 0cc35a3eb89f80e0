//! What the embedded search backend promises beyond the suite: when writes become visible,
//! that they survive closing and crashing, and its options.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use polyroute_adapters::kinds::search::{SearchDocument, SearchQuery, SearchStore};
use polyroute_adapters::registry::{self, RegistryError};
use polyroute_adapters::{EntitySpec, ErrorKind, StoreKind, Value};
use serde_json::json;

use super::{connect, open};
use polyroute_testkit::search::{settings, titled};

/// The ids `store` finds for an empty query, sorted.
async fn all_ids(store: &dyn SearchStore) -> Vec<String> {
    let mut query = SearchQuery::new("");
    query.limit = 1_000_000;
    let results = store.query(&query).await.unwrap();
    assert_eq!(results.total, results.hits.len() as u64);
    let mut ids: Vec<String> = results.hits.into_iter().map(|hit| hit.id).collect();
    ids.sort();
    ids
}

fn options(dir: &Path, commit_interval: &str) -> serde_json::Value {
    json!({"path": dir, "commit_interval": commit_interval, "synchronous": "normal"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_visible_after_a_commit_or_refresh() {
    let store = connect(json!({"commit_interval": "1h"})).await;
    let products = open(&*store, "products", settings()).await;
    products.index(vec![titled("a", "kettle")]).await.unwrap();
    // No commit for an hour: the acknowledged write is not searchable yet…
    assert!(all_ids(&*products).await.is_empty());
    // …until refresh, which makes every acknowledged write visible at once.
    products.refresh().await.unwrap();
    assert_eq!(all_ids(&*products).await, ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_become_visible_without_refresh_after_the_commit_interval() {
    let store = connect(json!({"commit_interval": "50ms"})).await;
    let products = open(&*store, "products", settings()).await;
    products.index(vec![titled("a", "kettle")]).await.unwrap();
    let start = Instant::now();
    // Polls for liveness only: the bound is generous so a loaded machine cannot fail it.
    while all_ids(&*products).await.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "a write never became visible without refresh"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_entity_twice_shares_its_index() {
    let store = connect(json!({})).await;
    let first = open(&*store, "products", settings()).await;
    let second = open(&*store, "products", settings()).await;
    first.index(vec![titled("a", "kettle")]).await.unwrap();
    second.refresh().await.unwrap();
    assert_eq!(all_ids(&*second).await, ["a"]);

    let mut other = settings();
    other.fields.pop();
    let spec = EntitySpec::new(
        "products",
        polyroute_adapters::EntitySettings::Search(other),
    )
    .unwrap();
    let err = store.open(&spec).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_survive_reopening_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let options = json!({"path": dir.path(), "commit_interval": "1h"});
    {
        let store = connect(options.clone()).await;
        let products = open(&*store, "products", settings()).await;
        let books = open(&*store, "books", settings()).await;
        products
            .index(vec![titled("a", "kettle"), titled("b", "teapot")])
            .await
            .unwrap();
        products.refresh().await.unwrap();
        // Acknowledged but not committed when the store is dropped.
        products.index(vec![titled("c", "mug")]).await.unwrap();
        assert!(products.delete("a").await.unwrap());
        books.index(vec![titled("x", "novel")]).await.unwrap();
    }
    let store = connect(options).await;
    let products = open(&*store, "products", settings()).await;
    assert_eq!(all_ids(&*products).await, ["b", "c"]);
    let results = products.query(&SearchQuery::new("mug")).await.unwrap();
    assert_eq!(
        results.hits[0].fields["title"],
        Value::Text("mug".to_owned())
    );
    let books = open(&*store, "books", settings()).await;
    assert_eq!(all_ids(&*books).await, ["x"]);

    // The index keeps its schema: other fields are refused, not silently mixed in.
    let mut other = settings();
    other.fields.pop();
    let spec = EntitySpec::new(
        "books",
        polyroute_adapters::EntitySettings::Search(other.clone()),
    )
    .unwrap();
    drop((products, books));
    let reopened = connect(json!({"path": dir.path()})).await;
    let err = reopened.open(&spec).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("other fields"), "{err}");
}

/// Set in the child process of [`acknowledged_writes_survive_kill_9`]: the directory to write.
const WRITER_DIR: &str = "POLYROUTE_SEARCH_KILL_TEST_DIR";
/// Acknowledgements the parent waits for before killing the writer.
const ACKS_BEFORE_KILL: usize = 300;

/// The writer: indexes documents one call at a time, deleting every tenth a little later, and
/// prints each acknowledged write, until it is killed (or has written a bounded number).
async fn write_until_killed(dir: &Path) {
    let store = connect(options(dir, "100ms")).await;
    let products = open(&*store, "products", settings()).await;
    for i in 0..100_000u64 {
        products
            .index(vec![titled(&format!("d{i}"), &format!("doc number {i}"))])
            .await
            .unwrap();
        println!("indexed d{i}");
        if i % 10 == 9 {
            let target = i - 5;
            assert!(products.delete(&format!("d{target}")).await.unwrap());
            println!("deleted d{target}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    if let Some(dir) = std::env::var_os(WRITER_DIR) {
        write_until_killed(Path::new(&dir)).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embedded::search::durability::acknowledged_writes_survive_kill_9",
            "--nocapture",
        ])
        .env(WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, acks) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let (mut indexed, mut deleted) = (BTreeSet::new(), BTreeSet::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    while indexed.len() < ACKS_BEFORE_KILL {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = acks.recv_timeout(wait) else {
            break;
        };
        if let Some(id) = line.strip_prefix("indexed ") {
            indexed.insert(id.to_owned());
        } else if let Some(id) = line.strip_prefix("deleted ") {
            deleted.insert(id.to_owned());
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        indexed.len() >= ACKS_BEFORE_KILL,
        "the writer acknowledged only {} writes",
        indexed.len()
    );

    let store = connect(options(dir.path(), "1h")).await;
    let products = open(&*store, "products", settings()).await;
    let present: BTreeSet<String> = all_ids(&*products).await.into_iter().collect();
    for id in &indexed {
        let number: u64 = id[1..].parse().unwrap();
        let delete_attempted = number % 10 == 4;
        if deleted.contains(id) {
            assert!(
                !present.contains(id),
                "acknowledged delete of {id} was lost"
            );
        } else if !delete_attempted {
            assert!(present.contains(id), "acknowledged write of {id} was lost");
        }
    }
    // Reopening replayed and committed the log: a second reopen finds the same documents.
    drop(products);
    drop(store);
    let store = connect(options(dir.path(), "1h")).await;
    let products = open(&*store, "products", settings()).await;
    let again: BTreeSet<String> = all_ids(&*products).await.into_iter().collect();
    assert_eq!(again, present);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_are_checked() {
    let bad = [
        (json!({"memory_budget": "1MiB"}), ""),
        (json!({"stemming": "klingon"}), "stemming"),
        (json!({"commit_interval": "soon"}), "commit_interval"),
        (json!({"synchronous": "sometimes"}), "synchronous"),
        (json!({"paht": "x"}), "paht"),
    ];
    for (options, field) in bad {
        match registry::validate(StoreKind::Search, "embedded", &options) {
            Err(RegistryError::InvalidOption { problem }) => {
                assert_eq!(problem.field, field, "{options}: {problem}")
            }
            Ok(()) => {
                // Only the memory budget's lower bound is checked when connecting.
                let err =
                    registry::connect(StoreKind::Search, "embedded", &options, &Default::default())
                        .await
                        .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{options}: {err}");
                assert!(err.to_string().contains("memory_budget"), "{err}");
            }
            Err(other) => panic!("{options}: {other}"),
        }
    }
    let good = json!({"path": "x", "synchronous": "full", "commit_interval": "250ms", "memory_budget": "32MiB", "stemming": "english"});
    registry::validate(StoreKind::Search, "embedded", &good).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_stemming_matches_word_forms() {
    let stemmed = connect(json!({"stemming": "english"})).await;
    let plain = connect(json!({})).await;
    for (store, expected) in [(stemmed, vec!["r".to_owned()]), (plain, Vec::new())] {
        let products = open(&*store, "products", settings()).await;
        products
            .index(vec![SearchDocument::new("r", [("title", "Running shoes")])])
            .await
            .unwrap();
        products.refresh().await.unwrap();
        let results = products
            .query(&SearchQuery::new("runs shoe"))
            .await
            .unwrap();
        let ids: Vec<String> = results.hits.into_iter().map(|hit| hit.id).collect();
        assert_eq!(ids, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn term_limits_and_negative_zero() {
    use polyroute_adapters::kinds::search::SearchFilter;

    use polyroute_testkit::search::assert_invalid;

    let store = connect(json!({})).await;
    let products = open(&*store, "products", settings()).await;
    let long = "k".repeat(32_767);
    let doc = SearchDocument::new("x", [("category", long.as_str())]);
    assert_invalid(products.index(vec![doc]).await, "category");
    assert_invalid(products.index(vec![titled(&long, "t")]).await, "id");
    let longest = "k".repeat(32_766);
    let doc = SearchDocument::new("k", [("category", longest.as_str())]);
    let zero = SearchDocument::new("z", [("price", Value::Float(-0.0))]);
    products.index(vec![doc, zero]).await.unwrap();
    products.refresh().await.unwrap();
    for filter in [
        SearchFilter::one_of("category", [longest.as_str()]),
        SearchFilter::one_of("price", [Value::Float(0.0)]),
    ] {
        let mut query = SearchQuery::new("");
        query.filters = vec![filter];
        assert_eq!(products.query(&query).await.unwrap().total, 1);
    }
}
