//! Behaviour suites: one per store kind, written once as async functions over a store, and run
//! against every backend of that kind.
//!
//! Each kind module defines its cases and a `*_suite!` macro that turns them into one test per
//! case for a backend, given an async factory that returns a fresh, empty, isolated store.
//! A backend instantiates the suites in its own module below.

// Suite cases are plain async fns, not `#[test]`s, so clippy's test exemptions miss them; in a
// test harness a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod document;
mod graph;
mod key_value;
mod relational;
mod search;
mod time_series;
mod wide_column;

#[cfg(feature = "elasticsearch")]
mod elasticsearch;
mod embedded;
#[cfg(any(
    feature = "postgres",
    feature = "redis",
    feature = "scylla",
    feature = "neo4j",
    feature = "influxdb",
    feature = "mongodb",
    feature = "elasticsearch"
))]
mod guarded;
#[cfg(feature = "influxdb")]
mod influxdb;
#[cfg(feature = "mongodb")]
mod mongodb;
#[cfg(feature = "neo4j")]
mod neo4j;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "scylla")]
mod scylla;
