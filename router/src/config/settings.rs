//! The kind-specific keys of an entity (`ttl`, `indexes`, `retention`, `partition_key`,
//! `clustering_key`, `fields`, `max_depth`) and the [`EntitySettings`] they make.

use std::time::Duration;

use polyroute_adapters::kinds::document::{DocumentSettings, FieldPath};
use polyroute_adapters::kinds::graph::{GraphSettings, DEFAULT_MAX_DEPTH};
use polyroute_adapters::kinds::key_value::KeyValueSettings;
use polyroute_adapters::kinds::relational::RelationalSettings;
use polyroute_adapters::kinds::search::{SearchField, SearchFieldKind, SearchSettings};
use polyroute_adapters::kinds::time_series::TimeSeriesSettings;
use polyroute_adapters::kinds::wide_column::WideColumnSettings;
use polyroute_adapters::store::is_identifier;
use polyroute_adapters::{EntitySettings, StoreKind};
use toml::Value;

use super::problem::ProblemKind;
use super::walk::{join, Walker};
use polyroute_adapters::problem::listing;

/// A key that only entities of some kinds accept.
pub(crate) struct KindKey {
    /// The key.
    pub(crate) name: &'static str,
    /// The kinds that accept it.
    pub(crate) kinds: &'static [StoreKind],
    /// What a store of another kind lacks, completing "which has …".
    pub(crate) lacking: &'static str,
}

/// Every kind-specific entity key.
pub(crate) const KIND_KEYS: &[KindKey] = &[
    KindKey {
        name: "ttl",
        kinds: &[StoreKind::KeyValue, StoreKind::WideColumn],
        lacking: "no TTL",
    },
    KindKey {
        name: "indexes",
        kinds: &[StoreKind::Document],
        lacking: "no document indexes",
    },
    KindKey {
        name: "retention",
        kinds: &[StoreKind::TimeSeries],
        lacking: "no retention",
    },
    KindKey {
        name: "partition_key",
        kinds: &[StoreKind::WideColumn],
        lacking: "no partition key",
    },
    KindKey {
        name: "clustering_key",
        kinds: &[StoreKind::WideColumn],
        lacking: "no clustering key",
    },
    KindKey {
        name: "fields",
        kinds: &[StoreKind::Search],
        lacking: "no search schema",
    },
    KindKey {
        name: "max_depth",
        kinds: &[StoreKind::Graph],
        lacking: "no traversals",
    },
];

/// The values of the kind-specific keys present in one entity.
#[derive(Default)]
pub(crate) struct KindValues {
    ttl: Option<Duration>,
    indexes: Option<Vec<FieldPath>>,
    retention: Option<Duration>,
    partition_key: Option<Vec<String>>,
    clustering_key: Option<Vec<String>>,
    fields: Option<Vec<SearchField>>,
    max_depth: Option<u32>,
    /// A key was present but invalid (already reported): no settings, and no "missing" reports.
    failed: bool,
}

impl KindValues {
    /// Reads kind-specific key `key` (one of [`KIND_KEYS`]) at `path`.
    pub(crate) fn read(&mut self, walker: &mut Walker<'_>, path: &str, key: &str, value: &Value) {
        let read = match key {
            "ttl" => fill(&mut self.ttl, walker.duration(path, value)),
            "retention" => fill(&mut self.retention, walker.duration(path, value)),
            "indexes" => fill(&mut self.indexes, field_paths(walker, path, value)),
            "partition_key" => fill(&mut self.partition_key, columns(walker, path, value, true)),
            "clustering_key" => fill(
                &mut self.clustering_key,
                columns(walker, path, value, false),
            ),
            "fields" => fill(&mut self.fields, search_fields(walker, path, value)),
            "max_depth" => fill(&mut self.max_depth, max_depth(walker, path, value)),
            _ => true,
        };
        self.failed |= !read;
    }

    /// The settings of an entity of `kind`, reporting required keys that are missing.
    pub(crate) fn settings(
        self,
        walker: &mut Walker<'_>,
        path: &str,
        kind: StoreKind,
    ) -> Option<EntitySettings> {
        if self.failed {
            return None;
        }
        Some(match kind {
            StoreKind::KeyValue => EntitySettings::KeyValue(KeyValueSettings::with_ttl(self.ttl)),
            StoreKind::Document => EntitySettings::Document(DocumentSettings::with_indexes(
                self.indexes.unwrap_or_default(),
            )),
            StoreKind::TimeSeries => {
                let mut settings = TimeSeriesSettings::default();
                settings.retention = self.retention;
                EntitySettings::TimeSeries(settings)
            }
            StoreKind::WideColumn => {
                let Some(partition_key) = self.partition_key else {
                    required(
                        walker,
                        path,
                        "partition_key",
                        "partition_key = [\"user_id\"]",
                    );
                    return None;
                };
                let clustering_key = self.clustering_key.unwrap_or_default();
                for (index, column) in clustering_key.iter().enumerate() {
                    if partition_key.contains(column) {
                        walker.report_fix(
                            ProblemKind::InvalidValue,
                            &format!("{}[{index}]", join(path, "clustering_key")),
                            format!("column `{column}` is already in `partition_key`"),
                            "a column belongs to the partition key or the clustering key, not both",
                        );
                        return None;
                    }
                }
                let mut settings = WideColumnSettings::new(partition_key, clustering_key);
                settings.ttl = self.ttl;
                EntitySettings::WideColumn(settings)
            }
            StoreKind::Search => {
                let Some(fields) = self.fields else {
                    required(
                        walker,
                        path,
                        "fields",
                        "fields = { title = \"text\", price = \"float\" }",
                    );
                    return None;
                };
                EntitySettings::Search(SearchSettings::with_fields(fields))
            }
            StoreKind::Relational => EntitySettings::Relational(RelationalSettings::default()),
            StoreKind::Graph => EntitySettings::Graph(
                self.max_depth
                    .map_or_else(GraphSettings::default, GraphSettings::with_max_depth),
            ),
        })
    }
}

