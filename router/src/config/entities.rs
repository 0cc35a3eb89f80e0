//! `[entities.NAME]`: which store an entity is routed to, its timeout, its access policy
//! (`cache`, `hedge`, `timeouts`) and its kind-specific settings.

use polyroute_adapters::StoreKind;
use toml::Value;

use super::access::{
    cache_problems, hedge_problems, parse_cache, parse_hedge, parse_timeouts, timeout_problems,
    CACHED_KINDS,
};
use super::names::{entity_name_problem, unknown_store};
use super::problem::ProblemKind;
use super::records::{parse_record, RECORD_KEYS};
use super::settings::{KindValues, KIND_KEYS};
use super::walk::{join, Walker};
use super::EntityConfig;
use polyroute_adapters::problem::listing;

/// Keys every entity accepts.
const COMMON_KEYS: &[&str] = &["store", "timeout", "cache", "hedge", "timeouts"];

/// The stores an entity may name: declared names, in order, with their kinds when valid.
pub(crate) struct StoreIndex<'a> {
    /// `None` when the config has no `[stores]` at all (reported once, not per entity).
    pub(crate) stores: Option<Vec<(&'a str, Option<StoreKind>)>>,
}

impl StoreIndex<'_> {
    fn names(&self) -> Vec<&str> {
        self.stores
            .iter()
            .flatten()
            .map(|(name, _)| *name)
            .collect()
    }
}

/// The keys an entity on a store of `kind` accepts (every key when the kind is unknown).
fn allowed_keys(kind: Option<StoreKind>) -> Vec<&'static str> {
    let mut keys = vec!["store", "timeout", "timeouts"];
    if kind.is_none_or(|kind| CACHED_KINDS.contains(&kind)) {
        keys.push("cache");
    }
    if kind.is_none_or(|kind| !crate::ops::reads(kind).is_empty()) {
        keys.push("hedge");
    }
    if kind.is_none_or(|kind| kind == StoreKind::Relational) {
        keys.extend(RECORD_KEYS);
    }
    keys.extend(
        KIND_KEYS
            .iter()
            .filter(|key| kind.is_none_or(|kind| key.kinds.contains(&kind)))
            .map(|key| key.name),
    );
    keys
}

