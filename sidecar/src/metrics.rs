//! Prometheus metrics through the [`metrics`](::metrics) facade, rendered at `/metrics` in the
//! text exposition format: requests, errors (by status) and a latency histogram per entity,
//! operation and store; the request slots in use against the concurrency limit; shed requests;
//! idempotent replays; and each store's state at the last readiness check.
//!
//! [`Exporter`] says which Prometheus recorder a sidecar records into and renders. With the
//! process's global one ([`Exporter::global`], what `polyroute serve` uses, installed before the
//! router is built) the router's own `polyroute_*` series (calls, errors, retries, breaker,
//! limit; see `polyroute::layers::metrics`) appear on the same page. A sidecar started without
//! one ([`Exporter::local`], as in tests and benchmarks that start several in one process) gets
//! a recorder of its own, holding its own series alone.
//!
//! Entity names come from the config, never from the request: a call to an unknown entity is
//! counted under `entity="_unknown"`, so clients cannot grow the series without bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ::metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Upper bounds of the latency buckets, in seconds, of every histogram on the page (the
/// sidecar's request durations and the router's call durations).
pub const BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// The label used for requests naming no configured entity.
pub const UNKNOWN_ENTITY: &str = "_unknown";

/// Requests answered, by entity, operation and store.
pub const REQUESTS_TOTAL: &str = "polyroute_sidecar_requests_total";
/// Requests answered with a 4xx or 5xx status, by entity, operation, store and status.
pub const ERRORS_TOTAL: &str = "polyroute_sidecar_errors_total";
/// Time from request to response, by entity, operation and store.
pub const REQUEST_DURATION_SECONDS: &str = "polyroute_sidecar_request_duration_seconds";
/// Request slots in use.
pub const REQUESTS_IN_FLIGHT: &str = "polyroute_sidecar_requests_in_flight";
/// Request slots in all (`max_concurrency`).
pub const REQUEST_SLOTS: &str = "polyroute_sidecar_request_slots";
/// Requests refused with 503 because every slot was in use.
pub const SHED_TOTAL: &str = "polyroute_sidecar_shed_total";
/// Writes answered from their idempotency record.
pub const IDEMPOTENT_REPLAYS_TOTAL: &str = "polyroute_sidecar_idempotent_replays_total";
/// Whether a store answered the last readiness check.
pub const STORE_UP: &str = "polyroute_sidecar_store_up";

/// How often a sidecar folds its recorder's recent histogram samples into its buckets, so that
/// memory stays bounded when nothing scrapes `/metrics`.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A Prometheus recorder a sidecar records into, and the handle that renders it.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    /// The recorder, when it is not the global one: the sidecar's handles are resolved in it.
    local: Option<Arc<PrometheusRecorder>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("global", &self.local.is_none())
            .finish_non_exhaustive()
    }
}

/// The global exporter, once installed; `None` when another recorder was global first.
static GLOBAL: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn recorder() -> PrometheusRecorder {
    let builder = PrometheusBuilder::new();
    // The buckets are constant, sorted and not empty: setting them cannot fail; should it
    // ever, the exporter's default summaries are still a correct page.
    let builder = match builder.set_buckets(&BUCKETS) {
        Ok(builder) => builder,
        Err(err) => {
            tracing::warn!(error = %err, "histogram buckets refused; rendering summaries");
            PrometheusBuilder::new()
        }
    };
    builder.build_recorder()
}

