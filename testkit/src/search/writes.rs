//! Indexing, replacing and deleting documents by id.

use std::collections::BTreeMap;
use std::sync::Arc;

use polyroute_adapters::kinds::search::{SearchDocument, SearchQuery, SearchStore};
use polyroute_adapters::Value;

use super::{found, ids, product, run, seed, titled};
use crate::support::Fixture;

pub async fn empty_entity_finds_nothing(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    store.refresh().await.unwrap();
    for text in ["", "anything", "\"a phrase\""] {
        let results = run(&*store, &SearchQuery::new(text)).await;
        assert_eq!(results.total, 0, "{text}");
        assert!(results.hits.is_empty(), "{text}");
    }
}

pub async fn indexed_documents_are_found_with_their_fields(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(
        &*store,
        vec![
            product("p1", "Red wool scarf", "clothing", 19.5, 3),
            product("p2", "Blue cotton shirt", "clothing", 25.0, 0),
        ],
    )
    .await;
    let results = run(&*store, &SearchQuery::new("scarf")).await;
    assert_eq!(results.total, 1);
    let hit = &results.hits[0];
    assert_eq!(hit.id, "p1");
    assert!(hit.score > 0.0, "{hit:?}");
    assert_eq!(
        hit.fields,
        product("p1", "Red wool scarf", "clothing", 19.5, 3).fields
    );
    assert!(hit.snippets.is_empty());
}

pub async fn fields_of_every_type_round_trip(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let doc = SearchDocument::new(
        "all",
        [
            (
                "title",
                Value::from("Ünïcödé title — with “quotes” & <tags>"),
            ),
            ("body", Value::from("")),
            ("category", Value::from("Mixed Case/Key")),
            ("price", Value::Float(0.1 + 0.2)),
            ("stock", Value::Int(i64::MIN)),
        ],
    );
    let extremes = SearchDocument::new(
        "extremes",
        [
            ("title", Value::from("extremes")),
            ("price", Value::Float(-1.5e300)),
            ("stock", Value::Int(i64::MAX)),
        ],
    );
    let int_price = SearchDocument::new("int_price", [("title", "whole"), ("price", "7")]);
    assert!(store.index(vec![int_price]).await.is_err());
    let int_price = SearchDocument::new(
        "int_price",
        [("title", Value::from("whole")), ("price", Value::Int(7))],
    );
    seed(&*store, vec![doc.clone(), extremes.clone(), int_price]).await;
    let mut query = SearchQuery::new("");
    query.limit = 10;
    let results = run(&*store, &query).await;
    assert_eq!(results.total, 3);
    let by_id: BTreeMap<&str, &BTreeMap<String, Value>> = results
        .hits
        .iter()
        .map(|hit| (hit.id.as_str(), &hit.fields))
        .collect();
    assert_eq!(by_id["all"], &doc.fields);
    assert_eq!(by_id["extremes"], &extremes.fields);
    // An int given to a float field comes back as a float.
    assert_eq!(by_id["int_price"]["price"], Value::Float(7.0));
}

pub async fn null_fields_are_absent(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let doc = SearchDocument::new(
        "n",
        [
            ("title", Value::from("sparse")),
            ("body", Value::Null),
            ("category", Value::Null),
            ("price", Value::Null),
            ("stock", Value::Null),
        ],
    );
    seed(&*store, vec![doc]).await;
    let results = run(&*store, &SearchQuery::new("sparse")).await;
    assert_eq!(results.hits.len(), 1);
    let expected: BTreeMap<String, Value> = [("title".to_owned(), Value::from("sparse"))].into();
    assert_eq!(results.hits[0].fields, expected);
}

pub async fn reindexing_an_id_replaces_the_document(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(
        &*store,
        vec![product("p", "old kettle", "kitchen", 10.0, 1)],
    )
    .await;
    seed(&*store, vec![titled("p", "new teapot")]).await;
    assert!(found(&*store, "kettle").await.is_empty());
    assert_eq!(found(&*store, "teapot").await, ["p"]);
    let results = run(&*store, &SearchQuery::new("")).await;
    assert_eq!(results.total, 1);
    // The whole document was replaced: the fields it no longer has are gone.
    assert_eq!(results.hits[0].fields, titled("p", "new teapot").fields);
}

