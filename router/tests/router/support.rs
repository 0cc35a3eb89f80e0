//! Helpers shared by the tests.

use std::collections::BTreeMap;

use polyroute::{Config, ConfigError, ConfigProblem, ProblemKind};

/// An environment with the given variables.
pub fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Loads `text` with an empty environment.
pub fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str_with_env(text, ".", &env(&[]))
}

/// The problems of a config that must be invalid.
pub fn problems(text: &str) -> Vec<ConfigProblem> {
    problems_with_env(text, &env(&[]))
}

/// The problems of a config that must be invalid, under `vars`.
pub fn problems_with_env(text: &str, vars: &BTreeMap<String, String>) -> Vec<ConfigProblem> {
    match Config::from_toml_str_with_env(text, ".", vars) {
        Ok(config) => panic!("expected problems, got a valid config: {config:?}"),
        Err(ConfigError::Invalid(problems)) => problems,
        Err(other) => panic!("expected problems, got {other}"),
    }
}

/// The one problem at `path`; fails when there is none or several.
pub fn at<'a>(problems: &'a [ConfigProblem], path: &str) -> &'a ConfigProblem {
    let found: Vec<&ConfigProblem> = problems.iter().filter(|p| p.path == path).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one problem at `{path}`, found {}: {problems:#?}",
        found.len()
    );
    found[0]
}

/// Asserts the problems are exactly `expected` (path, kind), in any order.
pub fn assert_exactly(problems: &[ConfigProblem], expected: &[(&str, ProblemKind)]) {
    let mut got: Vec<(String, ProblemKind)> =
        problems.iter().map(|p| (p.path.clone(), p.kind)).collect();
    let mut want: Vec<(String, ProblemKind)> = expected
        .iter()
        .map(|(path, kind)| ((*path).to_owned(), *kind))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want, "{problems:#?}");
}

/// A minimal valid pair of stores to build configs on.
pub const STORES: &str = r#"
[stores.main]
kind = "relational"

[stores.cache]
kind = "key_value"
"#;
