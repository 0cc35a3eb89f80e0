//! What the metrics layer records, read from a debugging recorder installed for the test's
//! thread (each test builds its router under its own recorder): calls and errors by kind with
//! their labels, durations, retries made and refused, breaker transitions and state, limit
//! rejections and calls in flight, and calls the breaker or the limit refused.

use std::time::Duration;

use ::metrics::set_default_local_recorder;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use polyroute::layers::breaker::{BreakerPolicy, BreakerState};
use polyroute::layers::metrics::{
    BREAKER_STATE, BREAKER_TRANSITIONS_TOTAL, CALLS_TOTAL, CALL_DURATION_SECONDS,
    CALL_ERRORS_TOTAL, IN_FLIGHT, LIMIT_REJECTED_TOTAL, OTHER_OP, RETRIES_REFUSED_TOTAL,
    RETRIES_TOTAL,
};
use polyroute::layers::retry::RetryPolicy;
use polyroute::layers::LayerPolicy;
use polyroute::ErrorKind;

use polyroute_testkit::fake::Step;

use super::layers::{breaker_state, fast_retries, playing, playing_now, router as scripted};

/// One recorded series: its kind, name, labels and value.
type Series = (MetricKind, String, Vec<(String, String)>, DebugValue);

/// One snapshot of the recorder (reading resets counters and gauges, so take one per check).
struct Recorded(Vec<Series>);

impl Recorded {
    fn take(snapshotter: &Snapshotter) -> Recorded {
        Recorded(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| {
                    let mut labels: Vec<(String, String)> = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    labels.sort();
                    (key.kind(), key.key().name().to_owned(), labels, value)
                })
                .collect(),
        )
    }

    fn find(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        wanted.sort();
        self.0
            .iter()
            .find(|(k, n, l, _)| *k == kind && n == name && *l == wanted)
            .map(|(_, _, _, value)| value)
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(MetricKind::Counter, name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.find(MetricKind::Gauge, name, labels) {
            Some(DebugValue::Gauge(v)) => v.into_inner(),
            other => panic!("{name} {labels:?}: {other:?}\n{:?}", self.0),
        }
    }

    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.find(MetricKind::Histogram, name, labels) {
            Some(DebugValue::Histogram(values)) => values.len(),
            other => panic!("{name}: {other:?}"),
        }
    }
}

fn call(op: &'static str) -> [(&'static str, &'static str); 4] {
    [
        ("entity", "e"),
        ("op", op),
        ("store", "s"),
        ("kind", "key_value"),
    ]
}

fn error(op: &'static str, kind: ErrorKind) -> [(&'static str, &'static str); 5] {
    let [a, b, c, d] = call(op);
    [a, b, c, d, ("error", kind.as_str())]
}

const STORE: [(&str, &str); 1] = [("store", "s")];

fn no_retries() -> LayerPolicy {
    LayerPolicy {
        retry: None,
        breaker: None,
        max_in_flight: None,
    }
}

#[tokio::test]
async fn calls_are_counted_and_timed_with_errors_by_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing(&[Step::Refuse, Step::Answer, Step::Down]);
    let router = scripted(&store, no_retries(), Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    assert!(kv.get("k").await.is_err());
    assert!(kv.get("k").await.is_ok());
    assert!(kv.increment("n", 1).await.is_err());
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("get")), 2);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("increment")), 1);
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::InvalidRequest)),
        1
    );
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::Unavailable)),
        0
    );
    assert_eq!(
        recorded.counter(
            CALL_ERRORS_TOTAL,
            &error("increment", ErrorKind::Unavailable)
        ),
        1
    );
    assert_eq!(recorded.samples(CALL_DURATION_SECONDS, &call("get")), 2);
    assert_eq!(
        recorded.samples(CALL_DURATION_SECONDS, &call("increment")),
        1
    );
    // Nothing in flight once the calls ended.
    assert_eq!(recorded.gauge(IN_FLIGHT, &STORE), 0.0);
}

#[tokio::test]
async fn reads_answered_at_once_are_counted_and_timed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing_now(&[Step::Refuse, Step::Answer]);
    let router = scripted(&store, no_retries(), Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    assert!(kv.get("k").await.is_err());
    assert!(kv.get("k").await.is_ok());
    assert_eq!(store.calls(), 2);
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("get")), 2);
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::InvalidRequest)),
        1
    );
    assert_eq!(recorded.samples(CALL_DURATION_SECONDS, &call("get")), 2);
    assert_eq!(recorded.gauge(IN_FLIGHT, &STORE), 0.0);
}

#[tokio::test]
async fn operations_past_the_kept_ones_are_counted_as_other() {
    const OPS: [&str; 18] = [
        "op01", "op02", "op03", "op04", "op05", "op06", "op07", "op08", "op09", "op10", "op11",
        "op12", "op13", "op14", "op15", "op16", "op17", "op18",
    ];
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing(&[]);
    let router = scripted(&store, no_retries(), Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    for op in OPS {
        kv.context().call(op, async { Ok(()) }).await.unwrap();
    }
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("op16")), 1);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("op17")), 0);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call(OTHER_OP)), 2);
}

