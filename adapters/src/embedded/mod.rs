//! The embedded backends: every store kind served in-process, with no server, so polyroute runs
//! whole on a laptop, in tests, and as the specialised side of the benchmarks.

pub mod document;
pub mod durability;
pub mod graph;
pub mod key_value;
pub mod relational;
pub mod search;
pub(crate) mod sqlite;
pub mod time_series;
pub mod wide_column;

use crate::backend::BackendDescriptor;

/// The embedded backends, one per kind, as the registry lists them.
pub const BACKENDS: &[BackendDescriptor] = &[
    key_value::BACKEND,
    relational::BACKEND,
    document::BACKEND,
    wide_column::BACKEND,
    graph::BACKEND,
    time_series::BACKEND,
    search::BACKEND,
];
