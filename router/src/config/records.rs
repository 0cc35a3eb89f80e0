//! Record entities: a relational entity that is the system of record of rows keyed by one
//! column (`table`, `key`), with per-access `routes` to derived entities, `propagate` through
//! the outbox, and `read_your_writes`.
//!
//! ```toml
//! [entities.products]
//! store = "main"
//! table = "products"
//! key = "id"
//! routes = { get = "products_docs", search = "products_search" }
//! propagate = { to = ["products_search", "products_docs"] }
//! read_your_writes = true
//! ```

use std::time::Duration;

use polyroute_adapters::store::is_identifier;
use polyroute_adapters::StoreKind;
use toml::Value;

use super::names::unknown_entity;
use super::problem::{ConfigProblem, ProblemKind};
use super::walk::{join, Walker};

/// The keys that make a relational entity a record entity.
pub(crate) const RECORD_KEYS: &[&str] =
    &["table", "key", "routes", "propagate", "read_your_writes"];

/// The kinds a record entity can propagate to.
pub const TARGET_KINDS: &[StoreKind] =
    &[StoreKind::Search, StoreKind::Document, StoreKind::KeyValue];

/// A record entity: the system of record of the rows of `table`, keyed by `key`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSettings {
    /// The table holding the rows (default: the entity's name).
    pub table: String,
    /// The primary-key column (default `id`).
    pub key: String,
    /// Which derived entity serves each access.
    pub routes: RecordRoutes,
    /// Where changes are propagated; `None`: nowhere.
    pub propagate: Option<Propagation>,
    /// Whether sessions read their own writes (see `Records::session`).
    pub read_your_writes: bool,
}

impl RecordSettings {
    /// Settings for rows of `table` keyed by `key`, with no routes and no propagation.
    pub fn new(table: impl Into<String>, key: impl Into<String>) -> Self {
        RecordSettings {
            table: table.into(),
            key: key.into(),
            routes: RecordRoutes::default(),
            propagate: None,
            read_your_writes: false,
        }
    }
}

/// `routes = { get = "...", search = "..." }`: the derived entity serving each access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordRoutes {
    /// Serves `get(key)`: a document or key_value entity. `None`: the system of record.
    pub get: Option<String>,
    /// Serves `search(query)`: a search entity. `None`: search is refused.
    pub search: Option<String>,
}

/// `propagate = { to = [...], ... }`: the derived entities kept up to date through the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Propagation {
    /// The derived entities (search, document or key_value), in order.
    pub to: Vec<String>,
    /// How often an idle relay looks for new changes (default 200ms).
    pub poll_interval: Duration,
    /// Changes read per round and target (default 100).
    pub batch: usize,
    /// Attempts per change before it is dead-lettered (default 5).
    pub attempts: u32,
    /// Pause before the first retry of a change, doubling each time (default 50ms).
    pub backoff: Duration,
    /// How long a relay's lease lasts unless renewed (default 10s).
    pub lease: Duration,
}

impl Propagation {
    /// Propagation to `to` with the default timings.
    pub fn to(to: Vec<String>) -> Self {
        Propagation {
            to,
            poll_interval: Duration::from_millis(200),
            batch: 100,
            attempts: 5,
            backoff: Duration::from_millis(50),
            lease: Duration::from_secs(10),
        }
    }
}

const PROPAGATE_KEYS: &[&str] = &[
    "to",
    "via",
    "poll_interval",
    "batch",
    "attempts",
    "backoff",
    "lease",
];
const ROUTE_KEYS: &[&str] = &["get", "search"];

