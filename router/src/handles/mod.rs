//! Typed handles: one per store kind, each over the entity's store and its [`CallContext`](crate::CallContext).
//!
//! A handle is what services call. It is cheap to clone (two `Arc`s), and every operation goes
//! through [`CallContext::call`](crate::CallContext::call), so deadlines and tracing apply the same way to every kind.

mod document;
mod graph;
mod key_value;
mod relational;
mod search;
mod time_series;
mod wide_column;

pub use document::Documents;
pub use graph::Graph;
pub use key_value::KeyValue;
pub use relational::{Relational, Transaction};
pub use search::Search;
pub use time_series::TimeSeries;
pub use wide_column::WideColumn;
