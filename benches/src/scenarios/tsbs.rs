//! Scenario 3, TSBS DevOps cpu-only: `cpu-max-all-8`, `double-groupby-1`, `high-cpu-1` and
//! `lastpoint` on the PostgreSQL time-series backend (series and point tables, windows
//! aggregated in SQL) and the embedded columnar engine.
//!
//! TSBS's queries span 8 or 12 hours of data; here they span the whole generated range (a few
//! hours) so every size has them. The time-series trait has no predicate on values, so
//! `high-cpu-1` reads one host's `usage_user` and keeps readings above 90 in the client, on both
//! sides alike.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use async_trait::async_trait;
use polyroute_adapters::kinds::time_series::{
    Aggregate, RangeQuery, TagFilter, TimeSeriesSettings, TimeSeriesStore, WindowQuery,
    WindowSeries,
};
use polyroute_adapters::{EntityHandle, EntitySettings, StoreKind};
use serde_json::json;

use super::{close, Context, Scenario};
use crate::env::open;
use crate::gen::tsbs::{hostname, Readings, FIELDS, INTERVAL_NS, MEASUREMENT, START_NS};
use crate::rng::Rng;
use crate::Scale;

/// TSBS DevOps cpu-only.
pub struct DevOps;

/// Readings per host: an hour at one every 10 s (ten minutes at the tiny scale).
fn steps(scale: Scale) -> u64 {
    match scale {
        Scale::Tiny => 60,
        _ => 360,
    }
}

async fn store(
    ctx: &Context<'_>,
    backend: &str,
    options: serde_json::Value,
) -> anyhow::Result<Arc<dyn TimeSeriesStore>> {
    let store = ctx
        .scratch
        .connect(StoreKind::TimeSeries, backend, options)
        .await?;
    let settings = EntitySettings::TimeSeries(TimeSeriesSettings::default());
    match open(&*store, "devops", settings).await? {
        EntityHandle::TimeSeries(handle) => Ok(handle),
        _ => bail!("{backend} time-series store opened another kind"),
    }
}

fn end(steps: u64) -> i64 {
    START_NS + steps as i64 * INTERVAL_NS
}

fn hosts_filter(hosts: &[u64]) -> TagFilter {
    let mut filter = TagFilter::all();
    filter.any_of.insert(
        "hostname".to_owned(),
        hosts.iter().map(|h| hostname(*h)).collect(),
    );
    filter
}

/// Answers in a comparable form: groups sorted, windows as (start, value).
type Windows = Vec<(BTreeMap<String, String>, Vec<(i64, f64)>)>;

fn normalise(mut series: Vec<WindowSeries>) -> Windows {
    series.sort_by(|a, b| a.group.cmp(&b.group));
    series.into_iter().map(|s| (s.group, s.windows)).collect()
}

#[allow(clippy::ptr_arg)] // Its signature must match `agree_by` over `Vec<Windows>` answers.
fn same_windows(a: &Vec<Windows>, b: &Vec<Windows>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|((ga, wa), (gb, wb))| {
                    ga == gb
                        && wa.len() == wb.len()
                        && wa
                            .iter()
                            .zip(wb)
                            .all(|(p, q)| p.0 == q.0 && close(p.1, q.1))
                })
        })
}

/// `cpu-max-all-8`: the hourly maximum of every field of 8 random hosts.
async fn cpu_max_all_8(
    store: &dyn TimeSeriesStore,
    hosts: &[u64],
    end: i64,
) -> anyhow::Result<Vec<Windows>> {
    let mut out = Vec::with_capacity(FIELDS.len());
    for field in FIELDS {
        let query = WindowQuery {
            measurement: MEASUREMENT.to_owned(),
            field: field.to_owned(),
            start: START_NS,
            end,
            every: Duration::from_secs(3600),
            aggregate: Aggregate::Max,
            group_by: vec!["hostname".to_owned()],
            tags: hosts_filter(hosts),
        };
        out.push(normalise(store.window(&query).await?));
    }
    Ok(out)
}

/// `double-groupby-1`: the hourly mean of one field per host, over every host.
async fn double_groupby_1(store: &dyn TimeSeriesStore, end: i64) -> anyhow::Result<Vec<Windows>> {
    let query = WindowQuery {
        measurement: MEASUREMENT.to_owned(),
        field: "usage_user".to_owned(),
        start: START_NS,
        end,
        every: Duration::from_secs(3600),
        aggregate: Aggregate::Mean,
        group_by: vec!["hostname".to_owned()],
        tags: TagFilter::all(),
    };
    Ok(vec![normalise(store.window(&query).await?)])
}

