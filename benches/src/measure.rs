//! Latency measurement: HdrHistogram recorders, a closed loop (one request after another, as
//! fast as the store answers) and an open loop at a fixed rate that measures each request from
//! when it was due, not from when it was sent, so a stall is charged to every request it
//! delayed (no coordinated omission).

use std::future::Future;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// How the requests of a measurement were issued.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    /// One client, each request sent when the previous one answered.
    Closed,
    /// One client sending at a fixed rate (requests per second); latency counts from each
    /// request's due time.
    Open {
        /// The target rate.
        rate: f64,
    },
}

/// What one measured query did.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Requests measured.
    pub ops: u64,
    /// Requests per second over the measurement.
    pub throughput: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// 99.9th percentile, microseconds.
    pub p999_us: f64,
    /// Slowest request, microseconds.
    pub max_us: f64,
}

/// Records latencies in nanoseconds, from 1 ns to an hour, at three significant digits, so
/// that an in-process lookup of well under a microsecond keeps its digits.
pub struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("constant bounds within HdrHistogram's limits");
        Recorder { histogram }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.histogram.saturating_record(nanos);
    }

    /// The summary of what was recorded over `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let h = &self.histogram;
        let ops = h.len();
        Summary {
            ops,
            throughput: ops as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_us: h.value_at_quantile(0.50) as f64 / 1e3,
            p99_us: h.value_at_quantile(0.99) as f64 / 1e3,
            p999_us: h.value_at_quantile(0.999) as f64 / 1e3,
            max_us: h.max() as f64 / 1e3,
        }
    }
}

/// Runs `request(i)` for `i` in `0..ops`, one after another; returns the latencies.
pub async fn closed_loop<F, Fut, T, E>(ops: u64, request: F) -> Result<Summary, E>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    closed_loop_within(ops, None, request).await
}

/// Fewest requests a measurement keeps, whatever its time budget.
pub const MIN_OPS: u64 = 5;

/// As [`closed_loop`], stopping early once `budget` has passed and at least [`MIN_OPS`]
/// requests are recorded: slow queries get fewer requests instead of stalling a run.
pub async fn closed_loop_within<F, Fut, T, E>(
    ops: u64,
    budget: Option<Duration>,
    mut request: F,
) -> Result<Summary, E>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut recorder = Recorder::new();
    let started = Instant::now();
    for i in 0..ops {
        let sent = Instant::now();
        std::hint::black_box(request(i).await?);
        recorder.record(sent.elapsed());
        if i + 1 >= MIN_OPS && budget.is_some_and(|b| started.elapsed() > b) {
            break;
        }
    }
    Ok(recorder.summary(started.elapsed()))
}

/// Runs `request(i)` for `i` in `0..ops`, request `i` due at `i / rate` seconds after the start;
/// a request is sent at its due time or, if the previous one is still running, as soon as it
/// answers, and its latency counts from its due time.
pub async fn open_loop<F, Fut, T, E>(ops: u64, rate: f64, mut request: F) -> Result<Summary, E>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut recorder = Recorder::new();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let started = Instant::now();
    for i in 0..ops {
        let due = started + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        std::hint::black_box(request(i).await?);
        recorder.record(due.elapsed());
    }
    Ok(recorder.summary(started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closed_loop_counts_every_request() {
        let summary = closed_loop(50, |_| async { Ok::<_, ()>(1) }).await.unwrap();
        assert_eq!(summary.ops, 50);
        assert!(summary.p50_us > 0.0 && summary.p50_us <= summary.p99_us);
        assert!(summary.p99_us <= summary.max_us);
    }

    #[tokio::test]
    async fn open_loop_charges_a_stall_to_the_requests_it_delayed() {
        // At 1000/s, request 0 stalls 50 ms: the next ~50 requests were due during the stall,
        // so they are late too, and the median is far above the work each one did (none).
        let summary = open_loop(100, 1000.0, |i| async move {
            if i == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
        assert_eq!(summary.ops, 100);
        assert!(summary.p50_us > 1_000.0, "{summary:?}");
    }

    #[tokio::test]
    async fn a_budget_stops_slow_measurements_after_the_minimum() {
        let slow = |_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>(())
        };
        let summary = closed_loop_within(1_000, Some(Duration::from_millis(10)), slow)
            .await
            .unwrap();
        assert_eq!(summary.ops, MIN_OPS);
    }

    #[tokio::test]
    async fn errors_stop_the_measurement() {
        let result = closed_loop(10, |i| async move {
            if i == 3 {
                Err("boom")
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(result.unwrap_err(), "boom");
    }
}
