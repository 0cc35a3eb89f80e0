//! For backend authors: what a store of each kind implements, and how a backend joins the
//! registry. A service using polyroute does not need this module.
//!
//! - [`kinds`]: one object-safe async trait per store kind, with the kind's shared rules (key
//!   and id bounds, key encodings) that every backend of the kind applies;
//! - [`Store`](crate::Store) and [`EntityHandle`]: a connected store and the handle it opens
//!   per entity;
//! - [`Backend`] and [`BackendDescriptor`]: how a backend's options are read and checked and how
//!   it connects; [`registry`] lists every backend compiled in;
//! - [`work`]: blocking work tied to its call, so a timeout stops the work, not only the wait.
//!
//! - `testkit` (with the `testkit` feature): the behaviour suite of every kind, which a
//!   backend's tests run against a fresh entity.
//!
//! `CONTRIBUTING.md` walks through adding a backend.

pub use polyroute_adapters::backend::{Backend, BackendDescriptor, Connecting, OptionProblem};
pub use polyroute_adapters::store::{is_identifier, ConnectContext};
pub use polyroute_adapters::{
    capabilities, embedded, error, kinds, problem, registry, units, value, work, Capability,
    EntityHandle, EntitySpec,
};
#[cfg(feature = "testkit")]
pub use polyroute_testkit as testkit;
