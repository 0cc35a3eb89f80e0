//! The layers of the call path against a scripted store that fails, hangs or answers on
//! command: retries (only idempotent calls, only passing failures), the breaker (opens, refuses
//! without reaching the store, probes, closes), per-attempt deadlines, the concurrency limit,
//! and their order; and the same for reads a store answers at once.

use std::sync::Arc;
use std::time::Duration;

use polyroute::backend::kinds::key_value::KeyValueSettings;
use polyroute::layers::breaker::{BreakerPolicy, BreakerState};
use polyroute::layers::retry::RetryPolicy;
use polyroute::layers::LayerPolicy;
use polyroute::{EntitySettings, ErrorKind, Router};
pub(crate) use polyroute_testkit::fake::Step;
use polyroute_testkit::fake::{Behaviour, FakeKv};

/// A fake that plays `steps`, one per call, then answers.
pub(crate) fn playing(steps: &[Step]) -> Arc<FakeKv> {
    FakeKv::with(Behaviour {
        script: steps.to_vec(),
        ..Behaviour::default()
    })
}

/// The same, answering its reads at once as an in-process store does (all but a hang).
pub(crate) fn playing_now(steps: &[Step]) -> Arc<FakeKv> {
    FakeKv::with(Behaviour {
        script: steps.to_vec(),
        answers_now: true,
        ..Behaviour::default()
    })
}

pub(crate) fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        budget_ratio: 1.0,
        budget_floor_per_second: 100,
    }
}

