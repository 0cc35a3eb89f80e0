//! Reads a spec out of a YAML tree by hand, so that every problem is collected with its path
//! instead of stopping at the first one serde meets.

use std::collections::BTreeSet;
use std::time::Duration;

use polyroute_adapters::kinds;
use polyroute_adapters::store::is_identifier;
use polyroute_adapters::StoreKind;
use serde_yaml::{Mapping, Value};

use super::problem::{Problem, ProblemKind, SpecError};
use super::values::{self, listing, DURATION_FIX, RATE_FIX};
use super::{
    Access, Consistency, Durability, Entity, Op, OpField, Relation, RelationKind, Schema, Spec,
};

const SPEC_KEYS: &[&str] = &["name", "description", "entities"];
const ENTITY_KEYS: &[&str] = &[
    "name",
    "description",
    "records",
    "record_bytes",
    "growth_per_day",
    "retention",
    "durability",
    "consistency",
    "regions",
    "schema",
    "relations",
    "accesses",
    "primary",
    "key",
    "order_by",
];
const ACCESS_KEYS: &[&str] = &["op", "rate", "p99"];
const RELATION_KEYS: &[&str] = &["to", "kind"];
/// Longest entity name: leaves room for the suffix of a projection (`_search`, `_cache`, …)
/// within the 63 characters of a store identifier.
const MAX_NAME: usize = 48;
/// Whether `name` can name an entity here and every entity the emitted config derives from it:
/// an entity name for the router ([`kinds::is_entity_name`]: an identifier without `__`) of at
/// most [`MAX_NAME`] characters, not ending in `_`, so that `<name>_search` is one too.
fn is_spec_entity_name(name: &str) -> bool {
    kinds::is_entity_name(name) && name.len() <= MAX_NAME && !name.ends_with('_')
}

/// Deepest traversal a spec may ask for.
const MAX_DEPTH: u64 = 20;
/// Most regions a spec may declare.
const MAX_REGIONS: u64 = 64;

pub(super) fn read(text: &str) -> Result<Spec, SpecError> {
    let tree: Value = serde_yaml::from_str(text).map_err(|err| {
        let message = match err.location() {
            Some(at) => format!(
                "line {}, column {}: {}",
                at.line(),
                at.column(),
                strip_location(&err.to_string())
            ),
            None => err.to_string(),
        };
        SpecError::Invalid(vec![Problem::new(ProblemKind::Syntax, "", message)
            .with_fix(
                "fix the YAML syntax; every problem after it is found once it parses",
            )])
    })?;
    let mut reader = Reader::default();
    let spec = reader.spec(&tree);
    match spec {
        Some(spec) if reader.problems.is_empty() => Ok(spec),
        _ => Err(SpecError::Invalid(reader.problems)),
    }
}

/// serde_yaml's messages end with ` at line L column C`, which we show first instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The keys and values of a mapping whose keys are text.
type Fields<'a> = Vec<(&'a str, &'a Value)>;

#[derive(Default)]
struct Reader {
    problems: Vec<Problem>,
}

impl Reader {
    fn report(&mut self, kind: ProblemKind, path: &str, message: String, fix: impl Into<String>) {
        self.problems
            .push(Problem::new(kind, path, message).with_fix(fix));
    }

    fn wrong_type(&mut self, path: &str, value: &Value, expected: &str, fix: &str) {
        self.report(
            ProblemKind::WrongType,
            path,
            format!("expected {expected}, found {}", type_name(value)),
            fix,
        );
    }

