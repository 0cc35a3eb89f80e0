//! Scenario 1, hot-key reads: YCSB workload C (100% reads) and B (95% reads, 5% updates) over
//! 1 KB records with zipfian keys, on PostgreSQL (a keyed table), Redis and the embedded
//! in-process store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use async_trait::async_trait;
use bytes::Bytes;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore, SetOptions};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind};
use serde_json::json;

use super::{Context, Scenario};
use crate::env::open;
use crate::gen::ycsb::{key, value, Requests};
use crate::Scale;

/// YCSB workloads C and B.
pub struct HotKeys;

const BATCH: u64 = 1000;

async fn key_value(
    ctx: &Context<'_>,
    backend: &str,
    options: serde_json::Value,
) -> anyhow::Result<Arc<dyn KeyValueStore>> {
    let store = ctx
        .scratch
        .connect(StoreKind::KeyValue, backend, options)
        .await?;
    let settings = EntitySettings::KeyValue(KeyValueSettings::default());
    match open(&*store, "usertable", settings).await? {
        EntityHandle::KeyValue(handle) => Ok(handle),
        _ => bail!("{backend} key-value store opened another kind"),
    }
}

#[async_trait]
impl Scenario for HotKeys {
    fn name(&self) -> &'static str {
        "hot-keys"
    }

    fn title(&self) -> &'static str {
        "key-value store: YCSB C (reads) and B (95% reads, 5% updates), 1 KB records, zipfian θ = 0.99, PostgreSQL against Redis and the embedded key-value store"
    }

    fn unit(&self) -> &'static str {
        "records"
    }

    fn sizes(&self, scale: Scale) -> Vec<u64> {
        match scale {
            Scale::Tiny => vec![100, 1_000, 10_000],
            Scale::Small => vec![1_000, 10_000, 100_000],
            // Three copies of 1 KB records (PostgreSQL, Redis, in process) must fit in memory.
            Scale::Medium | Scale::Large => vec![10_000, 100_000, 1_000_000],
        }
    }

    fn routed(&self) -> &'static str {
        "embedded"
    }

    async fn run(&self, ctx: &mut Context<'_>) -> anyhow::Result<()> {
        let postgres = key_value(ctx, "postgres", ctx.scratch.postgres(json!({}))).await?;
        let redis = key_value(
            ctx,
            "redis",
            json!({"url": ctx.scratch.servers.redis, "key_prefix": ctx.scratch.prefix}),
        )
        .await?;
        let embedded = key_value(ctx, "embedded", json!({})).await?;
        let sides: [(&str, Arc<dyn KeyValueStore>); 3] = [
            ("postgres", postgres),
            ("redis", redis.clone()),
            ("embedded", embedded),
        ];
        let records = ctx.size;
        for (side, store) in &sides {
            ctx.load(side, records, async {
                let mut start = 0;
                while start < records {
                    let end = (start + BATCH).min(records);
                    let batch = (start..end)
                        .map(|n| (key(n), Bytes::from(value(n, 0))))
                        .collect();
                    store.set_many(batch, None).await?;
                    start = end;
                }
                Ok(())
            })
            .await?;
        }

        let mut sample = Requests::new(records, 7);
        for _ in 0..100 {
            let k = key(sample.next_record());
            let mut answers = Vec::new();
            for (side, store) in &sides {
                answers.push((*side, store.get(&k).await?));
            }
            ctx.agree(&format!("get {k}"), &answers)?;
        }

        for (side, store) in &sides {
            let mut requests = Requests::new(records, 42);
            ctx.time("read (YCSB C)", side, |_| {
                let k = key(requests.next_record());
                let store = store.clone();
                async move { Ok(store.get(&k).await?) }
            })
            .await?;
        }
        for (side, store) in &sides {
            let mut requests = Requests::new(records, 43);
            ctx.time("95% read, 5% update (YCSB B)", side, |i| {
                let n = requests.next_record();
                let update = requests.is_update(0.05);
                let store = store.clone();
                async move {
                    if update {
                        let fresh = Bytes::from(value(n, i + 1));
                        store.set(&key(n), fresh, SetOptions::default()).await?;
                        Ok(None)
                    } else {
                        Ok(store.get(&key(n)).await?)
                    }
                }
            })
            .await?;
        }
        // Leave nothing behind in Redis (PostgreSQL's schema goes with the scratch space):
        // every key is rewritten, pipelined, to expire at once.
        let mut start = 0;
        while start < records {
            let end = (start + BATCH).min(records);
            let batch = (start..end).map(|n| (key(n), Bytes::new())).collect();
            redis
                .set_many(batch, Some(Duration::from_millis(1)))
                .await?;
            start = end;
        }
        Ok(())
    }
}
