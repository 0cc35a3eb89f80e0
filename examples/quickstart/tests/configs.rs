//! The quickstart program, unchanged, on both of its configs: embedded stores, and PostgreSQL
//! plus Redis.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

const ENTITIES: [&str; 7] = [
    "orders",
    "sessions",
    "products",
    "cpu",
    "clicks",
    "also_bought",
    "product_search",
];

fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Runs the quickstart with `config` and returns its output, failing if it fails.
fn run(config: &Path, env: &[(&str, String)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_polyroute-quickstart"))
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "quickstart failed on {}:\n{stdout}\n{}",
        config.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Asserts every entity was accessed through a store of `backend` (or `other` for `sessions`).
fn assert_every_entity_ran(stdout: &str, backend: &str, sessions: &str) {
    for entity in ENTITIES {
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|line| line.split_whitespace().next() == Some(entity))
            .collect();
        assert!(!lines.is_empty(), "no access of `{entity}`:\n{stdout}");
        let expected = if entity == "sessions" {
            sessions
        } else {
            backend
        };
        for line in lines {
            assert!(
                line.contains(&format!("({expected})")),
                "`{entity}` not on {expected}: {line}"
            );
        }
    }
}

#[test]
fn runs_on_embedded_stores() {
    let stdout = run(&config("polyroute.toml"), &[]);
    assert_every_entity_ran(&stdout, "embedded", "embedded");
}

#[cfg(all(feature = "postgres", feature = "redis"))]
#[test]
#[cfg_attr(
    not(all(polyroute_postgres_tests, polyroute_redis_tests)),
    ignore = "set POLYROUTE_TEST_POSTGRES_URL and POLYROUTE_TEST_REDIS_URL"
)]
fn runs_unchanged_on_postgres_and_redis() {
    let url = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| panic!("POLYROUTE_REQUIRE_SERVICES=1 but {name} is not set"))
    };
    let env = [
        ("POLYROUTE_POSTGRES_URL", url("POLYROUTE_TEST_POSTGRES_URL")),
        ("POLYROUTE_REDIS_URL", url("POLYROUTE_TEST_REDIS_URL")),
    ];
    let config = config("polyroute.postgres.toml");
    // Twice: the second run finds the schema, tables and data of the first.
    for _ in 0..2 {
        let stdout = run(&config, &env);
        assert_every_entity_ran(&stdout, "postgres", "redis");
    }
}
