//! The decision framework of polyroute: from a declared workload to a store kind per entity and
//! per access, with the rules that decided it, the runner-up, the capacity math and the
//! conflicts — and to a `polyroute.toml` the router runs as it is.
//!
//! - [`spec`]: the YAML workload spec, checked with every problem reported at once;
//! - [`rules`]: the rules, as data: id, statement, evidence, kind and the check itself;
//! - [`capacity`]: what one node of each store kind is assumed to do, and the nodes needed;
//! - [`calibration`]: this project's measured latency curves, fitted to predict how the
//!   relational baseline and the specialised store answer an access pattern at a size;
//! - [`recommend`]: runs the rules over a spec and places every entity and access;
//! - [`render`]: the recommendation as a table, a Markdown design doc, JSON or Mermaid;
//! - [`emit`]: the `polyroute.toml` that routes the entities as recommended;
//! - [`replay`]: a synthetic workload from the spec, timed on the embedded backends.

pub mod spec;

pub use spec::{Spec, SpecError};
pub mod calibration;
pub mod capacity;
pub mod recommend;
pub mod rules;

pub use recommend::{recommend, Recommendation};
pub mod emit;
pub mod render;
pub mod replay;
