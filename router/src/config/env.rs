//! `${NAME}` and `${NAME:-default}` interpolation of config values from an [`Environment`].

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// Where `${NAME}` in config values is looked up. The process environment in production
/// ([`ProcessEnvironment`]); a map in tests, so they never touch the real environment.
pub trait Environment {
    /// The value of variable `name`, or `None` when it is not set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The environment of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    /// A variable that is set but not valid Unicode counts as not set.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<S: BuildHasher> Environment for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Environment for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Why a string could not be interpolated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum InterpolationError {
    /// `${NAME}` with `NAME` unset.
    Missing(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${…}` whose content is not a variable name.
    BadName(String),
}

/// Replaces every `${NAME}` in `text` with the variable's value and every `$${` with a literal
/// `${`. Any other `$` is kept as written. Reports every missing variable, not just the first.
pub(crate) fn interpolate(
    text: &str,
    env: &dyn Environment,
) -> Result<String, Vec<InterpolationError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(close) = after.find('}') else {
                errors.push(InterpolationError::Unterminated);
                rest = "";
                break;
            };
            // `${NAME:-default}`: the default when NAME is unset or empty, as in a shell.
            let (name, default) = match after[..close].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&after[..close], None),
            };
            if !is_var_name(name) {
                errors.push(InterpolationError::BadName(name.to_owned()));
            } else {
                match (
                    env.var(name).filter(|v| !v.is_empty() || default.is_none()),
                    default,
                ) {
                    (Some(value), _) => out.push_str(&value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => errors.push(InterpolationError::Missing(name.to_owned())),
                }
            }
            rest = &after[close + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Whether `text` contains a `${…}` reference (not counting `$${` escapes).
pub(crate) fn references_env(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            rest = after;
        } else if tail.starts_with("${") {
            return true;
        } else {
            rest = &tail[1..];
        }
    }
    false
}

fn is_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("HOST".to_owned(), "db.internal".to_owned()),
            ("PORT".to_owned(), "5432".to_owned()),
        ])
    }

    #[test]
    fn replaces_variables() {
        assert_eq!(
            interpolate("postgres://${HOST}:${PORT}/app", &env()),
            Ok("postgres://db.internal:5432/app".to_owned())
        );
        assert_eq!(interpolate("plain", &env()), Ok("plain".to_owned()));
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let mut env = env();
        env.insert("EMPTY".to_owned(), String::new());
        assert_eq!(
            interpolate("${HOST:-localhost}/${DB:-test}/${EMPTY:-x}/${EMPTY}", &env),
            Ok("db.internal/test/x/".to_owned())
        );
        assert_eq!(
            interpolate("${URL:-postgres://u@h:5432/db?a=1}", &env),
            Ok("postgres://u@h:5432/db?a=1".to_owned())
        );
        assert_eq!(interpolate("${NONE:-}", &env), Ok(String::new()));
        assert_eq!(
            interpolate("${BAD NAME:-x}", &env),
            Err(vec![InterpolationError::BadName("BAD NAME".to_owned())])
        );
    }

    #[test]
    fn escapes_and_lone_dollars_are_literal() {
        assert_eq!(
            interpolate("$${HOST} costs $5 or $$", &env()),
            Ok("${HOST} costs $5 or $$".to_owned())
        );
        assert!(!references_env("$${HOST}"));
        assert!(references_env("a${HOST}"));
    }

    #[test]
    fn reports_every_missing_variable() {
        assert_eq!(
            interpolate("${A}-${HOST}-${B}", &env()),
            Err(vec![
                InterpolationError::Missing("A".to_owned()),
                InterpolationError::Missing("B".to_owned()),
            ])
        );
    }

    #[test]
    fn reports_malformed_references() {
        assert_eq!(
            interpolate("x${HOST", &env()),
            Err(vec![InterpolationError::Unterminated])
        );
        assert_eq!(
            interpolate("${1X}${}", &env()),
            Err(vec![
                InterpolationError::BadName("1X".to_owned()),
                InterpolationError::BadName(String::new()),
            ])
        );
    }
}
