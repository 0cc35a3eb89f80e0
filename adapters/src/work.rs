//! The work a store call does on this machine's threads, tied to the call: when the call is
//! abandoned (its deadline passed, or its caller went away and dropped it), the work stops, and
//! whatever the call holds (its place among the store's calls in flight) is held until the work
//! has really ended.
//!
//! - [`blocking`] runs an engine's synchronous work on tokio's blocking pool. Dropping the
//!   future it returns raises a cancel flag that the work sees at its next [`checkpoint`];
//!   engines call that in their loops (per node, row, chunk or segment), so abandoned work ends
//!   within one step instead of running to completion.
//! - [`holding`] runs a call's future with something to keep alive for as long as any blocking
//!   work it started is running: the router passes the call's concurrency slot, so a store's
//!   `max_concurrency` bounds the work in progress, not just the callers waiting for it.
//! - [`remaining`] is the time left before the current call's deadline, set by the router with
//!   [`holding`], which server backends hand to the server as its own time limit (MongoDB's
//!   `maxTimeMS`, Elasticsearch's `timeout`), so the server stops too.
//! - [`in_call`] and [`hold`] serve backends that stop server work when a call's state is
//!   dropped outside its polls (PostgreSQL's cancel request, Neo4j's terminated transaction).
//!
//! Without a router around it (a backend used directly), a call has no deadline and holds
//! nothing; dropping its future still stops its blocking work.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Result, StoreError};

/// What a call keeps alive while its work runs (the router's concurrency slot).
pub type Hold = Arc<dyn Any + Send + Sync>;

/// When a call must be done.
#[derive(Clone, Copy, Debug)]
pub enum Deadline {
    /// At this instant.
    At(Instant),
    /// This long from now (a deadline not yet armed: the call has not waited yet).
    In(Duration),
}

/// The scope of one call: what it holds and when it must be done.
#[derive(Clone)]
struct Call {
    hold: Option<Hold>,
    deadline: Option<Deadline>,
}

tokio::task_local! {
    static CALL: Call;
}

