//! [`Walker`]: reads typed values out of a parsed TOML tree, interpolating strings from the
//! environment and recording every problem instead of stopping at the first.

use std::time::Duration;

use polyroute_adapters::units::parse_duration;
use toml::Value;

use super::env::{interpolate, Environment, InterpolationError};
use super::problem::{ConfigProblem, ProblemKind};
use polyroute_adapters::problem::listing;

/// `parent.key`, quoting `key` when it is not a bare TOML key.
pub(crate) fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// Collects problems while reading values.
pub(crate) struct Walker<'e> {
    env: &'e dyn Environment,
    problems: Vec<ConfigProblem>,
}

impl<'e> Walker<'e> {
    pub(crate) fn new(env: &'e dyn Environment) -> Self {
        Walker {
            env,
            problems: Vec::new(),
        }
    }

    /// How many problems have been recorded so far.
    pub(crate) fn count(&self) -> usize {
        self.problems.len()
    }

    pub(crate) fn into_problems(self) -> Vec<ConfigProblem> {
        self.problems
    }

    pub(crate) fn push(&mut self, problem: ConfigProblem) {
        self.problems.push(problem);
    }

    pub(crate) fn report(&mut self, kind: ProblemKind, path: &str, message: impl Into<String>) {
        self.push(ConfigProblem::new(kind, path, message));
    }

    pub(crate) fn report_fix(
        &mut self,
        kind: ProblemKind,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(ConfigProblem::new(kind, path, message).with_fix(fix));
    }

    /// Reports `key` as not allowed at `path`, listing `allowed`.
    pub(crate) fn unknown_key(&mut self, path: &str, key: &str, allowed: &[&str], what: &str) {
        self.report_fix(
            ProblemKind::UnknownKey,
            &join(path, key),
            format!("unknown key `{key}` {what}"),
            format!("allowed keys: {}", listing(allowed, key)),
        );
    }

    fn wrong_type(&mut self, path: &str, expected: &str, found: &Value) {
        self.report(
            ProblemKind::WrongType,
            path,
            format!("expected {expected}, found {}", describe(found)),
        );
    }

