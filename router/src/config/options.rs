//! [`BackendOptions`]: a store's backend options, kept out of `Debug` output and error messages,
//! and the mapping of the registry's verdict on them to [`ConfigProblem`]s.

use std::fmt;

use std::sync::Arc;

use polyroute_adapters::registry::{self, ConnectContext, RegistryError};
use polyroute_adapters::{Store, StoreError, StoreKind};

use super::problem::{ConfigProblem, ProblemKind};
use super::walk::join;

/// Option names whose values are treated as secrets wherever they appear.
const SENSITIVE: &[&str] = &[
    "url",
    "uri",
    "dsn",
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
];

/// The backend options of one store: its table without `kind` and `backend`, as the JSON object
/// the registry reads.
///
/// `Debug` shows the option names only: values such as URLs and passwords never reach logs.
#[derive(Clone, PartialEq)]
pub struct BackendOptions {
    json: serde_json::Value,
    secrets: Vec<String>,
}

impl BackendOptions {
    /// Options from a JSON object (anything else is rejected by the registry). String values of
    /// options named like secrets (`url`, `password`, `token`, …) are kept out of messages.
    pub fn new(json: serde_json::Value) -> Self {
        let mut secrets = Vec::new();
        collect_sensitive(&json, false, &mut secrets);
        BackendOptions { json, secrets }
    }

    /// Like [`BackendOptions::new`], also treating `secrets` (values that came from the
    /// environment) as secret.
    pub(crate) fn with_secrets(json: serde_json::Value, secrets: Vec<String>) -> Self {
        let mut options = BackendOptions::new(json);
        options.secrets.extend(secrets);
        options
    }

    /// The options as the JSON object passed to the registry.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.json
    }

    /// The option names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.json
            .as_object()
            .into_iter()
            .flat_map(|map| map.keys().map(String::as_str))
    }

    /// Connects a store of `kind` on `backend` with these options through the registry; an
    /// error's message has the secret values replaced (its source is kept as it is).
    pub(crate) async fn connect(
        &self,
        kind: StoreKind,
        backend: &str,
        context: &ConnectContext,
    ) -> Result<Arc<dyn Store>, StoreError> {
        registry::connect(kind, backend, &self.json, context)
            .await
            .map_err(|err| self.scrub_error(err))
    }

    fn scrub_error(&self, err: StoreError) -> StoreError {
        match err {
            StoreError::InvalidRequest { message, source } => StoreError::InvalidRequest {
                message: self.scrub(&message),
                source,
            },
            StoreError::Unavailable { message, source } => StoreError::Unavailable {
                message: self.scrub(&message),
                source,
            },
            StoreError::Backend { message, source } => StoreError::Backend {
                message: self.scrub(&message),
                source,
            },
            StoreError::Conflict { message, source } => StoreError::Conflict {
                message: self.scrub(&message),
                source,
            },
            other => other,
        }
    }

    /// `message` with every secret value replaced by `<redacted>`.
    pub(crate) fn scrub(&self, message: &str) -> String {
        let mut secrets: Vec<&String> = self.secrets.iter().filter(|s| !s.is_empty()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = message.to_owned();
        for secret in secrets {
            out = out.replace(&format!("{secret:?}"), "\"<redacted>\"");
            out = out.replace(&format!("`{secret}`"), "`<redacted>`");
            if secret.len() >= 4 {
                out = out.replace(secret.as_str(), "<redacted>");
            }
        }
        out
    }
}

impl fmt::Debug for BackendOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|s| name.contains(s))
}

