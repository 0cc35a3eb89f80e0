//! The embedded backends, run through every suite of their kind.

mod document;
mod graph;
mod key_value;
mod relational;
mod search;
mod time_series;
mod wide_column;
