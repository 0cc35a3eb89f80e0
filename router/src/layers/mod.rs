//! Resilience layers, each written once for every store kind: a concurrency [`limit`], a
//! circuit [`breaker`], [`retry`] with backoff and a budget, read [`hedge`]s, and the
//! [`metrics`] every call and layer reports. Each is a small state machine with its own tests;
//! [`StoreLayers`] stacks them for one store, and the call path ([`crate::CallContext`]) runs
//! every call through its store's stack, in the order [`StoreLayers`] documents.

pub mod breaker;
pub mod hedge;
pub mod limit;
pub mod metrics;
pub mod retry;
mod stack;

pub(crate) use stack::Entered;
pub use stack::{LayerPolicy, StoreLayers};
