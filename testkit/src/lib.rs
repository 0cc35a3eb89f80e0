//! The behaviour suites of polyroute's store kinds, for backend authors: every backend of a
//! kind passes its kind's suite, so a backend is done when its test file has a fixture (a
//! fresh, isolated entity) and one suite line.
//!
//! Each kind module holds its cases as public async functions over a [`support::Fixture`] and a
//! `*_suite!` macro that turns them into one test per case:
//!
//! ```text
//! use polyroute_testkit::{key_value_suite, support::Fixture};
//!
//! async fn fixture() -> Fixture<dyn KeyValueStore> { /* a fresh entity */ }
//! async fn pair() -> [Fixture<dyn KeyValueStore>; 2] { /* two entities on one store */ }
//!
//! key_value_suite!(fixture, pair);
//! ```
//!
//! A server backend adds `gated!` (its cases are ignored unless its server is configured),
//! [`server_url!`] (where the server is) and a [`cleanup::Cleanup`] that removes the case's data.
//!
//! Code that sits in front of stores (the router's layers, cache and builder) is tested against
//! the doubles here, written once: [`fake::FakeKv`], a key-value store in memory that plays a
//! script of failures, and [`hooked::Hooked`], the one forwarding wrapper, which calls a hook
//! around every write of the handles a store opens.

// Suite cases are plain async fns called from generated `#[test]`s: in a test harness a failed
// unwrap is the failure report. They are named for what they check, which is their doc.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod cleanup;
pub mod document;
pub mod fake;
pub mod graph;
pub mod hooked;
pub mod key_value;
pub mod relational;
pub mod search;
pub mod support;
pub mod time_series;
pub mod wide_column;

/// Turns a kind's cases into one test each: `$crate::<kind>::<case>($fixture)`, with
/// `$fixture` evaluated afresh in each test (a fixture, or what makes one). What every
/// `*_suite!` shares.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_cases {
    ($kind:ident; $fixture:expr; $attrs:tt; $($case:ident),* $(,)?) => {
        $( $crate::__suite_cases!(@case $kind; $fixture; $attrs; $case); )*
    };
    (@case $kind:ident; $fixture:expr; [$($attr:tt)*]; $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn $case() {
            $crate::$kind::$case($fixture).await;
        }
    };
}
