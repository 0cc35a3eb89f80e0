//! [`StoreLayers`]: the layers one store's calls pass through, in their order, shared by every
//! entity routed to the store (a breaker or a limit is about the store, not about one entity).
//!
//! Order, outermost first: metrics → limit → breaker → retry → timeout → store.
//!
//! - **metrics** ([`super::metrics`]) sees every call once, at its final outcome, including the
//!   calls the limit or the breaker refuse (counted as errors of their kind, `unavailable`), and
//!   times the whole call, retries and their pauses included;
//! - the **limit** counts a call once however many attempts it makes;
//! - the **breaker** sees each call's final outcome, so a call that succeeded on its second
//!   attempt is a success;
//! - **retry** runs inside them: only idempotent calls, only failures that say "try again";
//! - each attempt gets its own **timeout**, so a hung attempt is abandoned and retried rather
//!   than eating the whole call.
//!
//! The metrics layer lives in the call path ([`crate::CallContext`]) rather than here because
//! its series are per entity and operation; the store-level series (breaker, retries, limit)
//! are reported by the layers below.

use std::mem::ManuallyDrop;
use std::time::Instant;

use polyroute_adapters::{Result, StoreError};

use super::breaker::{Admission, Breaker, BreakerPolicy, BreakerState};
use super::limit::{Limit, Slot};
use super::retry::{Retry, RetryPolicy};

/// Which layers a store's calls go through (`[policy]` in the config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerPolicy {
    /// Retries of idempotent calls; `None`: never retry.
    pub retry: Option<RetryPolicy>,
    /// The circuit breaker; `None`: none.
    pub breaker: Option<BreakerPolicy>,
    /// Calls in flight per store; `None`: unlimited.
    pub max_in_flight: Option<usize>,
}

impl Default for LayerPolicy {
    fn default() -> Self {
        LayerPolicy {
            retry: Some(RetryPolicy::default()),
            breaker: Some(BreakerPolicy::default()),
            max_in_flight: None,
        }
    }
}

/// The layers of one store.
#[derive(Debug, Default)]
pub struct StoreLayers {
    limit: Option<Limit>,
    breaker: Option<Breaker>,
    retry: Option<Retry>,
}

/// What [`StoreLayers::enter`] holds for a call until it ends: its slot in the limit, and
/// its admission by the breaker. Dropped without [`StoreLayers::leave`] (the call was
/// cancelled), it frees the slot and tells the breaker the call will not report.
#[derive(Debug)]
pub(crate) struct Entered<'a> {
    slot: Option<Slot>,
    admission: Option<(&'a Breaker, Admission)>,
}

impl Entered<'_> {
    /// What the call's work keeps alive: its slot, when the store has a limit.
    #[inline]
    pub(crate) fn hold(&self) -> Option<polyroute_adapters::work::Hold> {
        self.slot.as_ref().map(Slot::hold)
    }

    /// Records the call's final outcome with the breaker and frees its slot.
    #[inline]
    pub(crate) fn leave<T>(self, outcome: &Result<T>) {
        // Taken apart here rather than dropped: its `Drop` is for calls that never leave.
        let mut this = ManuallyDrop::new(self);
        drop(this.slot.take());
        if let Some((breaker, admission)) = this.admission.take() {
            let outcome: std::result::Result<(), &StoreError> = match outcome {
                Ok(_) => Ok(()),
                Err(err) => Err(err),
            };
            breaker.record(admission, outcome, Instant::now);
        }
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some((breaker, admission)) = self.admission.take() {
            breaker.abandon(admission);
        }
    }
}

impl StoreLayers {
    /// The layers `policy` asks for, for store `store`.
    pub fn new(store: &str, policy: &LayerPolicy) -> Self {
        StoreLayers {
            limit: policy.max_in_flight.map(|most| Limit::new(store, most)),
            breaker: policy.breaker.map(|policy| Breaker::new(store, policy)),
            retry: policy.retry.map(|policy| Retry::for_store(store, policy)),
        }
    }

    /// No layers: calls go straight to the deadline and the store.
    pub fn none() -> Self {
        StoreLayers::default()
    }

    /// The breaker's state now, if the store has one.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.breaker
            .as_ref()
            .map(|breaker| breaker.state(Instant::now()))
    }

    /// Calls in flight now, if the store has a limit.
    pub fn in_flight(&self) -> Option<usize> {
        self.limit.as_ref().map(Limit::in_flight)
    }

    /// Passes the limit and the breaker, or refuses the call at once.
    #[inline(always)]
    pub(crate) fn enter(&self) -> Result<Entered<'_>> {
        let slot = self.limit.as_ref().map(Limit::enter).transpose()?;
        let admission = match &self.breaker {
            Some(breaker) => Some((breaker, breaker.admit(Instant::now)?)),
            None => None,
        };
        Ok(Entered { slot, admission })
    }

    /// The retry layer, if calls are retried.
    #[inline]
    pub(crate) fn retry(&self) -> Option<&Retry> {
        self.retry.as_ref()
    }
}
