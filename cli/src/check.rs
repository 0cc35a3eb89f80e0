//! `polyroute check`: is this config right, and does every store answer?

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::future::join_all;
use polyroute::{CallContext, Config, ConfigError, RouterBuilder, RouterError, StoreKind};

use crate::table;

/// Exit status when a store or an entity failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status when the config cannot be read or has mistakes.
pub const EXIT_CONFIG: u8 = 2;

/// Arguments of `polyroute check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file to check.
    #[arg(long, short, value_name = "FILE", default_value = "polyroute.toml")]
    config: PathBuf,
}

/// What happened to one store.
struct StoreRow {
    name: String,
    kind: StoreKind,
    backend: String,
    status: Result<Duration, String>,
    /// The state of its circuit breaker in the built router: `closed`, `open`, `half_open`,
    /// `off` when the policy has none, `-` when the store failed.
    breaker: String,
}

/// Runs the check and prints its report; returns the exit status.
pub async fn run(args: &CheckArgs) -> ExitCode {
    let shown = args.config.display();
    let config = match Config::from_path(&args.config) {
        Ok(config) => config,
        Err(err @ ConfigError::Read { .. }) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(err) => {
            print_problems(&shown.to_string(), err.problems());
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    if let Err(err) = polyroute_sidecar::SidecarConfig::from_config(&config) {
        print_problems(&shown.to_string(), err.problems());
        return ExitCode::from(EXIT_CONFIG);
    }

    let context = config.connect_context();
    let timeout = config.policy().timeout;
    let mut builder = RouterBuilder::new()
        .timeout(timeout)
        .layers(config.policy().layers)
        .base_dir(config.base_dir());
    // Every store at once: a check of servers that are down takes the longest connect
    // timeout, not their sum.
    let attempts = join_all(config.stores().iter().map(|(name, store)| {
        let context = &context;
        async move {
            let status = match store.connect(context).await {
                Ok(connected) => {
                    let ping = CallContext::for_store(name, store.kind(), timeout);
                    let started = Instant::now();
                    let outcome = ping.call("ping", connected.ping()).await;
                    let round_trip = started.elapsed();
                    outcome
                        .map(|()| (connected, round_trip))
                        .map_err(|err| format!("ping failed: {err}"))
                }
                Err(err) => Err(format!("cannot connect: {err}")),
            };
            (name, store, status)
        }
    }))
    .await;
    let mut rows = Vec::new();
    for (name, store, status) in attempts {
        let status = status.map(|(connected, round_trip)| {
            builder = std::mem::take(&mut builder).store(name, connected);
            round_trip
        });
        rows.push(StoreRow {
            name: name.clone(),
            kind: store.kind(),
            backend: store.backend().to_owned(),
            status,
            breaker: "-".to_owned(),
        });
    }

    for (name, entity) in config.entities() {
        if connected(&rows, &entity.store) {
            builder = builder.entity_config(name, entity);
        }
    }
    let mut entity_errors: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    match builder.build().await {
        Ok(router) => {
            for store in router.stores() {
                if let Some(row) = rows.iter_mut().find(|row| row.name == store.name) {
                    row.breaker = store
                        .layers
                        .breaker_state()
                        .map_or("off", |state| state.as_str())
                        .to_owned();
                }
            }
        }
        Err(RouterError::Startup(failures)) => {
            for failure in failures {
                match failure.entity {
                    Some(entity) => entity_errors.push((entity, failure.error.to_string())),
                    None => entity_errors.push((failure.store, failure.error.to_string())),
                }
            }
        }
        Err(RouterError::Config(err)) => problems.extend(err.problems().iter().cloned()),
        Err(other) => {
            eprintln!("error: {other}");
            return ExitCode::from(EXIT_FAILED);
        }
    }

    print_stores(&rows);
    print_entities(&config, &rows, &entity_errors);
    if !problems.is_empty() {
        println!();
        print_problems(&shown.to_string(), &problems);
        return ExitCode::from(EXIT_CONFIG);
    }
    let failed_stores = rows.iter().filter(|row| row.status.is_err()).count();
    let unopened = config
        .entities()
        .values()
        .filter(|entity| !connected(&rows, &entity.store))
        .count()
        + entity_errors.len();
    println!();
    if failed_stores == 0 && unopened == 0 {
        println!(
            "ok: {} stores answered, {} entities opened",
            rows.len(),
            config.entities().len()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "failed: {failed_stores} of {} stores failed, {unopened} of {} entities not opened",
            rows.len(),
            config.entities().len()
        );
        ExitCode::from(EXIT_FAILED)
    }
}

/// Prints config problems, one per line, under the file's name.
pub fn print_problems(file: &str, problems: &[polyroute::ConfigProblem]) {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    eprintln!("{file}: {count} {noun}:");
    for problem in problems {
        eprintln!("  {problem}");
    }
}

fn print_stores(rows: &[StoreRow]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let (status, round_trip) = match &row.status {
                Ok(round_trip) => ("ok".to_owned(), format!("{round_trip:.1?}")),
                Err(err) => (err.clone(), "-".to_owned()),
            };
            vec![
                row.name.clone(),
                row.kind.to_string(),
                row.backend.clone(),
                status,
                round_trip,
                row.breaker.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "STORE",
                "KIND",
                "BACKEND",
                "STATUS",
                "ROUND TRIP",
                "BREAKER"
            ],
            &cells
        )
    );
}

fn print_entities(config: &Config, rows: &[StoreRow], errors: &[(String, String)]) {
    println!();
    println!("ENTITIES");
    for row in rows {
        let mut entities = Vec::new();
        for (name, entity) in config.entities() {
            if entity.store != row.name {
                continue;
            }
            let note = if row.status.is_err() {
                " (not opened: store failed)".to_owned()
            } else {
                match errors.iter().find(|(failed, _)| failed == name) {
                    Some((_, err)) => format!(" (failed: {err})"),
                    None => String::new(),
                }
            };
            entities.push(format!("{name}{note}"));
        }
        let listed = if entities.is_empty() {
            "(none)".to_owned()
        } else {
            entities.join(", ")
        };
        println!("  {}: {listed}", row.name);
    }
}

/// Whether `store` connected and answered its ping.
fn connected(rows: &[StoreRow], store: &str) -> bool {
    rows.iter()
        .any(|row| row.name == store && row.status.is_ok())
}
