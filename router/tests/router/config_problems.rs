//! One test per class of config mistake, and one with many mistakes at once.

use polyroute::backend::registry;
use polyroute::{ProblemKind, StoreKind};

use crate::support::{assert_exactly, at, problems, problems_with_env, STORES};

#[test]
fn toml_syntax_errors_give_line_and_column() {
    let found = problems("[stores.main]\nkind = \"relational\"\npool = \n");
    assert_eq!(found.len(), 1, "{found:#?}");
    let problem = &found[0];
    assert_eq!(problem.kind, ProblemKind::Syntax);
    let location = problem.location.expect("a syntax error has a location");
    assert_eq!(location.line, 3);
    assert!(
        problem.to_string().starts_with("line 3, column"),
        "{problem}"
    );
}

#[test]
fn unknown_top_level_keys_list_the_allowed_ones() {
    let text =
        format!("{STORES}\n[entites.orders]\nstore = \"main\"\n[entities.x]\nstore = \"main\"\n");
    let found = problems(&text);
    let problem = at(&found, "entites");
    assert_eq!(problem.kind, ProblemKind::UnknownKey);
    let fix = problem.fix.as_deref().unwrap_or_default();
    assert!(fix.contains("stores, entities, policy"), "{fix}");
    assert!(fix.contains("did you mean `entities`"), "{fix}");
}

#[test]
fn unknown_backend_options_come_from_the_backend() {
    let found = problems(
        "[stores.main]\nkind = \"relational\"\npol = 4\n[entities.orders]\nstore = \"main\"\n",
    );
    assert_exactly(&found, &[("stores.main.pol", ProblemKind::UnknownKey)]);
    assert!(found[0].message.contains("pool"), "{}", found[0]);
}

#[test]
fn unknown_entity_keys_list_what_the_kind_allows() {
    let text = format!("{STORES}\n[entities.sessions]\nstore = \"cache\"\ntll = \"30m\"\n");
    let found = problems(&text);
    assert_exactly(
        &found,
        &[("entities.sessions.tll", ProblemKind::UnknownKey)],
    );
    let fix = found[0].fix.as_deref().unwrap_or_default();
    assert!(
        fix.contains("store, timeout, timeouts, cache, hedge, ttl"),
        "{fix}"
    );
    assert!(fix.contains("did you mean `ttl`"), "{fix}");
}

#[test]
fn unknown_policy_keys_are_reported() {
    let text = format!(
        "{STORES}\n[entities.orders]\nstore = \"main\"\n[policy]\ntimeout = \"1s\"\nretries = 2\n"
    );
    assert_exactly(
        &problems(&text),
        &[("policy.retries", ProblemKind::UnknownKey)],
    );
}

#[test]
fn bad_policy_layers_are_reported_with_fixes() {
    let text = format!(
        "{STORES}\n[entities.orders]\nstore = \"main\"\n[policy]\nmax_in_flight = 0\n\
         retry = {{ attempts = 0, budget = 2, backoff = \"1s\", max_backoff = \"10ms\", tries = 3 }}\n\
         breaker = {{ failures = \"five\" }}\n"
    );
    let found = problems(&text);
    assert_exactly(
        &found,
        &[
            ("policy.max_in_flight", ProblemKind::InvalidValue),
            ("policy.retry.attempts", ProblemKind::InvalidValue),
            ("policy.retry.budget", ProblemKind::InvalidValue),
            ("policy.retry.max_backoff", ProblemKind::InvalidValue),
            ("policy.retry.tries", ProblemKind::UnknownKey),
            ("policy.breaker.failures", ProblemKind::WrongType),
        ],
    );
    let fix = at(&found, "policy.retry.budget")
        .fix
        .as_deref()
        .unwrap_or_default();
    assert!(fix.contains("0.1"), "{fix}");
    let fix = at(&found, "policy.retry.tries")
        .fix
        .as_deref()
        .unwrap_or_default();
    assert!(fix.contains("attempts"), "{fix}");
}

#[test]
fn missing_required_keys_are_reported() {
    let found =
        problems("[stores.main]\nbackend = \"embedded\"\n[entities.orders]\npath = \"x\"\n");
    assert_exactly(
        &found,
        &[
            ("stores.main.kind", ProblemKind::MissingKey),
            ("entities.orders.store", ProblemKind::MissingKey),
            ("entities.orders.path", ProblemKind::UnknownKey),
        ],
    );
    let no_stores = problems("[entities.orders]\nstore = \"main\"\n");
    assert_exactly(&no_stores, &[("stores", ProblemKind::MissingKey)]);
}

