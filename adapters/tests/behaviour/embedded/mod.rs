//! The embedded backends, run through every suite of their kind.

mod document;
mod key_value;
mod relational;
mod search;
