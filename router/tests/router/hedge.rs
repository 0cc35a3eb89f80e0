//! Hedged reads and per-operation deadlines, against an in-memory store that is slow when told
//! to, with paused time.

use std::time::Duration;

use polyroute::key_value::KeyValueSettings;
use polyroute::layers::hedge::HedgePolicy;
use polyroute::layers::LayerPolicy;
use polyroute::{Bytes, EntitySettings, ErrorKind, Router, StoreError};

use polyroute_testkit::fake::{Behaviour, FakeKv};

use crate::counters::Counters;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn router(
    db: &std::sync::Arc<FakeKv>,
    hedge: Option<HedgePolicy>,
    timeouts: &[(&str, u64)],
) -> Router {
    let mut builder = Router::builder()
        .store("db", db.store())
        .entity(
            "items",
            "db",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .layers(LayerPolicy {
            retry: None,
            ..LayerPolicy::default()
        })
        .timeout(Duration::from_secs(5));
    if let Some(hedge) = hedge {
        builder = builder.entity_hedge("items", hedge);
    }
    for (op, timeout) in timeouts {
        builder = builder.entity_op_timeout("items", *op, ms(*timeout));
    }
    builder.build().await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_read_is_answered_by_the_hedge() {
    let counters = Counters::install();
    let db = FakeKv::with(Behaviour::ttl());
    db.put("k", "v");
    let router = router(&db, Some(HedgePolicy::after(ms(20))), &[]).await;
    let items = router.key_value("items").unwrap();
    assert_eq!(items.context().hedge_after("get"), Some(ms(20)));
    assert_eq!(
        items.context().hedge_after("set"),
        None,
        "writes are never hedged"
    );

    db.slow_gets(&[Duration::from_secs(10), ms(5)]);
    let start = tokio::time::Instant::now();
    assert_eq!(
        items.get("k").await.unwrap(),
        Some(Bytes::from_static(b"v"))
    );
    assert_eq!(start.elapsed(), ms(25), "answered by the second attempt");
    assert_eq!(db.gets(), 2);
    let hedges = |outcome: &str| {
        counters.get(
            "polyroute_hedges_total",
            &["entity=items", "op=get", &format!("outcome={outcome}")],
        )
    };
    assert_eq!((hedges("sent"), hedges("won")), (1, 1));

    // A read that answers before `after` sends no second attempt.
    db.slow_gets(&[ms(10)]);
    items.get("k").await.unwrap();
    assert_eq!(db.gets(), 3);
    assert_eq!(hedges("sent"), 1, "no second hedge");
}

#[tokio::test(start_paused = true)]
async fn hedges_apply_only_to_the_listed_reads() {
    let db = FakeKv::with(Behaviour::ttl());
    let hedge = HedgePolicy {
        after: ms(20),
        ops: Some(vec!["get_many".to_owned()]),
    };
    let router = router(&db, Some(hedge), &[]).await;
    let items = router.key_value("items").unwrap();
    assert_eq!(items.context().hedge_after("get"), None);
    assert_eq!(items.context().hedge_after("get_many"), Some(ms(20)));
    db.slow_gets(&[ms(100)]);
    let start = tokio::time::Instant::now();
    items.get("k").await.unwrap();
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(db.gets(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_operation_timeout_overrides_the_entity_timeout() {
    let db = FakeKv::with(Behaviour::ttl());
    let router = router(&db, None, &[("get", 20)]).await;
    let items = router.key_value("items").unwrap();
    assert_eq!(items.context().timeout_for("get"), ms(20));
    assert_eq!(items.context().timeout_for("set"), Duration::from_secs(5));

    db.every_get_takes(ms(100));
    let err = items.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        matches!(err, StoreError::Timeout { after } if after == ms(20)),
        "{err}"
    );
    // Other operations keep the entity's deadline.
    items.set("k", "v").await.unwrap();

    let description = router.entities().find(|e| e.name == "items").unwrap();
    assert_eq!(description.timeout, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn each_hedged_attempt_has_its_own_operation_deadline() {
    let db = FakeKv::with(Behaviour::ttl());
    db.put("k", "v");
    let router = router(&db, Some(HedgePolicy::after(ms(20))), &[("get", 50)]).await;
    let items = router.key_value("items").unwrap();
    // The first attempt hangs past its deadline, the hedge answers within its own.
    db.slow_gets(&[Duration::from_secs(10), ms(40)]);
    assert!(items.get("k").await.unwrap().is_some());
    // Both attempts hang: the later deadline ends the call.
    db.slow_gets(&[Duration::from_secs(10), Duration::from_secs(10)]);
    let start = tokio::time::Instant::now();
    let err = items.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), ms(70));
}
