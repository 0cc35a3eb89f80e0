//! [`Clock`]: the wall-clock time cache entries are stamped with.
//!
//! Fresh-until times are shared by every process using the cache store, so they are wall-clock
//! milliseconds. The clock reads the system time once, when the cache is built, and advances it
//! by tokio's monotonic clock: a system clock stepped while the process runs does not make
//! every entry fresh or stale at once, and tests with paused tokio time control it.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Milliseconds since the Unix epoch, advancing with tokio's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    base_ms: u64,
    base: Instant,
}

impl Clock {
    /// A clock starting at the system time now.
    pub(crate) fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Clock {
            base_ms,
            base: Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch now.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_ms.saturating_add(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn it_follows_tokio_time() {
        let clock = Clock::new();
        let start = clock.now_ms();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(clock.now_ms() - start, 1500);
    }
}
