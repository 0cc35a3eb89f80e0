//! Chooses whether the tests against live servers run.
//!
//! - PostgreSQL and Redis, the servers the test script starts on this machine: their tests run
//!   when their URL is set (`POLYROUTE_TEST_POSTGRES_URL`, `POLYROUTE_TEST_REDIS_URL`) or when
//!   `POLYROUTE_REQUIRE_SERVICES` is `1` or `all`; then a missing URL or an unreachable server
//!   fails them.
//! - The production servers (Neo4j, ScyllaDB, InfluxDB, MongoDB, Elasticsearch), which run
//!   elsewhere (`examples/docker-compose.yml`, `scripts/test-live`): their tests run when their
//!   URL is set, or when `POLYROUTE_REQUIRE_SERVICES=all`.
//!
//! Otherwise the tests are reported as ignored, never as passed.

use std::env;

/// Servers every test run has.
const LOCAL: &[(&str, &str)] = &[
    ("polyroute_postgres_tests", "POLYROUTE_TEST_POSTGRES_URL"),
    ("polyroute_redis_tests", "POLYROUTE_TEST_REDIS_URL"),
];

/// Servers only a live run has.
const PRODUCTION: &[(&str, &str)] = &[
    ("polyroute_neo4j_tests", "POLYROUTE_TEST_NEO4J_URL"),
    ("polyroute_scylla_tests", "POLYROUTE_TEST_SCYLLA_URL"),
    ("polyroute_influxdb_tests", "POLYROUTE_TEST_INFLUXDB_URL"),
    ("polyroute_mongodb_tests", "POLYROUTE_TEST_MONGODB_URL"),
    (
        "polyroute_elasticsearch_tests",
        "POLYROUTE_TEST_ELASTICSEARCH_URL",
    ),
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=POLYROUTE_REQUIRE_SERVICES");
    let required = env::var("POLYROUTE_REQUIRE_SERVICES").unwrap_or_default();
    let local = required == "1" || required == "all";
    let production = required == "all";
    for (servers, required) in [(LOCAL, local), (PRODUCTION, production)] {
        for (cfg, variable) in servers {
            println!("cargo::rustc-check-cfg=cfg({cfg})");
            println!("cargo::rerun-if-env-changed={variable}");
            if required || env::var_os(variable).is_some_and(|url| !url.is_empty()) {
                println!("cargo::rustc-cfg={cfg}");
            }
        }
    }
}
