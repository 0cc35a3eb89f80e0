//! Writing, reading and deleting documents by id.

use polyroute_adapters::kinds::document::{DocumentStore, Filter, FindQuery};
use polyroute_adapters::StoreError;
use serde_json::{json, Value};

use super::{assert_invalid, doc, matching};
use crate::support::Fixture;

pub async fn get_missing_returns_none(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    assert_eq!(store.get("absent").await.unwrap(), None);
    store.put("present", doc(json!({"a": 1}))).await.unwrap();
    assert_eq!(store.get("absent").await.unwrap(), None);
}

pub async fn put_then_get_round_trips_every_json_type(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    let document = doc(json!({
        "text": "hello",
        "empty_text": "",
        "int": -42,
        "zero": 0,
        "max": i64::MAX,
        "min": i64::MIN,
        "huge": u64::MAX,
        "float": 3.25,
        "tiny": 1.5e-300,
        "big_float": 6.02e23,
        "yes": true,
        "no": false,
        "nothing": null,
        "list": [1, "two", null, [3], {"four": 4}],
        "empty_list": [],
        "empty_object": {},
        "nested": {"a": {"b": {"c": "deep"}}},
    }));
    store.put("all-types", document.clone()).await.unwrap();
    assert_eq!(
        store.get("all-types").await.unwrap(),
        Some(document.clone())
    );
    let found = store.find(&FindQuery::new(Filter::All)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "all-types");
    assert_eq!(found[0].document, document);

    store.put("empty", doc(json!({}))).await.unwrap();
    assert_eq!(store.get("empty").await.unwrap(), Some(doc(json!({}))));
}

pub async fn put_replaces_the_whole_document(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    store
        .put(
            "d",
            doc(json!({"keep": 1, "drop": 2, "n": {"x": 1, "y": 2}})),
        )
        .await
        .unwrap();
    store
        .put("d", doc(json!({"keep": 10, "n": {"x": 1}})))
        .await
        .unwrap();
    assert_eq!(
        store.get("d").await.unwrap(),
        Some(doc(json!({"keep": 10, "n": {"x": 1}})))
    );
    assert!(matching(&*store, Filter::exists("drop", true).unwrap())
        .await
        .is_empty());
    assert!(matching(&*store, Filter::eq("keep", 1).unwrap())
        .await
        .is_empty());
    assert_eq!(
        matching(&*store, Filter::eq("keep", 10).unwrap()).await,
        ["d"]
    );
    assert_eq!(store.count(&Filter::All).await.unwrap(), 1);
}

pub async fn insert_creates_and_conflicts_on_an_existing_id(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    store.insert("x", doc(json!({"v": 1}))).await.unwrap();
    assert_eq!(store.get("x").await.unwrap(), Some(doc(json!({"v": 1}))));
    match store.insert("x", doc(json!({"v": 2}))).await {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("second insert: expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get("x").await.unwrap(), Some(doc(json!({"v": 1}))));
    store.put("y", doc(json!({}))).await.unwrap();
    assert!(matches!(
        store.insert("y", doc(json!({"v": 3}))).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.count(&Filter::All).await.unwrap(), 2);
}

pub async fn delete_reports_whether_the_document_existed(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    assert!(!store.delete("never").await.unwrap());
    store.put("a", doc(json!({"v": 1}))).await.unwrap();
    store.put("b", doc(json!({"v": 2}))).await.unwrap();
    assert!(store.delete("a").await.unwrap());
    assert!(!store.delete("a").await.unwrap());
    assert_eq!(store.get("a").await.unwrap(), None);
    assert_eq!(matching(&*store, Filter::All).await, ["b"]);
    assert!(matching(&*store, Filter::eq("v", 1).unwrap())
        .await
        .is_empty());
    store.insert("a", doc(json!({"v": 3}))).await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), Some(doc(json!({"v": 3}))));
}

pub async fn ids_are_exact(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    let ids = ["a", "A", "a ", " a", "a\u{301}", "\u{e1}"];
    for (n, id) in ids.iter().enumerate() {
        store.put(id, doc(json!({ "n": n }))).await.unwrap();
    }
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            store.get(id).await.unwrap(),
            Some(doc(json!({ "n": n }))),
            "id {id:?}"
        );
    }
    assert_eq!(store.count(&Filter::All).await.unwrap(), ids.len() as u64);
}

