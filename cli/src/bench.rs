//! `polyroute bench`: runs the scenario benchmarks, which live in their own program
//! (`polyroute-bench`, package `polyroute-benches`) so this tool does not carry their
//! dependencies. The program is looked up beside this one, then on the `PATH`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::Args;

/// Arguments passed through to `polyroute-bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// `SCENARIO... [--scale tiny|small|medium|large] [--ops N] [--rate N] [--report FILE]
    /// [--no-report] [--list]`; `--list` lists the scenarios.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

const PROGRAM: &str = "polyroute-bench";

/// Where `polyroute-bench` is: beside this program, else on the `PATH`.
fn program() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()?
        .with_file_name(format!("{PROGRAM}{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Some(beside);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(PROGRAM))
            .find(|candidate| candidate.is_file())
    })
}

/// Runs `polyroute-bench` with the arguments and returns its exit status.
pub fn run(args: &BenchArgs) -> ExitCode {
    let Some(program) = program() else {
        eprintln!(
            "error: `{PROGRAM}` was found neither beside `polyroute` nor on the PATH; build it \
             with `cargo build --release -p polyroute-benches` (or run `cargo run --release -p \
             polyroute-benches -- {}`)",
            args.args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        return ExitCode::from(2);
    };
    match Command::new(&program).args(&args.args).status() {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::from(1),
        },
        Err(err) => {
            eprintln!("error: cannot run {}: {err}", program.display());
            ExitCode::from(2)
        }
    }
}