pub async fn the_last_of_one_id_in_a_batch_wins(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(
        &*store,
        vec![
            titled("same", "first version"),
            titled("other", "bystander"),
            titled("same", "second version"),
        ],
    )
    .await;
    assert_eq!(found(&*store, "version").await, ["same"]);
    assert!(found(&*store, "first").await.is_empty());
    assert_eq!(run(&*store, &SearchQuery::new("")).await.total, 2);
}

pub async fn delete_removes_and_reports_whether_it_existed(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(
        &*store,
        vec![titled("a", "apple pie"), titled("b", "apple tart")],
    )
    .await;
    assert!(store.delete("a").await.unwrap());
    assert!(!store.delete("a").await.unwrap());
    assert!(!store.delete("never").await.unwrap());
    store.refresh().await.unwrap();
    assert_eq!(found(&*store, "apple").await, ["b"]);
    assert_eq!(run(&*store, &SearchQuery::new("")).await.total, 1);
    // A deleted id can be indexed again.
    seed(&*store, vec![titled("a", "apple crumble")]).await;
    assert_eq!(found(&*store, "apple").await, ["a", "b"]);
}

pub async fn delete_sees_acknowledged_writes_before_refresh(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    store
        .index(vec![titled("fresh", "just written")])
        .await
        .unwrap();
    assert!(store.delete("fresh").await.unwrap());
    assert!(!store.delete("fresh").await.unwrap());
    store.refresh().await.unwrap();
    assert!(found(&*store, "written").await.is_empty());
}

pub async fn many_documents_in_one_batch(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let documents = (0..2000)
        .map(|i| {
            let parity = if i % 2 == 0 { "even" } else { "odd" };
            product(
                &format!("d{i}"),
                &format!("item {parity}"),
                parity,
                i as f64,
                i,
            )
        })
        .collect();
    seed(&*store, documents).await;
    assert_eq!(run(&*store, &SearchQuery::new("")).await.total, 2000);
    assert_eq!(run(&*store, &SearchQuery::new("odd")).await.total, 1000);
}

pub async fn large_text_is_found(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let mut body = "filler words repeated ".repeat(50_000);
    body.push_str("needle");
    let doc = SearchDocument::new(
        "big",
        [
            ("title", Value::from("large")),
            ("body", Value::from(body.clone())),
        ],
    );
    seed(&*store, vec![doc]).await;
    let results = run(&*store, &SearchQuery::new("needle")).await;
    assert_eq!(ids(&results), ["big"]);
    assert_eq!(results.hits[0].fields["body"], Value::Text(body));
}

pub async fn unicode_text_and_ids(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(
        &*store,
        vec![
            titled("café-☕", "Un café à Zürich"),
            titled("東京", "東京 タワー"),
            titled("plain", "cafe without accent"),
        ],
    )
    .await;
    assert_eq!(found(&*store, "café").await, ["café-☕"]);
    assert_eq!(found(&*store, "ZÜRICH").await, ["café-☕"]);
    assert_eq!(found(&*store, "東京").await, ["東京"]);
    assert!(store.delete("東京").await.unwrap());
    store.refresh().await.unwrap();
    assert!(found(&*store, "東京").await.is_empty());
}

pub async fn concurrent_writers_all_land(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let tasks: Vec<_> = (0..8)
        .map(|writer| {
            let store: Arc<dyn SearchStore> = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..25 {
                    let id = format!("w{writer}-{i}");
                    store.index(vec![titled(&id, "concurrent")]).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    store.refresh().await.unwrap();
    let mut query = SearchQuery::new("concurrent");
    query.limit = 500;
    let results = run(&*store, &query).await;
    assert_eq!(results.total, 200);
    assert_eq!(results.hits.len(), 200);
}

pub async fn empty_batch_is_accepted(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    store.index(Vec::new()).await.unwrap();
    store.refresh().await.unwrap();
    assert_eq!(run(&*store, &SearchQuery::new("")).await.total, 0);
}