/// Stores `value` in `slot`; whether there was one.
fn fill<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    *slot = value;
    slot.is_some()
}

/// A graph entity's `max_depth`: a whole number of hops, at least 1.
fn max_depth(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<u32> {
    let fix = format!(
        "write a whole number of hops from 1 to {}, such as `max_depth = 6` (default {})",
        u32::MAX,
        DEFAULT_MAX_DEPTH
    );
    match value {
        Value::Integer(n) => match u32::try_from(*n) {
            Ok(depth) if depth >= 1 => Some(depth),
            _ => {
                walker.report_fix(
                    ProblemKind::InvalidValue,
                    path,
                    format!("{n} is not a usable traversal depth"),
                    fix,
                );
                None
            }
        },
        other => {
            walker.report_fix(
                ProblemKind::WrongType,
                path,
                format!(
                    "expected a whole number, found {}",
                    super::walk::describe(other)
                ),
                fix,
            );
            None
        }
    }
}

fn required(walker: &mut Walker<'_>, path: &str, key: &str, example: &str) {
    walker.report_fix(
        ProblemKind::MissingKey,
        &join(path, key),
        format!("this entity's kind needs `{key}`"),
        format!("add it, such as `{example}`"),
    );
}

fn field_paths(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<Vec<FieldPath>> {
    let texts = walker.string_list(path, value)?;
    let mut out = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        match FieldPath::parse(text) {
            Ok(field) => out.push(field),
            Err(_) => walker.report_fix(
                ProblemKind::InvalidValue,
                &format!("{path}[{index}]"),
                format!("`{text}` is not a field path"),
                "write dot-separated names of letters, digits and `_`, such as `customer.id`",
            ),
        }
    }
    (out.len() == texts.len()).then_some(out)
}

fn columns(
    walker: &mut Walker<'_>,
    path: &str,
    value: &Value,
    non_empty: bool,
) -> Option<Vec<String>> {
    let names = walker.string_list(path, value)?;
    if non_empty && names.is_empty() {
        walker.report_fix(
            ProblemKind::InvalidValue,
            path,
            "the partition key needs at least one column",
            "name the columns that pick a partition, such as `[\"user_id\"]`",
        );
        return None;
    }
    let mut ok = true;
    for (index, name) in names.iter().enumerate() {
        if !is_identifier(name) {
            ok = false;
            walker.report_fix(
                ProblemKind::InvalidValue,
                &format!("{path}[{index}]"),
                format!("`{name}` is not a valid column name"),
                "use ASCII letters, digits and `_`, starting with a letter or `_`",
            );
        } else if names[..index].contains(name) {
            ok = false;
            walker.report(
                ProblemKind::InvalidValue,
                &format!("{path}[{index}]"),
                format!("column `{name}` is listed twice"),
            );
        }
    }
    ok.then_some(names)
}

const FIELD_KINDS: &[&str] = &["text", "keyword", "integer", "float"];

fn search_fields(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<Vec<SearchField>> {
    let table = walker.table(path, value)?;
    if table.is_empty() {
        walker.report_fix(
            ProblemKind::InvalidValue,
            path,
            "a search entity needs at least one field",
            "declare its fields, such as `{ title = \"text\", price = \"float\" }`",
        );
        return None;
    }
    let mut out = Vec::with_capacity(table.len());
    for (name, kind) in table {
        let field_path = join(path, name);
        if !is_identifier(name) {
            walker.report_fix(
                ProblemKind::InvalidValue,
                &field_path,
                format!("`{name}` is not a valid field name"),
                "use ASCII letters, digits and `_`, starting with a letter or `_`",
            );
            continue;
        }
        let Some(text) = walker.string(&field_path, kind) else {
            continue;
        };
        let kind = match text.as_str() {
            "text" => SearchFieldKind::Text,
            "keyword" => SearchFieldKind::Keyword,
            "integer" => SearchFieldKind::Integer,
            "float" => SearchFieldKind::Float,
            other => {
                walker.report_fix(
                    ProblemKind::InvalidValue,
                    &field_path,
                    format!("unknown search field type `{other}`"),
                    format!("expected one of: {}", listing(FIELD_KINDS, other)),
                );
                continue;
            }
        };
        out.push(SearchField {
            name: name.clone(),
            kind,
        });
    }
    (out.len() == table.len()).then_some(out)
}
