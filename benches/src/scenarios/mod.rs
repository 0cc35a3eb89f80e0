//! The scenarios: each loads the same generated data into a PostgreSQL baseline and into the
//! store the access is routed to, checks that both answer the same, then times a fixed query
//! mix on each.

mod documents;
mod events;
mod hot_keys;
mod social;
mod text;
mod tsbs;

use std::future::Future;

use async_trait::async_trait;
use serde::Serialize;

use crate::env::Scratch;
use crate::measure::{self, Mode, Summary};
use crate::Scale;

/// One scenario.
#[async_trait]
pub trait Scenario: Send + Sync {
    /// The name on the command line, such as `hot-keys`.
    fn name(&self) -> &'static str;
    /// A one-line description for the report.
    fn title(&self) -> &'static str;
    /// What a size counts, such as `records`.
    fn unit(&self) -> &'static str;
    /// The sizes a scale runs, smallest first, each 10× the last.
    fn sizes(&self, scale: Scale) -> Vec<u64>;
    /// The side every other side's latency is divided by in the report (the routed store).
    fn routed(&self) -> &'static str;
    /// Generates the data of `ctx.size`, loads it into every side, checks their answers agree
    /// and times the query mix.
    async fn run(&self, ctx: &mut Context<'_>) -> anyhow::Result<()>;
}

/// Every scenario, in report order.
pub fn all() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(hot_keys::HotKeys),
        Box::new(social::FriendsOfFriends),
        Box::new(social::Reachability),
        Box::new(tsbs::DevOps),
        Box::new(text::Catalog),
        Box::new(events::Events),
        Box::new(documents::Orders),
    ]
}

/// How much to measure.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Plan {
    /// The scale being run.
    pub scale: Scale,
    /// Requests timed per query and side (after a warm-up of a tenth as many).
    pub ops: u64,
    /// Also time each query at this fixed rate (requests per second).
    pub open_rate: Option<f64>,
}

/// One timed query on one side.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// The query, such as `read (workload C)`.
    pub query: String,
    /// The side, such as `postgres` or `embedded`.
    pub side: String,
    /// How the requests were issued.
    #[serde(flatten)]
    pub mode: Mode,
    /// What it measured.
    #[serde(flatten)]
    pub summary: Summary,
}

/// How long loading the data took on one side.
#[derive(Clone, Debug, Serialize)]
pub struct Load {
    /// The side.
    pub side: String,
    /// Seconds to load everything.
    pub seconds: f64,
    /// Items (rows, points, edges, …) per second.
    pub rate: f64,
}

/// What a scenario is given and what it records, at one size.
pub struct Context<'a> {
    /// The size to generate.
    pub size: u64,
    /// How much to measure.
    pub plan: Plan,
    /// Where its stores go.
    pub scratch: &'a Scratch,
    /// Timed queries, filled by the scenario.
    pub measurements: Vec<Measurement>,
    /// Load times, filled by the scenario.
    pub loads: Vec<Load>,
    /// Answers compared between sides before timing (how many queries were checked).
    pub checked: u64,
    /// Notes for the report (what a side could not do, and why).
    pub notes: Vec<String>,
}

impl Context<'_> {
    /// Times `request(i)` on `side` for the plan's number of requests (closed loop, and open
    /// loop when the plan has a rate), after a warm-up.
    pub async fn time<F, Fut, T>(
        &mut self,
        query: &str,
        side: &str,
        mut request: F,
    ) -> anyhow::Result<()>
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        self.time_ops(query, side, self.plan.ops, &mut request)
            .await
    }

    /// As [`Context::time`], with `ops` requests instead of the plan's (for queries that take
    /// seconds each).
    pub async fn time_ops<F, Fut, T>(
        &mut self,
        query: &str,
        side: &str,
        ops: u64,
        mut request: F,
    ) -> anyhow::Result<()>
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let ops = ops.max(1);
        // Warm-up: caches, prepared statements, connections; not recorded.
        let warming = std::time::Instant::now();
        for i in 0..(ops / 10).clamp(1, 20) {
            std::hint::black_box(request(ops + i).await?);
            if warming.elapsed() > self.plan.scale.budget() / 4 {
                break;
            }
        }
        let budget = Some(self.plan.scale.budget());
        let summary = measure::closed_loop_within(ops, budget, &mut request).await?;
        self.measurements.push(Measurement {
            query: query.to_owned(),
            side: side.to_owned(),
            mode: Mode::Closed,
            summary: summary.clone(),
        });
        if let Some(rate) = self.plan.open_rate {
            // Never drive a side past what it sustained closed-loop: that measures a queue.
            let rate = rate.min(summary.throughput * 0.8);
            let ops = summary.ops;
            let summary = measure::open_loop(ops, rate, &mut request).await?;
            self.measurements.push(Measurement {
                query: query.to_owned(),
                side: side.to_owned(),
                mode: Mode::Open { rate },
                summary,
            });
        }
        Ok(())
    }

    /// Times a load of `items` items on `side`.
    pub async fn load<Fut>(&mut self, side: &str, items: u64, load: Fut) -> anyhow::Result<()>
    where
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let started = std::time::Instant::now();
        load.await?;
        let seconds = started.elapsed().as_secs_f64();
        self.loads.push(Load {
            side: side.to_owned(),
            seconds,
            rate: items as f64 / seconds.max(1e-9),
        });
        Ok(())
    }

    /// Fails unless every side gave the same answer to a query: a mismatch is a failure of the
    /// benchmark, not a footnote.
    pub fn agree<T: PartialEq + std::fmt::Debug>(
        &mut self,
        query: &str,
        answers: &[(&str, T)],
    ) -> anyhow::Result<()> {
        self.agree_by(query, answers, |a, b| a == b)
    }

    /// As [`Context::agree`], with `same` deciding whether two answers agree (floats within a
    /// tolerance, say).
    pub fn agree_by<T: std::fmt::Debug>(
        &mut self,
        query: &str,
        answers: &[(&str, T)],
        same: impl Fn(&T, &T) -> bool,
    ) -> anyhow::Result<()> {
        if let Some(((first_side, first), rest)) = answers.split_first() {
            for (side, answer) in rest {
                if !same(answer, first) {
                    anyhow::bail!(
                        "answers differ for {query}: {first_side} gave {first:?}, {side} gave {answer:?}"
                    );
                }
            }
        }
        self.checked += 1;
        Ok(())
    }
}

/// Whether two floats agree within a relative tolerance (aggregates computed in another order
/// or precision differ in their last bits).
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
