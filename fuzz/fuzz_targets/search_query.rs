//! Search query text: the query-string syntax the server search backends share (tokenized
//! into terms, phrases, fields, operators and groups), and the embedded search backend's query
//! path (validation, parsing, scoring, snippets). Any text gives results or an invalid-request
//! error, never a panic.

#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use polyroute::search::{SearchDocument, SearchQuery};
use polyroute::{Config, Router, Value};
use polyroute_adapters::fuzzing::search_tokenize;
use tokio::runtime::Runtime;

const CONFIG: &str = r#"
[stores.text]
kind = "search"
backend = "embedded"
memory_budget = "16MiB"

[entities.products]
store = "text"
fields = { name = "text", description = "text", category = "keyword", price = "float", stock = "integer" }
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
        let products = router.search("products").expect("the products entity");
        let rows = [
            (
                "p1",
                "Red running shoes",
                "Light shoes for the road",
                "shoes",
                59.5,
                3,
            ),
            (
                "p2",
                "Blue rain jacket",
                "Keeps you dry: \"waterproof\"",
                "jackets",
                120.0,
                0,
            ),
            (
                "p3",
                "Trail shoes (OR boots)",
                "AND NOT a boot",
                "shoes",
                89.0,
                12,
            ),
        ];
        let documents = rows
            .into_iter()
            .map(
                |(id, name, description, category, price, stock)| SearchDocument {
                    id: id.to_owned(),
                    fields: BTreeMap::from([
                        ("name".to_owned(), Value::Text(name.to_owned())),
                        (
                            "description".to_owned(),
                            Value::Text(description.to_owned()),
                        ),
                        ("category".to_owned(), Value::Text(category.to_owned())),
                        ("price".to_owned(), Value::Float(price)),
                        ("stock".to_owned(), Value::Int(stock)),
                    ]),
                },
            )
            .collect();
        products
            .index(documents)
            .await
            .expect("the fixture documents");
        products.refresh().await.expect("a refresh");
        router
    });
    Fixture { runtime, router }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = search_tokenize(text);
    let fixture = &*FIXTURE;
    fixture.runtime.block_on(async {
        let products = fixture
            .router
            .search("products")
            .expect("the products entity");
        let mut query = SearchQuery::new(text);
        query.snippets = true;
        query.limit = 2;
        if let Ok(results) = products.query(&query).await {
            assert!(results.hits.len() <= 2, "more hits than the limit");
            assert!(
                results.total >= results.hits.len() as u64,
                "total below the hits"
            );
        }
    });
});
