//! [`RecordError`]: why a record entity's call or its relay failed.

use std::time::Duration;

use polyroute_adapters::StoreError;

/// Why a call on a record entity ([`Records`](crate::Records)) or its
/// [`Outbox`](super::Outbox) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The system of record or a derived store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The access is not routed anywhere.
    #[error("entity `{entity}` routes no `{access}`; add `routes = {{ {access} = \"ENTITY\" }}` naming a derived entity in `propagate.to`")]
    NoRoute {
        /// The record entity.
        entity: String,
        /// The access (`search`).
        access: &'static str,
    },
    /// A fields argument was not a JSON object.
    #[error("the fields of a record must be a JSON object of column → value, not {found}")]
    NotAnObject {
        /// What was given.
        found: &'static str,
    },
    /// No derived entity of that name is fed by this record entity.
    #[error("entity `{entity}` does not propagate to `{target}`; its targets: {}", known.join(", "))]
    UnknownTarget {
        /// The record entity.
        entity: String,
        /// The name asked for.
        target: String,
        /// Its targets.
        known: Vec<String>,
    },
    /// Another relay took this relay's lease (it paused longer than the lease): it stopped
    /// without moving any cursor.
    #[error("the relay of `{entity}` lost its lease to another relay; raise `propagate.lease` if relays pause that long")]
    LeaseLost {
        /// The record entity.
        entity: String,
    },
    /// A read-your-writes session waited its whole deadline for a derived entity to catch up.
    #[error("`{target}` has not caught up with change {seq} of `{entity}` after {after:?}; is a relay running (`polyroute serve` or `polyroute outbox relay`)?")]
    NotCaughtUp {
        /// The record entity.
        entity: String,
        /// The derived entity.
        target: String,
        /// The session's last change.
        seq: u64,
        /// How long it waited (the entity's timeout).
        after: Duration,
    },
}

/// Results of record and outbox calls.
pub type RecordResult<T> = std::result::Result<T, RecordError>;
