//! The metrics layer: what every call and every resilience layer reports, through the
//! [`metrics`](::metrics) facade, to whichever recorder the process (or a test) installed.
//!
//! The names are constants here so that the sidecar, the runbook's alerts and the tests spell
//! them the same way:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | [`CALLS_TOTAL`] | counter | `entity`, `op`, `store`, `kind` |
//! | [`CALL_ERRORS_TOTAL`] | counter | `entity`, `op`, `store`, `kind`, `error` |
//! | [`CALL_DURATION_SECONDS`] | histogram | `entity`, `op`, `store`, `kind` |
//! | [`IN_FLIGHT`] | gauge | `store` |
//! | [`RETRIES_TOTAL`] | counter | `store` |
//! | [`RETRIES_REFUSED_TOTAL`] | counter | `store` |
//! | [`BREAKER_STATE`] | gauge | `store` |
//! | [`BREAKER_TRANSITIONS_TOTAL`] | counter | `store`, `to` |
//! | [`LIMIT_REJECTED_TOTAL`] | counter | `store` |
//!
//! `entity` is `-` for calls on a store itself (a ping); `op` is [`OTHER_OP`] for the
//! operations past the first sixteen of one entity (handles never grow with what callers name
//! their operations); `error` is [`ErrorKind::as_str`] of the call's final error.
//!
//! Handles are resolved once — per store when its layers are built, per (entity, operation)
//! on the operation's first call — and kept, so a call costs a few atomic operations with a
//! recorder and a few branches without one. Like every handle of the facade, they stay bound
//! to the recorder that was current when they were resolved: install the recorder before
//! building the router.

use std::sync::OnceLock;
use std::time::Instant;

use ::metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, Unit};
use polyroute_adapters::{ErrorKind, Result, StoreError};

/// Calls made, by final outcome (each call once, however many attempts it made).
pub const CALLS_TOTAL: &str = "polyroute_calls_total";
/// Calls that failed, by the kind of their final error.
pub const CALL_ERRORS_TOTAL: &str = "polyroute_call_errors_total";
/// Time from a call's start to its final outcome, retries and their pauses included.
pub const CALL_DURATION_SECONDS: &str = "polyroute_call_duration_seconds";
/// Calls past the limit and the breaker and not finished yet, per store.
pub const IN_FLIGHT: &str = "polyroute_in_flight";
/// Retries made (attempts after the first).
pub const RETRIES_TOTAL: &str = "polyroute_retries_total";
/// Retries a failed call would have made but the retry budget had no token for.
pub const RETRIES_REFUSED_TOTAL: &str = "polyroute_retries_refused_total";
/// The breaker's state: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "polyroute_breaker_state";
/// Breaker state changes, by the state changed to (`closed`, `half_open`, `open`).
pub const BREAKER_TRANSITIONS_TOTAL: &str = "polyroute_breaker_transitions_total";
/// Calls refused because the store's concurrency limit was reached.
pub const LIMIT_REJECTED_TOTAL: &str = "polyroute_limit_rejected_total";

/// The `entity` label of calls on a store itself.
pub const NO_ENTITY: &str = "-";

/// Distinct operations a call context keeps handles for (the most any kind has is well under
/// this); further ones share the handles of [`OTHER_OP`].
const OPS: usize = 16;

/// The `op` label of the calls of operations past the first [`OPS`] on one context: the
/// handles stay bounded whatever a caller names its operations.
pub const OTHER_OP: &str = "other";

/// Error kinds an operation keeps resolved counters for.
const ERROR_KINDS: usize = 8;