/// Reads the record keys of entity `name` (at `path`) from `table`; `None` when it has none or
/// one is invalid (reported).
pub(crate) fn parse_record(
    walker: &mut Walker<'_>,
    path: &str,
    name: &str,
    table: &toml::Table,
) -> Option<RecordSettings> {
    if !RECORD_KEYS.iter().any(|key| table.contains_key(*key)) {
        return None;
    }
    let before = walker.count();
    let mut settings = RecordSettings::new(name, "id");
    if let Some(value) = table.get("table") {
        if let Some(text) = identifier(walker, &join(path, "table"), value, "table") {
            settings.table = text;
        }
    }
    if let Some(value) = table.get("key") {
        if let Some(text) = identifier(walker, &join(path, "key"), value, "column") {
            settings.key = text;
        }
    }
    if let Some(value) = table.get("read_your_writes") {
        match value.as_bool() {
            Some(flag) => settings.read_your_writes = flag,
            None => walker.report_fix(
                ProblemKind::WrongType,
                &join(path, "read_your_writes"),
                "`read_your_writes` must be a boolean",
                "write `read_your_writes = true` or `false`",
            ),
        }
    }
    if let Some(value) = table.get("routes") {
        settings.routes = routes(walker, &join(path, "routes"), value).unwrap_or_default();
    }
    if let Some(value) = table.get("propagate") {
        settings.propagate = propagation(walker, &join(path, "propagate"), value);
    }
    (walker.count() == before).then_some(settings)
}

fn identifier(walker: &mut Walker<'_>, path: &str, value: &Value, what: &str) -> Option<String> {
    let text = walker.string(path, value)?;
    if is_identifier(&text) {
        Some(text)
    } else {
        walker.report_fix(
            ProblemKind::InvalidValue,
            path,
            format!("`{text}` is not a valid {what} name"),
            "use ASCII letters, digits and `_`, starting with a letter or `_` (at most 63 characters)",
        );
        None
    }
}

