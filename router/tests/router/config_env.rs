//! `${NAME}` interpolation from an environment passed in, never the process's.

use polyroute::{Config, ProblemKind};

use crate::support::{assert_exactly, env, problems_with_env};

const TEXT: &str = r#"
[stores.main]
kind = "relational"
path = "${DATA_DIR}/main.db"

[stores.cache]
kind = "${CACHE_KIND}"

[entities.orders]
store = "main"
timeout = "${ORDERS_TIMEOUT}"

[entities.sessions]
store = "cache"
"#;

#[test]
fn present_variables_are_substituted_everywhere() {
    let vars = env(&[
        ("DATA_DIR", "/var/lib/shop"),
        ("CACHE_KIND", "key_value"),
        ("ORDERS_TIMEOUT", "2s"),
    ]);
    let config = Config::from_toml_str_with_env(TEXT, ".", &vars).unwrap();
    let main = &config.stores()["main"];
    assert_eq!(main.options().as_json()["path"], "/var/lib/shop/main.db");
    assert_eq!(
        config.stores()["cache"].kind(),
        polyroute::StoreKind::KeyValue
    );
    assert_eq!(
        config.entities()["orders"].timeout,
        Some(std::time::Duration::from_secs(2))
    );
}

#[test]
fn missing_variables_are_each_reported_at_their_field() {
    let vars = env(&[("CACHE_KIND", "key_value")]);
    let found = problems_with_env(TEXT, &vars);
    assert_exactly(
        &found,
        &[
            ("stores.main.path", ProblemKind::MissingEnvVar),
            ("entities.orders.timeout", ProblemKind::MissingEnvVar),
        ],
    );
    assert!(found
        .iter()
        .any(|p| p.message == "environment variable `DATA_DIR` is not set"));
}

#[test]
fn doubled_dollar_escapes_a_literal_reference() {
    let text = r#"
[stores.main]
kind = "relational"
path = "$${DATA_DIR}/main.db"
[entities.orders]
store = "main"
"#;
    let config = Config::from_toml_str_with_env(text, ".", &env(&[])).unwrap();
    assert_eq!(
        config.stores()["main"].options().as_json()["path"],
        "${DATA_DIR}/main.db"
    );
}

#[test]
fn malformed_references_are_reported() {
    let text = r#"
[stores.main]
kind = "relational"
path = "${DATA_DIR"
[entities.orders]
store = "main"
"#;
    let found = problems_with_env(text, &env(&[("DATA_DIR", "/x")]));
    assert_exactly(
        &found,
        &[("stores.main.path", ProblemKind::BadInterpolation)],
    );
}

#[test]
fn values_from_the_environment_stay_out_of_debug_output() {
    let vars = env(&[
        ("DATA_DIR", "/very/secret/place"),
        ("CACHE_KIND", "key_value"),
        ("ORDERS_TIMEOUT", "2s"),
    ]);
    let config = Config::from_toml_str_with_env(TEXT, ".", &vars).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(debug.contains("path"), "{debug}");
}
