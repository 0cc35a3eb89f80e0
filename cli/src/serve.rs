//! `polyroute serve`: run the HTTP sidecar for a config until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use polyroute::{Config, ConfigError, Router};
use polyroute_sidecar::metrics::Exporter;
use polyroute_sidecar::{exposure, shutdown, Sidecar, SidecarConfig};

use crate::check::{print_problems, EXIT_CONFIG, EXIT_FAILED};

/// Arguments of `polyroute serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file: its stores and entities, and its `[sidecar]` section.
    #[arg(long, short, value_name = "FILE", default_value = "polyroute.toml")]
    config: PathBuf,
    /// Listen here instead of `[sidecar] bind` (port 0 picks a free port; the address is
    /// printed on the first line of standard output). An address other machines can reach
    /// needs `[[sidecar.tokens]]` (or `[sidecar] allow_anonymous = true`).
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// Log format on standard error: `text` or `json` (one object per line).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Loads the config, connects the stores and serves until a shutdown signal; returns the exit
/// status (0 after a clean shutdown, 1 when a store or the listener failed, 2 for config
/// mistakes).
pub async fn run(args: &ServeArgs) -> ExitCode {
    let shown = args.config.display().to_string();
    let config = match Config::from_path(&args.config) {
        Ok(config) => config,
        Err(err @ ConfigError::Read { .. }) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(err) => {
            print_problems(&shown, err.problems());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut sidecar_config = match SidecarConfig::from_config(&config) {
        Ok(sidecar) => sidecar,
        Err(err) => {
            print_problems(&shown, err.problems());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(bind) = args.bind {
        sidecar_config.bind = bind;
    }
    // The rule the config reader applied to `[sidecar] bind`, now on the address in use: a
    // `--bind` beyond loopback without tokens is refused before any store is connected.
    if let Err(exposed) = exposure::check(&sidecar_config, sidecar_config.bind) {
        let source = if args.bind.is_some() {
            "--bind"
        } else {
            "sidecar.bind"
        };
        eprintln!("error: {source}: {exposed}");
        return ExitCode::from(EXIT_CONFIG);
    }
    // The process's Prometheus recorder, installed before the router is built so that its
    // calls, retries and breakers are on `/metrics` beside the sidecar's requests.
    let exporter = Exporter::global();
    let router = match Router::connect(config).await {
        Ok(router) => router,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let sidecar = match Sidecar::bind_with(router, sidecar_config, exporter).await {
        Ok(sidecar) => sidecar,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(if err.is_config_mistake() {
                EXIT_CONFIG
            } else {
                EXIT_FAILED
            });
        }
    };
    println!(
        "polyroute sidecar listening on {}://{}",
        sidecar.scheme(),
        sidecar.local_addr()
    );
    match sidecar.serve(shutdown::signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