    /// `value` as a table.
    pub(crate) fn table<'v>(&mut self, path: &str, value: &'v Value) -> Option<&'v toml::Table> {
        match value {
            Value::Table(table) => Some(table),
            other => {
                self.wrong_type(path, "a table", other);
                None
            }
        }
    }

    /// `value` as a string, with `${NAME}` replaced from the environment.
    pub(crate) fn string(&mut self, path: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(text) => self.interpolate(path, text),
            other => {
                self.wrong_type(path, "a string", other);
                None
            }
        }
    }

    /// Interpolates `text`, reporting each missing variable under `path`.
    pub(crate) fn interpolate(&mut self, path: &str, text: &str) -> Option<String> {
        match interpolate(text, self.env) {
            Ok(text) => Some(text),
            Err(errors) => {
                for error in errors {
                    self.push(interpolation_problem(path, error));
                }
                None
            }
        }
    }

    /// `value` as a duration written as text (`250ms`, `30s`, `1h 30m`), more than zero.
    pub(crate) fn duration(&mut self, path: &str, value: &Value) -> Option<Duration> {
        if !value.is_str() {
            self.report_fix(
                ProblemKind::WrongType,
                path,
                format!("expected a duration, found {}", describe(value)),
                "write it as text with a unit, such as `250ms` or `30s`",
            );
            return None;
        }
        let text = self.string(path, value)?;
        match parse_duration(&text) {
            Ok(duration) if duration.is_zero() => {
                self.report_fix(
                    ProblemKind::BadDuration,
                    path,
                    "a duration of zero is not allowed here",
                    "write a positive duration such as `250ms`, or remove the key",
                );
                None
            }
            Ok(duration) => Some(duration),
            Err(message) => {
                self.report(ProblemKind::BadDuration, path, message);
                None
            }
        }
    }

    /// `value` as a list of strings; each element is checked (and reported) on its own.
    pub(crate) fn string_list(&mut self, path: &str, value: &Value) -> Option<Vec<String>> {
        let Value::Array(items) = value else {
            self.wrong_type(path, "a list of strings", value);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            match self.string(&format!("{path}[{index}]"), item) {
                Some(text) => out.push(text),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `value` converted to JSON for a backend, every string interpolated. `secrets` receives
    /// the interpolated values of strings that referenced the environment, so they can be kept
    /// out of messages.
    pub(crate) fn json(
        &mut self,
        path: &str,
        value: &Value,
        secrets: &mut Vec<String>,
    ) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match value {
            Value::String(text) => {
                let interpolated = self.interpolate(path, text)?;
                if super::env::references_env(text) {
                    secrets.push(interpolated.clone());
                }
                J::String(interpolated)
            }
            Value::Integer(n) => J::from(*n),
            Value::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(number) => J::Number(number),
                None => {
                    self.report(
                        ProblemKind::InvalidValue,
                        path,
                        "infinite or NaN numbers are not accepted",
                    );
                    return None;
                }
            },
            Value::Boolean(b) => J::Bool(*b),
            Value::Datetime(at) => J::String(at.to_string()),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (index, item) in items.iter().enumerate() {
                    match self.json(&format!("{path}[{index}]"), item, secrets) {
                        Some(json) => out.push(json),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                J::Array(out)
            }
            Value::Table(table) => {
                let mut out = serde_json::Map::new();
                let mut ok = true;
                for (key, item) in table {
                    match self.json(&join(path, key), item, secrets) {
                        Some(json) => {
                            out.insert(key.clone(), json);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                J::Object(out)
            }
        })
    }
}

/// "a string", "an integer", … for messages; never the value itself, which may be a secret.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

fn interpolation_problem(path: &str, error: InterpolationError) -> ConfigProblem {
    match error {
        InterpolationError::Missing(name) => ConfigProblem::new(
            ProblemKind::MissingEnvVar,
            path,
            format!("environment variable `{name}` is not set"),
        )
        .with_fix(format!(
            "set `{name}`, give a default with `${{{name}:-default}}`, or write the value without `${{{name}}}`"
        )),
        InterpolationError::Unterminated => ConfigProblem::new(
            ProblemKind::BadInterpolation,
            path,
            "`${` is not closed by `}`",
        )
        .with_fix("write `${NAME}` for a variable, or `$${` for a literal `${`"),
        InterpolationError::BadName(name) => ConfigProblem::new(
            ProblemKind::BadInterpolation,
            path,
            format!("`${{{name}}}` does not name an environment variable"),
        )
        .with_fix("use letters, digits and `_`, not starting with a digit, or write `$${` for a literal `${`"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn join_quotes_keys_that_are_not_bare() {
        assert_eq!(join("", "stores"), "stores");
        assert_eq!(join("stores", "main"), "stores.main");
        assert_eq!(join("stores", "my store"), "stores.\"my store\"");
    }

    #[test]
    fn readers_report_wrong_types_without_values() {
        let env = BTreeMap::new();
        let mut walker = Walker::new(&env);
        assert_eq!(walker.string("a", &Value::Integer(3)), None);
        assert_eq!(walker.duration("b", &Value::Integer(3)), None);
        assert_eq!(walker.duration("c", &Value::String("fast".into())), None);
        assert_eq!(walker.duration("d", &Value::String("0s".into())), None);
        assert_eq!(
            walker.duration("e", &Value::String("250ms".into())),
            Some(Duration::from_millis(250))
        );
        let kinds: Vec<_> = walker
            .into_problems()
            .into_iter()
            .map(|p| (p.path, p.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("a".to_owned(), ProblemKind::WrongType),
                ("b".to_owned(), ProblemKind::WrongType),
                ("c".to_owned(), ProblemKind::BadDuration),
                ("d".to_owned(), ProblemKind::BadDuration),
            ]
        );
    }

    #[test]
    fn string_lists_report_each_bad_element() {
        let env = BTreeMap::new();
        let mut walker = Walker::new(&env);
        let list = Value::Array(vec![
            Value::String("a".into()),
            Value::Integer(1),
            Value::String("${NOPE}".into()),
        ]);
        assert_eq!(walker.string_list("x", &list), None);
        let paths: Vec<_> = walker.into_problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, vec!["x[1]", "x[2]"]);
    }
}
