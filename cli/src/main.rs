//! `polyroute`: the command-line tool of polyroute.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod check;
mod decide;
mod outbox;
mod serve;
mod table;

/// Route each entity of a service to the store kind that fits it.
///
/// polyroute reads a `polyroute.toml` that declares stores (`[stores.NAME]`, each a kind and a
/// backend) and entities (`[entities.NAME]`, each routed to one store); `decide` writes one
/// from a workload spec.
#[derive(Debug, Parser)]
#[command(name = "polyroute", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config, connect every store, open every entity and ping each store.
    ///
    /// Exit status: 0 when every store answered and every entity opened; 1 when a store or an
    /// entity failed; 2 when the config cannot be read or has mistakes (all of them are
    /// printed, one per line, as `field.path: message`).
    Check(check::CheckArgs),
    /// Recommend a store kind per entity and access from a workload spec (YAML).
    ///
    /// Prints, per entity, the system of record and the kind serving each access, the rules
    /// that decided them, the runner-up and why it lost, the nodes needed and the conflicts.
    /// Exit status: 0 when done; 1 when the config cannot be written or a store fails under
    /// --validate; 2 when the spec cannot be read or has mistakes (all of them are printed,
    /// one per line, as `field.path: message; fix`).
    Decide(decide::DecideArgs),
    /// Run the scenario benchmarks: a tuned PostgreSQL baseline against the routed store, on
    /// the same data, answers cross-checked before timing; rewrites docs/benchmarks.md.
    ///
    /// Runs the `polyroute-bench` program (package `polyroute-benches`) found beside this one
    /// or on the PATH, passing every argument on: `polyroute bench all --scale small`.
    Bench(bench::BenchArgs),
    /// Serve every entity of a config over HTTP: the sidecar for services in any language.
    ///
    /// Routes are /v1/{kind}/{entity}/… (listed at /openapi.json), with /healthz, /readyz and
    /// /metrics. Listens on `[sidecar] bind` (default 127.0.0.1:7878). SIGTERM or Ctrl-C stops
    /// accepting connections and drains in-flight requests. Exit status: 0 after a clean
    /// shutdown; 1 when a store or the listener failed; 2 for config mistakes.
    Serve(serve::ServeArgs),
    /// Outbox propagation of record entities: `relay`, `status`, `replay`.
    ///
    /// Exit status: see each subcommand's help (0 ok; 1 a store failed; 2 config mistakes;
    /// 3 `status` found dead letters).
    Outbox(outbox::OutboxArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The sidecar logs a line per request (with its request id) by default; the other
    // commands only warnings. Dependencies (the storage engines, the HTTP stack) log only
    // warnings either way: their startup chatter is not the operator's business. `RUST_LOG`
    // replaces the filter (`RUST_LOG=debug`, `RUST_LOG=warn,polyroute=debug`).
    let (default_level, json) = match &cli.command {
        Command::Serve(args) => ("warn,polyroute=info", args.log_format == "json"),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
    if let Command::Bench(args) = &cli.command {
        return bench::run(args);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(check::EXIT_CONFIG);
        }
    };
    match cli.command {
        Command::Check(args) => runtime.block_on(check::run(&args)),
        Command::Decide(args) => runtime.block_on(decide::run(&args)),
        Command::Bench(args) => bench::run(&args),
        Command::Serve(args) => runtime.block_on(serve::run(&args)),
        Command::Outbox(args) => runtime.block_on(outbox::run(&args)),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
