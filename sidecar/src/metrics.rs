//! Prometheus metrics, kept in memory and written as the text exposition format at `/metrics`:
//! requests, errors (by status) and a latency histogram per entity, operation and store; the
//! request slots in use against the concurrency limit; shed requests; idempotent replays; and
//! each store's state at the last readiness check.
//!
//! Entity names come from the config, never from the request: a call to an unknown entity is
//! counted under `entity="_unknown"`, so clients cannot grow the series without bound.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// The label used for requests naming no configured entity.
pub const UNKNOWN_ENTITY: &str = "_unknown";

#[derive(Default)]
struct Series {
    requests: u64,
    errors: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
}

/// Every metric of the sidecar.
pub struct Metrics {
    /// Entity → store, for the `store` label.
    stores: BTreeMap<String, String>,
    /// (entity, operation) → series.
    series: Mutex<HashMap<(String, &'static str), Series>>,
    in_flight: AtomicU64,
    limit: u64,
    shed: AtomicU64,
    replays: AtomicU64,
    store_up: Mutex<BTreeMap<String, bool>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Counts a request slot as used while it lives.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Metrics for `entities` (name → store) with `limit` request slots.
    pub fn new(entities: BTreeMap<String, String>, limit: usize) -> Self {
        Metrics {
            stores: entities,
            series: Mutex::new(HashMap::new()),
            in_flight: AtomicU64::new(0),
            limit: limit as u64,
            shed: AtomicU64::new(0),
            replays: AtomicU64::new(0),
            store_up: Mutex::new(BTreeMap::new()),
        }
    }

    /// The label for `entity`: itself when configured, else [`UNKNOWN_ENTITY`].
    pub fn entity_label<'a>(&self, entity: &'a str) -> &'a str {
        if self.stores.contains_key(entity) {
            entity
        } else {
            UNKNOWN_ENTITY
        }
    }

    /// Marks a request slot used until the guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Counts a request refused because every slot was in use.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a write answered from its idempotency record.
    pub fn replayed(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the outcome of readiness checks: store → reachable.
    pub fn set_store_up(&self, store: &str, up: bool) {
        if let Ok(mut map) = self.store_up.lock() {
            map.insert(store.to_owned(), up);
        }
    }

    /// Records one request of operation `op` on `entity` (a configured name or
    /// [`UNKNOWN_ENTITY`]) that answered `status` after `elapsed`.
    pub fn record(&self, entity: &str, op: &'static str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let entry = match series.get_mut(&(entity.to_owned(), op)) {
            Some(entry) => entry,
            None => series.entry((entity.to_owned(), op)).or_default(),
        };
        entry.requests += 1;
        if status >= 400 {
            *entry.errors.entry(status).or_default() += 1;
        }
        entry.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(entry.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let series = match self.series.lock() {
            Ok(series) => {
                let mut rows: Vec<(String, &'static str, Series)> = series
                    .iter()
                    .map(|((entity, op), s)| {
                        (
                            entity.clone(),
                            *op,
                            Series {
                                requests: s.requests,
                                errors: s.errors.clone(),
                                buckets: s.buckets,
                                sum: s.sum,
                            },
                        )
                    })
                    .collect();
                rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
                rows
            }
            Err(_) => Vec::new(),
        };
        let labels = |entity: &str, op: &str| {
            let store = self.stores.get(entity).map_or("", String::as_str);
            format!("entity=\"{entity}\",op=\"{op}\",store=\"{store}\"")
        };

        out.push_str("# HELP polyroute_sidecar_requests_total Requests answered, by entity, operation and store.\n");
        out.push_str("# TYPE polyroute_sidecar_requests_total counter\n");
        for (entity, op, s) in &series {
            let _ = writeln!(
                out,
                "polyroute_sidecar_requests_total{{{}}} {}",
                labels(entity, op),
                s.requests
            );
        }
        out.push_str("# HELP polyroute_sidecar_errors_total Requests answered with a 4xx or 5xx status, by entity, operation, store and status.\n");
        out.push_str("# TYPE polyroute_sidecar_errors_total counter\n");
        for (entity, op, s) in &series {
            for (status, count) in &s.errors {
                let _ = writeln!(
                    out,
                    "polyroute_sidecar_errors_total{{{},status=\"{status}\"}} {count}",
                    labels(entity, op)
                );
            }
        }
        out.push_str("# HELP polyroute_sidecar_request_duration_seconds Time from request to response, by entity, operation and store.\n");
        out.push_str("# TYPE polyroute_sidecar_request_duration_seconds histogram\n");
        for (entity, op, s) in &series {
            let l = labels(entity, op);
            for (bound, count) in BUCKETS.iter().zip(s.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "polyroute_sidecar_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "polyroute_sidecar_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.requests
            );
            let _ = writeln!(
                out,
                "polyroute_sidecar_request_duration_seconds_sum{{{l}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "polyroute_sidecar_request_duration_seconds_count{{{l}}} {}",
                s.requests
            );
        }
        let _ = write!(
            out,
            "# HELP polyroute_sidecar_requests_in_flight Request slots in use.\n# TYPE polyroute_sidecar_requests_in_flight gauge\npolyroute_sidecar_requests_in_flight {}\n",
            self.in_flight.load(Ordering::Relaxed)
        );
        let _ = write!(
            out,
            "# HELP polyroute_sidecar_request_slots Request slots in all (max_concurrency); more requests are shed.\n# TYPE polyroute_sidecar_request_slots gauge\npolyroute_sidecar_request_slots {}\n",
            self.limit
        );
        let _ = write!(
            out,
            "# HELP polyroute_sidecar_shed_total Requests refused with 503 because every slot was in use.\n# TYPE polyroute_sidecar_shed_total counter\npolyroute_sidecar_shed_total {}\n",
            self.shed.load(Ordering::Relaxed)
        );
        let _ = write!(
            out,
            "# HELP polyroute_sidecar_idempotent_replays_total Writes answered from their idempotency record instead of being applied again.\n# TYPE polyroute_sidecar_idempotent_replays_total counter\npolyroute_sidecar_idempotent_replays_total {}\n",
            self.replays.load(Ordering::Relaxed)
        );
        out.push_str("# HELP polyroute_sidecar_store_up Whether the store answered the last readiness check (1) or not (0).\n");
        out.push_str("# TYPE polyroute_sidecar_store_up gauge\n");
        if let Ok(map) = self.store_up.lock() {
            for (store, up) in map.iter() {
                let _ = writeln!(
                    out,
                    "polyroute_sidecar_store_up{{store=\"{store}\"}} {}",
                    u8::from(*up)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_per_entity_operation_and_store() {
        let metrics = Metrics::new(
            BTreeMap::from([("sessions".to_owned(), "cache".to_owned())]),
            4,
        );
        metrics.record("sessions", "key_value.get", 200, Duration::from_micros(300));
        metrics.record("sessions", "key_value.get", 404, Duration::from_millis(2));
        assert_eq!(metrics.entity_label("nope"), UNKNOWN_ENTITY);
        metrics.record(
            UNKNOWN_ENTITY,
            "key_value.get",
            404,
            Duration::from_millis(1),
        );
        let text = metrics.render();
        let l = "entity=\"sessions\",op=\"key_value.get\",store=\"cache\"";
        assert!(
            text.contains(&format!("polyroute_sidecar_requests_total{{{l}}} 2")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "polyroute_sidecar_errors_total{{{l},status=\"404\"}} 1"
        )));
        assert!(text.contains(&format!(
            "polyroute_sidecar_request_duration_seconds_bucket{{{l},le=\"0.0005\"}} 1"
        )));
        assert!(text.contains(&format!(
            "polyroute_sidecar_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 2"
        )));
        assert!(text.contains("entity=\"_unknown\""));
        assert!(text.contains("polyroute_sidecar_request_slots 4"));
    }

    #[test]
    fn in_flight_counts_live_guards() {
        let metrics = Metrics::new(BTreeMap::new(), 1);
        let guard = metrics.enter();
        assert!(metrics
            .render()
            .contains("polyroute_sidecar_requests_in_flight 1"));
        drop(guard);
        assert!(metrics
            .render()
            .contains("polyroute_sidecar_requests_in_flight 0"));
    }
}
