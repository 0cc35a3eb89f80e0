//! The access policy keys of an entity in config: `cache`, `hedge` and `timeouts` — what a
//! valid one reads as, and every mistake reported at its field with a fix.

use std::time::Duration;

use polyroute::key_value::KeyValueSettings;
use polyroute::{CachePolicy, EntitySettings, ProblemKind, Router, RouterError};

use crate::support::{assert_exactly, at, load, problems};
use polyroute_testkit::fake::{Behaviour, FakeKv};

const STORES: &str = r#"
[stores.main]
kind = "relational"

[stores.docs]
kind = "document"

[stores.kv]
kind = "key_value"

[stores.fast]
kind = "key_value"
"#;

fn with_stores(entities: &str) -> String {
    format!("{STORES}\n{entities}")
}

#[test]
fn a_full_access_policy_is_read() {
    let config = load(&with_stores(
        r#"
[entities.products]
store = "docs"
cache = { store = "fast", ttl = "10m", jitter = 0.25, stale = "30s", negative = "5s" }
hedge = { after = "20ms", ops = ["get", "find"] }
timeouts = { get = "50ms", find = "2s" }

[entities.sessions]
store = "kv"
cache = { store = "fast", negative = true, ttl = "1m" }
"#,
    ))
    .unwrap();
    let products = &config.entities()["products"];
    let cache = products.cache.as_ref().unwrap();
    assert_eq!(cache.store, "fast");
    assert_eq!(cache.ttl, Duration::from_secs(600));
    assert_eq!(cache.jitter, 0.25);
    assert_eq!(cache.stale, Duration::from_secs(30));
    assert_eq!(cache.negative, Some(Duration::from_secs(5)));
    let hedge = products.hedge.as_ref().unwrap();
    assert_eq!(hedge.after, Duration::from_millis(20));
    assert_eq!(
        hedge.ops.as_deref(),
        Some(&["get".to_owned(), "find".to_owned()][..])
    );
    assert_eq!(products.timeouts["get"], Duration::from_millis(50));
    assert_eq!(products.timeouts["find"], Duration::from_secs(2));

    // Defaults: five minutes ± 10%, never stale; `negative = true` caches absence for `ttl`.
    let sessions = config.entities()["sessions"].cache.as_ref().unwrap();
    assert_eq!(sessions.negative, Some(Duration::from_secs(60)));
    let defaults = load(&with_stores(
        "[entities.s]\nstore = \"kv\"\ncache = { store = \"fast\" }\n",
    ))
    .unwrap();
    assert_eq!(
        defaults.entities()["s"].cache.as_ref().unwrap(),
        &CachePolicy::on("fast")
    );
    assert_eq!(CachePolicy::on("x").ttl, Duration::from_secs(300));
}

#[test]
fn cache_mistakes_are_reported_at_their_field() {
    let found = problems(&with_stores(
        r#"
[entities.a]
store = "kv"
cache = { store = "nope" }

[entities.b]
store = "kv"
cache = { store = "docs" }

[entities.c]
store = "kv"
cache = { store = "kv" }

[entities.d]
store = "kv"
cache = { store = "fast", ttl = "soon", stale = "0s", jitter = 0.9, colour = "red" }

[entities.e]
store = "main"
cache = { store = "fast" }

[entities.f]
store = "kv"
cache = { ttl = "1m" }

[entities.g]
store = "kv"
cache = { store = "fast", jitter = "some", negative = 3 }
"#,
    ));
    assert_exactly(
        &found,
        &[
            ("entities.a.cache.store", ProblemKind::UnknownStore),
            ("entities.b.cache.store", ProblemKind::KindMismatch),
            ("entities.c.cache.store", ProblemKind::InvalidValue),
            ("entities.d.cache.ttl", ProblemKind::BadDuration),
            ("entities.d.cache.stale", ProblemKind::BadDuration),
            ("entities.d.cache.jitter", ProblemKind::InvalidValue),
            ("entities.d.cache.colour", ProblemKind::UnknownKey),
            ("entities.e.cache", ProblemKind::KindMismatch),
            ("entities.f.cache.store", ProblemKind::MissingKey),
            ("entities.g.cache.jitter", ProblemKind::WrongType),
            ("entities.g.cache.negative", ProblemKind::WrongType),
        ],
    );
    let unknown = at(&found, "entities.a.cache.store");
    assert!(
        unknown.fix.as_deref().unwrap().contains("fast"),
        "{unknown}"
    );
    let wrong_kind = at(&found, "entities.b.cache.store");
    assert!(wrong_kind.message.contains("document"), "{wrong_kind}");
    let own = at(&found, "entities.c.cache.store");
    assert!(own.fix.as_deref().unwrap().contains("fast"), "{own}");
    let jitter = at(&found, "entities.d.cache.jitter");
    assert!(jitter.fix.as_deref().unwrap().contains("0.5"), "{jitter}");
}

