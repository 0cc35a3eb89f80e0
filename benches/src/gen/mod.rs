//! Seeded, deterministic data generators, each modelled on a public benchmark suite so the
//! shapes (skew, degree distribution, cardinalities) are the ones those suites chose.

pub mod catalog;
pub mod events;
pub mod orders;
pub mod social;
pub mod tsbs;
pub mod ycsb;
