//! [`Retry`]: calls that failed for a passing reason are tried again, after a growing, random
//! pause, within a budget that keeps retries from multiplying the load on a store in trouble.
//!
//! - Only errors that say "try again" are retried ([`StoreError::is_retryable`]: unavailable,
//!   timed out); a bad request fails the same way every time.
//! - Only idempotent operations are retried: a read, or a write that lands the same however many
//!   times it runs. The caller says which.
//! - The pause before retry *n* is uniform in `[0, min(cap, base · 2ⁿ⁻¹)]` ("full jitter"), so
//!   clients that failed together do not come back together.
//! - The [`RetryBudget`] lets retries add at most `ratio` of the calls made (plus a small floor
//!   per second, so a quiet entity can still retry): in an outage every call fails, and without
//!   a budget each would be made `attempts` times, multiplying the load exactly when the store
//!   can least take it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use polyroute_adapters::{Result, StoreError};

use super::metrics::RetryMetrics;

/// How many times, how far apart, and within which budget calls are retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub attempts: u32,
    /// The pause bound before the first retry; it doubles with each retry.
    pub base: Duration,
    /// The most any pause bound grows to.
    pub cap: Duration,
    /// Retries may add at most this fraction of the calls made (0.1 = 10% more load).
    pub budget_ratio: f64,
    /// Retries allowed per second whatever the ratio, so a quiet entity can retry too.
    pub budget_floor_per_second: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(20),
            cap: Duration::from_secs(1),
            budget_ratio: 0.1,
            budget_floor_per_second: 10,
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (1 for the first), given a uniform random number
    /// in `[0, 1)`.
    pub fn pause(&self, retry: u32, unit: f64) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        let bound = self.base.saturating_mul(1 << doublings).min(self.cap);
        bound.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Tokens for retries: each call deposits `ratio` of one, each retry spends one; a floor
/// refills at `floor_per_second` up to one second's worth. Counted in thousandths of a token,
/// so that ten deposits of 0.1 make exactly one. A deposit is one atomic add: every call makes
/// one, retries are rare.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: u64,
    floor_per_second: u64,
    earned: AtomicU64,
    floor: Mutex<Floor>,
}

#[derive(Debug)]
struct Floor {
    tokens: u64,
    refilled: Instant,
}

/// One token, in thousandths.
const TOKEN: u64 = 1000;

/// The most tokens calls can bank, so a long quiet spell cannot turn into a burst of retries.
const MOST_EARNED: u64 = 1000 * TOKEN;

impl RetryBudget {
    /// A budget of `ratio` extra calls per call, plus `floor_per_second` retries per second.
    pub fn new(ratio: f64, floor_per_second: u32, now: Instant) -> Self {
        let floor = u64::from(floor_per_second) * TOKEN;
        RetryBudget {
            ratio: (ratio.clamp(0.0, 1000.0) * TOKEN as f64).round() as u64,
            floor_per_second: floor,
            earned: AtomicU64::new(0),
            floor: Mutex::new(Floor {
                tokens: floor,
                refilled: now,
            }),
        }
    }

    /// Records a call (a first attempt).
    #[inline]
    pub fn deposit(&self) {
        if self.earned.load(Ordering::Relaxed) < MOST_EARNED {
            self.earned.fetch_add(self.ratio, Ordering::Relaxed);
        }
    }

    /// Takes a token for one retry, if there is one.
    pub fn withdraw(&self, now: Instant) -> bool {
        let earned = self
            .earned
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |earned| {
                earned.checked_sub(TOKEN)
            });
        if earned.is_ok() {
            return true;
        }
        let mut floor = self
            .floor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(floor.refilled);
        let refill = (elapsed.as_millis() as u64).saturating_mul(self.floor_per_second) / 1000;
        if refill > 0 {
            floor.tokens = (floor.tokens + refill).min(self.floor_per_second);
            floor.refilled = now;
        }
        if floor.tokens >= TOKEN {
            floor.tokens -= TOKEN;
            return true;
        }
        false
    }
}

/// Retries under one policy and budget (one per store).
#[derive(Debug)]
pub struct Retry {
    policy: RetryPolicy,
    budget: RetryBudget,
    metrics: RetryMetrics,
}

impl Retry {
    /// Retries under `policy`, with a fresh budget, reporting to no recorder.
    pub fn new(policy: RetryPolicy) -> Self {
        Retry::with_metrics(policy, RetryMetrics::none())
    }

    /// Retries of `store`'s calls under `policy`, with a fresh budget, counting retries made
    /// and refused in the recorder current now.
    pub fn for_store(store: &str, policy: RetryPolicy) -> Self {
        Retry::with_metrics(policy, RetryMetrics::new(store))
    }

