//! End-to-end tests of `polyroute serve`: each test starts the real binary on a loopback port
//! chosen by the system and drives it with a pooled HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "sidecar/abandoned_work.rs"]
mod abandoned_work;
#[path = "sidecar/answers.rs"]
mod answers;
#[path = "sidecar/exposure.rs"]
mod exposure;
#[path = "sidecar/graph_attacks.rs"]
mod graph_attacks;
#[path = "sidecar/harness.rs"]
mod harness;
#[path = "sidecar/openapi.rs"]
mod openapi;
#[path = "sidecar/operations.rs"]
mod operations;
#[path = "sidecar/result_bounds.rs"]
mod result_bounds;
#[path = "sidecar/routes.rs"]
mod routes;
#[path = "sidecar/search_attacks.rs"]
mod search_attacks;
#[path = "sidecar/security.rs"]
mod security;
#[path = "sidecar/store_down.rs"]
mod store_down;
#[path = "sidecar/transport.rs"]
mod transport;