/// Gives every metric above its help text and unit in the current recorder (Prometheus shows
/// them as `# HELP`). Call once after installing a recorder; harmless without one.
pub fn describe() {
    ::metrics::describe_counter!(
        CALLS_TOTAL,
        "Router calls by entity, operation, store and store kind, counted once at their final outcome."
    );
    ::metrics::describe_counter!(
        CALL_ERRORS_TOTAL,
        "Router calls that failed, by the kind of their final error."
    );
    ::metrics::describe_histogram!(
        CALL_DURATION_SECONDS,
        Unit::Seconds,
        "Router call time from start to final outcome, retries included."
    );
    ::metrics::describe_gauge!(
        IN_FLIGHT,
        "Router calls admitted by the limit and the breaker and not finished, per store."
    );
    ::metrics::describe_counter!(RETRIES_TOTAL, "Retries of failed idempotent calls.");
    ::metrics::describe_counter!(
        RETRIES_REFUSED_TOTAL,
        "Retries not made because the store's retry budget was spent."
    );
    ::metrics::describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker state per store: 0 closed, 1 half-open, 2 open."
    );
    ::metrics::describe_counter!(
        BREAKER_TRANSITIONS_TOTAL,
        "Circuit breaker state changes, by the state changed to."
    );
    ::metrics::describe_counter!(
        LIMIT_REJECTED_TOTAL,
        "Calls refused because the store's concurrency limit was reached."
    );
}

/// Whether the recorder handles are resolved against wants values. Without a recorder the
/// facade falls back to its no-op recorder, a unit struct: a recorder of zero size records
/// nothing, so a call need not read the clock for it.
fn recording() -> bool {
    ::metrics::with_recorder(|recorder| std::mem::size_of_val(recorder) != 0)
}

/// The metrics of the calls of one call context (an entity, or a store itself).
#[derive(Debug)]
pub(crate) struct CallMetrics {
    /// Whether a recorder was current when the context was made: without one, calls skip
    /// the metrics entirely rather than resolving handles that would record nothing.
    recording: bool,
    entity: String,
    store: String,
    kind: &'static str,
    in_flight: Gauge,
    ops: Slots<&'static str, OpMetrics, OPS>,
    /// The handles of operations past the first [`OPS`].
    other: OnceLock<OpMetrics>,
}

impl CallMetrics {
    /// The metrics of calls on `entity` (or [`NO_ENTITY`]) of `store`, of kind `kind`.
    pub(crate) fn new(entity: &str, store: &str, kind: &'static str) -> Self {
        CallMetrics {
            recording: recording(),
            in_flight: gauge!(IN_FLIGHT, "store" => store.to_owned()),
            entity: entity.to_owned(),
            store: store.to_owned(),
            kind,
            ops: Slots::new(),
            other: OnceLock::new(),
        }
    }

    /// The handles of operation `op`, resolved on its first call; none without a recorder.
    #[inline]
    pub(crate) fn op(&self, op: &'static str) -> Op<'_> {
        if !self.recording {
            return Op(None);
        }
        Op(Some(self.recorded_op(op)))
    }

    fn recorded_op(&self, op: &'static str) -> &OpMetrics {
        match self.ops.get_or_init(op, |op| self.resolve(op)) {
            Some(metrics) => metrics,
            None => self.other.get_or_init(|| self.resolve(OTHER_OP)),
        }
    }

    /// Counts a call in flight until the guard drops (however the call ends, dropped included).
    #[inline]
    pub(crate) fn in_flight(&self) -> Option<InFlight<'_>> {
        if !self.recording {
            return None;
        }
        self.in_flight.increment(1.0);
        Some(InFlight(&self.in_flight))
    }

    fn resolve(&self, op: &'static str) -> OpMetrics {
        let labels = [
            ("entity", self.entity.clone()),
            ("op", op.to_owned()),
            ("store", self.store.clone()),
            ("kind", self.kind.to_owned()),
        ];
        OpMetrics {
            calls: counter!(CALLS_TOTAL, &labels),
            duration: histogram!(CALL_DURATION_SECONDS, &labels),
            timed: recording(),
            labels,
            errors: Slots::new(),
        }
    }
}

