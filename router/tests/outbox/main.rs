//! Record entities and outbox propagation on the embedded stores: routed reads, delivery to
//! every target kind, idempotent redelivery, retries, dead letters parked per key, replay,
//! the relay lease and read-your-writes sessions.

// The helpers here fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/products.rs"]
mod products;

mod config;
mod delivery;
mod failures;
mod support;