thread_local! {
    /// The cancel flag of the blocking work running on this thread, if any.
    static CANCEL: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Runs `call` keeping `hold` alive until `call` and every piece of blocking work it started
/// with [`blocking`] have ended, with `deadline` as the call's deadline for [`remaining`].
pub async fn holding<F: Future>(
    hold: Option<Hold>,
    deadline: Option<Deadline>,
    call: F,
) -> F::Output {
    CALL.scope(Call { hold, deadline }, call).await
}

/// [`holding`] for one poll of a call's future: the router's per-attempt future polls its
/// operation through this, so no extra future wraps the operation.
#[inline]
pub fn poll_holding<R>(hold: Option<Hold>, deadline: Deadline, poll: impl FnOnce() -> R) -> R {
    CALL.sync_scope(
        Call {
            hold,
            deadline: Some(deadline),
        },
        poll,
    )
}

/// Whether this code runs inside a call (a poll of its future, see [`holding`]). A call's state
/// dropped outside its polls was abandoned: resources that must stop work then (a
/// PostgreSQL statement) check this when dropped.
pub fn in_call() -> bool {
    CALL.try_with(|_| ()).is_ok()
}

/// What the current call holds (see [`holding`]), for work that goes on after the call's future
/// is dropped and must keep it until that work has ended (stopping a statement on its server).
pub fn hold() -> Option<Hold> {
    CALL.try_with(|call| call.hold.clone()).ok().flatten()
}

/// The time left before the current call's deadline, if it has one (see [`holding`]); zero
/// once it has passed.
pub fn remaining() -> Option<Duration> {
    CALL.try_with(|call| call.deadline)
        .ok()
        .flatten()
        .map(|deadline| match deadline {
            Deadline::At(at) => at.saturating_duration_since(Instant::now()),
            Deadline::In(left) => left,
        })
}

/// The time limit to give the server for a request of the current call: the smaller of the
/// store's `configured` limit and the time left before the call's deadline ([`remaining`]),
/// and at least a millisecond (servers read a limit of zero as "none"). `None` when neither
/// is known.
pub fn time_limit(configured: Option<Duration>) -> Option<Duration> {
    let limit = match (configured, remaining()) {
        (Some(configured), Some(left)) => configured.min(left),
        (one, other) => one.or(other)?,
    };
    Some(limit.max(Duration::from_millis(1)))
}

/// Runs `work` on tokio's blocking pool and returns its result. Dropping the returned future
/// cancels the work: its next [`checkpoint`] fails, and the current call's hold (see
/// [`holding`]) is released only when the work returns.
pub async fn blocking<T, W>(work: W) -> Result<T>
where
    T: Send + 'static,
    W: FnOnce() -> Result<T> + Send + 'static,
{
    let hold = hold();
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let flag = Arc::clone(&cancel.0);
    let task = tokio::task::spawn_blocking(move || {
        let _hold = hold;
        let _current = Current::enter(flag);
        work()
    });
    let outcome = task.await;
    drop(cancel);
    outcome.map_err(|err| StoreError::backend_with("a storage task did not finish", err))?
}

/// Fails with [`StoreError::Timeout`] when the blocking work running on this thread was
/// cancelled (see [`blocking`]); engines call it between steps of long work. Outside
/// [`blocking`] it always succeeds. Costs a thread-local read and an atomic load.
pub fn checkpoint() -> Result<()> {
    if cancelled() {
        // No caller waits for this error: the call was dropped.
        Err(StoreError::Timeout {
            after: Duration::ZERO,
        })
    } else {
        Ok(())
    }
}

/// Whether the blocking work running on this thread was cancelled; for engines that stop
/// through their own hook (SQLite's progress handler) rather than an error.
pub fn cancelled() -> bool {
    CANCEL.with(|flag| {
        flag.borrow()
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    })
}

/// Raises the flag when the future waiting for the work is dropped (or has finished, when the
/// work is over anyway).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The flag of the work on this thread, cleared when the work returns or unwinds, so a pooled
/// blocking thread never sees another call's flag.
struct Current;

impl Current {
    fn enter(flag: Arc<AtomicBool>) -> Current {
        CANCEL.with(|current| *current.borrow_mut() = Some(flag));
        Current
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CANCEL.with(|current| current.borrow_mut().take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn finished_work_returns_its_result() {
        assert_eq!(blocking(|| Ok(7)).await.unwrap(), 7);
        assert!(checkpoint().is_ok(), "no flag outside blocking work");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_call_stops_the_work_and_holds_until_it_ends() {
        let steps = Arc::new(AtomicUsize::new(0));
        let hold: Hold = Arc::new(());
        let weak = Arc::downgrade(&hold);
        let (started, wait_started) = tokio::sync::oneshot::channel();
        let counted = Arc::clone(&steps);
        let call = holding(Some(hold), None, async move {
            blocking(move || -> Result<()> {
                let _ = started.send(());
                loop {
                    checkpoint()?;
                    counted.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
            .await
        });
        let abandoned = tokio::time::timeout(Duration::from_millis(50), call);
        let (outcome, _) = tokio::join!(abandoned, wait_started);
        assert!(outcome.is_err(), "the deadline passed");
        // The hold outlives the dropped call only until the work sees the flag.
        let deadline = Instant::now() + Duration::from_secs(5);
        while weak.strong_count() > 0 {
            assert!(Instant::now() < deadline, "the work did not stop");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopped_at = steps.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            steps.load(Ordering::Relaxed),
            stopped_at,
            "no step after the stop"
        );
    }

    #[tokio::test]
    async fn time_limits_take_the_smaller_and_never_zero() {
        let second = Duration::from_secs(1);
        assert_eq!(time_limit(None), None);
        assert_eq!(time_limit(Some(second)), Some(second));
        let soon = Deadline::In(Duration::from_millis(300));
        let limit = holding(None, Some(soon), async { time_limit(Some(second)) }).await;
        assert_eq!(limit, Some(Duration::from_millis(300)));
        let passed = Deadline::At(Instant::now());
        let limit = holding(None, Some(passed), async { time_limit(None) }).await;
        assert_eq!(limit, Some(Duration::from_millis(1)));
    }

    #[tokio::test]
    async fn remaining_reads_the_calls_deadline() {
        assert_eq!(remaining(), None);
        let deadline = Instant::now() + Duration::from_secs(60);
        let left = holding(None, Some(Deadline::At(deadline)), async { remaining() }).await;
        assert!(left.is_some_and(|left| left > Duration::from_secs(50)));
    }
}