/// Keeps a call counted in [`IN_FLIGHT`] while it lives.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The handles of one operation.
#[derive(Debug)]
pub(crate) struct OpMetrics {
    calls: Counter,
    duration: Histogram,
    /// Whether the recorder wants durations (see [`recording`]): if not, no clock is read.
    timed: bool,
    labels: [(&'static str, String); 4],
    errors: Slots<ErrorKind, Counter, ERROR_KINDS>,
}

impl OpMetrics {
    fn start(&self) -> Option<Instant> {
        self.timed.then(Instant::now)
    }

    fn finish(&self, started: Option<Instant>, outcome: std::result::Result<(), &StoreError>) {
        self.calls.increment(1);
        if let Some(started) = started {
            self.duration.record(started.elapsed().as_secs_f64());
        }
        if let Err(err) = outcome {
            let kind = err.kind();
            match self
                .errors
                .get_or_init(kind, |kind| self.error_counter(kind))
            {
                Some(errors) => errors.increment(1),
                None => self.error_counter(kind).increment(1),
            }
        }
    }

    fn error_counter(&self, kind: ErrorKind) -> Counter {
        let [entity, op, store, store_kind] = &self.labels;
        counter!(
            CALL_ERRORS_TOTAL,
            entity.0 => entity.1.clone(),
            op.0 => op.1.clone(),
            store.0 => store.1.clone(),
            store_kind.0 => store_kind.1.clone(),
            "error" => kind.as_str(),
        )
    }
}

/// An operation's handles, kept in its context; none without a recorder (nothing is then
/// recorded, and no clock read).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op<'a>(Option<&'a OpMetrics>);

impl Op<'_> {
    /// Marks a call's start: the time, when a recorder wants durations.
    #[inline]
    pub(crate) fn start(&self) -> Option<Instant> {
        self.0.and_then(OpMetrics::start)
    }

    /// Records a call's final outcome, `started` being what [`Op::start`] gave.
    #[inline]
    pub(crate) fn finish<T>(&self, started: Option<Instant>, outcome: &Result<T>) {
        if let Some(metrics) = self.0 {
            metrics.finish(started, outcome.as_ref().map(drop));
        }
    }
}

/// The metrics of a store's retry layer.
#[derive(Debug)]
pub(crate) struct RetryMetrics {
    retries: Counter,
    refused: Counter,
}

impl RetryMetrics {
    /// The handles of `store`'s retries.
    pub(crate) fn new(store: &str) -> Self {
        RetryMetrics {
            retries: counter!(RETRIES_TOTAL, "store" => store.to_owned()),
            refused: counter!(RETRIES_REFUSED_TOTAL, "store" => store.to_owned()),
        }
    }

    /// Handles that record nothing.
    pub(crate) fn none() -> Self {
        RetryMetrics {
            retries: Counter::noop(),
            refused: Counter::noop(),
        }
    }

    /// Counts a retry made.
    pub(crate) fn retried(&self) {
        self.retries.increment(1);
    }

    /// Counts a retry the budget refused.
    pub(crate) fn refused(&self) {
        self.refused.increment(1);
    }
}

/// The counter of calls `store`'s concurrency limit refused.
pub(crate) fn limit_rejected(store: &str) -> Counter {
    counter!(LIMIT_REJECTED_TOTAL, "store" => store.to_owned())
}

/// A few values keyed by small copyable keys, each set once and then read without a lock:
/// lookups scan the set slots (a handful of loads), a new key takes the first free slot.
#[derive(Debug)]
struct Slots<K, V, const N: usize> {
    slots: [OnceLock<(K, V)>; N],
}

impl<K: Copy + PartialEq, V, const N: usize> Slots<K, V, N> {
    fn new() -> Self {
        Slots {
            slots: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The value of `key`, made by `make` if it has none; `None` when every slot is taken by
    /// other keys.
    fn get_or_init(&self, key: K, make: impl Fn(K) -> V) -> Option<&V> {
        for slot in &self.slots {
            // Another thread may fill an empty slot first, with another key: then look on.
            let (held, value) = slot.get_or_init(|| (key, make(key)));
            if *held == key {
                return Some(value);
            }
        }
        None
    }
}
