//! Concurrent writers.

use std::sync::Arc;

use polyroute_adapters::kinds::document::{DocumentStore, Filter};
use polyroute_adapters::StoreError;
use serde_json::json;

use super::{doc, matching};
use crate::support::Fixture;

const WRITERS: usize = 8;
const WRITES: usize = 20;

pub async fn concurrent_writers_on_distinct_ids_all_land(f: Fixture<dyn DocumentStore>) {
    let store: Arc<dyn DocumentStore> = f.store;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..WRITES {
                let document = doc(json!({"writer": writer, "n": n}));
                store
                    .put(&format!("w{writer}-{n:02}"), document)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        store.count(&Filter::All).await.unwrap(),
        (WRITERS * WRITES) as u64
    );
    for writer in 0..WRITERS {
        let mine = matching(&*store, Filter::eq("writer", writer as i64).unwrap()).await;
        let expected: Vec<String> = (0..WRITES).map(|n| format!("w{writer}-{n:02}")).collect();
        assert_eq!(mine, expected);
        let last = store
            .get(&format!("w{writer}-{:02}", WRITES - 1))
            .await
            .unwrap();
        assert_eq!(last, Some(doc(json!({"writer": writer, "n": WRITES - 1}))));
    }
}

/// The document writer `writer` puts in round `n`: every field derives from both, so a torn or
/// mixed write would not be one of them.
fn version(writer: usize, n: usize) -> serde_json::Value {
    let tag = format!("{writer}/{n}");
    json!({"writer": writer, "n": n, "tag": tag, "copy": {"tag": tag, "pad": "x".repeat(1000 * writer)}})
}

pub async fn concurrent_writers_on_one_id_leave_one_whole_document(f: Fixture<dyn DocumentStore>) {
    let store: Arc<dyn DocumentStore> = f.store;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..WRITES {
                store.put("shared", doc(version(writer, n))).await.unwrap();
                let seen = store.get("shared").await.unwrap().unwrap();
                let (w, i) = (
                    seen["writer"].as_u64().unwrap(),
                    seen["n"].as_u64().unwrap(),
                );
                assert_eq!(seen, doc(version(w as usize, i as usize)));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.count(&Filter::All).await.unwrap(), 1);
    let last = store.get("shared").await.unwrap().unwrap();
    let writer = last["writer"].as_u64().unwrap() as usize;
    // Each writer's own puts are sequential, so the survivor is some writer's last round.
    assert_eq!(last, doc(version(writer, WRITES - 1)));
    assert!(writer < WRITERS);
    assert_eq!(
        matching(
            &*store,
            Filter::eq("tag", format!("{writer}/{}", WRITES - 1)).unwrap()
        )
        .await,
        ["shared"]
    );
}

pub async fn concurrent_inserts_on_one_id_admit_exactly_one(f: Fixture<dyn DocumentStore>) {
    let store: Arc<dyn DocumentStore> = f.store;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.insert("only", doc(json!({"writer": writer}))).await
        }));
    }
    let mut winners = Vec::new();
    for (writer, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(()) => winners.push(writer),
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("insert by writer {writer}: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        store.get("only").await.unwrap(),
        Some(doc(json!({"writer": winners[0]})))
    );
}
