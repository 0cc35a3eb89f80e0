//! The embedded search backend on a generated product catalog: indexing in batches, and top-10
//! queries with and without a category filter.
//!
//! `cargo bench -p polyroute-adapters --bench embedded_search`

// A benchmark fails by panicking, like a test; `criterion_group!` makes an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use polyroute_adapters::kinds::search::{
    SearchDocument, SearchField, SearchFieldKind, SearchFilter, SearchQuery, SearchSettings,
    SearchStore,
};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, Store, StoreKind, Value};
use tokio::runtime::Runtime;

/// Products in the catalog the queries run on.
const CATALOG: u64 = 30_000;
/// Documents per `index` call.
const BATCH: u64 = 1_000;
const CATEGORIES: u64 = 20;

const WORDS: &[&str] = &[
    "wireless",
    "headphones",
    "bluetooth",
    "speaker",
    "portable",
    "charger",
    "cable",
    "laptop",
    "stand",
    "desk",
    "lamp",
    "led",
    "office",
    "chair",
    "ergonomic",
    "keyboard",
    "mechanical",
    "mouse",
    "gaming",
    "monitor",
    "camera",
    "lens",
    "tripod",
    "backpack",
    "travel",
    "bottle",
    "steel",
    "kitchen",
    "knife",
    "pan",
    "coffee",
    "grinder",
    "tea",
    "kettle",
    "electric",
    "garden",
    "hose",
    "shoes",
    "running",
    "jacket",
    "waterproof",
    "winter",
    "cotton",
    "shirt",
    "wool",
    "scarf",
    "watch",
    "smart",
    "fitness",
    "tracker",
    "phone",
    "case",
    "glass",
    "screen",
    "protector",
    "book",
    "novel",
    "cooking",
    "guide",
    "children",
    "toy",
    "puzzle",
    "board",
    "game",
    "yoga",
    "mat",
    "dumbbell",
    "bike",
    "helmet",
    "light",
    "tent",
    "camping",
    "sleeping",
    "bag",
    "pillow",
    "blanket",
    "towel",
    "soap",
    "organic",
    "natural",
    "premium",
    "compact",
    "classic",
    "modern",
    "vintage",
    "black",
    "white",
    "red",
    "blue",
    "green",
    "large",
    "small",
];

/// A deterministic pseudo-random sequence (an LCG), so every run indexes the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    fn words(&mut self, count: u64) -> String {
        let picked: Vec<&str> = (0..count)
            .map(|_| WORDS[self.next(WORDS.len() as u64) as usize])
            .collect();
        picked.join(" ")
    }
}

fn settings() -> SearchSettings {
    let field = |name: &str, kind| SearchField {
        name: name.to_owned(),
        kind,
    };
    SearchSettings::with_fields(vec![
        field("title", SearchFieldKind::Text),
        field("description", SearchFieldKind::Text),
        field("category", SearchFieldKind::Keyword),
        field("price", SearchFieldKind::Float),
        field("stock", SearchFieldKind::Integer),
    ])
}

fn products(rng: &mut Rng, first: u64, count: u64) -> Vec<SearchDocument> {
    (first..first + count)
        .map(|i| {
            let title_words = 3 + rng.next(4);
            let description_words = 20 + rng.next(20);
            SearchDocument::new(
                &format!("p{i}"),
                [
                    ("title", Value::Text(rng.words(title_words))),
                    ("description", Value::Text(rng.words(description_words))),
                    (
                        "category",
                        Value::Text(format!("category_{}", rng.next(CATEGORIES))),
                    ),
                    ("price", Value::Float(rng.next(100_000) as f64 / 100.0)),
                    ("stock", Value::Int(rng.next(500) as i64)),
                ],
            )
        })
        .collect()
}

async fn open(options: serde_json::Value) -> (Arc<dyn Store>, Arc<dyn SearchStore>) {
    let store = registry::connect(
        StoreKind::Search,
        "embedded",
        &options,
        &ConnectContext::default(),
    )
    .await
    .unwrap();
    let spec = EntitySpec::new("products", EntitySettings::Search(settings())).unwrap();
    let EntityHandle::Search(handle) = store.open(&spec).await.unwrap() else {
        unreachable!("a search store opens search handles")
    };
    (store, handle)
}

fn indexing(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("embedded_search/index");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    for synchronous in ["full", "normal"] {
        let options = serde_json::json!({
            "path": dir.path().join(synchronous),
            "synchronous": synchronous,
        });
        let (_store, handle) = runtime.block_on(open(options));
        let mut rng = Rng(7);
        let mut next = 0;
        group.bench_function(format!("batch_{BATCH}_{synchronous}"), |b| {
            b.to_async(&runtime).iter_batched(
                || {
                    next += BATCH;
                    products(&mut rng, next, BATCH)
                },
                |batch| {
                    let handle = Arc::clone(&handle);
                    async move { handle.index(batch).await.unwrap() }
                },
                BatchSize::PerIteration,
            );
        });
        runtime.block_on(handle.refresh()).unwrap();
    }
    let (_store, handle) = runtime.block_on(open(serde_json::json!({})));
    let mut rng = Rng(11);
    let mut next = 0;
    group.bench_function(format!("batch_{BATCH}_then_refresh_memory"), |b| {
        b.to_async(&runtime).iter_batched(
            || {
                next += BATCH;
                products(&mut rng, next, BATCH)
            },
            |batch| {
                let handle = Arc::clone(&handle);
                async move {
                    handle.index(batch).await.unwrap();
                    handle.refresh().await.unwrap();
                }
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn querying(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = serde_json::json!({"path": dir.path(), "synchronous": "normal"});
    let (_store, handle) = runtime.block_on(open(options));
    runtime.block_on(async {
        let mut rng = Rng(42);
        for first in (0..CATALOG).step_by(BATCH as usize) {
            handle
                .index(products(&mut rng, first, BATCH))
                .await
                .unwrap();
        }
        handle.refresh().await.unwrap();
    });

    let mut group = c.benchmark_group(format!("embedded_search/query_{CATALOG}"));
    let text = SearchQuery::new("wireless headphones");
    let mut filtered = text.clone();
    filtered.filters = vec![SearchFilter::one_of("category", ["category_3"])];
    let mut filtered_range = filtered.clone();
    filtered_range
        .filters
        .push(SearchFilter::range("price", Some(100.0), Some(500.0)));
    let mut phrase = SearchQuery::new("\"wireless headphones\" OR \"bluetooth speaker\"");
    phrase.snippets = true;
    let mut filter_only = SearchQuery::new("");
    filter_only.filters = filtered_range.filters.clone();
    let cases = [
        ("top10_text", text),
        ("top10_text_category", filtered),
        ("top10_text_category_price", filtered_range),
        ("top10_phrases_snippets", phrase),
        ("top10_filters_only", filter_only),
    ];
    for (name, query) in cases {
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { handle.query(&query).await.unwrap() });
        });
    }
    group.finish();
}

criterion_group!(benches, indexing, querying);
criterion_main!(benches);
