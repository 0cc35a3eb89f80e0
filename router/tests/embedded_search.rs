//! An embedded search store routed from a TOML config, end to end through the typed handle.

#![allow(clippy::unwrap_used)]

use polyroute::search::{SearchDocument, SearchFilter, SearchQuery};
use polyroute::{Config, Router, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_entity_indexes_and_queries_through_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml_str(
        r#"
        [stores.search]
        kind = "search"
        path = "indexes"
        commit_interval = "100ms"

        [entities.products]
        store = "search"
        fields = { title = "text", category = "keyword", price = "float" }
        "#,
        dir.path(),
    )
    .unwrap();
    let router = Router::connect(config).await.unwrap();
    let products = router.search("products").unwrap();
    products
        .index(vec![
            SearchDocument::new(
                "p1",
                [
                    ("title", Value::from("Wireless headphones")),
                    ("category", Value::from("audio")),
                    ("price", Value::Float(59.0)),
                ],
            ),
            SearchDocument::new(
                "p2",
                [
                    ("title", Value::from("Wired headphones")),
                    ("category", Value::from("audio")),
                    ("price", Value::Float(19.0)),
                ],
            ),
        ])
        .await
        .unwrap();
    products.refresh().await.unwrap();

    let mut query = SearchQuery::new("headphones");
    query.filters = vec![SearchFilter::range("price", Some(50.0), None)];
    let results = products.query(&query).await.unwrap();
    assert_eq!(results.total, 1);
    assert_eq!(results.hits[0].id, "p1");
    assert_eq!(products.search("headphones").await.unwrap().total, 2);
    // The relative path resolved against the config's folder.
    assert!(dir.path().join("indexes").join("products").is_dir());
}