pub async fn unicode_ids_and_values_round_trip_and_match(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    let tricky = "quote \" backslash \\ slash / tab \t newline \n nul-free \u{1} é 日本 🦀";
    let cases = [
        ("ключ", json!({"name": "Ёжик", "tags": ["ü", "ß"]})),
        ("日本語", json!({"name": "東京", "city": {"name": "大阪"}})),
        ("crab-🦀", json!({"name": tricky})),
        ("a/b?c=d&e#f", json!({"name": "'; DROP TABLE x; --"})),
    ];
    for (id, document) in &cases {
        store.put(id, doc(document.clone())).await.unwrap();
    }
    for (id, document) in &cases {
        assert_eq!(store.get(id).await.unwrap(), Some(doc(document.clone())));
    }
    assert_eq!(
        matching(&*store, Filter::eq("name", tricky).unwrap()).await,
        ["crab-🦀"]
    );
    assert_eq!(
        matching(&*store, Filter::eq("city.name", "大阪").unwrap()).await,
        ["日本語"]
    );
    assert_eq!(
        matching(&*store, Filter::eq("name", "'; DROP TABLE x; --").unwrap()).await,
        ["a/b?c=d&e#f"]
    );
    assert_eq!(store.count(&Filter::All).await.unwrap(), 4);
}

pub async fn field_names_of_any_text_round_trip(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    let document = doc(json!({
        "a.b": 1,
        "$where": 2,
        "with space": 3,
        "": 4,
        "'quoted\"": 5,
        "名前": {"[0]": 6},
        "a": {"b": 7},
    }));
    store.put("odd", document.clone()).await.unwrap();
    assert_eq!(store.get("odd").await.unwrap(), Some(document));
    // `a.b` names the nested field, not the top-level key spelled "a.b".
    assert_eq!(
        matching(&*store, Filter::eq("a.b", 7).unwrap()).await,
        ["odd"]
    );
    assert!(matching(&*store, Filter::eq("a.b", 1).unwrap())
        .await
        .is_empty());
}

pub async fn large_document_round_trips(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    let text: String = "polyroute ✓ 日本 🦀 ".repeat(40_000);
    assert!(text.len() > 1_000_000);
    let numbers: Vec<Value> = (0..20_000).map(|n| json!(n)).collect();
    let document = doc(json!({"kind": "large", "text": text, "numbers": numbers}));
    store.put("large", document.clone()).await.unwrap();
    store
        .put("small", doc(json!({"kind": "small"})))
        .await
        .unwrap();
    assert_eq!(store.get("large").await.unwrap(), Some(document.clone()));
    let found = store
        .find(&FindQuery::new(Filter::eq("kind", "large").unwrap()))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].document, document);
    assert_eq!(
        matching(&*store, Filter::eq("text", text.as_str()).unwrap()).await,
        ["large"]
    );
}

pub async fn empty_id_is_invalid(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    assert_invalid(
        store.put("", doc(json!({"a": 1}))).await,
        "put with an empty id",
    );
    assert_invalid(
        store.insert("", doc(json!({"a": 1}))).await,
        "insert with an empty id",
    );
    assert_eq!(store.count(&Filter::All).await.unwrap(), 0);
    assert_eq!(store.get("").await.unwrap(), None);
}

pub async fn overly_nested_document_is_invalid(f: Fixture<dyn DocumentStore>) {
    let store = f.store;
    let nested = |levels: usize| {
        let mut value = json!("bottom");
        for _ in 1..levels {
            value = json!({ "n": value });
        }
        value
    };
    let modest = doc(nested(10));
    store.put("modest", modest.clone()).await.unwrap();
    assert_eq!(store.get("modest").await.unwrap(), Some(modest));
    assert_invalid(store.put("deep", doc(nested(200))).await, "200 levels");
    assert_invalid(store.insert("deep", doc(nested(200))).await, "200 levels");
    assert_eq!(store.get("deep").await.unwrap(), None);
}
