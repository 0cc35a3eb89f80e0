//! Hedged reads: when a read has not answered after [`HedgePolicy::after`], a second attempt
//! is sent and whichever answers first is taken; the other is dropped.
//!
//! A hedge trims the tail a slow replica, a stalled connection or a long GC pause adds to one
//! attempt, at the cost of a second request for the slowest reads only. It is for reads alone
//! (an operation that only reads and goes through the idempotent call path): running one twice
//! changes nothing. Within the stack it sits where one attempt is made, below retry: each
//! attempt of a retried call may be hedged, and each of the two racing attempts has its own
//! deadline.
//!
//! When the first answer is a failure and the other attempt is still out, the other one is
//! awaited: a hedge is a second chance, not a faster way to fail.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use polyroute_adapters::Result;

/// When reads are hedged (`hedge = { after = "20ms", ops = ["get"] }` on an entity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HedgePolicy {
    /// How long the first attempt may take before a second one is sent.
    pub after: Duration,
    /// The operations hedged; `None`: every read of the entity's kind.
    pub ops: Option<Vec<String>>,
}

impl HedgePolicy {
    /// Hedges every read of the entity after `after`.
    pub fn after(after: Duration) -> Self {
        HedgePolicy { after, ops: None }
    }
}

/// What happened in a hedged attempt, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HedgeEvent {
    /// The first attempt was slow: a second one was sent.
    Sent,
    /// The second attempt's answer was taken.
    Won,
}

impl HedgeEvent {
    /// The `outcome` label of `polyroute_hedges_total`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HedgeEvent::Sent => "sent",
            HedgeEvent::Won => "won",
        }
    }
}

/// Runs `first`; if it has not answered after `after`, starts `second()` too and returns the
/// first success of the two (or, when both fail, the later failure). `events` hears of a
/// second attempt sent and of it winning.
///
/// An attempt answered on its first poll arms no timer.
pub(crate) async fn race<T, A, B>(
    after: Duration,
    first: A,
    second: impl FnOnce() -> B,
    events: impl Fn(HedgeEvent),
) -> Result<T>
where
    A: Future<Output = Result<T>>,
    B: Future<Output = Result<T>>,
{
    let mut first = pin!(first);
    if let Poll::Ready(outcome) = poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx))).await {
        return outcome;
    }
    tokio::select! {
        biased;
        outcome = first.as_mut() => return outcome,
        () = tokio::time::sleep(after) => {}
    }
    events(HedgeEvent::Sent);
    let mut second = pin!(second());
    tokio::select! {
        biased;
        outcome = first.as_mut() => match outcome {
            Ok(value) => Ok(value),
            Err(_) => {
                let outcome = second.await;
                if outcome.is_ok() {
                    events(HedgeEvent::Won);
                }
                outcome
            }
        },
        outcome = second.as_mut() => match outcome {
            Ok(value) => {
                events(HedgeEvent::Won);
                Ok(value)
            }
            Err(_) => first.await,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use polyroute_adapters::StoreError;

    use super::*;

    async fn answer(after: Duration, value: u32) -> Result<u32> {
        tokio::time::sleep(after).await;
        Ok(value)
    }

    async fn fail(after: Duration) -> Result<u32> {
        tokio::time::sleep(after).await;
        Err(StoreError::unavailable("down"))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_first_attempt_sends_no_hedge() {
        let events = Mutex::new(Vec::new());
        let got = race(
            ms(20),
            answer(ms(5), 1),
            || answer(ms(1), 2),
            |e| events.lock().unwrap().push(e),
        )
        .await
        .unwrap();
        assert_eq!(got, 1);
        assert!(events.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_first_attempt_loses_to_the_hedge() {
        let events = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let got = race(
            ms(20),
            answer(ms(1000), 1),
            || answer(ms(5), 2),
            |e| events.lock().unwrap().push(e),
        )
        .await
        .unwrap();
        assert_eq!(got, 2);
        assert_eq!(start.elapsed(), ms(25));
        assert_eq!(*events.lock().unwrap(), [HedgeEvent::Sent, HedgeEvent::Won]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_attempt_still_wins_when_it_answers_before_the_hedge() {
        let events = Mutex::new(Vec::new());
        let got = race(
            ms(20),
            answer(ms(30), 1),
            || answer(ms(100), 2),
            |e| events.lock().unwrap().push(e),
        )
        .await
        .unwrap();
        assert_eq!(got, 1);
        assert_eq!(*events.lock().unwrap(), [HedgeEvent::Sent]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_waits_for_the_other_attempt() {
        let got = race(ms(20), fail(ms(30)), || answer(ms(100), 2), |_| {})
            .await
            .unwrap();
        assert_eq!(got, 2);
        let got = race(ms(20), answer(ms(100), 1), || fail(ms(1)), |_| {})
            .await
            .unwrap();
        assert_eq!(got, 1);
        let err = race(ms(20), fail(ms(30)), || fail(ms(40)), |_| {})
            .await
            .unwrap_err();
        assert!(err.is_retryable());
    }
}
