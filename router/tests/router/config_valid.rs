//! A valid embedded config, loaded from a file and connected.

use std::time::Duration;

use polyroute::document::Filter;
use polyroute::{Config, ProblemKind, Router, RouterError, StoreKind};

use crate::support::{at, env, problems};

const TEXT: &str = r#"
[stores.main]
kind = "relational"
path = "data/main.db"

[stores.cache]
kind = "key_value"
max_memory = "16MiB"

[stores.docs]
kind = "document"
path = "data/docs.db"

[entities.orders]
store = "main"
timeout = "2s"

[entities.products]
store = "docs"
indexes = ["category", "price"]

[entities.customers]
store = "main"

[entities.sessions]
store = "cache"
ttl = "30m"

[policy]
timeout = "250ms"
"#;

#[test]
fn settings_defaults_and_base_dir_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, TEXT).unwrap();
    let config = Config::from_path_with_env(&path, &env(&[])).unwrap();
    assert_eq!(config.base_dir(), dir.path());
    assert_eq!(config.policy().timeout, Duration::from_millis(250));
    assert_eq!(config.stores()["main"].backend(), "embedded");
    assert_eq!(config.stores()["cache"].kind(), StoreKind::KeyValue);
    let sessions = &config.entities()["sessions"];
    assert_eq!(sessions.store, "cache");
    match &sessions.settings {
        polyroute::EntitySettings::KeyValue(kv) => {
            assert_eq!(kv.ttl, Some(Duration::from_secs(30 * 60)));
        }
        other => panic!("expected key-value settings, got {other:?}"),
    }
    assert_eq!(
        config.entities()["orders"].timeout,
        Some(Duration::from_secs(2))
    );
    assert_eq!(config.entities()["customers"].timeout, None);
}

#[test]
fn policy_timeout_defaults_to_five_seconds() {
    let config = crate::support::load(
        "[stores.main]\nkind = \"relational\"\n[entities.orders]\nstore = \"main\"\n",
    )
    .unwrap();
    assert_eq!(config.policy().timeout, Duration::from_secs(5));
    assert_eq!(
        config.policy().layers,
        polyroute::layers::LayerPolicy::default()
    );
}

#[test]
fn policy_layers_are_read() {
    let config = crate::support::load(
        "[stores.main]\nkind = \"relational\"\n[entities.orders]\nstore = \"main\"\n\
         [policy]\nmax_in_flight = 64\nbreaker = false\n\
         retry = { attempts = 5, backoff = \"10ms\", max_backoff = \"2s\", budget = 0.2, budget_floor = 3 }\n",
    )
    .unwrap();
    let layers = config.policy().layers;
    assert_eq!(layers.max_in_flight, Some(64));
    assert_eq!(layers.breaker, None);
    let retry = layers.retry.unwrap();
    assert_eq!(retry.attempts, 5);
    assert_eq!(retry.base, Duration::from_millis(10));
    assert_eq!(retry.cap, Duration::from_secs(2));
    assert_eq!(retry.budget_ratio, 0.2);
    assert_eq!(retry.budget_floor_per_second, 3);
    let config = crate::support::load(
        "[stores.main]\nkind = \"relational\"\n[entities.orders]\nstore = \"main\"\n\
         [policy]\nretry = false\nbreaker = { failures = 2, open_for = \"1m\" }\n",
    )
    .unwrap();
    let layers = config.policy().layers;
    assert_eq!(layers.retry, None);
    let breaker = layers.breaker.unwrap();
    assert_eq!(
        (breaker.failures, breaker.open_for),
        (2, Duration::from_secs(60))
    );
}

