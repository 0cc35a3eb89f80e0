//! `[entities.NAME]`: which store an entity is routed to, its timeout and its kind-specific
//! settings.

use polyroute_adapters::store::is_identifier;
use polyroute_adapters::StoreKind;
use toml::Value;

use super::problem::ProblemKind;
use super::settings::{KindValues, KIND_KEYS};
use super::suggest::listing;
use super::walk::{join, Walker};
use super::EntityConfig;

/// Keys every entity accepts.
const COMMON_KEYS: &[&str] = &["store", "timeout"];

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
    let mut keys = COMMON_KEYS.to_vec();
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
    if !is_identifier(name) {
        walker.report_fix(
            ProblemKind::InvalidName,
            &path,
            format!("`{name}` is not a valid entity name"),
            "use ASCII letters, digits and `_`, starting with a letter or `_` (at most 63 characters)",
        );
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
                        None => walker.report_fix(
                            ProblemKind::UnknownStore,
                            &store_path,
                            format!("unknown store `{store}`"),
                            format!("declared stores: {}", listing(&index.names(), &store)),
                        ),
                    },
                }
            }
        }
    }
    let kind = target.as_ref().and_then(|(_, kind)| *kind);

    let timeout = table
        .get("timeout")
        .and_then(|value| walker.duration(&join(&path, "timeout"), value));

    let mut values = KindValues::default();
    for (key, value) in table {
        if COMMON_KEYS.contains(&key.as_str()) {
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
    match (target, settings) {
        (Some((store, _)), Some(settings)) if walker.count() == before => Some(EntityConfig {
            store,
            timeout,
            settings,
        }),
        _ => None,
    }
}
