//! Scenario 5, an append-heavy event stream: batched ingestion, and the newest 100 events of a
//! user, on the PostgreSQL wide-column backend (a table keyed by user, then time) and the
//! embedded wide-column engine (an LSM tree).

use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;
use polyroute_adapters::kinds::wide_column::{
    SliceQuery, WideColumnSettings, WideColumnStore, WideRow, WriteOptions,
};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind, Value};
use serde_json::json;

use super::{Context, Scenario};
use crate::env::open;
use crate::gen::events::{users, Events as Generator};
use crate::Scale;

/// Event ingestion and newest-first reads.
pub struct Events;

const LOAD_BATCH: u64 = 1_000;

/// Rows per timed append.
const APPEND_BATCH: u64 = 100;

async fn store(
    ctx: &Context<'_>,
    backend: &str,
    options: serde_json::Value,
) -> anyhow::Result<Arc<dyn WideColumnStore>> {
    let store = ctx
        .scratch
        .connect(StoreKind::WideColumn, backend, options)
        .await?;
    let settings = WideColumnSettings::new(
        vec!["user".to_owned()],
        vec!["at".to_owned(), "seq".to_owned()],
    );
    match open(&*store, "events", EntitySettings::WideColumn(settings)).await? {
        EntityHandle::WideColumn(handle) => Ok(handle),
        _ => bail!("{backend} wide-column store opened another kind"),
    }
}

fn newest(user: String) -> SliceQuery {
    SliceQuery::partition(vec![Value::Text(user)])
        .descending()
        .limit(100)
}

#[async_trait]
impl Scenario for Events {
    fn name(&self) -> &'static str {
        "event-stream"
    }

    fn title(&self) -> &'static str {
        "wide-column store: append ingestion (batches of 100) and the newest 100 events of a user, one partition per user, PostgreSQL against the embedded wide-column store"
    }

    fn unit(&self) -> &'static str {
        "events"
    }

    fn sizes(&self, scale: Scale) -> Vec<u64> {
        match scale {
            Scale::Tiny => vec![1_000, 10_000, 100_000],
            Scale::Small => vec![10_000, 100_000, 1_000_000],
            Scale::Medium | Scale::Large => vec![100_000, 1_000_000, 10_000_000],
        }
    }

    fn routed(&self) -> &'static str {
        "embedded"
    }

    async fn run(&self, ctx: &mut Context<'_>) -> anyhow::Result<()> {
        let postgres = store(ctx, "postgres", ctx.scratch.postgres(json!({}))).await?;
        let folder = ctx.scratch.folder("events");
        let embedded = store(
            ctx,
            "embedded",
            json!({"path": folder, "synchronous": "normal"}),
        )
        .await?;
        let sides: [(&str, Arc<dyn WideColumnStore>); 2] =
            [("postgres", postgres), ("embedded", embedded)];
        let size = ctx.size;
        let users = users(size);
        for (side, store) in &sides {
            ctx.load(side, size, async {
                let mut generator = Generator::new(users);
                let mut start = 0;
                while start < size {
                    let end = (start + LOAD_BATCH).min(size);
                    let rows: Vec<WideRow> = (start..end).map(|n| generator.event(n)).collect();
                    store.put_batch(rows, WriteOptions::default()).await?;
                    start = end;
                }
                Ok(())
            })
            .await?;
        }

        let mut readers = Generator::new(users);
        for _ in 0..20 {
            let user = readers.reader();
            let mut answers = Vec::new();
            for (side, store) in &sides {
                answers.push((*side, store.slice(&newest(user.clone())).await?));
            }
            ctx.agree(&format!("newest 100 of {user}"), &answers)?;
        }

        for (side, store) in &sides {
            let mut readers = Generator::new(users);
            ctx.time("newest 100 events of a user", side, |_| {
                let query = newest(readers.reader());
                let store = store.clone();
                async move { Ok(store.slice(&query).await?.len()) }
            })
            .await?;
        }
        for (side, store) in &sides {
            // New events after the loaded ones, the same on both sides.
            let mut generator = Generator::new(users);
            let mut next = size;
            ctx.time("append 100 events (batch)", side, |_| {
                let rows: Vec<WideRow> = (next..next + APPEND_BATCH)
                    .map(|n| generator.event(n))
                    .collect();
                next += APPEND_BATCH;
                let store = store.clone();
                async move { Ok(store.put_batch(rows, WriteOptions::default()).await?) }
            })
            .await?;
        }
        Ok(())
    }
}
