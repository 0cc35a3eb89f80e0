//! Typed handles: errors for unknown entities and wrong kinds, and the default TTL.

use std::time::Duration;

use polyroute::key_value::{KeyValueSettings, SetOptions};
use polyroute::relational::RelationalSettings;
use polyroute::{EntitySettings, Router, RouterError, StoreKind};

use polyroute_testkit::fake::{Behaviour, FakeKv};

async fn router() -> (Router, std::sync::Arc<FakeKv>) {
    let fake = FakeKv::with(Behaviour::ttl());
    let router = Router::builder()
        .store("cache", fake.store())
        .store_config(
            "main",
            StoreKind::Relational,
            "embedded",
            serde_json::json!({}),
        )
        .entity(
            "sessions",
            "cache",
            EntitySettings::KeyValue(KeyValueSettings::with_ttl(Some(Duration::from_secs(1800)))),
        )
        .entity(
            "plain",
            "cache",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity(
            "orders",
            "main",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .build()
        .await
        .unwrap();
    (router, fake)
}

#[tokio::test]
async fn unknown_entities_are_errors_naming_the_known_ones() {
    let (router, _) = router().await;
    let err = router.key_value("sesions").unwrap_err();
    match &err {
        RouterError::UnknownEntity { name, known } => {
            assert_eq!(name, "sesions");
            assert_eq!(known, &["orders", "plain", "sessions"]);
        }
        other => panic!("expected UnknownEntity, got {other:?}"),
    }
    assert!(err.to_string().contains("`sesions`"), "{err}");
}

#[tokio::test]
async fn asking_for_the_wrong_kind_names_what_the_entity_is() {
    let (router, _) = router().await;
    let err = router.relational("sessions").unwrap_err();
    match &err {
        RouterError::WrongKind {
            entity,
            expected,
            actual,
            store,
        } => {
            assert_eq!(entity, "sessions");
            assert_eq!(*expected, StoreKind::Relational);
            assert_eq!(*actual, StoreKind::KeyValue);
            assert_eq!(store, "cache");
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
    assert!(
        err.to_string().contains("router.key_value(\"sessions\")"),
        "{err}"
    );
    assert!(matches!(
        router.document("orders"),
        Err(RouterError::WrongKind { .. })
    ));
    assert!(matches!(
        router.graph("orders"),
        Err(RouterError::WrongKind { .. })
    ));
    assert!(matches!(
        router.search("orders"),
        Err(RouterError::WrongKind { .. })
    ));
    assert!(matches!(
        router.time_series("orders"),
        Err(RouterError::WrongKind { .. })
    ));
    assert!(matches!(
        router.wide_column("orders"),
        Err(RouterError::WrongKind { .. })
    ));
}

#[tokio::test]
async fn the_default_ttl_applies_to_writes_that_set_none() {
    let (router, fake) = router().await;
    let sessions = router.key_value("sessions").unwrap();
    sessions.set("a", "1").await.unwrap();
    sessions
        .set_with("b", "2", SetOptions::ttl(Duration::from_secs(5)))
        .await
        .unwrap();
    sessions.set_if_absent("c", "3").await.unwrap();
    sessions.set_many([("d", "4")]).await.unwrap();
    router
        .key_value("plain")
        .unwrap()
        .set("e", "5")
        .await
        .unwrap();
    let half_hour = Some(Duration::from_secs(1800));
    assert_eq!(
        fake.ttls(),
        vec![
            half_hour,
            Some(Duration::from_secs(5)),
            half_hour,
            half_hour,
            None
        ]
    );
    assert_eq!(sessions.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
}

#[tokio::test]
async fn the_embedded_store_expires_entries_after_the_default_ttl() {
    let router = Router::builder()
        .store_config(
            "cache",
            StoreKind::KeyValue,
            "embedded",
            serde_json::json!({}),
        )
        .entity(
            "tokens",
            "cache",
            EntitySettings::KeyValue(KeyValueSettings::with_ttl(Some(Duration::from_millis(30)))),
        )
        .build()
        .await
        .unwrap();
    let tokens = router.key_value("tokens").unwrap();
    tokens.set("t", "x").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(tokens.get("t").await.unwrap(), None);
}

#[tokio::test]
async fn handles_are_cheap_clones_sharing_the_store() {
    let (router, _) = router().await;
    let a = router.key_value("plain").unwrap();
    let b = a.clone();
    a.set("k", "v").await.unwrap();
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(b.context().entity(), Some("plain"));
    assert_eq!(b.context().store(), "cache");
}
