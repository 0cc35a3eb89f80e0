//! `polyroute`: the command-line tool of polyroute.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod table;

/// Route each entity of a service to the store kind that fits it.
///
/// polyroute reads a `polyroute.toml` that declares stores (`[stores.NAME]`, each a kind and a
/// backend) and entities (`[entities.NAME]`, each routed to one store).
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
