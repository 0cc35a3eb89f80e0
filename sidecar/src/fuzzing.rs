//! Entry points into internal parsers for the fuzz targets under `fuzz/`.
//!
//! Built only with the `fuzzing` cargo feature, hidden from the docs and not an API.

pub use crate::routes::line_protocol::{parse as parse_line_protocol, LineError, Precision};