#[test]
fn wrong_value_types_are_reported() {
    let text = r#"
[stores.main]
kind = 3
[stores.db]
kind = "relational"
pool = "many"
[entities.orders]
store = "db"
timeout = 5
[policy]
timeout = ["1s"]
"#;
    let found = problems(text);
    assert_exactly(
        &found,
        &[
            ("stores.main.kind", ProblemKind::WrongType),
            ("stores.db.pool", ProblemKind::WrongType),
            ("entities.orders.timeout", ProblemKind::WrongType),
            ("policy.timeout", ProblemKind::WrongType),
        ],
    );
    assert!(at(&found, "stores.main.kind")
        .message
        .contains("found an integer"));
}

#[test]
fn unknown_kinds_suggest_the_right_one() {
    let found = problems("[stores.cache]\nkind = \"keyvalue\"\n[entities.s]\nstore = \"cache\"\n");
    assert_exactly(&found, &[("stores.cache.kind", ProblemKind::UnknownKind)]);
    let fix = found[0].fix.as_deref().unwrap_or_default();
    assert!(fix.contains("did you mean `key_value`"), "{fix}");
}

#[test]
fn unknown_backends_are_reported_on_the_backend_key() {
    let found = problems(
        "[stores.cache]\nkind = \"key_value\"\nbackend = \"memcached\"\n[entities.s]\nstore = \"cache\"\n",
    );
    assert_exactly(
        &found,
        &[("stores.cache.backend", ProblemKind::UnknownBackend)],
    );
    assert!(found[0].message.contains("memcached"), "{}", found[0]);
}

#[test]
fn backends_not_compiled_in_say_which_feature_to_enable() {
    let found = problems(
        "[stores.docs]\nkind = \"document\"\nbackend = \"mongodb\"\n[entities.s]\nstore = \"docs\"\n",
    );
    // Built with every feature (as the workspace's tests are), mongodb is compiled in and
    // checks its own options instead: the missing `url`.
    if registry::backends()
        .iter()
        .any(|backend| backend.name == "mongodb")
    {
        assert_exactly(&found, &[("stores.docs.url", ProblemKind::MissingKey)]);
        return;
    }
    assert_exactly(&found, &[("stores.docs.backend", ProblemKind::NotCompiled)]);
    assert!(
        found[0].message.contains("--features mongodb"),
        "{}",
        found[0]
    );
}

#[test]
fn unknown_stores_list_the_declared_ones() {
    let text = format!("{STORES}\n[entities.orders]\nstore = \"mian\"\n");
    let found = problems(&text);
    assert_exactly(
        &found,
        &[("entities.orders.store", ProblemKind::UnknownStore)],
    );
    let line = found[0].to_string();
    assert!(
        line.starts_with(
            "entities.orders.store: unknown store `mian`; declared stores: main, cache"
        ),
        "{line}"
    );
    assert!(line.contains("did you mean `main`"), "{line}");
}

#[test]
fn kind_specific_keys_on_the_wrong_kind_are_reported() {
    let text = format!(
        "{STORES}\n[entities.sessions]\nstore = \"main\"\nttl = \"30m\"\n[entities.tokens]\nstore = \"cache\"\nindexes = [\"user.id\"]\n"
    );
    let found = problems(&text);
    assert_exactly(
        &found,
        &[
            ("entities.sessions.ttl", ProblemKind::KindMismatch),
            ("entities.tokens.indexes", ProblemKind::KindMismatch),
        ],
    );
    assert_eq!(
        at(&found, "entities.sessions.ttl").to_string(),
        "entities.sessions.ttl: entity `sessions` is on store `main` (relational), which has no TTL; remove `ttl` or route `sessions` to a key_value or wide_column store"
    );
}

#[test]
fn bad_durations_show_how_to_write_one() {
    let text = format!(
        "{STORES}\n[entities.sessions]\nstore = \"cache\"\nttl = \"0s\"\ntimeout = \"soon\"\n[policy]\ntimeout = \"fast\"\n"
    );
    let found = problems(&text);
    assert_exactly(
        &found,
        &[
            ("entities.sessions.ttl", ProblemKind::BadDuration),
            ("entities.sessions.timeout", ProblemKind::BadDuration),
            ("policy.timeout", ProblemKind::BadDuration),
        ],
    );
    let message = &at(&found, "policy.timeout").message;
    assert!(message.contains("`fast` is not a duration"), "{message}");
    assert!(message.contains("250ms"), "{message}");
}

#[test]
fn names_must_be_identifiers() {
    let text = r#"
[stores."my store"]
kind = "relational"
[entities.1orders]
store = "my store"
"#;
    let found = problems(text);
    assert_exactly(
        &found,
        &[
            ("stores.\"my store\"", ProblemKind::InvalidName),
            ("entities.1orders", ProblemKind::InvalidName),
        ],
    );
}

