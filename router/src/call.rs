//! [`CallContext`]: the one path every store call takes, whatever the kind.
//!
//! Each handle owns a context naming its entity, store and kind, and the deadline that applies
//! to it. [`CallContext::call`] applies the deadline and records a `tracing` span; layers such
//! as retry, circuit breaking and metrics belong here, written once for every kind.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use polyroute_adapters::{Result, StoreError, StoreKind};
use tracing::Instrument;

/// Who a call is for and the deadline it gets. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CallContext {
    target: Arc<Target>,
}

#[derive(Debug)]
struct Target {
    entity: Option<String>,
    store: String,
    kind: StoreKind,
    timeout: Duration,
}

impl CallContext {
    /// The context of calls on `entity`, routed to `store` of `kind`.
    pub fn for_entity(entity: &str, store: &str, kind: StoreKind, timeout: Duration) -> Self {
        CallContext::new(Some(entity), store, kind, timeout)
    }

    /// The context of calls on a store itself (such as a ping), outside any entity.
    pub fn for_store(store: &str, kind: StoreKind, timeout: Duration) -> Self {
        CallContext::new(None, store, kind, timeout)
    }

    fn new(entity: Option<&str>, store: &str, kind: StoreKind, timeout: Duration) -> Self {
        CallContext {
            target: Arc::new(Target {
                entity: entity.map(str::to_owned),
                store: store.to_owned(),
                kind,
                timeout,
            }),
        }
    }

    /// The entity, if this context is for one.
    pub fn entity(&self) -> Option<&str> {
        self.target.entity.as_deref()
    }

    /// The store's name.
    pub fn store(&self) -> &str {
        &self.target.store
    }

    /// The store's kind.
    pub fn kind(&self) -> StoreKind {
        self.target.kind
    }

    /// The deadline of each call.
    pub fn timeout(&self) -> Duration {
        self.target.timeout
    }

    /// Runs `operation` (named `op` in traces) within the deadline: past it, the operation is
    /// dropped and the call fails with [`StoreError::Timeout`]. Dropping may leave the operation
    /// half done in the store, as any timeout can.
    ///
    /// Needs a tokio runtime with its time driver enabled.
    pub async fn call<T, F>(&self, op: &'static str, operation: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let target = &self.target;
        let span = tracing::debug_span!(
            "polyroute.call",
            entity = target.entity.as_deref().unwrap_or("-"),
            store = %target.store,
            kind = %target.kind,
            op,
        );
        async move {
            let mut operation = std::pin::pin!(operation);
            // A first poll without a timer: a call that completes at once (an in-process store
            // answering from memory) needs none, and arming one costs more than such a call. A
            // timer could not have interrupted that poll either; the deadline counts from the
            // first time the call waits.
            let first = std::future::poll_fn(|cx| match operation.as_mut().poll(cx) {
                Poll::Ready(outcome) => Poll::Ready(Some(outcome)),
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            let outcome = match first {
                Some(outcome) => outcome,
                None => match tokio::time::timeout(target.timeout, operation).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(StoreError::Timeout {
                        after: target.timeout,
                    }),
                },
            };
            if let Err(err) = &outcome {
                tracing::debug!(error.kind = err.kind().as_str(), error = %err, "call failed");
            }
            outcome
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_results_through() {
        let context =
            CallContext::for_entity("e", "s", StoreKind::KeyValue, Duration::from_secs(5));
        assert_eq!(context.call("op", async { Ok(3) }).await.unwrap(), 3);
        let err = context
            .call("op", async { Err::<(), _>(StoreError::not_found("k")) })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
        assert_eq!(context.entity(), Some("e"));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_time_out() {
        let context = CallContext::for_store("s", StoreKind::Graph, Duration::from_millis(10));
        let err = context
            .call("op", async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Timeout { after } if after == Duration::from_millis(10)),
            "{err}"
        );
    }
}
