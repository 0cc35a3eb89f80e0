//! The router's behaviour from the outside: config problems, environment interpolation,
//! building from config and in code, typed handles, default TTLs and deadlines.

// The helpers and fakes here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access_config;
mod builder;
mod cache;
mod call_metrics;
mod config_env;
mod config_problems;
mod config_valid;
mod counters;
mod graph;
mod handles;
mod hedge;
mod layers;
mod support;
mod time_series;
mod timeout;
mod wide_column;
