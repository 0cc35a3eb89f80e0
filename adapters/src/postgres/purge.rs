//! The periodic clean-up of the kinds whose rows expire (key-value TTLs, time-series retention,
//! wide-column tombstones): one task per entity handle, running its purge every interval while
//! the handle lives.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::Result;

/// Runs `purge` on the handle now and then every `interval`, until the handle is dropped;
/// a failure is logged as `what` failing, and the next tick tries again.
pub(crate) fn spawn_purge<T, F, Fut>(
    handle: Weak<T>,
    interval: Duration,
    what: &'static str,
    purge: F,
) where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(handle) = handle.upgrade() else {
                return;
            };
            if let Err(err) = purge(handle).await {
                tracing::warn!(error = %err, "{what} failed");
            }
        }
    });
}
