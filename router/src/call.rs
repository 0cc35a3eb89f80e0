//! [`CallContext`]: the one path every store call takes, whatever the kind.
//!
//! Each handle owns a context naming its entity, store and kind, the deadline that applies to
//! it (per operation where the entity's `timeouts` say so), and its store's [`StoreLayers`].
//! Every call goes metrics → limit → breaker → retry (idempotent calls only) → hedge (the reads
//! the entity's `hedge` names) → deadline → store, each attempt in a `tracing` span: written
//! once here, for every kind.
//!
//! The common case is kept cheap: the first attempt is polled directly, and the retry loop is
//! entered only when it fails with an error worth retrying; the breaker's closed path is a
//! load on admission and one on the outcome; metric handles are resolved once per operation,
//! and without a recorder installed when the router was built, nothing is recorded and no
//! clock read for it. A store that answers at once is asked that way by
//! [`CallContext::try_now`]: the same layers around a synchronous answer, no future at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use polyroute_adapters::work::{self, Deadline, Hold};
use polyroute_adapters::{Result, StoreError, StoreKind};

use crate::layers::hedge::{race, HedgeEvent};
use crate::layers::metrics::{CallMetrics, InFlight, Op, NO_ENTITY};
use crate::layers::{Entered, StoreLayers};
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
    ops: OpPolicy,
}

/// What an entity sets per operation: deadlines that replace its `timeout`, and the reads it
/// hedges. Empty by default, which costs a call nothing but a length check.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpPolicy {
    /// `(op, deadline)` pairs, each op once.
    pub(crate) timeouts: Vec<(&'static str, Duration)>,
    /// When and which reads are hedged.
    pub(crate) hedge: Option<Hedge>,
}

