//! Seeded, deterministic data generators, each modelled on a public benchmark suite so the
//! shapes (skew, degree distribution, cardinalities) are the ones those suites chose.

pub mod social;
pub mod ycsb;
