//! Scenario 4, full-text top-10 with a category filter over a product catalog: PostgreSQL with
//! `ILIKE` (naive: what a table without a text index allows), PostgreSQL `tsvector` with a GIN
//! index (tuned: the PostgreSQL search backend), and the embedded search engine (tantivy).
//!
//! Every side must find the same number of matching products (the cross-check). Ranking
//! differs by design: `ts_rank` and BM25 order hits differently, and `ILIKE` cannot rank, so
//! the naive side returns its first ten matches by price, and counts all of them as the others
//! do.

use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;
use polyroute_adapters::kinds::relational::RelationalStore;
use polyroute_adapters::kinds::search::{
    SearchDocument, SearchField, SearchFieldKind, SearchFilter, SearchQuery, SearchSettings,
    SearchStore,
};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind, Value};
use serde_json::json;

use super::{Context, Scenario};
use crate::env::open;
use crate::gen::catalog::{queries, Catalog as Generator, Product};
use crate::Scale;

/// Product search.
pub struct Catalog;

const BATCH: u64 = 1_000;

const NAIVE_SCHEMA: &str = "
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    price DOUBLE PRECISION NOT NULL
);
CREATE INDEX products_category ON products (category);
";

/// Every query word must appear as a whole word in the title or the description; the text is
/// lower-case words separated by single spaces, so `% word %` on the padded text is exactly
/// that.
const NAIVE_QUERY: &str = "
SELECT id, count(*) OVER () AS total FROM products
WHERE category = $1
  AND (' ' || title || ' ' || description || ' ') ILIKE $2
  AND (' ' || title || ' ' || description || ' ') ILIKE $3
ORDER BY price, id LIMIT 10";

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
    ])
}

async fn search(
    ctx: &Context<'_>,
    backend: &str,
    options: serde_json::Value,
) -> anyhow::Result<Arc<dyn SearchStore>> {
    let store = ctx
        .scratch
        .connect(StoreKind::Search, backend, options)
        .await?;
    match open(&*store, "products", EntitySettings::Search(settings())).await? {
        EntityHandle::Search(handle) => Ok(handle),
        _ => bail!("{backend} search store opened another kind"),
    }
}

fn document(p: &Product) -> SearchDocument {
    let mut d = SearchDocument::new(&p.id, [("title", Value::Text(p.title.clone()))]);
    d.fields
        .insert("description".to_owned(), Value::Text(p.description.clone()));
    d.fields
        .insert("category".to_owned(), Value::Text(p.category.clone()));
    d.fields.insert("price".to_owned(), Value::Float(p.price));
    d
}

/// The total matches of the naive query, and its page.
async fn naive(store: &dyn RelationalStore, text: &str, category: &str) -> anyhow::Result<u64> {
    let mut words = text.split(' ');
    let pattern = |w: Option<&str>| Value::Text(format!("% {} %", w.unwrap_or_default()));
    let params = [
        Value::Text(category.to_owned()),
        pattern(words.next()),
        pattern(words.next()),
    ];
    let rows = store.query(NAIVE_QUERY, &params).await?;
    Ok(rows
        .get(0, "total")
        .and_then(Value::as_i64)
        .map_or(0, |n| n as u64))
}

/// The total matches of the search, and its page.
async fn ranked(store: &dyn SearchStore, text: &str, category: &str) -> anyhow::Result<u64> {
    let mut query = SearchQuery::new(text);
    query
        .filters
        .push(SearchFilter::one_of("category", [category]));
    query.limit = 10;
    Ok(store.query(&query).await?.total)
}

#[async_trait]
impl Scenario for Catalog {
    fn name(&self) -> &'static str {
        "catalog-search"
    }

    fn title(&self) -> &'static str {
        "search store: full-text top-10 with a category filter, ILIKE (naive) and tsvector/GIN (tuned) against the embedded search engine"
    }

    fn unit(&self) -> &'static str {
        "products"
    }

    fn sizes(&self, scale: Scale) -> Vec<u64> {
        match scale {
            Scale::Tiny => vec![100, 1_000, 10_000],
            Scale::Small => vec![1_000, 10_000, 100_000],
            Scale::Medium | Scale::Large => vec![10_000, 100_000, 1_000_000],
        }
    }

    fn routed(&self) -> &'static str {
        "embedded"
    }

    async fn run(&self, ctx: &mut Context<'_>) -> anyhow::Result<()> {
        let table = ctx.scratch.relational("products").await?;
        table.execute_script(NAIVE_SCHEMA).await?;
        let tuned = search(ctx, "postgres", ctx.scratch.postgres(json!({}))).await?;
        let folder = ctx.scratch.folder("search");
        let embedded = search(
            ctx,
            "embedded",
            json!({"path": folder, "synchronous": "normal"}),
        )
        .await?;
        let size = ctx.size;

        ctx.load("postgres-ilike", size, async {
            let mut generator = Generator::new();
            let mut start = 0;
            while start < size {
                let end = (start + BATCH).min(size);
                let products: Vec<Product> = (start..end).map(|n| generator.product(n)).collect();
                let rows = products
                    .iter()
                    .map(|p| {
                        Value::Map(
                            [
                                ("id", Value::Text(p.id.clone())),
                                ("title", Value::Text(p.title.clone())),
                                ("description", Value::Text(p.description.clone())),
                                ("category", Value::Text(p.category.clone())),
                                ("price", Value::Float(p.price)),
                            ]
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect(),
                        )
                    })
                    .collect();
                table
                    .execute(
                        "INSERT INTO products SELECT * FROM jsonb_to_recordset($1::jsonb) \
                         AS x(id text, title text, description text, category text, price float8)",
                        &[Value::List(rows)],
                    )
                    .await?;
                start = end;
            }
            table.execute_script("ANALYZE products").await?;
            Ok(())
        })
        .await?;
        for (side, store) in [("postgres-tsvector", &tuned), ("embedded", &embedded)] {
            ctx.load(side, size, async {
                let mut generator = Generator::new();
                let mut start = 0;
                while start < size {
                    let end = (start + BATCH).min(size);
                    let documents = (start..end)
                        .map(|n| document(&generator.product(n)))
                        .collect();
                    store.index(documents).await?;
                    start = end;
                }
                store.refresh().await?;
                Ok(())
            })
            .await?;
        }

        for (text, category) in queries(20, 3) {
            let answers = [
                ("postgres-ilike", naive(&*table, &text, &category).await?),
                (
                    "postgres-tsvector",
                    ranked(&*tuned, &text, &category).await?,
                ),
                ("embedded", ranked(&*embedded, &text, &category).await?),
            ];
            ctx.agree(&format!("matches of `{text}` in {category}"), &answers)?;
        }

        let all = queries(1_000, 9);
        let pick = |i: u64| all[(i % all.len() as u64) as usize].clone();
        let table_ = table.clone();
        ctx.time("top-10 in a category", "postgres-ilike", |i| {
            let (text, category) = pick(i);
            let table = table_.clone();
            async move { naive(&*table, &text, &category).await }
        })
        .await?;
        for (side, store) in [("postgres-tsvector", &tuned), ("embedded", &embedded)] {
            ctx.time("top-10 in a category", side, |i| {
                let (text, category) = pick(i);
                let store = store.clone();
                async move { ranked(&*store, &text, &category).await }
            })
            .await?;
        }
        Ok(())
    }
}