#[test]
fn a_config_without_entities_is_reported() {
    assert_exactly(&problems(STORES), &[("entities", ProblemKind::NoEntities)]);
    let empty = format!("{STORES}\n[entities]\n");
    assert_exactly(&problems(&empty), &[("entities", ProblemKind::NoEntities)]);
}

#[test]
fn missing_environment_variables_name_field_and_variable() {
    let text = r#"
[stores.main]
kind = "relational"
path = "${DATA_DIR}/main.db"
[entities.orders]
store = "${ORDERS_STORE}"
"#;
    let found = problems(text);
    assert_exactly(
        &found,
        &[
            ("stores.main.path", ProblemKind::MissingEnvVar),
            ("entities.orders.store", ProblemKind::MissingEnvVar),
        ],
    );
    assert!(at(&found, "stores.main.path")
        .message
        .contains("`DATA_DIR`"));
    assert!(at(&found, "entities.orders.store")
        .message
        .contains("`ORDERS_STORE`"));
}

#[test]
fn kind_specific_settings_are_checked_even_when_the_backend_is_missing() {
    let text = r#"
[stores.events]
kind = "wide_column"
[stores.catalog]
kind = "search"
[entities.timeline]
store = "events"
partition_key = ["user"]
clustering_key = ["at", "at"]
[entities.products]
store = "catalog"
fields = { title = "text", price = "money" }
"#;
    let found = problems(text);
    let wide_missing =
        registry::validate(StoreKind::WideColumn, "embedded", &serde_json::json!({})).is_err();
    let search_missing =
        registry::validate(StoreKind::Search, "embedded", &serde_json::json!({})).is_err();
    let mut expected = vec![
        (
            "entities.timeline.clustering_key[1]",
            ProblemKind::InvalidValue,
        ),
        ("entities.products.fields.price", ProblemKind::InvalidValue),
    ];
    if wide_missing {
        expected.push(("stores.events.backend", ProblemKind::UnknownBackend));
    }
    if search_missing {
        expected.push(("stores.catalog.backend", ProblemKind::UnknownBackend));
    }
    assert_exactly(&found, &expected);
}

#[test]
fn required_kind_keys_are_reported() {
    let text = r#"
[stores.events]
kind = "wide_column"
[stores.catalog]
kind = "search"
[entities.timeline]
store = "events"
[entities.products]
store = "catalog"
"#;
    let found = problems(text);
    at(&found, "entities.timeline.partition_key");
    at(&found, "entities.products.fields");
    assert_eq!(
        at(&found, "entities.timeline.partition_key").kind,
        ProblemKind::MissingKey
    );
}

#[test]
fn several_mistakes_are_reported_together() {
    let text = r#"
[stores.main]
kind = "relational"
pool = "lots"

[stores.cache]
kind = "keyvalue"

[stores.search]
kind = "search"
backend = "elasticsearch"
url = "${ES_URL}"

[entities.orders]
store = "mian"

[entities.sessions]
store = "main"
ttl = "30m"

[entities.carts]
timeout = "quick"

[policy]
timeout = "fast"
retries = 3
"#;
    let found = problems_with_env(text, &crate::support::env(&[]));
    assert_exactly(
        &found,
        &[
            ("stores.main.pool", ProblemKind::WrongType),
            ("stores.cache.kind", ProblemKind::UnknownKind),
            ("stores.search.url", ProblemKind::MissingEnvVar),
            ("entities.orders.store", ProblemKind::UnknownStore),
            ("entities.sessions.ttl", ProblemKind::KindMismatch),
            ("entities.carts.store", ProblemKind::MissingKey),
            ("entities.carts.timeout", ProblemKind::BadDuration),
            ("policy.timeout", ProblemKind::BadDuration),
            ("policy.retries", ProblemKind::UnknownKey),
        ],
    );
    let err = polyroute::Config::from_toml_str_with_env(text, ".", &crate::support::env(&[]))
        .expect_err("invalid");
    let display = err.to_string();
    assert_eq!(display.lines().count(), found.len(), "{display}");
    for problem in &found {
        assert!(
            display
                .lines()
                .any(|line| line.starts_with(&format!("{}: ", problem.path))),
            "{} missing from:\n{display}",
            problem.path
        );
    }
}

#[test]
fn option_values_never_appear_in_problems() {
    let vars = crate::support::env(&[("POOL", "s3cr3t-pool-value")]);
    let text = r#"
[stores.main]
kind = "relational"
pool = "${POOL}"
[entities.orders]
store = "main"
"#;
    let found = problems_with_env(text, &vars);
    assert_exactly(&found, &[("stores.main.pool", ProblemKind::WrongType)]);
    assert!(!found[0].to_string().contains("s3cr3t"), "{}", found[0]);
}
