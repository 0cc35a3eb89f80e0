//! Resilience layers, each written once for every store kind: a concurrency [`limit`], a
//! circuit [`breaker`] and [`retry`] with backoff and a budget. Each is a small state machine
//! with its own tests; the call path ([`crate::CallContext`]) composes them.

pub mod breaker;
pub mod limit;
pub mod retry;
