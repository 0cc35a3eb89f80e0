//! Every backend through the behaviour suites of its kinds (`polyroute-testkit`), plus each
//! backend's own cases.
//!
//! The testkit's kind modules hold the cases and a `*_suite!` macro that turns them into one
//! test per case for a backend, given an async factory that returns a fresh, empty, isolated
//! store. A backend instantiates the suites in its own module below.

// Suite cases are plain async fns, not `#[test]`s, so clippy's test exemptions miss them; in a
// test harness a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "elasticsearch")]
mod elasticsearch;
mod embedded;
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