impl Exporter {
    /// The process's global Prometheus recorder, installed on the first call and shared by
    /// every later one, so the router's metrics and every sidecar's land on one page. Call it
    /// before building the router: handles resolved earlier stay with the recorder they were
    /// resolved in. If another recorder was installed globally first, logs a warning and
    /// falls back to [`Exporter::local`].
    pub fn global() -> Exporter {
        let installed = GLOBAL.get_or_init(|| {
            let recorder = recorder();
            let handle = recorder.handle();
            match ::metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    polyroute::layers::metrics::describe();
                    describe();
                    Some(handle)
                }
                Err(_) => None,
            }
        });
        match installed {
            Some(handle) => Exporter {
                handle: handle.clone(),
                local: None,
            },
            None => {
                tracing::warn!(
                    "a metrics recorder other than polyroute's is installed: /metrics shows the \
                     sidecar's own series only"
                );
                Exporter::local()
            }
        }
    }

    /// A recorder of this sidecar's own, not installed anywhere: `/metrics` shows the
    /// sidecar's series alone.
    pub fn local() -> Exporter {
        let recorder = Arc::new(recorder());
        let exporter = Exporter {
            handle: recorder.handle(),
            local: Some(recorder),
        };
        exporter.resolve(describe);
        exporter
    }

    /// Whether this is the global recorder (the router's metrics are on the page).
    pub fn is_global(&self) -> bool {
        self.local.is_none()
    }

    /// The Prometheus text exposition of every metric in the recorder.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recent histogram samples into their buckets (see [`UPKEEP_EVERY`]).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Runs `f` with this exporter's recorder current, so the handles it resolves record
    /// into it.
    fn resolve<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.local {
            Some(recorder) => ::metrics::with_local_recorder(recorder.as_ref(), f),
            None => f(),
        }
    }
}

/// Gives the sidecar's metrics their help text.
fn describe() {
    ::metrics::describe_counter!(
        REQUESTS_TOTAL,
        "Requests answered, by entity, operation and store."
    );
    ::metrics::describe_counter!(
        ERRORS_TOTAL,
        "Requests answered with a 4xx or 5xx status, by entity, operation, store and status."
    );
    ::metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time from request to response, by entity, operation and store."
    );
    ::metrics::describe_gauge!(REQUESTS_IN_FLIGHT, "Request slots in use.");
    ::metrics::describe_gauge!(
        REQUEST_SLOTS,
        "Request slots in all (max_concurrency); more requests are shed."
    );
    ::metrics::describe_counter!(
        SHED_TOTAL,
        "Requests refused with 503 because every slot was in use."
    );
    ::metrics::describe_counter!(
        IDEMPOTENT_REPLAYS_TOTAL,
        "Writes answered from their idempotency record instead of being applied again."
    );
    ::metrics::describe_gauge!(
        STORE_UP,
        "Whether the store answered the last readiness check (1) or not (0)."
    );
}

/// The handles of one (entity, operation).
struct Series {
    requests: Counter,
    duration: Histogram,
    errors: BTreeMap<u16, Counter>,
}

/// Every metric of the sidecar.
pub struct Metrics {
    exporter: Exporter,
    /// Entity → store, for the `store` label.
    stores: BTreeMap<String, String>,
    /// (entity, operation) → handles, resolved on first use.
    series: Mutex<HashMap<(String, &'static str), Series>>,
    in_flight: Gauge,
    shed: Counter,
    replays: Counter,
    /// Store → its `store_up` gauge, resolved at its first readiness check (a store never
    /// checked shows no value rather than a false "down").
    store_up: Mutex<BTreeMap<String, Gauge>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("exporter", &self.exporter)
            .finish_non_exhaustive()
    }
}

