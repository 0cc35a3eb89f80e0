//! From TOML text to a checked [`Config`]: every section walked, every problem collected.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::entities::{parse_entity, StoreIndex};
use super::env::Environment;
use super::policy::parse_policy;
use super::problem::{ConfigProblem, Location, ProblemKind};
use super::records::{record_problems, Declared};
use super::sections::{parse_section, PASS_THROUGH_SECTIONS};
use super::stores::{parse_store, DeclaredStore};
use super::walk::Walker;
use super::{Config, ConfigError};

const TOP_KEYS: &[&str] = &["stores", "entities", "policy", "sidecar"];

/// Parses and checks `text`; `base_dir` is where relative backend paths resolve.
pub(crate) fn parse(
    text: &str,
    base_dir: PathBuf,
    env: &dyn Environment,
) -> Result<Config, ConfigError> {
    let document: toml::Table = toml::from_str(text)
        .map_err(|err| ConfigError::Invalid(vec![syntax_problem(text, &err)]))?;
    let mut walker = Walker::new(env);

    for key in document.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            walker.unknown_key("", key, TOP_KEYS, "at the top level");
        }
    }

    let declared = stores(&mut walker, document.get("stores"));
    let index = StoreIndex {
        stores: declared.as_ref().map(|stores| {
            stores
                .iter()
                .map(|(name, store)| (name.as_str(), store.kind))
                .collect()
        }),
    };

    let mut entities = BTreeMap::new();
    match document.get("entities") {
        None => no_entities(&mut walker),
        Some(value) => match walker.table("entities", value) {
            None => {}
            Some(table) if table.is_empty() => no_entities(&mut walker),
            Some(table) => {
                for (name, value) in table {
                    if let Some(entity) = parse_entity(&mut walker, name, value, &index) {
                        entities.insert(name.clone(), entity);
                    }
                }
            }
        },
    }

    if walker.count() == 0 {
        let declared: Vec<Declared<'_>> = entities
            .iter()
            .map(|(name, entity): (&String, &super::EntityConfig)| Declared {
                name,
                kind: Some(entity.settings.kind()),
                record: entity.record.as_ref(),
            })
            .collect();
        for problem in record_problems(&declared) {
            walker.push(problem);
        }
    }

    let policy = parse_policy(&mut walker, document.get("policy"));

    let mut sections = BTreeMap::new();
    for name in PASS_THROUGH_SECTIONS {
        if let Some(value) = document.get(*name) {
            if let Some(section) = parse_section(&mut walker, name, value) {
                sections.insert((*name).to_owned(), section);
            }
        }
    }

    let problems = walker.into_problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let stores = declared
        .into_iter()
        .flatten()
        .filter_map(|(name, store)| store.config.map(|config| (name, config)))
        .collect();
    Ok(Config {
        stores,
        entities,
        policy,
        sections,
        base_dir,
    })
}

/// Every `[stores.NAME]`; `None` when there are none (reported here, once).
fn stores(
    walker: &mut Walker<'_>,
    value: Option<&toml::Value>,
) -> Option<Vec<(String, DeclaredStore)>> {
    let table = match value {
        None => None,
        Some(value) => Some(walker.table("stores", value)?),
    };
    match table {
        Some(table) if !table.is_empty() => Some(
            table
                .iter()
                .map(|(name, value)| (name.clone(), parse_store(walker, name, value)))
                .collect(),
        ),
        _ => {
            walker.report_fix(
                ProblemKind::MissingKey,
                "stores",
                "no stores declared",
                "add a `[stores.NAME]` table with `kind = \"...\"` (and `backend`, default `embedded`)",
            );
            None
        }
    }
}

fn no_entities(walker: &mut Walker<'_>) {
    walker.report_fix(
        ProblemKind::NoEntities,
        "entities",
        "no entities declared: the router would have nothing to route",
        "add an `[entities.NAME]` table with `store = \"...\"`",
    );
}

fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("; ")
}

fn syntax_problem(text: &str, err: &toml::de::Error) -> ConfigProblem {
    let location = err.span().map(|span| {
        let before = text.get(..span.start).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { line, column }
    });
    ConfigProblem {
        location,
        ..ConfigProblem::new(
            ProblemKind::Syntax,
            "",
            format!("invalid TOML: {}", one_line(err.message())),
        )
        .with_fix("fix the syntax; nothing else was checked")
    }
}