#[tokio::test]
async fn store_calls_are_labelled_without_an_entity() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing(&[]);
    let router = scripted(&store, no_retries(), Duration::from_secs(5)).await;
    router.ping("s").await.unwrap();
    let recorded = Recorded::take(&snapshotter);
    let labels = [
        ("entity", "-"),
        ("op", "ping"),
        ("store", "s"),
        ("kind", "key_value"),
    ];
    assert_eq!(recorded.counter(CALLS_TOTAL, &labels), 1);
}

#[tokio::test]
async fn retries_made_and_refused_by_the_budget_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing(&[Step::Down, Step::Down]);
    let layers = LayerPolicy {
        retry: Some(fast_retries(3)),
        ..no_retries()
    };
    let router = scripted(&store, layers, Duration::from_secs(5)).await;
    assert!(router.key_value("e").unwrap().get("k").await.is_ok());
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(RETRIES_TOTAL, &STORE), 2);
    assert_eq!(recorded.counter(RETRIES_REFUSED_TOTAL, &STORE), 0);
    // Three attempts, one call, and it succeeded.
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("get")), 1);
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::Unavailable)),
        0
    );

    // A budget with no tokens refuses the retry a failed read would make.
    let store = playing(&[Step::Down]);
    let layers = LayerPolicy {
        retry: Some(RetryPolicy {
            budget_ratio: 0.0,
            budget_floor_per_second: 0,
            ..fast_retries(3)
        }),
        ..no_retries()
    };
    let router = scripted(&store, layers, Duration::from_secs(5)).await;
    let err = router.key_value("e").unwrap().get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(store.calls(), 1);
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(RETRIES_REFUSED_TOTAL, &STORE), 1);
    assert_eq!(recorded.counter(RETRIES_TOTAL, &STORE), 0);
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::Unavailable)),
        1
    );
}

#[tokio::test]
async fn breaker_transitions_and_refused_calls_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing(&[Step::Down, Step::Down]);
    let layers = LayerPolicy {
        breaker: Some(BreakerPolicy {
            failures: 2,
            open_for: Duration::from_millis(100),
        }),
        ..no_retries()
    };
    let router = scripted(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.gauge(BREAKER_STATE, &STORE), 0.0, "a new breaker");

    assert!(kv.get("k").await.is_err());
    assert!(kv.get("k").await.is_err());
    assert_eq!(breaker_state(&router), Some(BreakerState::Open));
    // Refused by the open breaker, without reaching the store: still a call, and an error.
    let refused = kv.get("k").await.unwrap_err();
    assert!(refused.to_string().contains("circuit breaker is open"));
    assert_eq!(store.calls(), 2);
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.gauge(BREAKER_STATE, &STORE), 2.0);
    let to = |state: &'static str| [("store", "s"), ("to", state)];
    assert_eq!(recorded.counter(BREAKER_TRANSITIONS_TOTAL, &to("open")), 1);
    assert_eq!(recorded.counter(CALLS_TOTAL, &call("get")), 3);
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::Unavailable)),
        3
    );
    assert_eq!(recorded.samples(CALL_DURATION_SECONDS, &call("get")), 3);

    // The open period ends; the probe succeeds and closes the breaker.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(kv.get("k").await.is_ok());
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(
        recorded.counter(BREAKER_TRANSITIONS_TOTAL, &to("half_open")),
        1
    );
    assert_eq!(
        recorded.counter(BREAKER_TRANSITIONS_TOTAL, &to("closed")),
        1
    );
    assert_eq!(recorded.counter(BREAKER_TRANSITIONS_TOTAL, &to("open")), 0);
    assert_eq!(recorded.gauge(BREAKER_STATE, &STORE), 0.0);
}

#[tokio::test]
async fn limit_rejections_and_calls_in_flight_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = set_default_local_recorder(&recorder);
    let store = playing(&[Step::Hang]);
    let layers = LayerPolicy {
        max_in_flight: Some(1),
        ..no_retries()
    };
    let router = scripted(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    let hung = tokio::spawn({
        let kv = kv.clone();
        async move { kv.get("k").await }
    });
    while store.calls() == 0 {
        tokio::task::yield_now().await;
    }
    let err = kv.get("k").await.unwrap_err();
    assert!(err.to_string().contains("saturated"), "{err}");
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(LIMIT_REJECTED_TOTAL, &STORE), 1);
    assert_eq!(recorded.gauge(IN_FLIGHT, &STORE), 1.0);
    assert_eq!(
        recorded.counter(CALLS_TOTAL, &call("get")),
        1,
        "the refused call"
    );
    assert_eq!(
        recorded.counter(CALL_ERRORS_TOTAL, &error("get", ErrorKind::Unavailable)),
        1
    );
    hung.abort();
    let _ = hung.await;
}
