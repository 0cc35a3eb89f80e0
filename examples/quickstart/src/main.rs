//! The polyroute quickstart: routes a shop's accesses to the seven store kinds — orders as
//! relational, sessions as key-value, products as documents, host metrics as time-series,
//! products bought together as a graph, click streams as wide-column rows and product text as a
//! search index — on embedded stores, and prints what went where and how long each access took.
//!
//! `cargo run -p polyroute-quickstart [CONFIG]` (default: the `polyroute.toml` beside this crate).

use std::path::PathBuf;

use anyhow::Context;
use polyroute::Router;

mod records;
mod report;
mod specialised;

use report::Report;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("polyroute.toml"));
    let router = Router::from_config_path(&config)
        .await
        .with_context(|| format!("loading {}", config.display()))?;
    println!("polyroute quickstart: routing with {}\n", config.display());

    let mut report = Report {
        router: router.clone(),
        accesses: Vec::new(),
    };
    records::orders(&router, &mut report).await?;
    records::sessions(&router, &mut report).await?;
    records::products(&router, &mut report).await?;
    specialised::cpu(&router, &mut report).await?;
    specialised::clicks(&router, &mut report).await?;
    specialised::also_bought(&router, &mut report).await?;
    specialised::product_search(&router, &mut report).await?;
    report.print();
    Ok(())
}