    fn with_metrics(policy: RetryPolicy, metrics: RetryMetrics) -> Self {
        Retry {
            budget: RetryBudget::new(
                policy.budget_ratio,
                policy.budget_floor_per_second,
                Instant::now(),
            ),
            policy,
            metrics,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts or of budget.
    /// `idempotent` says whether running it twice is safe; when it is not, it runs once.
    pub async fn run<T, F, Fut>(&self, idempotent: bool, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.deposit();
        match attempt().await {
            Ok(value) => Ok(value),
            Err(err) if idempotent => self.after(err, attempt).await,
            Err(err) => Err(err),
        }
    }

    /// Records a call about to make its first attempt: calls earn the budget retries spend.
    #[inline]
    pub(crate) fn deposit(&self) {
        self.budget.deposit();
    }

    /// Goes on with an idempotent call whose first attempt failed with `first`: retries
    /// `attempt` while the error says "try again" and attempts and budget remain, and returns
    /// the last outcome. The call path runs the first attempt itself, so a call that succeeds
    /// at once never builds this future.
    pub(crate) async fn after<T, F, Fut>(&self, first: StoreError, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut err = first;
        let mut retry = 0;
        loop {
            retry += 1;
            if !self.should_retry(retry, &err) {
                return Err(err);
            }
            let pause = self.policy.pause(retry, unit_random());
            tracing::debug!(retry, ?pause, error = %err, "retrying");
            tokio::time::sleep(pause).await;
            self.metrics.retried();
            err = match attempt().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
        }
    }

    fn should_retry(&self, retry: u32, err: &StoreError) -> bool {
        if !err.is_retryable() || retry >= self.policy.attempts {
            return false;
        }
        if self.budget.withdraw(Instant::now()) {
            return true;
        }
        self.metrics.refused();
        false
    }
}

/// A uniform random number in `[0, 1)`: jitter needs spread, not cryptographic quality, so a
/// per-thread xorshift seeded from the standard library's random hasher keys does.
pub(crate) fn unit_random() -> f64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(0x9E37_79B9_7F4A_7C15);
            hasher.finish() | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_scale_with_the_draw() {
        let policy = RetryPolicy {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.pause(1, 0.999_999),
            Duration::from_millis(10).mul_f64(0.999_999)
        );
        assert_eq!(policy.pause(2, 0.5), Duration::from_millis(10));
        assert_eq!(policy.pause(3, 0.5), Duration::from_millis(20));
        assert_eq!(policy.pause(4, 1.0), Duration::from_millis(50));
        assert_eq!(policy.pause(40, 1.0), Duration::from_millis(50));
        assert_eq!(policy.pause(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn random_draws_spread_over_the_unit_interval() {
        let draws: Vec<f64> = (0..1000).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|&d| d < 0.1) && draws.iter().any(|&d| d > 0.9));
    }

    #[test]
    fn the_budget_allows_its_ratio_plus_the_floor() {
        let t0 = Instant::now();
        let budget = RetryBudget::new(0.1, 2, t0);
        let mut granted = 0;
        for _ in 0..100 {
            budget.deposit();
            if budget.withdraw(t0) {
                granted += 1;
            }
        }
        // 100 calls earn 10 retries; the floor adds its one second's worth, 2.
        assert_eq!(granted, 12);
        assert!(!budget.withdraw(t0));
        // A second later the floor has refilled.
        let t1 = t0 + Duration::from_secs(1);
        assert!(budget.withdraw(t1));
        assert!(budget.withdraw(t1));
        assert!(!budget.withdraw(t1));
    }

    fn failing(calls: &AtomicU32, fail_first: u32, err: fn() -> StoreError) -> Result<u32> {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= fail_first {
            Err(err())
        } else {
            Ok(n)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_passing_failures_of_idempotent_calls() {
        let retry = Retry::new(RetryPolicy::default());
        let calls = AtomicU32::new(0);
        let outcome = retry
            .run(true, || async {
                failing(&calls, 2, || StoreError::unavailable("down"))
            })
            .await;
        assert_eq!(outcome.unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_after_the_last_attempt() {
        let retry = Retry::new(RetryPolicy::default());
        let calls = AtomicU32::new(0);
        let outcome = retry
            .run(true, || async {
                failing(&calls, 10, || StoreError::unavailable("down"))
            })
            .await;
        assert!(outcome.unwrap_err().is_retryable());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_caller_errors_or_non_idempotent_calls() {
        let retry = Retry::new(RetryPolicy::default());
        let calls = AtomicU32::new(0);
        let outcome = retry
            .run(true, || async {
                failing(&calls, 10, || StoreError::invalid("bad"))
            })
            .await;
        assert!(outcome.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let outcome = retry
            .run(false, || async {
                failing(&calls, 10, || StoreError::unavailable("down"))
            })
            .await;
        assert!(outcome.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_costs_at_most_the_budget_in_retries() {
        let retry = Retry::new(RetryPolicy {
            attempts: 5,
            budget_ratio: 0.1,
            budget_floor_per_second: 0,
            ..RetryPolicy::default()
        });
        let calls = AtomicU32::new(0);
        for _ in 0..200 {
            let outcome = retry
                .run(true, || async {
                    failing(&calls, u32::MAX, || StoreError::unavailable("down"))
                })
                .await;
            assert!(outcome.is_err());
        }
        // 200 calls: without a budget 1,000 attempts; with a 10% budget at most 220.
        let attempts = calls.load(Ordering::SeqCst);
        assert!((200..=220).contains(&attempts), "{attempts} attempts");
    }
}
