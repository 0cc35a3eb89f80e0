//! The MongoDB-style JSON filter the sidecar accepts for document find and count: any JSON
//! gives a filter or an error naming the field, and a filter the parser accepts runs against
//! the embedded document store (compiled to SQL over indexed and unindexed paths) without a
//! panic.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use polyroute::document::{FieldPath, FindQuery, Order, SortKey};
use polyroute::{Config, Router};
use polyroute_sidecar::routes::document::parse_filter;
use serde_json::json;
use tokio::runtime::Runtime;

const CONFIG: &str = r#"
[stores.docs]
kind = "document"
backend = "embedded"

[entities.products]
store = "docs"
indexes = ["category", "price", "a.b"]
"#;

struct Fixture {
    runtime: Runtime,
    router: Router,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let router = runtime.block_on(async {
        let config = Config::from_toml_str(CONFIG, ".").expect("the fixture config parses");
        let router = Router::connect(config)
            .await
            .expect("the fixture router connects");
        let products = router.document("products").expect("the products entity");
        let documents = [
            json!({"category": "books", "price": 12.5, "tags": ["a", "b"], "a": {"b": 1}}),
            json!({"category": "games", "price": 60, "stock": null, "a": {"b": "x"}}),
            json!({"category": "books", "price": -1, "a": [1, 2], "name": "\u{0}é"}),
            json!({"price": 1e300, "flag": true, "a": {"b": {"c": false}}}),
        ];
        for (i, document) in documents.into_iter().enumerate() {
            products
                .put(&format!("p{i}"), document)
                .await
                .expect("a fixture document");
        }
        router
    });
    Fixture { runtime, router }
});

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    let filter = match parse_filter(map, "filter") {
        Ok(filter) => filter,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    let fixture = &*FIXTURE;
    fixture.runtime.block_on(async {
        let products = fixture
            .router
            .document("products")
            .expect("the products entity");
        let mut query = FindQuery::new(filter.clone());
        if let Ok(path) = FieldPath::parse("price") {
            query.sort = vec![SortKey {
                path,
                order: Order::Descending,
            }];
        }
        query.limit = Some(3);
        let found = products.find(&query).await;
        let counted = products.count(&filter).await;
        if let (Ok(found), Ok(counted)) = (found, counted) {
            assert!(
                found.len() as u64 <= counted,
                "find returned more than count"
            );
        }
    });
});
