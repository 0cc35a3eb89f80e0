//! Scenario 6, a filter on a nested document field: orders of customers in one city with one
//! status, the 20 largest, on PostgreSQL JSONB (GIN plus an expression index on the declared
//! fields) and the embedded document store (SQLite JSON with expression indexes).

use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;
use polyroute_adapters::kinds::document::{
    DocumentSettings, DocumentStore, FieldPath, Filter, FindQuery, Order,
};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind};
use serde_json::json;

use super::{Context, Scenario};
use crate::env::open;
use crate::gen::orders::{city, Orders as Generator, CITIES};
use crate::rng::{Rng, Zipf};
use crate::Scale;

/// Nested-field filters over orders.
pub struct Orders;

const WRITERS: usize = 8;
const LOAD_CHUNK: u64 = 8_000;

async fn store(
    ctx: &Context<'_>,
    backend: &str,
    options: serde_json::Value,
) -> anyhow::Result<Arc<dyn DocumentStore>> {
    let store = ctx
        .scratch
        .connect(StoreKind::Document, backend, options)
        .await?;
    let settings = DocumentSettings::with_indexes(vec![
        FieldPath::parse("customer.address.city")?,
        FieldPath::parse("status")?,
    ]);
    match open(&*store, "orders", EntitySettings::Document(settings)).await? {
        EntityHandle::Document(handle) => Ok(handle),
        _ => bail!("{backend} document store opened another kind"),
    }
}

fn query(city_rank: u64) -> anyhow::Result<FindQuery> {
    let filter =
        Filter::eq("customer.address.city", city(city_rank))?.and(Filter::eq("status", "shipped")?);
    Ok(FindQuery::new(filter)
        .sort_by("total", Order::Descending)?
        .limit(20))
}

async fn largest(store: &dyn DocumentStore, query: &FindQuery) -> anyhow::Result<Vec<String>> {
    Ok(store.find(query).await?.into_iter().map(|d| d.id).collect())
}

#[async_trait]
impl Scenario for Orders {
    fn name(&self) -> &'static str {
        "nested-filter"
    }

    fn title(&self) -> &'static str {
        "document store: the 20 largest shipped orders of customers in a city (customer.address.city), PostgreSQL JSONB/GIN against the embedded document store"
    }

    fn unit(&self) -> &'static str {
        "orders"
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
        let postgres = store(ctx, "postgres", ctx.scratch.postgres(json!({}))).await?;
        let path = ctx.scratch.folder("orders.db");
        let embedded = store(
            ctx,
            "embedded",
            json!({"path": path, "synchronous": "normal"}),
        )
        .await?;
        let sides: [(&str, Arc<dyn DocumentStore>); 2] =
            [("postgres", postgres), ("embedded", embedded)];
        let size = ctx.size;
        for (side, store) in &sides {
            ctx.load(side, size, async {
                // Eight writers, as a loader would run: the trait writes one document a call.
                let mut generator = Generator::new();
                let mut start = 0;
                while start < size {
                    let end = (start + LOAD_CHUNK).min(size);
                    let mut writers = tokio::task::JoinSet::new();
                    let orders: Vec<_> = (start..end).map(|n| (n, generator.order(n))).collect();
                    for part in orders.chunks(orders.len().div_ceil(WRITERS)) {
                        let (store, part) = (store.clone(), part.to_vec());
                        writers.spawn(async move {
                            for (n, order) in part {
                                store.put(&format!("o{n:08}"), order).await?;
                            }
                            anyhow::Ok(())
                        });
                    }
                    while let Some(done) = writers.join_next().await {
                        done??;
                    }
                    start = end;
                }
                Ok(())
            })
            .await?;
        }

        let cities = Zipf::new(CITIES, 0.7);
        let mut rng = Rng::new(21);
        for _ in 0..20 {
            let query = query(cities.sample(&mut rng))?;
            let mut answers = Vec::new();
            for (side, store) in &sides {
                answers.push((*side, largest(&**store, &query).await?));
            }
            ctx.agree("20 largest shipped orders in a city", &answers)?;
        }

        for (side, store) in &sides {
            let mut rng = Rng::new(22);
            ctx.time("20 largest shipped in a city", side, |_| {
                let query = query(cities.sample(&mut rng));
                let store = store.clone();
                async move { largest(&*store, &query?).await }
            })
            .await?;
        }
        Ok(())
    }
}