    /// The text-keyed fields of a mapping, reporting keys not in `allowed`.
    fn mapping<'a>(
        &mut self,
        path: &str,
        value: &'a Value,
        allowed: &[&str],
        what: &str,
    ) -> Option<Fields<'a>> {
        let Value::Mapping(mapping) = value else {
            self.wrong_type(
                path,
                value,
                "a mapping",
                &format!("write {what} as `key: value` lines"),
            );
            return None;
        };
        Some(self.fields(path, mapping, allowed, what))
    }

    fn fields<'a>(
        &mut self,
        path: &str,
        mapping: &'a Mapping,
        allowed: &[&str],
        what: &str,
    ) -> Fields<'a> {
        let mut fields = Vec::new();
        for (key, value) in mapping {
            match key.as_str() {
                Some(key) if allowed.contains(&key) => fields.push((key, value)),
                Some(key) => self.report(
                    ProblemKind::UnknownKey,
                    &join(path, key),
                    format!("unknown key `{key}` for {what}"),
                    format!("allowed keys: {}", listing(allowed, key)),
                ),
                None => self.report(
                    ProblemKind::WrongType,
                    path,
                    format!("a key of {what} is {}, not text", type_name(key)),
                    "write keys as plain names",
                ),
            }
        }
        fields
    }

    fn text(&mut self, path: &str, value: &Value, fix: &str) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            other => {
                self.wrong_type(path, other, "text", fix);
                None
            }
        }
    }

    /// A whole number of at least `min`: a YAML integer or text such as `50_000_000`.
    fn count(&mut self, path: &str, value: &Value, min: u64, max: u64, what: &str) -> Option<u64> {
        let parsed = match value {
            Value::Number(number) => number.as_u64().or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(text) => values::parse_count(text),
            _ => None,
        };
        let shown = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            other => type_name(other).to_owned(),
        };
        match parsed {
            Some(count) if count >= min && count <= max => Some(count),
            _ => {
                let range = if max == u64::MAX {
                    format!("at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                self.report(
                    ProblemKind::BadCount,
                    path,
                    format!("`{shown}` is not a valid {what}"),
                    format!(
                        "write a whole number {range}; `_` may separate digits, as in `1_000_000`"
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, path: &str, value: &Value) -> Option<Duration> {
        let text = self.text(path, value, DURATION_FIX)?;
        match values::parse_duration(&text) {
            Ok(duration) => Some(duration),
            Err(message) => {
                self.report(ProblemKind::BadDuration, path, message, DURATION_FIX);
                None
            }
        }
    }

    /// One of `choices` (by name), or a problem listing them.
    fn choice<T: Copy>(&mut self, path: &str, value: &Value, choices: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let fix = format!("write one of: {}", names.join(", "));
        let text = self.text(path, value, &fix)?;
        match choices.iter().find(|(name, _)| *name == text) {
            Some((_, choice)) => Some(*choice),
            None => {
                self.report(
                    ProblemKind::InvalidValue,
                    path,
                    format!("`{text}` is not one of the choices"),
                    format!("write one of: {}", listing(&names, &text)),
                );
                None
            }
        }
    }

    /// A list of field names (dotted identifiers) or, with `identifiers`, plain identifiers.
    fn names(
        &mut self,
        path: &str,
        value: &Value,
        identifiers: bool,
        example: &str,
    ) -> Option<Vec<String>> {
        let Value::Sequence(items) = value else {
            self.wrong_type(
                path,
                value,
                "a list",
                &format!("write a list, such as `{example}`"),
            );
            return None;
        };
        if items.is_empty() {
            self.report(
                ProblemKind::InvalidValue,
                path,
                "the list is empty".to_owned(),
                format!("name at least one, such as `{example}`"),
            );
            return None;
        }
        let mut names = Vec::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Some(name) = self.text(&item_path, item, "write a name") else {
                ok = false;
                continue;
            };
            let valid = if identifiers {
                is_identifier(&name)
            } else {
                name.split('.').all(is_identifier)
            };
            if !valid {
                ok = false;
                let form = if identifiers {
                    "a name of ASCII letters, digits and `_`, starting with a letter or `_`"
                } else {
                    "dot-separated names of ASCII letters, digits and `_`, such as `customer.id`"
                };
                self.report(
                    ProblemKind::InvalidValue,
                    &item_path,
                    format!("`{name}` is not a valid name"),
                    format!("write {form}"),
                );
            } else if names.contains(&name) {
                ok = false;
                self.report(
                    ProblemKind::Duplicate,
                    &item_path,
                    format!("`{name}` is listed twice"),
                    "list each name once",
                );
            } else {
                names.push(name);
            }
        }
        ok.then_some(names)
    }

    fn spec(&mut self, tree: &Value) -> Option<Spec> {
        let fields = self.mapping("", tree, SPEC_KEYS, "a workload spec")?;
        let mut name = None;
        let mut description = None;
        let mut entity_values = None;
        for (key, value) in &fields {
            match *key {
                "name" => name = self.text("name", value, "write `name: my_service`"),
                "description" => {
                    description = self.text("description", value, "write one line of text")
                }
                _ => entity_values = Some(*value),
            }
        }
        if name.is_none() && !fields.iter().any(|(key, _)| *key == "name") {
            self.report(
                ProblemKind::MissingKey,
                "name",
                "the spec has no `name`".to_owned(),
                "add `name: my_service` at the top",
            );
        }
        let Some(entity_values) = entity_values else {
            self.report(
                ProblemKind::MissingKey,
                "entities",
                "the spec has no `entities`".to_owned(),
                "add `entities:` with at least one `- name: …` entry",
            );
            return None;
        };
        let Value::Sequence(items) = entity_values else {
            self.wrong_type(
                "entities",
                entity_values,
                "a list",
                "write each entity as a `- name: …` item",
            );
            return None;
        };
        if items.is_empty() {
            self.report(
                ProblemKind::InvalidValue,
                "entities",
                "the spec declares no entity".to_owned(),
                "add at least one `- name: …` entry",
            );
            return None;
        }

        // Names first: relations and accesses may name entities declared after them.
        let declared: Vec<Option<String>> = items.iter().map(entity_name).collect();
        let known: BTreeSet<&str> = declared.iter().flatten().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        let mut entities = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let name = declared[index].clone();
            let path = match &name {
                Some(name) if is_spec_entity_name(name) => format!("entities.{name}"),
                _ => format!("entities[{index}]"),
            };
            let duplicate = name.as_ref().is_some_and(|name| !seen.insert(name.clone()));
            if duplicate {
                self.report(
                    ProblemKind::Duplicate,
                    &format!("entities[{index}].name"),
                    format!(
                        "entity `{}` is declared twice",
                        name.as_deref().unwrap_or_default()
                    ),
                    "give each entity its own name, or merge the two entries",
                );
            }
            if let Some(entity) = self.entity(&path, item, &known) {
                entities.push(entity);
            }
        }
        let name = name?;
        (entities.len() == items.len()).then_some(Spec {
            name,
            description,
            entities,
        })
    }

    fn entity(&mut self, path: &str, value: &Value, known: &BTreeSet<&str>) -> Option<Entity> {
        let fields = self.mapping(path, value, ENTITY_KEYS, "an entity")?;
        let before = self.problems.len();
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);

        let name = match get("name") {
            None => {
                self.report(
                    ProblemKind::MissingKey,
                    &join(path, "name"),
                    "the entity has no `name`".to_owned(),
                    "add `name: orders`",
                );
                None
            }
            Some(value) => self.text(&join(path, "name"), value, "write `name: orders`").and_then(|name| {
                if is_spec_entity_name(&name) {
                    Some(name)
                } else {
                    self.report(
                        ProblemKind::InvalidValue,
                        &join(path, "name"),
                        format!("`{name}` is not a valid entity name"),
                        format!("use ASCII letters, digits and `_`, starting with a letter or `_`, at most {MAX_NAME} characters, without `__` and not ending in `_` (the router keeps `__` for the namespaces it makes, and the config names projections `<entity>_search`, `<entity>_cache`, …)"),
                    );
                    None
                }
            }),
        };
        let description = get("description").and_then(|value| {
            self.text(&join(path, "description"), value, "write one line of text")
        });
        let records = self.required_count(
            path,
            get("records"),
            "records",
            1,
            "record count",
            "records: 1_000_000",
        );
        let record_bytes = self.required_count(
            path,
            get("record_bytes"),
            "record_bytes",
            1,
            "record size in bytes",
            "record_bytes: 512",
        );
        let growth_per_day = get("growth_per_day").and_then(|value| {
            self.count(
                &join(path, "growth_per_day"),
                value,
                0,
                u64::MAX,
                "daily growth",
            )
        });
        let retention =
            get("retention").and_then(|value| self.duration(&join(path, "retention"), value));
        let durability = get("durability").map_or(Some(Durability::default()), |value| {
            self.choice(
                &join(path, "durability"),
                value,
                &[
                    ("durable", Durability::Durable),
                    ("ephemeral", Durability::Ephemeral),
                ],
            )
        });
        let consistency = get("consistency").map_or(Some(Consistency::default()), |value| {
            self.choice(
                &join(path, "consistency"),
                value,
                &[
                    ("strong", Consistency::Strong),
                    ("eventual", Consistency::Eventual),
                ],
            )
        });
        let regions = get("regions").map_or(Some(1), |value| {
            self.count(
                &join(path, "regions"),
                value,
                1,
                MAX_REGIONS,
                "number of writing regions",
            )
            .and_then(|n| u32::try_from(n).ok())
        });
        let schema = get("schema").map_or(Some(Schema::default()), |value| {
            self.choice(
                &join(path, "schema"),
                value,
                &[("fixed", Schema::Fixed), ("flexible", Schema::Flexible)],
            )
        });
        let primary = get("primary").and_then(|value| {
            let kinds: Vec<(&str, StoreKind)> = StoreKind::ALL
                .iter()
                .map(|kind| (kind.as_str(), *kind))
                .collect();
            self.choice(&join(path, "primary"), value, &kinds)
        });
        let key = get("key").map_or(Some(Vec::new()), |value| {
            self.names(&join(path, "key"), value, true, "[user_id]")
        });
        let order_by = get("order_by").map_or(Some(Vec::new()), |value| {
            self.names(&join(path, "order_by"), value, true, "[created_at]")
        });
        if let (Some(key), Some(order_by)) = (&key, &order_by) {
            if let Some(both) = order_by.iter().find(|field| key.contains(field)) {
                self.report(
                    ProblemKind::InvalidValue,
                    &join(path, "order_by"),
                    format!("`{both}` is in both `key` and `order_by`"),
                    "a field either picks the partition (`key`) or orders rows in it (`order_by`)",
                );
            }
        }
        let relations = get("relations").map_or(Some(Vec::new()), |value| {
            self.relations(&join(path, "relations"), value, known)
        });
        let accesses = get("accesses").map_or(Some(Vec::new()), |value| {
            self.accesses(&join(path, "accesses"), value, known)
        });

        if self.problems.len() != before {
            return None;
        }
        Some(Entity {
            name: name?,
            description,
            records: records?,
            record_bytes: record_bytes?,
            growth_per_day,
            retention,
            durability: durability?,
            consistency: consistency?,
            regions: regions?,
            schema: schema?,
            relations: relations?,
            accesses: accesses?,
            primary,
            key: key?,
            order_by: order_by?,
        })
    }

    fn required_count(
        &mut self,
        path: &str,
        value: Option<&Value>,
        key: &str,
        min: u64,
        what: &str,
        example: &str,
    ) -> Option<u64> {
        match value {
            Some(value) => self.count(&join(path, key), value, min, u64::MAX, what),
            None => {
                self.report(
                    ProblemKind::MissingKey,
                    &join(path, key),
                    format!("the entity has no `{key}`"),
                    format!("add an approximate figure, such as `{example}`"),
                );
                None
            }
        }
    }

    fn relations(
        &mut self,
        path: &str,
        value: &Value,
        known: &BTreeSet<&str>,
    ) -> Option<Vec<Relation>> {
        let Value::Sequence(items) = value else {
            self.wrong_type(
                path,
                value,
                "a list",
                "write `relations: [{ to: customers, kind: many_to_one }]`",
            );
            return None;
        };
        let mut relations = Vec::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Some(fields) = self.mapping(&item_path, item, RELATION_KEYS, "a relation") else {
                ok = false;
                continue;
            };
            let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
            let to = match get("to") {
                None => {
                    self.report(
                        ProblemKind::MissingKey,
                        &join(&item_path, "to"),
                        "the relation has no `to`".to_owned(),
                        "add `to: <entity name>`",
                    );
                    None
                }
                Some(value) => self
                    .text(&join(&item_path, "to"), value, "write `to: customers`")
                    .and_then(|to| self.known_entity(&join(&item_path, "to"), to, known)),
            };
            let kinds: Vec<(&str, RelationKind)> = RelationKind::ALL
                .iter()
                .map(|kind| (kind.name(), *kind))
                .collect();
            let kind = match get("kind") {
                None => {
                    self.report(
                        ProblemKind::MissingKey,
                        &join(&item_path, "kind"),
                        "the relation has no `kind`".to_owned(),
                        "add `kind:` with one of one_to_one, one_to_many, many_to_one, many_to_many",
                    );
                    None
                }
                Some(value) => self.choice(&join(&item_path, "kind"), value, &kinds),
            };
            match (to, kind) {
                (Some(to), Some(kind)) => relations.push(Relation { to, kind }),
                _ => ok = false,
            }
        }
        ok.then_some(relations)
    }

    fn known_entity(&mut self, path: &str, name: String, known: &BTreeSet<&str>) -> Option<String> {
        if known.contains(name.as_str()) {
            return Some(name);
        }
        let names: Vec<&str> = known.iter().copied().collect();
        self.report(
            ProblemKind::UnknownEntity,
            path,
            format!("no entity is named `{name}`"),
            format!("declared entities: {}", listing(&names, &name)),
        );
        None
    }

    fn accesses(
        &mut self,
        path: &str,
        value: &Value,
        known: &BTreeSet<&str>,
    ) -> Option<Vec<Access>> {
        let Value::Sequence(items) = value else {
            self.wrong_type(
                path,
                value,
                "a list",
                "write each access as a `- op: …` item",
            );
            return None;
        };
        let mut accesses = Vec::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            match self.access(&format!("{path}[{index}]"), item, known) {
                Some(access) => accesses.push(access),
                None => ok = false,
            }
        }
        ok.then_some(accesses)
    }

    fn access(&mut self, path: &str, value: &Value, known: &BTreeSet<&str>) -> Option<Access> {
        let Value::Mapping(mapping) = value else {
            self.wrong_type(
                path,
                value,
                "a mapping",
                "write `- op: get` with its `rate`",
            );
            return None;
        };
        let before = self.problems.len();
        let op_names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
        let op = match mapping.get("op") {
            None => {
                self.report(
                    ProblemKind::MissingKey,
                    &join(path, "op"),
                    "the access has no `op`".to_owned(),
                    format!("add `op:` with one of: {}", op_names.join(", ")),
                );
                None
            }
            Some(value) => self
                .text(&join(path, "op"), value, "write `op: get`")
                .and_then(|text| match text.parse::<Op>() {
                    Ok(op) => Some(op),
                    Err(()) => {
                        self.report(
                            ProblemKind::UnknownOp,
                            &join(path, "op"),
                            format!("unknown op `{text}`"),
                            format!("write one of: {}", listing(&op_names, &text)),
                        );
                        None
                    }
                }),
        };
        let what = op.map_or("an access".to_owned(), |op| format!("a `{op}` access"));
        let mut allowed: Vec<&str> = ACCESS_KEYS.to_vec();
        allowed.extend(OpField::ALL.iter().map(|field| field.name()));
        let fields = self.fields(path, mapping, &allowed, &what);
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);

        let rate = match get("rate") {
            None => {
                self.report(
                    ProblemKind::MissingKey,
                    &join(path, "rate"),
                    format!("{what} has no `rate`"),
                    "add how often it happens, such as `rate: 300/s`",
                );
                None
            }
            Some(value) => self
                .text(&join(path, "rate"), value, RATE_FIX)
                .and_then(|text| match values::parse_rate(&text) {
                    Ok(rate) => Some(rate),
                    Err(message) => {
                        self.report(ProblemKind::BadRate, &join(path, "rate"), message, RATE_FIX);
                        None
                    }
                }),
        };
        let p99 = get("p99").and_then(|value| self.duration(&join(path, "p99"), value));

        let mut access = Access::new(
            op.unwrap_or(Op::Get),
            rate.clone()
                .unwrap_or_else(|| values::Rate::per_second(1.0)),
        );
        access.p99 = p99;
        for field in OpField::ALL {
            let field_path = join(path, field.name());
            let value = get(field.name());
            if let Some(op) = op {
                let required = op.required().contains(&field);
                let takes = required || op.optional().contains(&field);
                match value {
                    None if required => self.report(
                        ProblemKind::MissingOpField,
                        &field_path,
                        format!("a `{op}` access needs `{}`", field.name()),
                        format!("add `{}`", field.example()),
                    ),
                    Some(_) if !takes => {
                        let takes: Vec<&str> = op
                            .required()
                            .iter()
                            .chain(op.optional())
                            .map(|field| field.name())
                            .collect();
                        let takes = if takes.is_empty() {
                            "none".to_owned()
                        } else {
                            takes.join(", ")
                        };
                        self.report(
                            ProblemKind::FieldNotForOp,
                            &field_path,
                            format!("a `{op}` access does not take `{}`", field.name()),
                            format!("remove it (a `{op}` access takes: {takes})"),
                        );
                        continue;
                    }
                    _ => {}
                }
            }
            let Some(value) = value else { continue };
            match field {
                OpField::Range => access.range = self.duration(&field_path, value),
                OpField::Every => access.every = self.duration(&field_path, value),
                OpField::Ttl => access.ttl = self.duration(&field_path, value),
                OpField::Depth => {
                    access.depth = self
                        .count(&field_path, value, 1, MAX_DEPTH, "depth in hops")
                        .and_then(|n| u32::try_from(n).ok());
                }
                OpField::GroupBy => {
                    access.group_by = self
                        .names(&field_path, value, false, "[device_id]")
                        .unwrap_or_default();
                }
                OpField::Fields => {
                    access.fields = self
                        .names(&field_path, value, false, "[title, body]")
                        .unwrap_or_default();
                }
                OpField::Entities => {
                    let names = self
                        .names(&field_path, value, true, "[orders, payments]")
                        .unwrap_or_default();
                    for (index, name) in names.into_iter().enumerate() {
                        if let Some(name) =
                            self.known_entity(&format!("{field_path}[{index}]"), name, known)
                        {
                            access.entities.push(name);
                        }
                    }
                }
            }
        }
        if let (Some(range), Some(every)) = (access.range, access.every) {
            if every > range {
                self.report(
                    ProblemKind::InvalidValue,
                    &join(path, "every"),
                    format!(
                        "windows of `{}` are longer than the `{}` range",
                        values::format_duration(every),
                        values::format_duration(range)
                    ),
                    "make `every` at most `range`",
                );
            }
        }
        (self.problems.len() == before && op.is_some() && rate.is_some()).then_some(access)
    }
}

/// An entity's `name` when it is text, before anything is checked (for references and paths).
fn entity_name(value: &Value) -> Option<String> {
    value.get("name").and_then(Value::as_str).map(str::to_owned)
}
