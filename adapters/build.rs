//! Chooses whether the tests against live servers run.
//!
//! A server's tests run when its URL is set (`POLYROUTE_TEST_POSTGRES_URL`,
//! `POLYROUTE_TEST_REDIS_URL`, `POLYROUTE_TEST_MONGODB_URL`, `POLYROUTE_TEST_ELASTICSEARCH_URL`) or
//! when `POLYROUTE_REQUIRE_SERVICES=1` (then a missing URL or an
//! unreachable server fails them); otherwise they are reported as ignored, never as passed.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=POLYROUTE_REQUIRE_SERVICES");
    let required = env::var("POLYROUTE_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    for (cfg, variable) in [
        ("polyroute_postgres_tests", "POLYROUTE_TEST_POSTGRES_URL"),
        ("polyroute_redis_tests", "POLYROUTE_TEST_REDIS_URL"),
        ("polyroute_mongodb_tests", "POLYROUTE_TEST_MONGODB_URL"),
        (
            "polyroute_elasticsearch_tests",
            "POLYROUTE_TEST_ELASTICSEARCH_URL",
        ),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={variable}");
        if required || env::var_os(variable).is_some_and(|url| !url.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
