//! `[stores.NAME]`: a store's kind, backend and backend options.

use polyroute_adapters::StoreKind;
use toml::Value;

use super::names::store_name_problem;
use super::options::{registry_problems, BackendOptions};
use super::problem::ProblemKind;
use super::walk::{join, Walker};
use super::StoreConfig;

/// The backend a store uses when it names none.
pub const DEFAULT_BACKEND: &str = "embedded";

/// What the rest of the config needs to know about a declared store, even a broken one.
pub(crate) struct DeclaredStore {
    /// Its kind, when `kind` is valid.
    pub(crate) kind: Option<StoreKind>,
    /// The whole store, when it has no problem.
    pub(crate) config: Option<StoreConfig>,
}

/// Reads one `[stores.NAME]` table.
pub(crate) fn parse_store(walker: &mut Walker<'_>, name: &str, value: &Value) -> DeclaredStore {
    let path = join("stores", name);
    let mut broken = false;
    if let Some(problem) = store_name_problem(&path, name) {
        walker.push(problem);
        broken = true;
    }
    let Some(table) = walker.table(&path, value) else {
        return DeclaredStore {
            kind: None,
            config: None,
        };
    };

    let kind = match table.get("kind") {
        None => {
            walker.report_fix(
                ProblemKind::MissingKey,
                &join(&path, "kind"),
                format!("store `{name}` has no `kind`"),
                format!("add `kind = \"...\"` with one of: {}", kind_names()),
            );
            None
        }
        Some(value) => {
            let kind_path = join(&path, "kind");
            walker
                .string(&kind_path, value)
                .and_then(|text| match text.parse::<StoreKind>() {
                    Ok(kind) => Some(kind),
                    Err(_) => {
                        walker.report_fix(
                            ProblemKind::UnknownKind,
                            &kind_path,
                            format!("unknown store kind `{text}`"),
                            format!(
                                "expected one of: {}",
                                polyroute_adapters::problem::listing(&kind_list(), &text)
                            ),
                        );
                        None
                    }
                })
        }
    };

    let backend = match table.get("backend") {
        None => Some(DEFAULT_BACKEND.to_owned()),
        Some(value) => walker.string(&join(&path, "backend"), value),
    };

    let mut secrets = Vec::new();
    let mut json = serde_json::Map::new();
    let mut options_ok = true;
    for (key, value) in table {
        if key == "kind" || key == "backend" {
            continue;
        }
        match walker.json(&join(&path, key), value, &mut secrets) {
            Some(option) => {
                json.insert(key.clone(), option);
            }
            None => options_ok = false,
        }
    }
    let options = BackendOptions::with_secrets(serde_json::Value::Object(json), secrets);

    let (Some(kind_value), Some(backend), true) = (kind, backend, options_ok) else {
        return DeclaredStore { kind, config: None };
    };
    if let Some(problem) = registry_problems(&path, kind_value, &backend, &options) {
        walker.push(problem);
        broken = true;
    }
    DeclaredStore {
        kind,
        config: (!broken).then_some(StoreConfig {
            kind: kind_value,
            backend,
            options,
        }),
    }
}

fn kind_list() -> Vec<&'static str> {
    StoreKind::ALL.iter().map(|kind| kind.as_str()).collect()
}

fn kind_names() -> String {
    kind_list().join(", ")
}
