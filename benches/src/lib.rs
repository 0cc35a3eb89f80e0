//! polyroute's scenario benchmarks: for each access pattern, the same generated data in a tuned
//! PostgreSQL baseline and in the store the access is routed to, the same answers checked on
//! both, then the same queries timed on both through polyroute's own traits.
//!
//! - [`rng`]: seeded randomness (SplitMix64, YCSB's zipfian);
//! - [`gen`]: the data generators, modelled on public suites (YCSB, LDBC SNB, TSBS);
//! - [`measure`]: HdrHistogram latencies, closed and open loop;
//! - [`env`]: the servers and scratch spaces stores are created in;
//! - [`scenarios`]: one module per scenario;
//! - [`report`]: Markdown, JSON and SVG plots of a run.

pub mod env;
pub mod gen;
pub mod measure;
pub mod report;
pub mod rng;
pub mod scenarios;

use anyhow::Context as _;
use serde::Serialize;

use env::{Scratch, Servers};
use scenarios::{Context, Load, Measurement, Plan, Scenario};

/// How big a run is. Each scale runs every scenario at three sizes, each 10× the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Seconds per scenario: what CI runs, with the answer cross-check.
    Tiny,
    /// Under ten minutes for every scenario on two cores.
    Small,
    /// Tens of minutes.
    Medium,
    /// Up to an hour: the largest sizes this machine holds, the headline graph among them.
    Large,
}

impl Scale {
    /// Time spent timing one query on one side, past which it stops (keeping at least
    /// [`measure::MIN_OPS`] requests).
    pub fn budget(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            Scale::Tiny => 1,
            Scale::Small => 3,
            Scale::Medium => 10,
            Scale::Large => 30,
        })
    }

    /// Requests timed per query and side.
    pub fn ops(self) -> u64 {
        match self {
            Scale::Tiny => 30,
            Scale::Small => 1_000,
            Scale::Medium => 3_000,
            Scale::Large => 5_000,
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Scenario names, or empty for all.
    pub scenarios: Vec<String>,
    /// The scale.
    pub scale: Scale,
    /// Also time each query open-loop at this rate (requests per second).
    pub open_rate: Option<f64>,
    /// Requests per query and side, instead of the scale's.
    pub ops: Option<u64>,
    /// The baselines' servers.
    pub servers: Servers,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// The scale.
    pub scale: Scale,
    /// Requests per query and side.
    pub ops: u64,
    /// The machine and servers.
    pub machine: report::Machine,
    /// One entry per scenario run.
    pub scenarios: Vec<ScenarioResult>,
}

/// One scenario at its sizes.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// Its name.
    pub name: String,
    /// What it measures.
    pub title: String,
    /// What a size counts.
    pub unit: String,
    /// The side others are compared with.
    pub routed: String,
    /// One entry per size.
    pub sizes: Vec<SizeResult>,
}

/// One scenario at one size.
#[derive(Clone, Debug, Serialize)]
pub struct SizeResult {
    /// The size.
    pub size: u64,
    /// Queries whose answers were compared across sides (all agreed, or the run failed).
    pub checked: u64,
    /// Load times.
    pub loads: Vec<Load>,
    /// Timed queries.
    pub measurements: Vec<Measurement>,
    /// Notes.
    pub notes: Vec<String>,
}

/// The scenarios `names` selects (`all`, or empty, for every one).
pub fn select(names: &[String]) -> anyhow::Result<Vec<Box<dyn Scenario>>> {
    let all = scenarios::all();
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(all);
    }
    let known: Vec<&str> = all.iter().map(|s| s.name()).collect();
    for name in names {
        if !known.contains(&name.as_str()) {
            anyhow::bail!(
                "unknown scenario `{name}`; expected `all` or one of: {}",
                known.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|s| names.iter().any(|n| n == s.name()))
        .collect())
}

/// Runs the selected scenarios at every size of the scale, printing progress to stderr.
pub async fn run(options: &RunOptions) -> anyhow::Result<RunResult> {
    let selected = select(&options.scenarios)?;
    let plan = Plan {
        scale: options.scale,
        ops: options.ops.unwrap_or_else(|| options.scale.ops()),
        open_rate: options.open_rate,
    };
    let machine = report::Machine::read(&options.servers).await;
    let mut results = Vec::new();
    for scenario in selected {
        let mut sizes = Vec::new();
        for size in scenario.sizes(options.scale) {
            eprintln!("{} at {size} {} ...", scenario.name(), scenario.unit());
            let started = std::time::Instant::now();
            let scratch = Scratch::new(&options.servers, scenario.name(), size).await?;
            let mut ctx = Context {
                size,
                plan,
                scratch: &scratch,
                measurements: Vec::new(),
                loads: Vec::new(),
                checked: 0,
                notes: Vec::new(),
            };
            let outcome = scenario.run(&mut ctx).await;
            let cleaned = scratch.clean().await;
            outcome
                .with_context(|| format!("{} at {size} {}", scenario.name(), scenario.unit()))?;
            cleaned?;
            eprintln!(
                "  done in {:.1}s ({} answers cross-checked)",
                started.elapsed().as_secs_f64(),
                ctx.checked
            );
            sizes.push(SizeResult {
                size,
                checked: ctx.checked,
                loads: ctx.loads,
                measurements: ctx.measurements,
                notes: ctx.notes,
            });
        }
        results.push(ScenarioResult {
            name: scenario.name().to_owned(),
            title: scenario.title().to_owned(),
            unit: scenario.unit().to_owned(),
            routed: scenario.routed().to_owned(),
            sizes,
        });
    }
    Ok(RunResult {
        scale: options.scale,
        ops: plan.ops,
        machine,
        scenarios: results,
    })
}