/// A resolved hedge: the delay and the reads it applies to.
#[derive(Clone, Debug)]
pub(crate) struct Hedge {
    /// How long the first attempt may take before a second is sent.
    pub(crate) after: Duration,
    /// The hedged operations (reads of the entity's kind).
    pub(crate) ops: Vec<&'static str>,
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
        CallContext::with(
            entity,
            store,
            kind,
            timeout,
            Arc::new(StoreLayers::none()),
            OpPolicy::default(),
        )
    }

    /// The context, its call metrics resolved against the recorder current now.
    fn with(
        entity: Option<&str>,
        store: &str,
        kind: StoreKind,
        timeout: Duration,
        layers: Arc<StoreLayers>,
        ops: OpPolicy,
    ) -> Self {
        CallContext {
            target: Arc::new(Target {
                metrics: CallMetrics::new(entity.unwrap_or(NO_ENTITY), store, kind.as_str()),
                entity: entity.map(str::to_owned),
                store: store.to_owned(),
                kind,
                timeout,
                layers,
                ops,
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
            target.ops.clone(),
        )
    }

    /// This context with per-operation deadlines and hedging.
    pub(crate) fn with_ops(self, ops: OpPolicy) -> Self {
        let target = &*self.target;
        CallContext::with(
            target.entity.as_deref(),
            &target.store,
            target.kind,
            target.timeout,
            Arc::clone(&target.layers),
            ops,
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

    /// The deadline of each call (of operations without their own, see
    /// [`CallContext::timeout_for`]).
    pub fn timeout(&self) -> Duration {
        self.target.timeout
    }

    /// The deadline of each attempt of operation `op`: the entity's `timeouts` entry for it,
    /// or its `timeout`.
    pub fn timeout_for(&self, op: &str) -> Duration {
        self.target.timeout_for(op)
    }

    /// How long a read `op` waits before it is hedged, if it is.
    pub fn hedge_after(&self, op: &str) -> Option<Duration> {
        self.target.hedge_for(op)
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
        let admitted = self.admit(op)?;
        let outcome = self.attempt(op, operation, admitted.hold()).await;
        admitted.finish(&outcome);
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
        let admitted = self.admit(op)?;
        let retry = self.target.layers.retry();
        if let Some(retry) = retry {
            retry.deposit();
        }
        // The first attempt is awaited here, not inside the retry loop: a call that succeeds
        // at once never builds the loop's future.
        let hold = admitted.hold();
        let outcome = match self.target.hedge_for(op) {
            None => match (self.attempt(op, make(), hold.clone()).await, retry) {
                (Err(err), Some(retry)) if err.is_retryable() => {
                    retry
                        .after(err, || self.attempt(op, make(), hold.clone()))
                        .await
                }
                (outcome, _) => outcome,
            },
            Some(after) => {
                // Both racing attempts make their future from `make`; the lock is held only
                // while one is made, never across an await.
                let make = Mutex::new(make);
                match (self.hedged(op, after, &make, &hold).await, retry) {
                    (Err(err), Some(retry)) if err.is_retryable() => {
                        retry
                            .after(err, || self.hedged(op, after, &make, &hold))
                            .await
                    }
                    (outcome, _) => outcome,
                }
            }
        };
        admitted.finish(&outcome);
        outcome
    }

    /// Runs `op` at once, without a future, when the store can answer without waiting: `now`
    /// asks it (`None`: it cannot), inside the same layers, span and metrics as any call.
    /// `None` when the call has to go the asynchronous way instead: the store cannot answer
    /// now, the read is hedged, or its answer is a failure worth retrying (the asynchronous
    /// call then makes its attempts afresh, the failed answer uncounted).
    #[inline]
    pub fn try_now<T>(
        &self,
        op: &'static str,
        now: impl FnOnce() -> Option<Result<T>>,
    ) -> Option<Result<T>> {
        if self.target.hedge_for(op).is_some() {
            return None;
        }
        let admitted = match self.admit(op) {
            Ok(admitted) => admitted,
            Err(refused) => return Some(Err(refused)),
        };
        // The answer is only looked at here, and moved once, out: an in-process read is
        // cheap enough that copying its result around shows. Returning `None` drops the
        // admission unfinished: the call is not counted, and goes the asynchronous way.
        let answer = self.answer_now(op, now);
        let outcome = answer.as_ref()?;
        let retry = self.target.layers.retry();
        if retry.is_some() && matches!(outcome, Err(err) if err.is_retryable()) {
            return None;
        }
        if let Some(retry) = retry {
            retry.deposit();
        }
        admitted.finish(outcome);
        answer
    }

    /// Admits a call of `op`: starts its metrics, passes the store's limit and breaker, and
    /// counts it in flight. A refused call is recorded as finished with the refusal.
    #[inline(always)]
    fn admit(&self, op: &'static str) -> Result<Admitted<'_>> {
        let target = &*self.target;
        let metrics = target.metrics.op(op);
        let started = metrics.start();
        match target.layers.enter() {
            Ok(entered) => Ok(Admitted {
                in_flight: target.metrics.in_flight(),
                entered,
                metrics,
                started,
            }),
            Err(refused) => {
                let refused = Err(refused);
                metrics.finish(started, &refused);
                refused
            }
        }
    }

    /// One hedged attempt: a second attempt is sent if the first has not answered after
    /// `after`, and the first success of the two is taken.
    async fn hedged<T, F, Fut>(
        &self,
        op: &'static str,
        after: Duration,
        make: &Mutex<F>,
        hold: &Option<Hold>,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let first = self.attempt(op, next_attempt(make), hold.clone());
        race(
            after,
            first,
            || self.attempt(op, next_attempt(make), hold.clone()),
            |event| self.count_hedge(op, event),
        )
        .await
    }

    fn count_hedge(&self, op: &'static str, event: HedgeEvent) {
        metrics::counter!(
            "polyroute_hedges_total",
            "entity" => self.target.entity.clone().unwrap_or_else(|| "-".to_owned()),
            "op" => op,
            "outcome" => event.as_str(),
        )
        .increment(1);
    }

    /// One attempt: the operation inside its span, against its deadline.
    ///
    /// The deadline counts from the first time the operation has to wait: a call that an
    /// in-process store answers on its first poll never arms a timer (arming one costs more
    /// than such a call), and a timer could not have interrupted that poll anyway.
    ///
    /// The operation is polled holding `hold` (the call's slot) and with the attempt's
    /// deadline, for the blocking work and server requests it starts (see
    /// [`polyroute_adapters::work`]).
    #[inline]
    fn attempt<T, F>(&self, op: &'static str, operation: F, hold: Option<Hold>) -> Call<F>
    where
        F: Future<Output = Result<T>>,
    {
        Call {
            operation,
            hold,
            deadline: None,
            timeout: self.target.timeout_for(op),
            span: self.span(op),
        }
    }

    /// The store's answer to `op` from `now`, given at once and inside the call's span, or
    /// `None` when the store cannot answer without waiting.
    #[inline]
    fn answer_now<T>(
        &self,
        op: &'static str,
        now: impl FnOnce() -> Option<Result<T>>,
    ) -> Option<Result<T>> {
        let span = self.span(op);
        let _entered = span.as_ref().map(Span::enter);
        let answer = now();
        if let Some(Err(err)) = &answer {
            failed(err);
        }
        answer
    }

    /// The span of one attempt of `op`, when a subscriber wants debug spans: even a disabled
    /// span costs a few tens of nanoseconds to carry through a call answered from memory.
    #[inline]
    fn span(&self, op: &'static str) -> Option<Span> {
        if !tracing::level_enabled!(tracing::Level::DEBUG) {
            return None;
        }
        Some(self.new_span(op))
    }

    #[cold]
    fn new_span(&self, op: &'static str) -> Span {
        let target = &*self.target;
        tracing::debug_span!(
            "polyroute.call",
            entity = target.entity.as_deref().unwrap_or("-"),
            store = %target.store,
            kind = %target.kind,
            op,
        )
    }
}

/// Traces an attempt's failure.
#[cold]
fn failed(err: &StoreError) {
    tracing::debug!(error.kind = err.kind().as_str(), error = %err, "call failed");
}

/// A call between admission and outcome: its metrics, its place in the store's limit and
/// breaker, and its count in flight. [`Admitted::finish`] records the outcome with each, in
/// the order the layers were entered, reversed; dropped unfinished (the call was cancelled,
/// or goes another way), the slot is freed, the breaker told the call will not report, and
/// nothing is counted.
struct Admitted<'a> {
    in_flight: Option<InFlight<'a>>,
    entered: Entered<'a>,
    metrics: Op<'a>,
    started: Option<Instant>,
}

impl Admitted<'_> {
    /// What the call's work keeps alive: its slot, when the store has a limit.
    #[inline]
    fn hold(&self) -> Option<Hold> {
        self.entered.hold()
    }

    /// Records the call's final outcome.
    #[inline(always)]
    fn finish<T>(self, outcome: &Result<T>) {
        let Admitted {
            in_flight,
            entered,
            metrics,
            started,
        } = self;
        drop(in_flight);
        entered.leave(outcome);
        metrics.finish(started, outcome);
    }
}

impl Target {
    #[inline]
    fn timeout_for(&self, op: &str) -> Duration {
        if self.ops.timeouts.is_empty() {
            return self.timeout;
        }
        self.ops
            .timeouts
            .iter()
            .find(|(name, _)| *name == op)
            .map_or(self.timeout, |(_, timeout)| *timeout)
    }

    #[inline]
    fn hedge_for(&self, op: &str) -> Option<Duration> {
        let hedge = self.ops.hedge.as_ref()?;
        hedge.ops.contains(&op).then_some(hedge.after)
    }
}

/// The next attempt's future from the shared maker.
fn next_attempt<F, Fut>(make: &Mutex<F>) -> Fut
where
    F: FnMut() -> Fut,
{
    let mut make = make.lock().unwrap_or_else(PoisonError::into_inner);
    (*make)()
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
        // What the operation's blocking work keeps alive (the call's slot).
        hold: Option<Hold>,
    }
}

impl<T, F> Future for Call<F>
where
    F: Future<Output = Result<T>>,
{
    type Output = Result<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.as_ref().map(Span::enter);
        let deadline = match this.deadline {
            Some(sleep) => Deadline::At(sleep.deadline().into_std()),
            None => Deadline::In(*this.timeout),
        };
        let operation = this.operation;
        let polled = work::poll_holding(this.hold.clone(), deadline, || operation.poll(cx));
        if let Poll::Ready(outcome) = polled {
            if let Err(err) = &outcome {
                failed(err);
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
                failed(&err);
                Poll::Ready(Err(err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::breaker::{BreakerPolicy, BreakerState};
    use crate::layers::LayerPolicy;

    #[tokio::test]
    async fn a_cancelled_probe_does_not_keep_the_breaker_half_open() {
        let policy = LayerPolicy {
            retry: None,
            breaker: Some(BreakerPolicy {
                failures: 1,
                open_for: Duration::from_millis(20),
            }),
            max_in_flight: None,
        };
        let context = CallContext::for_store("s", StoreKind::KeyValue, Duration::from_secs(5))
            .with_layers(Arc::new(StoreLayers::new("s", &policy)));
        let down = context
            .call("op", async {
                Err::<(), _>(StoreError::unavailable("down"))
            })
            .await;
        assert!(down.is_err());
        assert_eq!(context.layers().breaker_state(), Some(BreakerState::Open));
        tokio::time::sleep(Duration::from_millis(30)).await;
        // The probe is let through, then dropped before the store answers.
        let probe = context.call("op", std::future::pending::<Result<()>>());
        assert!(tokio::time::timeout(Duration::from_millis(5), probe)
            .await
            .is_err());
        // The next call is the new probe, and its success closes the breaker.
        context.call("op", async { Ok(()) }).await.unwrap();
        assert_eq!(context.layers().breaker_state(), Some(BreakerState::Closed));
    }

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
