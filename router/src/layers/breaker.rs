//! [`Breaker`]: a circuit breaker per store, so calls to a store that keeps failing fail fast
//! instead of each waiting out its timeout, and the store gets room to recover.
//!
//! Closed (calls pass) → after `failures` consecutive failures → Open (calls are refused with
//! [`StoreError::Unavailable`] for `open_for`) → Half-open (one probe call passes; the others are
//! refused) → the probe succeeds: Closed; it fails: Open again. Only failures that say the store
//! is unwell count: [`StoreError::is_retryable`] (unavailable, timed out). A bad request or a
//! missing key is the caller's problem, not the store's.
//!
//! Time is passed in, so the state machine is tested without sleeping.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use polyroute_adapters::StoreError;

use ::metrics::{counter, gauge, Counter, Gauge};

use super::metrics::{BREAKER_STATE, BREAKER_TRANSITIONS_TOTAL};

/// When a breaker opens and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// How long it stays open before letting one probe through.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failures: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

/// A breaker's state, as metrics and `polyroute check` show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are refused until the open period ends.
    Open,
    /// One probe call is in flight; the others are refused.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// Its value on the [`BREAKER_STATE`] gauge: 0 closed, 1 half-open, 2 open.
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// A circuit breaker for one store.
///
/// A closed breaker costs one atomic load to pass a call and one to record its success: the
/// lock is taken only when failures are counted past the threshold or the breaker is open.
#[derive(Debug)]
pub struct Breaker {
    store: String,
    policy: BreakerPolicy,
    /// Whether the state is anything but closed.
    tripped: AtomicBool,
    /// Consecutive failures while closed.
    failures: AtomicU32,
    state: Mutex<State>,
    /// The state gauge and transition counters (see [`super::metrics`]).
    metrics: BreakerMetrics,
}

/// Leave to make one call, given by [`Breaker::admit`]; report how it went with
/// [`Breaker::record`].
#[derive(Debug)]
#[must_use = "report the call's outcome with Breaker::record"]
pub struct Admission {
    probe: bool,
}

impl Breaker {
    /// A closed breaker for `store`, reporting its state and transitions to the recorder
    /// current now.
    pub fn new(store: &str, policy: BreakerPolicy) -> Self {
        Breaker {
            metrics: BreakerMetrics::new(store),
            store: store.to_owned(),
            policy,
            tripped: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            state: Mutex::new(State::Closed),
        }
    }