#[tokio::test]
async fn an_embedded_config_connects_and_routes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(&path, TEXT).unwrap();
    let router = Router::from_config_path(&path).await.unwrap();

    assert!(
        dir.path().join("data/main.db").exists(),
        "relative path resolves against the file"
    );
    let stores: Vec<_> = router
        .stores()
        .map(|s| (s.name.to_owned(), s.info.kind, s.info.backend))
        .collect();
    assert_eq!(
        stores,
        vec![
            ("cache".to_owned(), StoreKind::KeyValue, "embedded"),
            ("docs".to_owned(), StoreKind::Document, "embedded"),
            ("main".to_owned(), StoreKind::Relational, "embedded"),
        ]
    );
    let entities: Vec<_> = router
        .entities()
        .map(|e| (e.name.to_owned(), e.kind, e.store.to_owned(), e.timeout))
        .collect();
    assert_eq!(
        entities,
        vec![
            (
                "customers".to_owned(),
                StoreKind::Relational,
                "main".to_owned(),
                Duration::from_millis(250)
            ),
            (
                "orders".to_owned(),
                StoreKind::Relational,
                "main".to_owned(),
                Duration::from_secs(2)
            ),
            (
                "products".to_owned(),
                StoreKind::Document,
                "docs".to_owned(),
                Duration::from_millis(250)
            ),
            (
                "sessions".to_owned(),
                StoreKind::KeyValue,
                "cache".to_owned(),
                Duration::from_millis(250)
            ),
        ]
    );
    router.ping("main").await.unwrap();
    router.ping("cache").await.unwrap();
    router.ping("docs").await.unwrap();
    assert!(matches!(
        router.ping("nope").await,
        Err(RouterError::UnknownStore { .. })
    ));

    let orders = router.relational("orders").unwrap();
    orders
        .execute_script("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL NOT NULL);")
        .await
        .unwrap();
    let mut tx = orders.begin().await.unwrap();
    tx.execute(
        "INSERT INTO orders (id, total) VALUES ($1, $2)",
        &[1.into(), 99.5.into()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rows = orders
        .query("SELECT total FROM orders WHERE id = $1", &[1.into()])
        .await
        .unwrap();
    assert_eq!(rows.get(0, "total").and_then(|v| v.as_f64()), Some(99.5));

    let sessions = router.key_value("sessions").unwrap();
    assert_eq!(sessions.default_ttl(), Some(Duration::from_secs(1800)));
    sessions.set("s1", "alice").await.unwrap();
    assert_eq!(
        sessions.get("s1").await.unwrap().as_deref(),
        Some(&b"alice"[..])
    );
    assert_eq!(sessions.increment("visits", 2).await.unwrap(), 2);

    let products = router.document("products").unwrap();
    let indexed: Vec<&str> = products.indexes().iter().map(|p| p.as_str()).collect();
    assert_eq!(indexed, ["category", "price"]);
    products
        .put("p1", serde_json::json!({"category": "tea", "price": 4.5}))
        .await
        .unwrap();
    products
        .put("p2", serde_json::json!({"category": "coffee", "price": 7}))
        .await
        .unwrap();
    let tea = products
        .find_where(Filter::eq("category", "tea").unwrap())
        .await
        .unwrap();
    assert_eq!(tea.len(), 1);
    assert_eq!(tea[0].id, "p1");
    assert_eq!(products.count(&Filter::All).await.unwrap(), 2);
    let err = products
        .put("p3", serde_json::json!([1, 2]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), polyroute::ErrorKind::InvalidRequest);
}

#[test]
fn document_indexes_are_read_as_field_paths() {
    let text = r#"
[stores.docs]
kind = "document"
[entities.orders]
store = "docs"
indexes = ["customer.id", "status"]
"#;
    let config = crate::support::load(text).unwrap();
    match &config.entities()["orders"].settings {
        polyroute::EntitySettings::Document(docs) => {
            let paths: Vec<&str> = docs.indexes.iter().map(|p| p.as_str()).collect();
            assert_eq!(paths, vec!["customer.id", "status"]);
        }
        other => panic!("expected document settings, got {other:?}"),
    }
    let found = problems(&text.replace("\"status\"", "\"st atus\""));
    assert_eq!(
        at(&found, "entities.orders.indexes[1]").kind,
        ProblemKind::InvalidValue
    );
}

#[test]
fn an_unreadable_file_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::from_path(dir.path().join("missing.toml")).unwrap_err();
    assert!(matches!(err, polyroute::ConfigError::Read { .. }));
    assert!(err.to_string().contains("missing.toml"), "{err}");
}