/// A router with the one entity `e` on `store`, whose key `k` holds a value.
pub(crate) async fn router(store: &Arc<FakeKv>, layers: LayerPolicy, timeout: Duration) -> Router {
    store.put("k", "v");
    Router::builder()
        .store("s", store.store())
        .entity(
            "e",
            "s",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .timeout(timeout)
        .layers(layers)
        .build()
        .await
        .unwrap()
}

pub(crate) fn breaker_state(router: &Router) -> Option<BreakerState> {
    router.stores().next().unwrap().layers.breaker_state()
}

#[tokio::test]
async fn reads_are_retried_through_passing_failures() {
    let store = playing(&[Step::Down, Step::Down]);
    let layers = LayerPolicy {
        retry: Some(fast_retries(3)),
        ..LayerPolicy::default()
    };
    let router = router(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    assert!(kv.get("k").await.unwrap().is_some());
    assert_eq!(store.calls(), 3);
    // Past the last attempt the failure comes back.
    store.then(&[Step::Down, Step::Down, Step::Down]);
    let err = kv.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(store.calls(), 6);
}

#[tokio::test]
async fn caller_errors_and_non_idempotent_writes_run_once() {
    let store = playing(&[Step::Refuse, Step::Down, Step::Down]);
    let layers = LayerPolicy {
        retry: Some(fast_retries(3)),
        ..LayerPolicy::default()
    };
    let router = router(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    assert_eq!(
        kv.get("k").await.unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    assert_eq!(store.calls(), 1);
    // An increment applied twice would count twice: never retried.
    assert_eq!(
        kv.increment("n", 1).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(store.calls(), 2);
    // So is a conditional write; an unconditional one is retried.
    assert_eq!(
        kv.set_if_absent("lock", "me").await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(store.calls(), 3);
    store.then(&[Step::Down]);
    kv.set("k", "v").await.unwrap();
    assert_eq!(store.calls(), 5);
}

#[tokio::test]
async fn a_hung_attempt_is_abandoned_at_its_deadline_and_retried() {
    let store = playing(&[Step::Hang]);
    let layers = LayerPolicy {
        retry: Some(fast_retries(2)),
        ..LayerPolicy::default()
    };
    let router = router(&store, layers, Duration::from_millis(50)).await;
    assert!(router
        .key_value("e")
        .unwrap()
        .get("k")
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.calls(), 2);
}

#[tokio::test]
async fn reads_answered_at_once_that_fail_are_retried_the_asynchronous_way() {
    let store = playing_now(&[Step::Down, Step::Down]);
    let layers = LayerPolicy {
        retry: Some(fast_retries(3)),
        ..LayerPolicy::default()
    };
    let router = router(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    // The failed answer hands the call to the asynchronous path, which makes its own
    // attempts: a failure, then the answer.
    assert!(kv.get("k").await.unwrap().is_some());
    assert_eq!(store.calls(), 3);
    // A caller error answered at once is final.
    store.then(&[Step::Refuse]);
    assert_eq!(
        kv.get("k").await.unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    assert_eq!(store.calls(), 4);
}

#[tokio::test]
async fn a_read_the_store_cannot_answer_now_keeps_its_deadline() {
    let store = playing_now(&[Step::Hang]);
    let layers = LayerPolicy {
        retry: None,
        ..LayerPolicy::default()
    };
    let router = router(&store, layers, Duration::from_millis(50)).await;
    let err = router.key_value("e").unwrap().get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn the_breaker_opens_refuses_without_calling_then_closes_after_a_good_probe() {
    breaker_cycle(playing(&[Step::Down; 3])).await;
}

#[tokio::test]
async fn the_breaker_guards_reads_answered_at_once() {
    breaker_cycle(playing_now(&[Step::Down; 3])).await;
}

/// Three failures open the breaker, which then refuses without reaching `store`, lets one
/// probe through once `open_for` is over, and closes when it succeeds.
async fn breaker_cycle(store: Arc<FakeKv>) {
    let layers = LayerPolicy {
        retry: None,
        breaker: Some(BreakerPolicy {
            failures: 3,
            open_for: Duration::from_millis(100),
        }),
        max_in_flight: None,
    };
    let router = router(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    for _ in 0..3 {
        assert_eq!(
            kv.get("k").await.unwrap_err().kind(),
            ErrorKind::Unavailable
        );
    }
    assert_eq!(breaker_state(&router), Some(BreakerState::Open));
    let err = kv.get("k").await.unwrap_err();
    assert!(err.to_string().contains("circuit breaker is open"), "{err}");
    assert_eq!(store.calls(), 3, "an open breaker must not reach the store");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(breaker_state(&router), Some(BreakerState::HalfOpen));
    assert!(kv.get("k").await.unwrap().is_some());
    assert_eq!(breaker_state(&router), Some(BreakerState::Closed));
    assert_eq!(store.calls(), 4);
}

#[tokio::test]
async fn the_breaker_sees_a_retried_call_once_by_its_final_outcome() {
    // Two failures then a success, inside one call: with the breaker outside the retry layer
    // (the documented order) that is one successful call, and a 2-failure breaker stays closed.
    let store = playing(&[Step::Down, Step::Down]);
    let layers = LayerPolicy {
        retry: Some(fast_retries(3)),
        breaker: Some(BreakerPolicy {
            failures: 2,
            open_for: Duration::from_secs(60),
        }),
        max_in_flight: None,
    };
    let router = router(&store, layers, Duration::from_secs(5)).await;
    assert!(router
        .key_value("e")
        .unwrap()
        .get("k")
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.calls(), 3);
    assert_eq!(breaker_state(&router), Some(BreakerState::Closed));
}

#[tokio::test]
async fn past_the_limit_calls_are_refused_at_once() {
    let store = playing(&[Step::Hang]);
    let layers = LayerPolicy {
        retry: None,
        breaker: None,
        max_in_flight: Some(1),
    };
    let router = router(&store, layers, Duration::from_secs(5)).await;
    let kv = router.key_value("e").unwrap();
    let hung = tokio::spawn({
        let kv = kv.clone();
        async move { kv.get("k").await }
    });
    while store.calls() == 0 {
        tokio::task::yield_now().await;
    }
    let err = kv.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("saturated"), "{err}");
    assert_eq!(store.calls(), 1, "a refused call must not reach the store");
    assert_eq!(router.stores().next().unwrap().layers.in_flight(), Some(1));
    hung.abort();
    let _ = hung.await;
    assert!(kv.get("k").await.unwrap().is_some());
}
