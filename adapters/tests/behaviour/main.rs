//! Behaviour suites: one per store kind, written once as async functions over a store, and run
//! against every backend of that kind.
//!
//! Each kind module defines its cases and a `*_suite!` macro that turns them into one test per
//! case for a backend, given an async factory that returns a fresh, empty, isolated store.
//! A backend instantiates the suites in its own module below.

mod support;

mod key_value;

mod embedded;