fn collect_sensitive(json: &serde_json::Value, inside: bool, out: &mut Vec<String>) {
    match json {
        serde_json::Value::String(text) if inside => out.push(text.clone()),
        serde_json::Value::Array(items) => {
            for item in items {
                collect_sensitive(item, inside, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (name, value) in map {
                collect_sensitive(value, inside || is_sensitive(name), out);
            }
        }
        _ => {}
    }
}

/// Asks the registry whether `backend` serves `kind` with `options`, as problems under
/// `stores.NAME`.
pub(crate) fn registry_problems(
    store_path: &str,
    kind: StoreKind,
    backend: &str,
    options: &BackendOptions,
) -> Option<ConfigProblem> {
    let err = registry::validate(kind, backend, options.as_json()).err()?;
    let backend_path = join(store_path, "backend");
    Some(match err {
        RegistryError::UnknownBackend { .. } => {
            ConfigProblem::new(ProblemKind::UnknownBackend, backend_path, err.to_string())
        }
        RegistryError::NotCompiled { .. } => {
            ConfigProblem::new(ProblemKind::NotCompiled, backend_path, err.to_string())
        }
        RegistryError::InvalidOption { problem } => {
            let message = options.scrub(&problem.message);
            let mut field = problem.field;
            let (kind, named) = classify(&message);
            if let Some(named) = named {
                if field
                    .split('.')
                    .next_back()
                    .is_none_or(|last| last != named)
                {
                    field = if field.is_empty() {
                        named.to_owned()
                    } else {
                        format!("{field}.{named}")
                    };
                }
            }
            let path = if field.is_empty() {
                store_path.to_owned()
            } else {
                format!("{store_path}.{field}")
            };
            ConfigProblem::new(kind, path, message)
        }
        other => ConfigProblem::new(ProblemKind::InvalidOption, store_path, other.to_string()),
    })
}

/// The class of a backend's option message, and the field it names for unknown/missing fields.
fn classify(message: &str) -> (ProblemKind, Option<&str>) {
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
    };
    if let Some(field) = named("unknown field `") {
        (ProblemKind::UnknownKey, Some(field))
    } else if let Some(field) = named("missing field `") {
        (ProblemKind::MissingKey, Some(field))
    } else if message.starts_with("invalid type") {
        (ProblemKind::WrongType, None)
    } else {
        (ProblemKind::InvalidOption, None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn debug_shows_names_only() {
        let options = BackendOptions::new(json!({"url": "postgres://u:hunter2@db/app", "pool": 4}));
        let debug = format!("{options:?}");
        assert!(debug.contains("url") && debug.contains("pool"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn scrub_hides_sensitive_and_environment_values() {
        let options = BackendOptions::with_secrets(
            json!({"password": "hunter2", "pool": "from-env"}),
            vec!["from-env".to_owned()],
        );
        let scrubbed = options
            .scrub("invalid type: string \"from-env\", expected usize; `hunter2` and hunter2");
        assert_eq!(
            scrubbed,
            "invalid type: string \"<redacted>\", expected usize; `<redacted>` and <redacted>"
        );
    }

    #[test]
    fn unknown_options_are_reported_under_the_store() {
        let options = BackendOptions::new(json!({"pol": 4}));
        let problem =
            registry_problems("stores.main", StoreKind::Relational, "embedded", &options).unwrap();
        assert_eq!(problem.kind, ProblemKind::UnknownKey);
        assert_eq!(problem.path, "stores.main.pol");
        assert!(problem.message.contains("pool"), "{}", problem.message);
    }

    #[test]
    fn wrong_option_types_name_the_option() {
        let options = BackendOptions::new(json!({"pool": "many"}));
        let problem =
            registry_problems("stores.main", StoreKind::Relational, "embedded", &options).unwrap();
        assert_eq!(problem.kind, ProblemKind::WrongType);
        assert_eq!(problem.path, "stores.main.pool");
    }

    #[test]
    fn backends_map_to_the_backend_key() {
        let options = BackendOptions::new(json!({}));
        let unknown =
            registry_problems("stores.c", StoreKind::KeyValue, "memcached", &options).unwrap();
        assert_eq!(
            (unknown.kind, unknown.path.as_str()),
            (ProblemKind::UnknownBackend, "stores.c.backend")
        );
        // A backend behind a cargo feature: "rebuild with it" when this build lacks it, else
        // its own check of the options (here, the missing `url`).
        let gated =
            registry_problems("stores.c", StoreKind::Document, "mongodb", &options).unwrap();
        let compiled = polyroute_adapters::registry::backends()
            .iter()
            .any(|backend| backend.name == "mongodb");
        let expected = if compiled {
            ProblemKind::MissingKey
        } else {
            ProblemKind::NotCompiled
        };
        assert_eq!(gated.kind, expected, "{gated:?}");
        assert!(registry_problems("stores.c", StoreKind::KeyValue, "embedded", &options).is_none());
    }
}
