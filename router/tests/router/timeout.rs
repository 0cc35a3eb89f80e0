//! Deadlines: a slow store call fails with `StoreError::Timeout`, with the entity's own
//! timeout overriding the policy's.

use std::time::Duration;

use polyroute::key_value::KeyValueSettings;
use polyroute::{EntitySettings, ErrorKind, Router, StoreError};

use polyroute_testkit::fake::FakeKv;

#[tokio::test(start_paused = true)]
async fn a_slow_get_times_out_with_the_entity_timeout() {
    let slow = FakeKv::new();
    slow.every_get_takes(Duration::from_secs(3600));
    let router = Router::builder()
        .store("slow", slow.store())
        .entity(
            "fast",
            "slow",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity(
            "patient",
            "slow",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity_timeout("fast", Duration::from_millis(20))
        .timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();

    let err = router
        .key_value("fast")
        .unwrap()
        .get("k")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(matches!(err, StoreError::Timeout { after } if after == Duration::from_millis(20)));
    assert!(err.is_retryable());

    let err = router
        .key_value("patient")
        .unwrap()
        .get("k")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Timeout { after } if after == Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn calls_within_the_deadline_succeed() {
    let slowish = FakeKv::new();
    slowish.every_get_takes(Duration::from_millis(5));
    let router = Router::builder()
        .store("kv", slowish.store())
        .entity(
            "items",
            "kv",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    assert_eq!(
        router.key_value("items").unwrap().get("k").await.unwrap(),
        None
    );
}
