//! [`Limit`]: at most so many calls in flight per store; past that, calls are refused at once
//! (load shedding) rather than queued, so a saturated store sheds load instead of building a
//! queue that times out anyway.

use std::sync::Arc;

use ::metrics::Counter;
use polyroute_adapters::StoreError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The concurrency limit of one store.
#[derive(Debug)]
pub struct Limit {
    store: String,
    most: usize,
    permits: Arc<Semaphore>,
    /// Counts refused calls (see [`super::metrics`]).
    rejected: Counter,
}

/// A place among the calls in flight, given back when the call and every piece of blocking
/// work it started have ended (the work holds a clone, see
/// [`polyroute_adapters::work::holding`]).
#[derive(Clone, Debug)]
pub struct Slot(Arc<OwnedSemaphorePermit>);

impl Slot {
    /// The slot as something the call's work keeps alive.
    pub fn hold(&self) -> polyroute_adapters::work::Hold {
        Arc::clone(&self.0) as _
    }
}

impl Limit {
    /// At most `most` calls in flight on `store`, counting refusals in the recorder current
    /// now.
    pub fn new(store: &str, most: usize) -> Self {
        Limit {
            rejected: super::metrics::limit_rejected(store),
            store: store.to_owned(),
            most,
            permits: Arc::new(Semaphore::new(most)),
        }
    }

    /// A slot, or [`StoreError::Unavailable`] at once when every slot is taken.
    pub fn enter(&self) -> Result<Slot, StoreError> {
        Arc::clone(&self.permits)
            .try_acquire_owned()
            .map(|permit| Slot(Arc::new(permit)))
            .map_err(|_| {
                self.rejected.increment(1);
                StoreError::unavailable(format!(
                    "store `{}` is saturated: {} calls are in flight, its limit; the call was \
                     refused rather than queued",
                    self.store, self.most
                ))
            })
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.most - self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_frees_slots_on_drop() {
        let limit = Limit::new("main", 2);
        let first = limit.enter().unwrap();
        let _second = limit.enter().unwrap();
        assert_eq!(limit.in_flight(), 2);
        let err = limit.enter().unwrap_err();
        assert!(err.is_retryable());
        assert!(err.to_string().contains("saturated"), "{err}");
        drop(first);
        assert!(limit.enter().is_ok());
    }
}
