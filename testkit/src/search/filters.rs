//! Filters on keyword and numeric fields.

use polyroute_adapters::kinds::search::{SearchFilter, SearchQuery, SearchStore};
use polyroute_adapters::Value;

use super::{ids, product, run, seed};
use crate::support::Fixture;

async fn seed_catalog(store: &dyn SearchStore) {
    seed(
        store,
        vec![
            product("lamp", "desk lamp", "Home", 25.0, 4),
            product("chair", "desk chair", "Home", 120.0, 0),
            product("pen", "fountain pen", "Office", 9.99, 100),
            product("paper", "printer paper", "Office", 4.5, -2),
            product("home", "home desk", "home", 300.0, 7),
        ],
    )
    .await;
}

/// The ids matching empty text and `filters`, checking the total agrees.
async fn filtered(store: &dyn SearchStore, filters: Vec<SearchFilter>) -> Vec<String> {
    let mut query = SearchQuery::new("");
    query.filters = filters;
    let results = run(store, &query).await;
    assert_eq!(results.total, results.hits.len() as u64, "{results:?}");
    ids(&results)
}

pub async fn keyword_filter_matches_listed_values_exactly(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let home = filtered(&*store, vec![SearchFilter::one_of("category", ["Home"])]).await;
    assert_eq!(home, ["chair", "lamp"]);
    let either = SearchFilter::one_of("category", ["home", "Office"]);
    assert_eq!(
        filtered(&*store, vec![either]).await,
        ["home", "paper", "pen"]
    );
    let partial = SearchFilter::one_of("category", ["Hom", "Office "]);
    assert!(filtered(&*store, vec![partial]).await.is_empty());
}

pub async fn empty_in_filter_matches_nothing(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let none = SearchFilter::one_of("category", Vec::<Value>::new());
    assert!(filtered(&*store, vec![none]).await.is_empty());
}

pub async fn numeric_in_filters(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let stock = SearchFilter::one_of("stock", [0i64, 7, 8]);
    assert_eq!(filtered(&*store, vec![stock]).await, ["chair", "home"]);
    let price = SearchFilter::one_of("price", [Value::Float(9.99), Value::Int(25)]);
    assert_eq!(filtered(&*store, vec![price]).await, ["lamp", "pen"]);
}

pub async fn float_ranges_are_inclusive(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let range = |min, max| vec![SearchFilter::range("price", min, max)];
    assert_eq!(
        filtered(&*store, range(Some(9.99), Some(120.0))).await,
        ["chair", "lamp", "pen"]
    );
    assert_eq!(
        filtered(&*store, range(None, Some(9.99))).await,
        ["paper", "pen"]
    );
    assert_eq!(filtered(&*store, range(Some(120.5), None)).await, ["home"]);
    assert_eq!(filtered(&*store, range(None, None)).await.len(), 5);
    assert!(filtered(&*store, range(Some(50.0), Some(10.0)))
        .await
        .is_empty());
}

pub async fn integer_ranges_with_fractional_bounds(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let range = |min, max| vec![SearchFilter::range("stock", min, max)];
    assert_eq!(
        filtered(&*store, range(Some(-2.0), Some(4.0))).await,
        ["chair", "lamp", "paper"]
    );
    assert_eq!(
        filtered(&*store, range(Some(-1.5), Some(4.5))).await,
        ["chair", "lamp"]
    );
    assert_eq!(
        filtered(&*store, range(Some(0.5), Some(0.9))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        filtered(&*store, range(Some(1e300), None)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        filtered(&*store, range(None, Some(-1e300))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        filtered(&*store, range(Some(-1e300), Some(1e300)))
            .await
            .len(),
        5
    );
}

pub async fn filters_combine_and_do_not_change_scores(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let unfiltered = run(&*store, &SearchQuery::new("desk")).await;
    assert_eq!(ids(&unfiltered), ["chair", "home", "lamp"]);

    let mut query = SearchQuery::new("desk");
    query.filters = vec![
        SearchFilter::one_of("category", ["Home"]),
        SearchFilter::range("price", Some(100.0), None),
    ];
    let results = run(&*store, &query).await;
    assert_eq!(results.total, 1);
    assert_eq!(results.hits[0].id, "chair");
    let before = unfiltered
        .hits
        .iter()
        .find(|hit| hit.id == "chair")
        .unwrap();
    assert_eq!(results.hits[0].score, before.score);
}

pub async fn filters_without_text(f: Fixture<dyn SearchStore>) {
    let store = f.store;
    seed_catalog(&*store).await;
    let mut query = SearchQuery::new("");
    query.filters = vec![SearchFilter::one_of("category", ["Office"])];
    query.limit = 1;
    let results = run(&*store, &query).await;
    assert_eq!(results.total, 2);
    assert_eq!(results.hits.len(), 1);
}
