//! [`CallContext`]: the one path every store call takes, whatever the kind.
//!
//! Each handle owns a context naming its entity, store and kind, the deadline that applies to
//! it, and its store's [`StoreLayers`]. Every call goes metrics → limit → breaker → retry
//! (idempotent calls only) → deadline → store, each attempt in a `tracing` span: written once
//! here, for every kind.
//!
//! The common case is kept cheap: the first attempt is polled directly, and the retry loop is
//! entered only when it fails with an error worth retrying; metric handles are resolved once
//! per operation, and no clock is read for them unless a recorder is installed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use polyroute_adapters::{Result, StoreError, StoreKind};

use crate::layers::metrics::{CallMetrics, NO_ENTITY};
use crate::layers::StoreLayers;
use tokio::time::Sleep;
use tracing::Span;

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
    layers: Arc<StoreLayers>,
    metrics: CallMetrics,
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
        CallContext::with(entity, store, kind, timeout, Arc::new(StoreLayers::none()))
    }

    /// The context, its call metrics resolved against the recorder current now.
    fn with(
        entity: Option<&str>,
        store: &str,
        kind: StoreKind,
        timeout: Duration,
        layers: Arc<StoreLayers>,
    ) -> Self {
        CallContext {
            target: Arc::new(Target {
                metrics: CallMetrics::new(entity.unwrap_or(NO_ENTITY), store, kind.as_str()),
                entity: entity.map(str::to_owned),
                store: store.to_owned(),
                kind,
                timeout,
                layers,
            }),
        }
    }

    /// This context with calls going through `layers` (its store's limit, breaker and retry).
    pub fn with_layers(self, layers: Arc<StoreLayers>) -> Self {
        let target = &*self.target;
        CallContext::with(
            target.entity.as_deref(),
            &target.store,
            target.kind,
            target.timeout,
            layers,
        )
    }

    /// The layers calls go through.
    pub fn layers(&self) -> &StoreLayers {
        &self.target.layers
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

    /// Runs `operation` (named `op` in traces and metrics) once, through the store's limit and
    /// breaker, within the deadline: past it, the operation is dropped and the call fails with
    /// [`StoreError::Timeout`]. Dropping may leave the operation half done in the store, as
    /// any timeout can. For operations that must not run twice (an increment, an insert that
    /// conflicts when present, SQL that may write).
    ///
    /// Needs a tokio runtime with its time driver enabled.
    pub async fn call<T, F>(&self, op: &'static str, operation: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let target = &*self.target;
        let metrics = target.metrics.op(op);
        let started = metrics.start();
        let outcome = match target.layers.enter() {
            Ok(entered) => {
                let in_flight = target.metrics.in_flight();
                let outcome = self.attempt(op, operation).await;
                drop(in_flight);
                target.layers.leave(entered, &outcome);
                outcome
            }
            Err(refused) => Err(refused),
        };
        metrics.finish(started, &outcome);
        outcome
    }

    /// Like [`CallContext::call`], for operations that are safe to run again (reads, and writes
    /// that land the same however often they run): `make` makes one attempt, and a failure
    /// that says "try again" is retried as the store's retry policy allows, each attempt
    /// within its own deadline.
    pub async fn call_idempotent<T, F, Fut>(&self, op: &'static str, mut make: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let target = &*self.target;
        let metrics = target.metrics.op(op);
        let started = metrics.start();
        let outcome = match target.layers.enter() {
            Ok(entered) => {
                let in_flight = target.metrics.in_flight();
                let retry = target.layers.retry();
                if let Some(retry) = retry {
                    retry.deposit();
                }
                // The first attempt is awaited here, not inside the retry loop: a call that
                // succeeds at once never builds the loop's future.
                let outcome = match (self.attempt(op, make()).await, retry) {
                    (Err(err), Some(retry)) if err.is_retryable() => {
                        retry.after(err, || self.attempt(op, make())).await
                    }
                    (outcome, _) => outcome,
                };
                drop(in_flight);
                target.layers.leave(entered, &outcome);
                outcome
            }
            Err(refused) => Err(refused),
        };
        metrics.finish(started, &outcome);
        outcome
    }

    /// One attempt: the operation inside its span, against its deadline.
    ///
    /// The deadline counts from the first time the operation has to wait: a call that an
    /// in-process store answers on its first poll never arms a timer (arming one costs more
    /// than such a call), and a timer could not have interrupted that poll anyway.
    fn attempt<T, F>(&self, op: &'static str, operation: F) -> Call<F>
    where
        F: Future<Output = Result<T>>,
    {
        let target = &*self.target;
        // Only built when a subscriber wants debug spans: even a disabled span costs a few
        // tens of nanoseconds to carry through a call answered from memory.
        let span = tracing::level_enabled!(tracing::Level::DEBUG).then(|| {
            tracing::debug_span!(
                "polyroute.call",
                entity = target.entity.as_deref().unwrap_or("-"),
                store = %target.store,
                kind = %target.kind,
                op,
            )
        });
        Call {
            operation,
            deadline: None,
            timeout: target.timeout,
            span,
        }
    }
}

pin_project! {
    /// One attempt of a call: the operation, inside its span, against its deadline.
    #[must_use = "a call does nothing unless awaited"]
    struct Call<F> {
        #[pin]
        operation: F,
        // Armed the first time the operation returns `Pending`; boxed so that a call answered
        // at once carries no timer state.
        deadline: Option<Pin<Box<Sleep>>>,
        timeout: Duration,
        span: Option<Span>,
    }
}

impl<T, F> Future for Call<F>
where
    F: Future<Output = Result<T>>,
{
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.as_ref().map(Span::enter);
        if let Poll::Ready(outcome) = this.operation.poll(cx) {
            if let Err(err) = &outcome {
                tracing::debug!(error.kind = err.kind().as_str(), error = %err, "call failed");
            }
            return Poll::Ready(outcome);
        }
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(*this.timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let err = StoreError::Timeout {
                    after: *this.timeout,
                };
                tracing::debug!(error.kind = err.kind().as_str(), error = %err, "call failed");
                Poll::Ready(Err(err))
            }
            Poll::Pending => Poll::Pending,
        }
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
