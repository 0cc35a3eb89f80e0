//! `polyroute-bench` (also run as `polyroute bench`): runs the scenario benchmarks and rewrites
//! the benchmark report.

use std::path::PathBuf;

use clap::Parser;
use polyroute_benches::env::Servers;
use polyroute_benches::{report, run, RunOptions, Scale};

/// Run polyroute's scenario benchmarks: a tuned PostgreSQL baseline against the routed store,
/// on the same data, with the same answers checked before anything is timed.
///
/// The baselines' servers come from POLYROUTE_BENCH_POSTGRES_URL (default
/// postgres://postgres@127.0.0.1:5432/test) and POLYROUTE_BENCH_REDIS_URL (default
/// redis://127.0.0.1:6379). Everything a run creates is removed when it ends.
#[derive(Debug, Parser)]
#[command(name = "polyroute-bench", version)]
struct Args {
    /// Scenarios to run (`all`, or names from `--list`).
    #[arg(default_value = "all")]
    scenarios: Vec<String>,
    /// Sizes to run each scenario at: three per scale, each 10× the last.
    #[arg(long, value_enum, default_value = "small")]
    scale: Scale,
    /// Requests timed per query and side (default: the scale's).
    #[arg(long)]
    ops: Option<u64>,
    /// Also time every query open-loop at this many requests per second.
    #[arg(long)]
    rate: Option<f64>,
    /// The Markdown report to rewrite; its plots go in a folder beside it named after it.
    #[arg(long, default_value = "docs/benchmarks.md")]
    report: PathBuf,
    /// Write every measurement as JSON here (default: beside the report, `.json`).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print the results only; write no report.
    #[arg(long)]
    no_report: bool,
    /// List the scenarios and their sizes, and exit.
    #[arg(long)]
    list: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.list {
        for scenario in polyroute_benches::scenarios::all() {
            println!(
                "{:<22} {} ({}: {:?})",
                scenario.name(),
                scenario.title(),
                scenario.unit(),
                scenario.sizes(args.scale)
            );
        }
        return Ok(());
    }
    let options = RunOptions {
        scenarios: args.scenarios,
        scale: args.scale,
        open_rate: args.rate,
        ops: args.ops,
        servers: Servers::from_env(),
    };
    let result = run(&options).await?;
    println!("{}", report::tables(&result));
    if !args.no_report {
        let json = args
            .json
            .unwrap_or_else(|| args.report.with_extension("json"));
        report::write(&result, &args.report, &json)?;
        eprintln!("wrote {} and {}", args.report.display(), json.display());
    }
    Ok(())
}