/// Counts a request slot as used while it lives.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl Metrics {
    /// Metrics for `entities` (name → store) with `limit` request slots, recorded into and
    /// rendered from `exporter`.
    pub fn new(entities: BTreeMap<String, String>, limit: usize, exporter: Exporter) -> Self {
        let (in_flight, shed, replays) = exporter.resolve(|| {
            gauge!(REQUEST_SLOTS).set(limit as f64);
            (
                gauge!(REQUESTS_IN_FLIGHT),
                counter!(SHED_TOTAL),
                counter!(IDEMPOTENT_REPLAYS_TOTAL),
            )
        });
        Metrics {
            exporter,
            stores: entities,
            series: Mutex::new(HashMap::new()),
            in_flight,
            shed,
            replays,
            store_up: Mutex::new(BTreeMap::new()),
        }
    }

    /// The exporter the metrics go to.
    pub fn exporter(&self) -> &Exporter {
        &self.exporter
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
        self.in_flight.increment(1.0);
        InFlight(&self.in_flight)
    }

    /// Counts a request refused because every slot was in use.
    pub fn shed(&self) {
        self.shed.increment(1);
    }

    /// Counts a write answered from its idempotency record.
    pub fn replayed(&self) {
        self.replays.increment(1);
    }

    /// Records the outcome of a readiness check of `store`.
    pub fn set_store_up(&self, store: &str, up: bool) {
        let Ok(mut gauges) = self.store_up.lock() else {
            return;
        };
        gauges
            .entry(store.to_owned())
            .or_insert_with(|| {
                self.exporter
                    .resolve(|| gauge!(STORE_UP, "store" => store.to_owned()))
            })
            .set(f64::from(u8::from(up)));
    }

    /// Records one request of operation `op` on `entity` (a configured name or
    /// [`UNKNOWN_ENTITY`]) that answered `status` after `elapsed`.
    pub fn record(&self, entity: &str, op: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let key = (entity.to_owned(), op);
        let series = series.entry(key).or_insert_with(|| {
            self.exporter.resolve(|| {
                let labels = self.labels(entity, op);
                Series {
                    requests: counter!(REQUESTS_TOTAL, &labels),
                    duration: histogram!(REQUEST_DURATION_SECONDS, &labels),
                    errors: BTreeMap::new(),
                }
            })
        });
        series.requests.increment(1);
        series.duration.record(elapsed.as_secs_f64());
        if status >= 400 {
            let errors = series.errors.entry(status).or_insert_with(|| {
                self.exporter.resolve(|| {
                    let [entity, op, store] = self.labels(entity, op);
                    counter!(
                        ERRORS_TOTAL,
                        entity.0 => entity.1,
                        op.0 => op.1,
                        store.0 => store.1,
                        "status" => status.to_string(),
                    )
                })
            });
            errors.increment(1);
        }
    }

    fn labels(&self, entity: &str, op: &'static str) -> [(&'static str, String); 3] {
        let store = self.stores.get(entity).cloned().unwrap_or_default();
        [
            ("entity", entity.to_owned()),
            ("op", op.to_owned()),
            ("store", store),
        ]
    }

    /// The Prometheus text exposition of every metric in the exporter's recorder.
    pub fn render(&self) -> String {
        self.exporter.render()
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
            Exporter::local(),
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
        assert!(
            text.contains(&format!(
                "polyroute_sidecar_request_duration_seconds_bucket{{{l},le=\"0.0005\"}} 1"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "polyroute_sidecar_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 2"
        )));
        assert!(text.contains(&format!(
            "polyroute_sidecar_request_duration_seconds_count{{{l}}} 2"
        )));
        assert!(text.contains("entity=\"_unknown\""));
        assert!(text.contains("polyroute_sidecar_request_slots 4"), "{text}");
        assert!(
            text.contains("# HELP polyroute_sidecar_shed_total"),
            "{text}"
        );
        assert!(text.contains("polyroute_sidecar_shed_total 0"), "{text}");
        assert!(!text.contains("polyroute_sidecar_store_up{"), "{text}");
        metrics.set_store_up("cache", false);
        assert!(metrics
            .render()
            .contains("polyroute_sidecar_store_up{store=\"cache\"} 0"));
    }

    #[test]
    fn in_flight_counts_live_guards() {
        let metrics = Metrics::new(BTreeMap::new(), 1, Exporter::local());
        let guard = metrics.enter();
        assert!(metrics
            .render()
            .contains("polyroute_sidecar_requests_in_flight 1"));
        drop(guard);
        assert!(metrics
            .render()
            .contains("polyroute_sidecar_requests_in_flight 0"));
    }

    #[test]
    fn two_local_exporters_keep_their_own_series() {
        let one = Metrics::new(BTreeMap::new(), 1, Exporter::local());
        let two = Metrics::new(BTreeMap::new(), 1, Exporter::local());
        one.shed();
        assert!(one.render().contains("polyroute_sidecar_shed_total 1"));
        assert!(two.render().contains("polyroute_sidecar_shed_total 0"));
    }
}
