//! [`Cleanup`]: what removes a case's data from a shared server (its schema, keys, bucket)
//! when the case ends.
//!
//! A fixture keeps it in [`Fixture::guard`](crate::support::Fixture), next to the handle
//! rather than wrapped around it: nothing forwards the kind's methods, so a method added to a
//! kind's trait reaches every backend's own implementation in the suites.

use std::sync::Arc;

/// Runs its clean-up when the last holder drops it.
pub struct Cleanup(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Cleanup {
    /// Runs `clean` on a thread of its own when dropped: the test's runtime may be shutting down.
    pub fn new(clean: impl FnOnce() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Cleanup(Some(Box::new(clean))))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(clean) = self.0.take() {
            // A thread of its own, joined: the clean-up finishes before the test is reported.
            let _ = std::thread::spawn(clean).join();
        }
    }
}
