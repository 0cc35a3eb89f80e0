//! Resilience layers, each written once for every store kind: a concurrency [`limit`], a
//! circuit [`breaker`], [`retry`] with backoff and a budget, and read [`hedge`]s. Each is a small state machine
//! with its own tests; [`StoreLayers`] stacks them for one store, and the call path
//! ([`crate::CallContext`]) runs every call through its store's stack.

pub mod breaker;
pub mod hedge;
pub mod limit;
pub mod retry;
mod stack;

pub use stack::{LayerPolicy, StoreLayers};
