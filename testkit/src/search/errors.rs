//! Invalid documents, filters and queries.

use polyroute_adapters::kinds::search::{SearchDocument, SearchFilter, SearchQuery, SearchStore};
use polyroute_adapters::Value;

use super::{assert_invalid, found, run, seed, titled};
use crate::support::Fixture;

pub async fn unknown_field_in_a_document_is_invalid(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let doc = SearchDocument::new("x", [("title", "ok"), ("colour", "red")]);
    assert_invalid(store.index(vec![doc]).await, "colour");
}

pub async fn wrong_value_types_are_invalid(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let cases = [
        ("title", Value::Int(1)),
        ("category", Value::Bool(true)),
        ("price", Value::from("12.5")),
        ("stock", Value::Float(1.5)),
        ("stock", Value::from("3")),
        ("body", Value::List(vec![Value::from("a")])),
        ("body", Value::Bytes(vec![1, 2])),
    ];
    for (field, value) in cases {
        let doc = SearchDocument::new("x", [(field, value)]);
        assert_invalid(store.index(vec![doc]).await, field);
    }
}

pub async fn invalid_batches_index_nothing(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    let bad = SearchDocument::new("bad", [("stock", "many")]);
    let result = store
        .index(vec![titled("good", "valid document"), bad])
        .await;
    assert_invalid(result, "stock");
    store.refresh().await.unwrap();
    assert!(found(&*store, "valid").await.is_empty());
    assert!(!store.delete("good").await.unwrap());
}

pub async fn empty_id_is_invalid(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    assert_invalid(store.index(vec![titled("", "no id")]).await, "id");
    assert_invalid(store.delete("").await, "id");
    // Dot segments would address another path on HTTP-addressed engines.
    for id in [".", ".."] {
        assert_invalid(store.index(vec![titled(id, "dots")]).await, "id");
        assert_invalid(store.delete(id).await, "id");
    }
}

pub async fn non_finite_floats_are_invalid(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let doc = SearchDocument::new("x", [("price", Value::Float(value))]);
        assert_invalid(store.index(vec![doc]).await, "price");
    }
    let mut query = SearchQuery::new("");
    query.filters = vec![SearchFilter::range("price", Some(f64::NAN), None)];
    assert_invalid(store.query(&query).await, "price");
}

pub async fn bad_filters_are_invalid(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(&*store, vec![titled("t", "something")]).await;
    let cases = [
        (SearchFilter::one_of("colour", ["red"]), "colour"),
        (SearchFilter::range("weight", Some(1.0), None), "weight"),
        (SearchFilter::one_of("title", ["something"]), "title"),
        (SearchFilter::range("category", Some(1.0), None), "category"),
        (SearchFilter::range("title", None, Some(1.0)), "title"),
        (SearchFilter::one_of("stock", ["3"]), "stock"),
        (SearchFilter::one_of("category", [3i64]), "category"),
        (SearchFilter::one_of("price", ["cheap"]), "price"),
    ];
    for (filter, field) in cases {
        let mut query = SearchQuery::new("something");
        query.filters = vec![filter];
        assert_invalid(store.query(&query).await, field);
    }
}

pub async fn query_syntax_errors_are_invalid(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed(&*store, vec![titled("t", "something")]).await;
    for text in ["colour:red", "title:"] {
        let result = store.query(&SearchQuery::new(text)).await;
        assert!(
            matches!(
                result,
                Err(polyroute_adapters::StoreError::InvalidRequest { .. })
            ),
            "{text}: {result:?}"
        );
    }
    // The store still answers good queries.
    assert_eq!(run(&*store, &SearchQuery::new("something")).await.total, 1);
}

/// Query text past the kind's bounds (length, nesting of groups and negations, terms) is
/// refused at once, before any parser runs, and the store answers the next query as before.
pub async fn runaway_query_text_is_invalid(f: Fixture<dyn SearchStore>) {
    use polyroute_adapters::kinds::search::{MAX_QUERY_BYTES, MAX_QUERY_DEPTH, MAX_QUERY_TERMS};

    let store = f.store;
    seed(&*store, vec![titled("t", "red shoes")]).await;
    let nested = |depth: usize| format!("{}red{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(
        run(&*store, &SearchQuery::new(&nested(MAX_QUERY_DEPTH)))
            .await
            .total,
        1,
        "nesting at the bound is parsed"
    );
    let terms: Vec<String> = (0..=MAX_QUERY_TERMS).map(|i| format!("w{i}")).collect();
    for (text, mention) in [
        ("(".repeat(200_000), "bytes"),
        ("-".repeat(200_000), "bytes"),
        ("x".repeat(MAX_QUERY_BYTES + 1), "bytes"),
        (nested(MAX_QUERY_DEPTH + 1), "deep"),
        (format!("{}red", "-".repeat(MAX_QUERY_DEPTH + 1)), "deep"),
        (terms.join(" "), "terms"),
    ] {
        let started = std::time::Instant::now();
        assert_invalid(store.query(&SearchQuery::new(&text)).await, mention);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
    assert_eq!(run(&*store, &SearchQuery::new("red")).await.total, 1);
}
