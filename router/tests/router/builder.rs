//! `RouterBuilder` checks what a config load checks, and reports startup failures together.

use std::time::Duration;

use polyroute::key_value::KeyValueSettings;
use polyroute::relational::RelationalSettings;
use polyroute::{ConfigError, EntitySettings, ProblemKind, Router, RouterError, StoreKind};

use crate::support::assert_exactly;
use polyroute_testkit::fake::{with_ttl, Behaviour, FakeKv};

fn kv(ttl: Option<Duration>) -> EntitySettings {
    EntitySettings::KeyValue(KeyValueSettings::with_ttl(ttl))
}

fn config_problems(result: Result<Router, RouterError>) -> Vec<polyroute::ConfigProblem> {
    match result {
        Err(RouterError::Config(ConfigError::Invalid(problems))) => problems,
        Err(other) => panic!("expected config problems, got {other}"),
        Ok(router) => panic!("expected config problems, got {router:?}"),
    }
}

#[tokio::test]
async fn declarations_are_checked_together() {
    let result = Router::builder()
        .store("cache", FakeKv::new().store())
        .store("cache", FakeKv::new().store())
        .store_config(
            "main",
            StoreKind::Relational,
            "embedded",
            serde_json::json!({"pool": "x"}),
        )
        .store_config(
            "kv",
            StoreKind::KeyValue,
            "memcached",
            serde_json::json!({}),
        )
        .entity(
            "orders",
            "mian",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .entity(
            "carts",
            "cache",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .entity("bad name", "cache", kv(None))
        .entity_timeout("nobody", Duration::from_secs(1))
        .timeout(Duration::ZERO)
        .build()
        .await;
    assert_exactly(
        &config_problems(result),
        &[
            ("policy.timeout", ProblemKind::BadDuration),
            ("stores.cache", ProblemKind::Duplicate),
            ("stores.main.pool", ProblemKind::WrongType),
            ("stores.kv.backend", ProblemKind::UnknownBackend),
            ("entities.orders.store", ProblemKind::UnknownStore),
            ("entities.carts.store", ProblemKind::KindMismatch),
            ("entities.\"bad name\"", ProblemKind::InvalidName),
            ("entities.nobody.timeout", ProblemKind::UnknownEntity),
        ],
    );
}

#[tokio::test]
async fn a_ttl_on_a_store_without_ttl_is_a_capability_problem() {
    let result = Router::builder()
        .store("plain", FakeKv::new().store())
        .store(
            "expiring",
            FakeKv::with(Behaviour {
                capabilities: with_ttl(),
                ..Behaviour::default()
            })
            .store(),
        )
        .entity("sessions", "plain", kv(Some(Duration::from_secs(60))))
        .entity("tokens", "expiring", kv(Some(Duration::from_secs(60))))
        .entity("counters", "plain", kv(None))
        .build()
        .await;
    let problems = config_problems(result);
    assert_exactly(
        &problems,
        &[("entities.sessions.ttl", ProblemKind::Capability)],
    );
    assert!(
        problems[0].to_string().contains("backend `fake`"),
        "{}",
        problems[0]
    );
}

#[tokio::test]
async fn connection_and_open_failures_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let result = Router::builder()
        .store_config(
            "main",
            StoreKind::Relational,
            "embedded",
            serde_json::json!({"path": blocker.join("main.db")}),
        )
        .store(
            "stubborn",
            FakeKv::with(Behaviour {
                fail_open: true,
                ..Behaviour::default()
            })
            .store(),
        )
        .entity(
            "orders",
            "main",
            EntitySettings::Relational(RelationalSettings::default()),
        )
        .entity("sessions", "stubborn", kv(None))
        .build()
        .await;
    let failures = match result {
        Err(RouterError::Startup(failures)) => failures,
        Err(other) => panic!("expected startup failures, got {other}"),
        Ok(router) => panic!("expected startup failures, got {router:?}"),
    };
    let mut seen: Vec<(String, Option<String>)> = failures
        .iter()
        .map(|f| (f.store.clone(), f.entity.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("main".to_owned(), None),
            ("stubborn".to_owned(), Some("sessions".to_owned())),
        ]
    );
    let text = RouterError::Startup(failures).to_string();
    assert!(text.contains("stores.main: cannot connect"), "{text}");
    assert!(
        text.contains("entities.sessions: cannot open on store `stubborn`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_config_builds_the_same_router_as_code() {
    let config = crate::support::load(
        "[stores.cache]\nkind = \"key_value\"\n[entities.sessions]\nstore = \"cache\"\nttl = \"1m\"\ntimeout = \"3s\"\n",
    )
    .unwrap();
    let router = polyroute::RouterBuilder::from_config(config)
        .build()
        .await
        .unwrap();
    let sessions = router.key_value("sessions").unwrap();
    assert_eq!(sessions.default_ttl(), Some(Duration::from_secs(60)));
    assert_eq!(sessions.context().timeout(), Duration::from_secs(3));
}