#[test]
fn hedge_and_timeout_mistakes_name_the_valid_operations() {
    let found = problems(&with_stores(
        r#"
[entities.a]
store = "kv"
hedge = { after = "20ms", ops = ["get", "set", "fetch"] }
timeouts = { get = "10ms", query = "1s", set = "never" }

[entities.b]
store = "main"
hedge = { after = "20ms" }
timeouts = { query = "2s" }

[entities.c]
store = "docs"
hedge = { ops = ["find"], wait = "1s" }
"#,
    ));
    assert_exactly(
        &found,
        &[
            ("entities.a.hedge.ops[1]", ProblemKind::InvalidValue),
            ("entities.a.hedge.ops[2]", ProblemKind::InvalidValue),
            ("entities.a.timeouts.query", ProblemKind::UnknownKey),
            ("entities.a.timeouts.set", ProblemKind::BadDuration),
            ("entities.b.hedge", ProblemKind::KindMismatch),
            ("entities.c.hedge.after", ProblemKind::MissingKey),
            ("entities.c.hedge.wait", ProblemKind::UnknownKey),
        ],
    );
    let write = at(&found, "entities.a.hedge.ops[1]");
    assert!(write.message.contains("not a read"), "{write}");
    assert!(
        write.fix.as_deref().unwrap().contains("get, get_many"),
        "{write}"
    );
    let op = at(&found, "entities.a.timeouts.query");
    assert!(
        op.fix
            .as_deref()
            .unwrap()
            .contains("get, set, delete, get_many, set_many, increment"),
        "{op}"
    );
}

#[tokio::test]
async fn the_builder_checks_the_same_things() {
    let memory = FakeKv::with(Behaviour::ttl());
    let err = Router::builder()
        .store("kv", memory.store())
        .entity(
            "items",
            "kv",
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .entity_cache("items", CachePolicy::on("kv"))
        .entity_cache("ghost", CachePolicy::on("kv"))
        .entity_op_timeout("items", "scan", Duration::from_secs(1))
        .build()
        .await
        .unwrap_err();
    let RouterError::Config(error) = err else {
        panic!("expected config problems, got {err}")
    };
    assert_exactly(
        error.problems(),
        &[
            ("entities.items.cache.store", ProblemKind::InvalidValue),
            ("entities.ghost", ProblemKind::UnknownEntity),
            ("entities.items.timeouts.scan", ProblemKind::UnknownKey),
        ],
    );
}

#[tokio::test]
async fn a_config_with_a_cache_builds_a_cached_router() {
    let config = load(&with_stores(
        r#"
[entities.sessions]
store = "kv"
cache = { store = "fast", ttl = "1m" }
timeouts = { get = "1s" }
"#,
    ))
    .unwrap();
    let router = Router::connect(config).await.unwrap();
    let sessions = router.key_value("sessions").unwrap();
    assert_eq!(
        sessions.cache().unwrap().policy().ttl,
        Duration::from_secs(60)
    );
    assert_eq!(
        sessions.context().timeout_for("get"),
        Duration::from_secs(1)
    );
    sessions.set("s1", "alice").await.unwrap();
    assert_eq!(sessions.get("s1").await.unwrap().unwrap(), "alice");
    assert_eq!(sessions.get("s1").await.unwrap().unwrap(), "alice");
}