/// Reads one `[entities.NAME]` table; `None` when it has a problem.
pub(crate) fn parse_entity(
    walker: &mut Walker<'_>,
    name: &str,
    value: &Value,
    index: &StoreIndex<'_>,
) -> Option<EntityConfig> {
    let before = walker.count();
    let path = join("entities", name);
    if let Some(problem) = entity_name_problem(&path, name) {
        walker.push(problem);
    }
    let table = walker.table(&path, value)?;

    let store_path = join(&path, "store");
    let mut target: Option<(String, Option<StoreKind>)> = None;
    match table.get("store") {
        None => walker.report_fix(
            ProblemKind::MissingKey,
            &store_path,
            format!("entity `{name}` has no `store`"),
            format!(
                "add `store = \"NAME\"`; declared stores: {}",
                listing(&index.names(), "")
            ),
        ),
        Some(value) => {
            if let Some(store) = walker.string(&store_path, value) {
                match &index.stores {
                    None => {}
                    Some(stores) => match stores.iter().find(|(known, _)| *known == store) {
                        Some((_, kind)) => target = Some((store, *kind)),
                        None => walker.push(unknown_store(&store_path, &store, &index.names())),
                    },
                }
            }
        }
    }
    let kind = target.as_ref().and_then(|(_, kind)| *kind);

    let timeout = table
        .get("timeout")
        .and_then(|value| walker.duration(&join(&path, "timeout"), value));

    let cache = table
        .get("cache")
        .and_then(|value| parse_cache(walker, &join(&path, "cache"), value));
    let hedge = table
        .get("hedge")
        .and_then(|value| parse_hedge(walker, &join(&path, "hedge"), value));
    let timeouts = table
        .get("timeouts")
        .and_then(|value| parse_timeouts(walker, &join(&path, "timeouts"), value));
    if let (Some((store, _)), Some(kind)) = (&target, kind) {
        let mut problems = Vec::new();
        if let (Some(cache), Some(stores)) = (&cache, &index.stores) {
            problems.extend(cache_problems(name, kind, store, cache, stores));
        }
        if let Some(hedge) = &hedge {
            problems.extend(hedge_problems(name, kind, hedge));
        }
        if let Some(timeouts) = &timeouts {
            problems.extend(timeout_problems(
                name,
                kind,
                timeouts.iter().map(|(op, timeout)| (op.as_str(), *timeout)),
            ));
        }
        for problem in problems {
            walker.push(problem);
        }
    }

    let mut values = KindValues::default();
    for (key, value) in table {
        if COMMON_KEYS.contains(&key.as_str()) {
            continue;
        }
        if RECORD_KEYS.contains(&key.as_str()) {
            if let (Some((store, _)), Some(kind)) = (&target, kind) {
                if kind != StoreKind::Relational {
                    walker.report_fix(
                        ProblemKind::KindMismatch,
                        &join(&path, key),
                        format!(
                            "entity `{name}` is on store `{store}` ({kind}); only a relational entity can be a system of record"
                        ),
                        format!("remove `{key}`, or route `{name}` to a relational store"),
                    );
                }
            }
            continue;
        }
        let key_path = join(&path, key);
        match KIND_KEYS.iter().find(|known| known.name == key) {
            None => walker.unknown_key(
                &path,
                key,
                &allowed_keys(kind),
                &kind.map_or("for an entity".to_owned(), |kind| {
                    format!("for a {kind} entity")
                }),
            ),
            Some(known) => match (&target, kind) {
                (Some((store, _)), Some(kind)) if !known.kinds.contains(&kind) => {
                    let homes: Vec<&str> = known.kinds.iter().map(|k| k.as_str()).collect();
                    walker.report_fix(
                        ProblemKind::KindMismatch,
                        &key_path,
                        format!(
                            "entity `{name}` is on store `{store}` ({kind}), which has {}",
                            known.lacking
                        ),
                        format!(
                            "remove `{key}` or route `{name}` to a {} store",
                            homes.join(" or ")
                        ),
                    );
                }
                _ => values.read(walker, &key_path, key, value),
            },
        }
    }

    let settings = kind.and_then(|kind| values.settings(walker, &path, kind));
    let record = if kind == Some(StoreKind::Relational) {
        parse_record(walker, &path, name, table)
    } else {
        None
    };
    match (target, settings) {
        (Some((store, _)), Some(settings)) if walker.count() == before => Some(EntityConfig {
            store,
            timeout,
            settings,
            cache,
            hedge,
            timeouts: timeouts.unwrap_or_default(),
            record,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use polyroute_adapters::kinds::search::SearchFieldKind;
    use polyroute_adapters::EntitySettings;

    use super::*;
    use crate::config::ProblemKind;

    const STORES: &[(&str, Option<StoreKind>)] = &[
        ("kv", Some(StoreKind::KeyValue)),
        ("docs", Some(StoreKind::Document)),
        ("metrics", Some(StoreKind::TimeSeries)),
        ("events", Some(StoreKind::WideColumn)),
        ("catalog", Some(StoreKind::Search)),
        ("social", Some(StoreKind::Graph)),
        ("broken", None),
    ];

    fn parse(text: &str) -> (Option<EntityConfig>, Vec<(String, ProblemKind)>) {
        let value: Value = toml::from_str(text).unwrap();
        let env = BTreeMap::new();
        let mut walker = Walker::new(&env);
        let index = StoreIndex {
            stores: Some(STORES.to_vec()),
        };
        let entity = parse_entity(&mut walker, "e", &value, &index);
        let problems = walker
            .into_problems()
            .into_iter()
            .map(|p| (p.path, p.kind))
            .collect();
        (entity, problems)
    }

    fn settings(text: &str) -> EntitySettings {
        let (entity, problems) = parse(text);
        assert!(problems.is_empty(), "{problems:?}");
        entity.unwrap().settings
    }

    #[test]
    fn every_kind_gets_its_settings() {
        match settings("store = \"kv\"\nttl = \"30m\"") {
            EntitySettings::KeyValue(kv) => assert_eq!(kv.ttl, Some(Duration::from_secs(1800))),
            other => panic!("{other:?}"),
        }
        match settings("store = \"docs\"\nindexes = [\"customer.id\", \"status\"]") {
            EntitySettings::Document(docs) => {
                let paths: Vec<&str> = docs.indexes.iter().map(|p| p.as_str()).collect();
                assert_eq!(paths, ["customer.id", "status"]);
            }
            other => panic!("{other:?}"),
        }
        match settings("store = \"metrics\"\nretention = \"30d\"") {
            EntitySettings::TimeSeries(ts) => {
                assert_eq!(ts.retention, Some(Duration::from_secs(30 * 86400)));
            }
            other => panic!("{other:?}"),
        }
        match settings(
            "store = \"events\"\npartition_key = [\"user_id\"]\nclustering_key = [\"at\", \"seq\"]\nttl = \"7d\"",
        ) {
            EntitySettings::WideColumn(wide) => {
                assert_eq!(wide.partition_key, ["user_id"]);
                assert_eq!(wide.clustering_key, ["at", "seq"]);
                assert_eq!(wide.ttl, Some(Duration::from_secs(7 * 86400)));
            }
            other => panic!("{other:?}"),
        }
        match settings(
            "store = \"catalog\"\nfields = { title = \"text\", category = \"keyword\", price = \"float\", stock = \"integer\" }",
        ) {
            EntitySettings::Search(search) => {
                let fields: Vec<(&str, SearchFieldKind)> = search
                    .fields
                    .iter()
                    .map(|f| (f.name.as_str(), f.kind))
                    .collect();
                assert_eq!(
                    fields,
                    [
                        ("title", SearchFieldKind::Text),
                        ("category", SearchFieldKind::Keyword),
                        ("price", SearchFieldKind::Float),
                        ("stock", SearchFieldKind::Integer),
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        match settings("store = \"social\"\ntimeout = \"1s\"") {
            EntitySettings::Graph(graph) => {
                assert_eq!(
                    graph.max_depth,
                    polyroute_adapters::kinds::graph::DEFAULT_MAX_DEPTH
                );
            }
            other => panic!("{other:?}"),
        }
        match settings("store = \"social\"\nmax_depth = 25") {
            EntitySettings::Graph(graph) => assert_eq!(graph.max_depth, 25),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn graph_max_depth_is_a_positive_number_of_hops() {
        for bad in ["0", "-3", "4294967296"] {
            let (entity, problems) = parse(&format!("store = \"social\"\nmax_depth = {bad}"));
            assert!(entity.is_none(), "{bad}");
            assert_eq!(
                problems,
                [("entities.e.max_depth".to_owned(), ProblemKind::InvalidValue)],
                "{bad}"
            );
        }
        let (_, problems) = parse("store = \"social\"\nmax_depth = \"6\"");
        assert_eq!(
            problems,
            [("entities.e.max_depth".to_owned(), ProblemKind::WrongType)]
        );
        let (_, problems) = parse("store = \"docs\"\nmax_depth = 6");
        assert_eq!(
            problems,
            [("entities.e.max_depth".to_owned(), ProblemKind::KindMismatch)]
        );
    }

    #[test]
    fn bad_kind_values_are_reported_at_their_element() {
        let (entity, problems) = parse("store = \"docs\"\nindexes = [\"ok\", \"not ok\"]");
        assert!(entity.is_none());
        assert_eq!(
            problems,
            [(
                "entities.e.indexes[1]".to_owned(),
                ProblemKind::InvalidValue
            )]
        );
        let (_, problems) = parse("store = \"events\"\npartition_key = []");
        assert_eq!(
            problems,
            [(
                "entities.e.partition_key".to_owned(),
                ProblemKind::InvalidValue
            )]
        );
    }

    #[test]
    fn keys_of_another_kind_are_mismatches_and_strangers_unknown() {
        let (_, problems) = parse("store = \"social\"\nretention = \"1d\"\ncolour = \"red\"");
        assert_eq!(
            problems,
            [
                ("entities.e.retention".to_owned(), ProblemKind::KindMismatch),
                ("entities.e.colour".to_owned(), ProblemKind::UnknownKey),
            ]
        );
    }

    #[test]
    fn a_store_of_unknown_kind_still_gets_its_values_checked() {
        let (entity, problems) = parse("store = \"broken\"\nttl = \"soon\"");
        assert!(entity.is_none());
        assert_eq!(
            problems,
            [("entities.e.ttl".to_owned(), ProblemKind::BadDuration)]
        );
    }
}
