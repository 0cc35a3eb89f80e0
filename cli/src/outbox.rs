//! `polyroute outbox`: run the relay of record entities, show where each derived entity
//! stands, and replay dead letters.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use polyroute::{Config, ConfigError, Outbox, Router};

use crate::check::{print_problems, EXIT_CONFIG, EXIT_FAILED};
use crate::table;

/// Exit status of `outbox status` when a target has dead letters.
pub const EXIT_DEAD_LETTERS: u8 = 3;

/// Arguments of `polyroute outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    command: OutboxCommand,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Deliver the changes of every record entity with `propagate` to its derived entities.
    ///
    /// Runs until SIGTERM or Ctrl-C (or, with --until-empty, until nothing is pending). Only
    /// one relay delivers an entity's changes at a time: others wait for its lease. Exit
    /// status: 0 when stopped or empty; 1 when a store failed or dead letters remain after
    /// --until-empty; 2 for config mistakes.
    Relay(RelayArgs),
    /// Print, per record entity and derived entity, the cursor, pending changes, lag and
    /// dead letters.
    ///
    /// Exit status: 0 when no target has dead letters; 3 when one has; 1 when a store failed;
    /// 2 for config mistakes.
    Status(ConfigArg),
    /// Send dead letters back for delivery, in order (the next relay round delivers them
    /// before newer changes).
    ///
    /// Exit status: 0 when done (prints how many); 1 when a store failed or the entity or
    /// target is unknown; 2 for config mistakes.
    Replay(ReplayArgs),
}

/// The config file.
#[derive(Debug, Args)]
struct ConfigArg {
    /// The config file.
    #[arg(long, short, value_name = "FILE", default_value = "polyroute.toml")]
    config: PathBuf,
}

#[derive(Debug, Args)]
struct RelayArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Deliver what is pending, then exit.
    #[arg(long)]
    until_empty: bool,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this record entity (default: every one).
    #[arg(long, value_name = "ENTITY")]
    entity: Option<String>,
    /// Only this derived entity (default: every one).
    #[arg(long, value_name = "TARGET")]
    target: Option<String>,
}

/// Runs the subcommand; returns the exit status.
pub async fn run(args: &OutboxArgs) -> ExitCode {
    let file = match &args.command {
        OutboxCommand::Relay(relay) => &relay.config.config,
        OutboxCommand::Status(status) => &status.config,
        OutboxCommand::Replay(replay) => &replay.config.config,
    };
    let router = match connect(file).await {
        Ok(router) => router,
        Err(code) => return code,
    };
    let outboxes: Vec<Outbox> = match router
        .outboxes()
        .map(|entity| router.outbox(entity))
        .collect()
    {
        Ok(outboxes) => outboxes,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    if outboxes.is_empty() {
        eprintln!("error: no record entity has `propagate`; nothing to relay");
        return ExitCode::from(EXIT_CONFIG);
    }
    match &args.command {
        OutboxCommand::Relay(relay) if relay.until_empty => until_empty(&outboxes).await,
        OutboxCommand::Relay(_) => {
            let shutdown = polyroute_sidecar::shutdown::Shutdown::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                polyroute_sidecar::shutdown::signal().await;
                trigger.trigger();
            });
            let runs = outboxes.iter().map(|outbox| outbox.run(shutdown.started()));
            futures_util::future::join_all(runs).await;
            ExitCode::SUCCESS
        }
        OutboxCommand::Status(_) => status(&outboxes).await,
        OutboxCommand::Replay(replay) => replay_dead(&outboxes, replay).await,
    }
}

async fn connect(file: &Path) -> Result<Router, ExitCode> {
    let config = match Config::from_path(file) {
        Ok(config) => config,
        Err(err @ ConfigError::Read { .. }) => {
            eprintln!("error: {err}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
        Err(err) => {
            print_problems(&file.display().to_string(), err.problems());
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    Router::connect(config).await.map_err(|err| {
        eprintln!("error: {err}");
        ExitCode::from(EXIT_FAILED)
    })
}

async fn until_empty(outboxes: &[Outbox]) -> ExitCode {
    let mut dead = 0;
    for outbox in outboxes {
        loop {
            match outbox.relay_once().await {
                Ok(report) if report.lease_busy => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Ok(report) => {
                    println!(
                        "{}: applied {}, already there {}, dead-lettered {}, parked {}",
                        outbox.entity(),
                        report.applied,
                        report.skipped,
                        report.dead_lettered,
                        report.parked
                    );
                    break;
                }
                Err(err) => {
                    eprintln!("error: {}: {err}", outbox.entity());
                    return ExitCode::from(EXIT_FAILED);
                }
            }
        }
        match outbox.status().await {
            Ok(targets) => dead += targets.iter().map(|t| t.dead_letters).sum::<u64>(),
            Err(err) => {
                eprintln!("error: {}: {err}", outbox.entity());
                return ExitCode::from(EXIT_FAILED);
            }
        }
    }
    if dead > 0 {
        eprintln!("{dead} dead letters remain; see `polyroute outbox status`, fix the cause, then `polyroute outbox replay`");
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::SUCCESS
}

async fn status(outboxes: &[Outbox]) -> ExitCode {
    let mut rows = Vec::new();
    let mut dead = 0;
    for outbox in outboxes {
        match outbox.status().await {
            Ok(targets) => {
                for target in targets {
                    dead += target.dead_letters;
                    rows.push(vec![
                        outbox.entity().to_owned(),
                        target.target,
                        target.cursor.to_string(),
                        target.pending.to_string(),
                        format!("{:.1?}", target.lag),
                        target.dead_letters.to_string(),
                    ]);
                }
            }
            Err(err) => {
                eprintln!("error: {}: {err}", outbox.entity());
                return ExitCode::from(EXIT_FAILED);
            }
        }
    }
    print!(
        "{}",
        table::render(
            &[
                "ENTITY",
                "TARGET",
                "CURSOR",
                "PENDING",
                "LAG",
                "DEAD LETTERS"
            ],
            &rows
        )
    );
    if dead > 0 {
        ExitCode::from(EXIT_DEAD_LETTERS)
    } else {
        ExitCode::SUCCESS
    }
}

async fn replay_dead(outboxes: &[Outbox], args: &ReplayArgs) -> ExitCode {
    if let Some(entity) = &args.entity {
        if !outboxes.iter().any(|outbox| outbox.entity() == entity) {
            let known: Vec<&str> = outboxes.iter().map(Outbox::entity).collect();
            eprintln!(
                "error: `{entity}` is not a record entity with `propagate`; these are: {}",
                known.join(", ")
            );
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let mut marked = 0;
    for outbox in outboxes {
        if args
            .entity
            .as_ref()
            .is_some_and(|entity| entity != outbox.entity())
        {
            continue;
        }
        if args.entity.is_none()
            && args
                .target
                .as_ref()
                .is_some_and(|t| !outbox.targets().any(|name| name == t))
        {
            continue;
        }
        match outbox.replay(args.target.as_deref()).await {
            Ok(count) => marked += count,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    }
    println!("{marked} dead letters sent back for delivery");
    ExitCode::SUCCESS
}
