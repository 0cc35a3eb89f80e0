//! The wide-column write clock every backend of the kind stamps writes with: microseconds since
//! the epoch, never repeating and never going back within the process.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch, never repeating and never going back within the process, so
/// two writes of one process without explicit timestamps always apply in call order.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last: AtomicI64,
}

impl Clock {
    /// The next timestamp: now, or just after the last one handed out if that is later.
    pub(crate) fn next(&self) -> i64 {
        let wall = now_micros();
        let previous = self
            .last
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(wall.max(last.saturating_add(1)))
            })
            .unwrap_or(wall);
        wall.max(previous.saturating_add(1))
    }
}

/// The wall clock in microseconds since the epoch: what expiry is measured against.
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