fn routes(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<RecordRoutes> {
    let table = walker.table(path, value)?;
    let mut routes = RecordRoutes::default();
    for (key, value) in table {
        let slot = match key.as_str() {
            "get" => &mut routes.get,
            "search" => &mut routes.search,
            _ => {
                walker.unknown_key(
                    path,
                    key,
                    ROUTE_KEYS,
                    "in `routes` (the accesses a record entity routes)",
                );
                continue;
            }
        };
        *slot = walker.string(&join(path, key), value);
    }
    Some(routes)
}

fn propagation(walker: &mut Walker<'_>, path: &str, value: &Value) -> Option<Propagation> {
    let table = walker.table(path, value)?;
    let mut out = Propagation::to(Vec::new());
    let mut ok = true;
    match table.get("to") {
        None => {
            walker.report_fix(
                ProblemKind::MissingKey,
                &join(path, "to"),
                "`propagate` has no `to`",
                "name the derived entities, such as `to = [\"products_search\"]`",
            );
            ok = false;
        }
        Some(value) => match walker.string_list(&join(path, "to"), value) {
            Some(to) if !to.is_empty() => out.to = to,
            Some(_) => {
                walker.report_fix(
                    ProblemKind::InvalidValue,
                    &join(path, "to"),
                    "`to` is empty",
                    "name at least one derived entity, or remove `propagate`",
                );
                ok = false;
            }
            None => ok = false,
        },
    }
    for (key, value) in table {
        let key_path = join(path, key);
        match key.as_str() {
            "to" => {}
            "via" => match walker.string(&key_path, value) {
                Some(via) if via == "outbox" => {}
                Some(via) => {
                    walker.report_fix(
                        ProblemKind::InvalidValue,
                        &key_path,
                        format!("unknown propagation `{via}`"),
                        "write `via = \"outbox\"` (the only propagation) or leave it out",
                    );
                    ok = false;
                }
                None => ok = false,
            },
            "poll_interval" | "backoff" | "lease" => match walker.duration(&key_path, value) {
                Some(duration) => match key.as_str() {
                    "poll_interval" => out.poll_interval = duration,
                    "backoff" => out.backoff = duration,
                    _ => out.lease = duration,
                },
                None => ok = false,
            },
            "batch" | "attempts" => match value.as_integer() {
                Some(n) if (1..=100_000).contains(&n) => {
                    if key == "batch" {
                        out.batch = usize::try_from(n).unwrap_or(100);
                    } else {
                        out.attempts = u32::try_from(n).unwrap_or(5);
                    }
                }
                _ => {
                    walker.report_fix(
                        ProblemKind::InvalidValue,
                        &key_path,
                        format!("`{key}` must be a whole number from 1 to 100000"),
                        format!(
                            "write a number such as `{key} = {}`",
                            if key == "batch" { 100 } else { 5 }
                        ),
                    );
                    ok = false;
                }
            },
            _ => {
                walker.unknown_key(path, key, PROPAGATE_KEYS, "in `propagate`");
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// One declared entity, as the cross-entity record checks see it.
pub(crate) struct Declared<'a> {
    /// Its name.
    pub(crate) name: &'a str,
    /// Its kind, when known.
    pub(crate) kind: Option<StoreKind>,
    /// Its record settings, if it is a record entity.
    pub(crate) record: Option<&'a RecordSettings>,
}

/// The problems between record entities and the entities they name: unknown names, routes
/// of the wrong kind or outside `propagate`, unsupported target kinds, self-propagation and
/// targets shared by two record entities.
pub(crate) fn record_problems(entities: &[Declared<'_>]) -> Vec<ConfigProblem> {
    let names: Vec<&str> = entities.iter().map(|e| e.name).collect();
    let mut problems = Vec::new();
    let mut owners: Vec<(&str, &str)> = Vec::new();
    for entity in entities {
        let Some(record) = entity.record else {
            continue;
        };
        let path = join("entities", entity.name);
        if let Some(kind) = entity.kind {
            if kind != StoreKind::Relational {
                problems.push(
                    ConfigProblem::new(
                        ProblemKind::KindMismatch,
                        join(&path, "propagate"),
                        format!("entity `{}` is {kind}; only a relational entity can be a system of record", entity.name),
                    )
                    .with_fix(format!("remove the record keys ({}) or route `{}` to a relational store", RECORD_KEYS.join(", "), entity.name)),
                );
                continue;
            }
        }
        let targets: &[String] = record.propagate.as_ref().map_or(&[], |p| &p.to);
        for (index, target) in targets.iter().enumerate() {
            let at = format!("{}[{index}]", join(&join(&path, "propagate"), "to"));
            if target == entity.name {
                problems.push(
                    ConfigProblem::new(
                        ProblemKind::InvalidValue,
                        &at,
                        format!("entity `{target}` propagates to itself"),
                    )
                    .with_fix("name a derived search, document or key_value entity"),
                );
                continue;
            }
            if targets[..index].contains(target) {
                problems.push(ConfigProblem::new(
                    ProblemKind::Duplicate,
                    &at,
                    format!("`{target}` is listed twice"),
                ));
                continue;
            }
            let Some(found) = entities.iter().find(|e| e.name == target) else {
                problems.push(unknown_entity(&at, None, target, &names));
                continue;
            };
            if let Some(kind) = found.kind {
                if !TARGET_KINDS.contains(&kind) {
                    let cycle = if found.record.is_some() {
                        " (a system of record cannot be derived from another)"
                    } else {
                        ""
                    };
                    problems.push(
                        ConfigProblem::new(
                            ProblemKind::KindMismatch,
                            &at,
                            format!("entity `{target}` is {kind}, which the outbox cannot propagate to{cycle}"),
                        )
                        .with_fix("propagate to search, document or key_value entities"),
                    );
                    continue;
                }
            }
            if let Some((owner, _)) = owners.iter().find(|(_, t)| *t == target.as_str()) {
                problems.push(
                    ConfigProblem::new(
                        ProblemKind::Duplicate,
                        &at,
                        format!("entity `{target}` is already derived from `{owner}`"),
                    )
                    .with_fix("give each record entity its own derived entities"),
                );
                continue;
            }
            owners.push((entity.name, target.as_str()));
        }
        let accesses: [(&str, &Option<String>, &[StoreKind]); 2] = [
            (
                "get",
                &record.routes.get,
                &[StoreKind::Document, StoreKind::KeyValue],
            ),
            ("search", &record.routes.search, &[StoreKind::Search]),
        ];
        for (access, route, kinds) in accesses {
            let Some(target) = route else { continue };
            let at = join(&join(&path, "routes"), access);
            let Some(found) = entities.iter().find(|e| e.name == target) else {
                problems.push(unknown_entity(&at, None, target, &names));
                continue;
            };
            if let Some(kind) = found.kind {
                if !kinds.contains(&kind) {
                    let wanted: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                    problems.push(
                        ConfigProblem::new(
                            ProblemKind::KindMismatch,
                            &at,
                            format!("`{access}` is routed to `{target}`, a {kind} entity"),
                        )
                        .with_fix(format!(
                            "route `{access}` to a {} entity",
                            wanted.join(" or ")
                        )),
                    );
                    continue;
                }
            }
            if !targets.contains(target) {
                problems.push(
                    ConfigProblem::new(
                        ProblemKind::InvalidValue,
                        &at,
                        format!("`{access}` is routed to `{target}`, which `propagate.to` does not list, so nothing would keep it up to date"),
                    )
                    .with_fix(format!("add `{target}` to `propagate = {{ to = [...] }}`")),
                );
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(get: Option<&str>, search: Option<&str>, to: &[&str]) -> RecordSettings {
        let mut settings = RecordSettings::new("products", "id");
        settings.routes = RecordRoutes {
            get: get.map(str::to_owned),
            search: search.map(str::to_owned),
        };
        if !to.is_empty() {
            settings.propagate = Some(Propagation::to(
                to.iter().map(|t| (*t).to_owned()).collect(),
            ));
        }
        settings
    }

    fn problems(
        record: &RecordSettings,
        extra: &[(&'static str, StoreKind)],
    ) -> Vec<(String, ProblemKind)> {
        let mut declared = vec![Declared {
            name: "products",
            kind: Some(StoreKind::Relational),
            record: Some(record),
        }];
        for (name, kind) in extra {
            declared.push(Declared {
                name,
                kind: Some(*kind),
                record: None,
            });
        }
        record_problems(&declared)
            .into_iter()
            .map(|p| (p.path, p.kind))
            .collect()
    }

    const DERIVED: &[(&str, StoreKind)] = &[
        ("docs", StoreKind::Document),
        ("find", StoreKind::Search),
        ("kv", StoreKind::KeyValue),
        ("social", StoreKind::Graph),
    ];

    #[test]
    fn a_consistent_record_entity_has_no_problems() {
        let settings = record(Some("docs"), Some("find"), &["find", "docs", "kv"]);
        assert_eq!(problems(&settings, DERIVED), []);
    }

    #[test]
    fn bad_routes_and_targets_are_reported_at_their_path() {
        let settings = record(
            Some("find"),
            Some("nope"),
            &["social", "products", "docs", "docs"],
        );
        assert_eq!(
            problems(&settings, DERIVED),
            [
                (
                    "entities.products.propagate.to[0]".to_owned(),
                    ProblemKind::KindMismatch
                ),
                (
                    "entities.products.propagate.to[1]".to_owned(),
                    ProblemKind::InvalidValue
                ),
                (
                    "entities.products.propagate.to[3]".to_owned(),
                    ProblemKind::Duplicate
                ),
                (
                    "entities.products.routes.get".to_owned(),
                    ProblemKind::KindMismatch
                ),
                (
                    "entities.products.routes.search".to_owned(),
                    ProblemKind::UnknownEntity
                ),
            ]
        );
        let settings = record(Some("docs"), None, &["find"]);
        assert_eq!(
            problems(&settings, DERIVED),
            [(
                "entities.products.routes.get".to_owned(),
                ProblemKind::InvalidValue
            )]
        );
    }

    #[test]
    fn a_target_derives_from_one_record_entity_only() {
        let first = record(None, None, &["docs"]);
        let second = record(None, None, &["docs"]);
        let declared = [
            Declared {
                name: "a",
                kind: Some(StoreKind::Relational),
                record: Some(&first),
            },
            Declared {
                name: "b",
                kind: Some(StoreKind::Relational),
                record: Some(&second),
            },
            Declared {
                name: "docs",
                kind: Some(StoreKind::Document),
                record: None,
            },
        ];
        let found: Vec<String> = record_problems(&declared)
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(found, ["entities.b.propagate.to[0]"]);
    }
}
