//! `polyroute decide`: from a workload spec to a store kind per entity and access, with the
//! reasons, the runner-up, the capacity and the conflicts — and, on request, the config that
//! routes it and measured latencies on the embedded stores.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use polyroute_decision::emit::{emit, Backends};
use polyroute_decision::render::{render, Format};
use polyroute_decision::replay::{self, Outcome, ReplayOptions};
use polyroute_decision::{recommend, Spec, SpecError};

use crate::check::{EXIT_CONFIG, EXIT_FAILED};

/// Arguments of `polyroute decide`.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The workload spec (YAML): entities, their size, guarantees and accesses.
    #[arg(value_name = "SPEC")]
    spec: PathBuf,
    /// How to print the recommendation.
    #[arg(long, default_value = "table", value_parser = ["table", "markdown", "json", "mermaid"])]
    format: String,
    /// Also write the polyroute.toml that routes the entities as recommended.
    #[arg(long, value_name = "FILE")]
    emit_config: Option<PathBuf>,
    /// Backends of the emitted config: embedded (runs as is) or production servers.
    #[arg(long, default_value = "embedded", value_parser = ["embedded", "production"])]
    backends: String,
    /// Replay a scaled-down synthetic workload on the embedded stores and print the measured
    /// p50/p99 of the chosen kind next to its alternative.
    #[arg(long)]
    validate: bool,
    /// Most records loaded per entity by --validate.
    #[arg(long, value_name = "N", default_value_t = ReplayOptions::default().max_records, requires = "validate")]
    validate_records: usize,
}

/// Runs the command; returns the exit status.
pub async fn run(args: &DecideArgs) -> ExitCode {
    let spec = match Spec::from_path(&args.spec) {
        Ok(spec) => spec,
        Err(err @ SpecError::Read { .. }) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(err) => {
            let problems = err.problems();
            let noun = if problems.len() == 1 {
                "problem"
            } else {
                "problems"
            };
            eprintln!("{}: {} {noun}:", args.spec.display(), problems.len());
            for problem in problems {
                eprintln!("  {problem}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // clap has checked both against their possible values.
    let format: Format = args.format.parse().unwrap_or_default();
    let backends: Backends = args.backends.parse().unwrap_or_default();
    let recommendation = recommend(&spec);

    let mut status = ExitCode::SUCCESS;
    if let Some(path) = &args.emit_config {
        match std::fs::write(path, emit(&spec, &recommendation, backends)) {
            Ok(()) => eprintln!("wrote {} ({backends} backends)", path.display()),
            Err(err) => {
                eprintln!("error: cannot write {}: {err}", path.display());
                status = ExitCode::from(EXIT_FAILED);
            }
        }
    }

    let report = render(&spec, &recommendation, format);
    if !args.validate {
        print!("{report}");
        return status;
    }

    let options = ReplayOptions {
        max_records: args.validate_records.max(1),
        ..ReplayOptions::default()
    };
    let replays = replay::replay(&spec, &recommendation, &options).await;
    let failed = replays
        .iter()
        .flat_map(|entity| &entity.accesses)
        .flat_map(|access| &access.measurements)
        .any(|m| matches!(m.outcome, Outcome::Failed { .. }));
    if format == Format::Json {
        let mut value: serde_json::Value = match serde_json::from_str(&report) {
            Ok(value) => value,
            Err(err) => {
                eprintln!("error: cannot combine the report with the measurements: {err}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "validation".to_owned(),
                serde_json::to_value(&replays).unwrap_or_default(),
            );
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{report}");
        println!();
        print!("{}", replay::render(&replays, &options));
    }
    if failed {
        eprintln!("error: a store failed during the replay (see above)");
        return ExitCode::from(EXIT_FAILED);
    }
    status
}
