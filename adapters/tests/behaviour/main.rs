//! Behaviour suites: one per store kind, written once as async functions over a store, and run
//! against every backend of that kind.
//!
//! Each kind module defines its cases and a `*_suite!` macro that turns them into one test per
//! case for a backend, given an async factory that returns a fresh, empty, isolated store.
//! A backend instantiates the suites in its own module below.

// Test code: a failed step should stop the case with its message, and the suites' helpers are
// not `#[test]` functions, which clippy's in-test allowances cover.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod key_value;
mod relational;

mod embedded;
