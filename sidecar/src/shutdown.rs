//! Graceful shutdown: the signal that starts it (SIGTERM or Ctrl-C) and the flag that tells
//! `/readyz` to turn callers away while in-flight requests drain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Shared shutdown state: set once, seen by readiness and by the server.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    draining: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Shutdown {
    /// A state that is not shutting down.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Starts shutting down (idempotent).
    pub fn trigger(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Resolves once shutdown has started.
    pub async fn started(&self) {
        let notified = self.notify.notified();
        if self.is_draining() {
            return;
        }
        notified.await;
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). If a handler cannot be installed, resolves never for
/// that signal rather than shutting down at once.
pub async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn started_resolves_after_trigger_even_if_late() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.is_draining());
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.started().await }
        });
        tokio::task::yield_now().await;
        shutdown.trigger();
        waiter.await.unwrap();
        shutdown.started().await;
        assert!(shutdown.is_draining());
    }
}