    /// The state at `now` (an open breaker whose period has ended reads as half-open: the next
    /// call will be its probe).
    pub fn state(&self, now: Instant) -> BreakerState {
        if !self.tripped.load(Ordering::Acquire) {
            return BreakerState::Closed;
        }
        match &*self.lock() {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now < *until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// Lets a call through, or refuses it while the breaker is open or its probe is out.
    /// `now` is read only when the breaker is not closed.
    #[inline]
    pub fn admit(&self, now: impl FnOnce() -> Instant) -> Result<Admission, StoreError> {
        if !self.tripped.load(Ordering::Acquire) {
            return Ok(Admission { probe: false });
        }
        self.admit_tripped(now())
    }

    #[cold]
    fn admit_tripped(&self, now: Instant) -> Result<Admission, StoreError> {
        let mut state = self.lock();
        match &*state {
            State::Closed => Ok(Admission { probe: false }),
            State::Open { until } if now >= *until => {
                *state = State::HalfOpen;
                self.metrics.to(BreakerState::HalfOpen);
                Ok(Admission { probe: true })
            }
            State::Open { until } => Err(StoreError::unavailable(format!(
                "store `{}` is failing: its circuit breaker is open for {} ms more, after {} \
                 consecutive failures",
                self.store,
                until.saturating_duration_since(now).as_millis(),
                self.policy.failures
            ))),
            State::HalfOpen => Err(StoreError::unavailable(format!(
                "store `{}` is failing: its circuit breaker lets one probe call through at a \
                 time and one is in flight",
                self.store
            ))),
        }
    }

    /// Records how an admitted call went: `Ok`, or the error it failed with. `now` is read
    /// only when the outcome changes the state.
    #[inline]
    pub fn record(
        &self,
        admission: Admission,
        outcome: Result<(), &StoreError>,
        now: impl FnOnce() -> Instant,
    ) {
        let failed = matches!(outcome, Err(err) if err.is_retryable());
        if !failed && !admission.probe {
            if self.failures.load(Ordering::Relaxed) != 0 {
                self.failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        self.record_slow(admission, failed, now);
    }

    /// A probe's outcome, or a failure.
    #[cold]
    fn record_slow(&self, admission: Admission, failed: bool, now: impl FnOnce() -> Instant) {
        if admission.probe {
            let mut state = self.lock();
            if failed {
                *state = self.open(now());
            } else {
                *state = State::Closed;
                self.failures.store(0, Ordering::Relaxed);
                self.tripped.store(false, Ordering::Release);
                self.metrics.to(BreakerState::Closed);
                tracing::info!(store = %self.store, "circuit breaker closed");
            }
            return;
        }
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.policy.failures {
            let mut state = self.lock();
            // Calls admitted before the breaker opened and failing after it change nothing.
            if matches!(*state, State::Closed) {
                *state = self.open(now());
                self.failures.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Forgets a call that was admitted but will never report (it was dropped before it
    /// ended). Only a probe matters: the breaker goes back to open with its wait over, so the
    /// next call is let through as a new probe rather than every call being refused for a
    /// probe that is no longer out.
    pub fn abandon(&self, admission: Admission) {
        if !admission.probe {
            return;
        }
        let mut state = self.lock();
        if matches!(*state, State::HalfOpen) {
            *state = State::Open {
                until: Instant::now(),
            };
            self.metrics.to(BreakerState::Open);
        }
    }

    fn open(&self, now: Instant) -> State {
        tracing::warn!(store = %self.store, open_for = ?self.policy.open_for, "circuit breaker opened");
        self.tripped.store(true, Ordering::Release);
        self.metrics.to(BreakerState::Open);
        State::Open {
            until: now + self.policy.open_for,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value: a panic elsewhere cannot leave it half changed.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The metrics of a store's breaker.
#[derive(Debug)]
struct BreakerMetrics {
    state: Gauge,
    /// To closed, half-open, open.
    transitions: [Counter; 3],
}

impl BreakerMetrics {
    /// The handles of `store`'s breaker, showing it closed.
    fn new(store: &str) -> Self {
        let to = |state: BreakerState| {
            counter!(
                BREAKER_TRANSITIONS_TOTAL,
                "store" => store.to_owned(),
                "to" => state.as_str(),
            )
        };
        let metrics = BreakerMetrics {
            state: gauge!(BREAKER_STATE, "store" => store.to_owned()),
            transitions: [
                to(BreakerState::Closed),
                to(BreakerState::HalfOpen),
                to(BreakerState::Open),
            ],
        };
        metrics.state.set(BreakerState::Closed.gauge_value());
        metrics
    }

    /// Records a transition to `state`.
    fn to(&self, state: BreakerState) {
        self.state.set(state.gauge_value());
        let index = match state {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        self.transitions[index].increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            "cache",
            BreakerPolicy {
                failures: 3,
                open_for: Duration::from_secs(10),
            },
        )
    }

    fn down() -> StoreError {
        StoreError::unavailable("connection refused")
    }

    fn fail(breaker: &Breaker, now: Instant) {
        let admission = breaker.admit(|| now).unwrap();
        breaker.record(admission, Err(&down()), || now);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let (b, t0) = (breaker(), Instant::now());
        for _ in 0..3 {
            fail(&b, t0);
        }
        let later = t0 + Duration::from_secs(11);
        let probe = b.admit(|| later).unwrap();
        assert!(b.admit(|| later).is_err(), "one probe at a time");
        b.abandon(probe);
        let next = b.admit(|| later).unwrap();
        b.record(next, Ok(()), || later);
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn opens_after_consecutive_failures_and_refuses_fast() {
        let (b, t0) = (breaker(), Instant::now());
        fail(&b, t0);
        fail(&b, t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
        fail(&b, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        let err = b.admit(|| t0 + Duration::from_secs(1)).unwrap_err();
        assert!(err.is_retryable());
        assert!(err.to_string().contains("`cache`"), "{err}");
        assert!(err.to_string().contains("open"), "{err}");
    }

    #[test]
    fn a_success_resets_the_count() {
        let (b, t0) = (breaker(), Instant::now());
        fail(&b, t0);
        fail(&b, t0);
        let admission = b.admit(|| t0).unwrap();
        b.record(admission, Ok(()), || t0);
        fail(&b, t0);
        fail(&b, t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn caller_errors_do_not_count() {
        let (b, t0) = (breaker(), Instant::now());
        for _ in 0..10 {
            let admission = b.admit(|| t0).unwrap();
            b.record(admission, Err(&StoreError::invalid("bad key")), || t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn one_probe_after_the_open_period_closes_or_reopens_it() {
        let (b, t0) = (breaker(), Instant::now());
        for _ in 0..3 {
            fail(&b, t0);
        }
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        let probe = b.admit(|| later).unwrap();
        // While the probe is out, others are refused.
        assert!(b.admit(|| later).unwrap_err().to_string().contains("probe"));
        b.record(probe, Err(&down()), || later);
        assert_eq!(b.state(later), BreakerState::Open);
        let again = later + Duration::from_secs(10);
        let probe = b.admit(|| again).unwrap();
        b.record(probe, Ok(()), || again);
        assert_eq!(b.state(again), BreakerState::Closed);
        assert!(b.admit(|| again).is_ok());
    }

    #[test]
    fn late_outcomes_do_not_reset_an_open_breaker() {
        let (b, t0) = (breaker(), Instant::now());
        let slow = b.admit(|| t0).unwrap();
        for _ in 0..3 {
            fail(&b, t0);
        }
        b.record(slow, Ok(()), || t0 + Duration::from_secs(1));
        assert_eq!(b.state(t0 + Duration::from_secs(1)), BreakerState::Open);
    }
}
