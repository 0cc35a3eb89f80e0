//! Whether an entity's settings fit the store it is routed to: the store's kind, and what its
//! backend can do ([`Capabilities`](polyroute_adapters::Capabilities)).

use polyroute_adapters::kinds::search::SearchFieldKind;
use polyroute_adapters::{EntitySettings, StoreInfo, StoreKind};

use super::problem::{ConfigProblem, ProblemKind};
use super::walk::join;

/// The problem when `entity` has settings of another kind than its store serves.
pub(crate) fn kind_problem(
    entity: &str,
    settings: &EntitySettings,
    store: &str,
    store_kind: StoreKind,
) -> Option<ConfigProblem> {
    let wanted = settings.kind();
    (wanted != store_kind).then(|| {
        ConfigProblem::new(
            ProblemKind::KindMismatch,
            join(&join("entities", entity), "store"),
            format!("entity `{entity}` has {wanted} settings but store `{store}` is {store_kind}"),
        )
        .with_fix(format!(
            "route `{entity}` to a {wanted} store, or give it {store_kind} settings"
        ))
    })
}

/// Every problem with routing `entity` (with `settings`) to `store` described by `info`.
pub(crate) fn route_problems(
    entity: &str,
    settings: &EntitySettings,
    store: &str,
    info: &StoreInfo,
) -> Vec<ConfigProblem> {
    if let Some(problem) = kind_problem(entity, settings, store, info.kind) {
        return vec![problem];
    }
    let path = join("entities", entity);
    let caps = info.capabilities;
    let lacking = |key: &str, cannot: &str, fix: &str| {
        ConfigProblem::new(
            ProblemKind::Capability,
            join(&path, key),
            format!(
                "store `{store}` (backend `{}`) cannot {cannot}",
                info.backend
            ),
        )
        .with_fix(format!(
            "remove `{key}` or route `{entity}` to a store {fix}"
        ))
    };
    let mut problems = Vec::new();
    match settings {
        EntitySettings::KeyValue(kv) if kv.ttl.is_some() && !caps.ttl => {
            problems.push(lacking(
                "ttl",
                "expire entries",
                "whose backend supports TTL",
            ));
        }
        EntitySettings::WideColumn(wide) if wide.ttl.is_some() && !caps.ttl => {
            problems.push(lacking("ttl", "expire rows", "whose backend supports TTL"));
        }
        EntitySettings::Document(docs) if !docs.indexes.is_empty() && !caps.secondary_indexes => {
            problems.push(lacking(
                "indexes",
                "build secondary indexes",
                "whose backend has secondary indexes",
            ));
        }
        EntitySettings::Search(search) if !caps.full_text => {
            for field in &search.fields {
                if field.kind == SearchFieldKind::Text {
                    problems.push(lacking(
                        &format!("fields.{}", field.name),
                        "run full-text queries on `text` fields",
                        "whose backend has full-text search",
                    ));
                }
            }
        }
        _ => {}
    }
    problems
}

#[cfg(test)]
mod tests {
    use polyroute_adapters::kinds::document::{DocumentSettings, FieldPath};
    use polyroute_adapters::kinds::key_value::KeyValueSettings;
    use polyroute_adapters::Capabilities;

    use super::*;

    fn info(kind: StoreKind, capabilities: Capabilities) -> StoreInfo {
        StoreInfo {
            kind,
            backend: "test",
            capabilities,
        }
    }

    #[test]
    fn ttl_needs_the_ttl_capability() {
        let settings = EntitySettings::KeyValue(KeyValueSettings::with_ttl(Some(
            std::time::Duration::from_secs(1),
        )));
        let problems = route_problems(
            "sessions",
            &settings,
            "cache",
            &info(StoreKind::KeyValue, Capabilities::default()),
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "entities.sessions.ttl");
        assert_eq!(problems[0].kind, ProblemKind::Capability);
        let fine = Capabilities {
            ttl: true,
            ..Capabilities::default()
        };
        assert!(route_problems(
            "sessions",
            &settings,
            "cache",
            &info(StoreKind::KeyValue, fine)
        )
        .is_empty());
    }

    #[test]
    fn indexes_need_secondary_indexes() {
        let settings =
            EntitySettings::Document(DocumentSettings::with_indexes(vec![FieldPath::parse(
                "customer.id",
            )
            .unwrap()]));
        let problems = route_problems(
            "orders",
            &settings,
            "docs",
            &info(StoreKind::Document, Capabilities::default()),
        );
        assert_eq!(problems[0].path, "entities.orders.indexes");
    }

    #[test]
    fn kinds_must_match() {
        let settings = EntitySettings::KeyValue(KeyValueSettings::default());
        let problems = route_problems(
            "sessions",
            &settings,
            "main",
            &info(StoreKind::Relational, Capabilities::default()),
        );
        assert_eq!(problems[0].kind, ProblemKind::KindMismatch);
        assert_eq!(problems[0].path, "entities.sessions.store");
    }
}
