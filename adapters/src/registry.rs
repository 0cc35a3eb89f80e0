//! The backend registry: from a store's `kind`, `backend` and options (as written in config) to
//! a connected [`Store`].
//!
//! The registry is a table with one line per backend module; each module lists the
//! [`BackendDescriptor`]s of the kinds it serves (see [`crate::backend`]). Validation and
//! connection are separate so a config can be checked completely, every store at once, before
//! anything is opened.

use std::sync::{Arc, LazyLock};

pub use crate::backend::{Backend, BackendDescriptor, OptionProblem};
pub use crate::store::ConnectContext;
use crate::{Result, Store, StoreError, StoreKind};

/// The table: the backends always compiled in, then each backend behind the cargo feature of
/// its name. A feature backend left out of the build is still known by name, so a config
/// naming it gets "rebuild with the feature" instead of "unknown backend".
macro_rules! table {
    (always: $($always:path),+; features: $($feature:literal => $module:ident),+ $(,)?) => {
        static TABLE: LazyLock<Vec<BackendDescriptor>> = LazyLock::new(|| {
            [
                $($always,)+
                $(#[cfg(feature = $feature)] crate::$module::BACKENDS,)+
            ]
            .concat()
        });

        /// Backends that polyroute provides behind a cargo feature of their name.
        const FEATURE_BACKENDS: &[&str] = &[$($feature),+];
    };
}

table! {
    always: crate::embedded::BACKENDS;
    features:
        "postgres" => postgres,
        "redis" => redis,
        "scylla" => scylla,
        "neo4j" => neo4j,
        "influxdb" => influxdb,
        "mongodb" => mongodb,
        "elasticsearch" => elasticsearch,
}

/// Every backend compiled into this build.
pub fn backends() -> &'static [BackendDescriptor] {
    &TABLE
}

/// Why a store's `kind`/`backend`/options cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No compiled backend of that name serves that kind.
    #[error("no backend `{backend}` for kind {kind}; available for {kind}: {}", available_names(*kind))]
    UnknownBackend {
        /// The kind asked for.
        kind: StoreKind,
        /// The backend asked for.
        backend: String,
    },
    /// The backend exists but is behind a cargo feature this build was compiled without.
    #[error("backend `{backend}` is not compiled into this build; rebuild polyroute with `--features {feature}`")]
    NotCompiled {
        /// The backend asked for.
        backend: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// The backend's options are wrong.
    #[error("{problem}")]
    InvalidOption {
        /// The first problem found (serde stops at the first).
        problem: OptionProblem,
    },
}

fn available_names(kind: StoreKind) -> String {
    let names: Vec<&str> = backends()
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| b.name)
        .collect();
    if names.is_empty() {
        "none in this build".to_owned()
    } else {
        names.join(", ")
    }
}

/// The backend `backend` of `kind`, or why there is none.
fn find(kind: StoreKind, backend: &str) -> Result<&'static BackendDescriptor, RegistryError> {
    if let Some(found) = backends()
        .iter()
        .find(|b| b.kind == kind && b.name == backend)
    {
        return Ok(found);
    }
    let compiled = backends().iter().any(|b| b.name == backend);
    Err(
        match FEATURE_BACKENDS.iter().find(|name| **name == backend) {
            Some(feature) if !compiled => RegistryError::NotCompiled {
                backend: backend.to_owned(),
                feature,
            },
            _ => RegistryError::UnknownBackend {
                kind,
                backend: backend.to_owned(),
            },
        },
    )
}

/// Checks that `backend` serves `kind` in this build and that `options` (a JSON object of the
/// store's table without `kind` and `backend`) are valid for it, without connecting.
pub fn validate(
    kind: StoreKind,
    backend: &str,
    options: &serde_json::Value,
) -> Result<(), RegistryError> {
    find(kind, backend)?
        .validate(options)
        .map_err(|problem| RegistryError::InvalidOption { problem })
}

/// Validates the options, then connects: opens files, pools, and checks the backend answers.
pub async fn connect(
    kind: StoreKind,
    backend: &str,
    options: &serde_json::Value,
    context: &ConnectContext,
) -> Result<Arc<dyn Store>> {
    let descriptor = find(kind, backend).map_err(|err| StoreError::invalid(err.to_string()))?;
    descriptor.connect(options, context).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_and_uncompiled_backends_are_told_apart() {
        let err = validate(StoreKind::KeyValue, "memcached", &json!({})).unwrap_err();
        assert!(matches!(err, RegistryError::UnknownBackend { .. }));
        assert!(
            err.to_string()
                .contains("available for key_value: embedded"),
            "{err}"
        );
        if cfg!(not(feature = "mongodb")) {
            let err = validate(StoreKind::Document, "mongodb", &json!({})).unwrap_err();
            assert!(err.to_string().contains("--features mongodb"), "{err}");
        }
    }

    #[test]
    fn option_problems_name_the_field() {
        let err =
            validate(StoreKind::Relational, "embedded", &json!({"pool": "many"})).unwrap_err();
        let RegistryError::InvalidOption { problem } = err else {
            panic!("expected an option problem");
        };
        assert_eq!(problem.field, "pool");
        let err = validate(StoreKind::KeyValue, "embedded", &json!({"max_mem": 1})).unwrap_err();
        assert!(err.to_string().contains("max_memory"), "{err}");
        assert!(validate(
            StoreKind::KeyValue,
            "embedded",
            &json!({"max_memory": "1MiB"})
        )
        .is_ok());
    }
}