/// `high-cpu-1`: the readings of one host with `usage_user` above 90.
async fn high_cpu_1(store: &dyn TimeSeriesStore, host: u64, end: i64) -> anyhow::Result<Vec<i64>> {
    let query = RangeQuery {
        measurement: MEASUREMENT.to_owned(),
        start: START_NS,
        end,
        tags: hosts_filter(&[host]),
        fields: vec!["usage_user".to_owned()],
        limit: None,
    };
    let mut out = Vec::new();
    for series in store.range(&query).await? {
        let values = series.fields.get("usage_user").cloned().unwrap_or_default();
        for (t, v) in series.timestamps.iter().zip(values) {
            if v.and_then(|v| v.as_f64()).is_some_and(|v| v > 90.0) {
                out.push(*t);
            }
        }
    }
    Ok(out)
}

/// `lastpoint`: the newest reading of every host.
async fn lastpoint(store: &dyn TimeSeriesStore) -> anyhow::Result<Vec<(String, i64)>> {
    let mut out: Vec<(String, i64)> = store
        .last(MEASUREMENT, &TagFilter::all())
        .await?
        .into_iter()
        .map(|p| {
            (
                p.tags.get("hostname").cloned().unwrap_or_default(),
                p.timestamp,
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

fn random_hosts(rng: &mut Rng, hosts: u64, count: usize) -> Vec<u64> {
    (0..count).map(|_| rng.below(hosts)).collect()
}

#[async_trait]
impl Scenario for DevOps {
    fn name(&self) -> &'static str {
        "tsbs-devops"
    }

    fn title(&self) -> &'static str {
        "time-series store: TSBS DevOps cpu-only (10 fields every 10 s, 1 h per host), cpu-max-all-8, double-groupby-1, high-cpu-1, lastpoint, PostgreSQL against the embedded time-series engine"
    }

    fn unit(&self) -> &'static str {
        "hosts"
    }

    fn sizes(&self, scale: Scale) -> Vec<u64> {
        match scale {
            Scale::Tiny => vec![1, 10, 100],
            Scale::Small => vec![10, 100, 1_000],
            Scale::Medium | Scale::Large => vec![100, 1_000, 10_000],
        }
    }

    fn routed(&self) -> &'static str {
        "embedded"
    }

    async fn run(&self, ctx: &mut Context<'_>) -> anyhow::Result<()> {
        let postgres = store(ctx, "postgres", ctx.scratch.postgres(json!({}))).await?;
        let folder = ctx.scratch.folder("devops");
        let embedded = store(
            ctx,
            "embedded",
            json!({"path": folder, "synchronous": "normal"}),
        )
        .await?;
        let sides: [(&str, Arc<dyn TimeSeriesStore>); 2] =
            [("postgres", postgres), ("embedded", embedded)];
        let hosts = ctx.size;
        let end = end(steps(ctx.plan.scale));
        for (side, store) in &sides {
            let mut readings = Readings::new(hosts, steps(ctx.plan.scale));
            let total = readings.len();
            // About 10 000 points per write.
            let rows = (10_000 / hosts).max(1);
            ctx.load(side, total, async {
                while let Some(points) = readings.next_chunk(rows) {
                    store.write(points).await?;
                }
                Ok(())
            })
            .await?;
        }

        let mut rng = Rng::new(5);
        for _ in 0..3 {
            let eight = random_hosts(&mut rng, hosts, 8);
            let host = rng.below(hosts);
            let (mut max, mut mean, mut high, mut last) = (vec![], vec![], vec![], vec![]);
            for (side, store) in &sides {
                max.push((*side, cpu_max_all_8(&**store, &eight, end).await?));
                mean.push((*side, double_groupby_1(&**store, end).await?));
                high.push((*side, high_cpu_1(&**store, host, end).await?));
                last.push((*side, lastpoint(&**store).await?));
            }
            ctx.agree_by("cpu-max-all-8", &max, same_windows)?;
            ctx.agree_by("double-groupby-1", &mean, same_windows)?;
            ctx.agree("high-cpu-1", &high)?;
            ctx.agree("lastpoint", &last)?;
        }

        // Whole-fleet queries read every host's data: fewer requests at the largest sizes.
        let heavy = (ctx.plan.ops / hosts.max(1)).clamp(5, ctx.plan.ops);
        for (side, store) in &sides {
            let mut rng = Rng::new(11);
            ctx.time("cpu-max-all-8", side, |_| {
                let eight = random_hosts(&mut rng, hosts, 8);
                let store = store.clone();
                async move { cpu_max_all_8(&*store, &eight, end).await }
            })
            .await?;
            let store_ = store.clone();
            ctx.time_ops("double-groupby-1", side, heavy, |_| {
                let store = store_.clone();
                async move { double_groupby_1(&*store, end).await }
            })
            .await?;
            let mut rng = Rng::new(12);
            ctx.time("high-cpu-1", side, |_| {
                let host = rng.below(hosts);
                let store = store.clone();
                async move { high_cpu_1(&*store, host, end).await }
            })
            .await?;
            // One point per host: timed as the light queries are, within the time budget.
            ctx.time("lastpoint", side, |_| {
                let store = store.clone();
                async move { lastpoint(&*store).await }
            })
            .await?;
        }
        Ok(())
    }
}
