//! The problems both readers of a router's declarations report alike, with one message and
//! one fix each: the config file (`Config`) and code (`RouterBuilder`).

use polyroute_adapters::kinds::{is_entity_name, is_identifier};
use polyroute_adapters::problem::listing;

use super::{ConfigProblem, ProblemKind};

/// How to write a name.
const NAME_FIX: &str =
    "use ASCII letters, digits and `_`, starting with a letter or `_` (at most 63 characters)";

/// `name` at `path`, if it cannot name a store.
pub(crate) fn store_name_problem(path: &str, name: &str) -> Option<ConfigProblem> {
    (!is_identifier(name)).then(|| {
        ConfigProblem::new(
            ProblemKind::InvalidName,
            path,
            format!("`{name}` is not a valid store name"),
        )
        .with_fix(NAME_FIX)
    })
}

/// `name` at `path`, if it cannot name an entity (entity names also leave out `__`).
pub(crate) fn entity_name_problem(path: &str, name: &str) -> Option<ConfigProblem> {
    (!is_entity_name(name)).then(|| {
        ConfigProblem::new(
            ProblemKind::InvalidName,
            path,
            format!("`{name}` is not a valid entity name"),
        )
        .with_fix(format!(
            "{NAME_FIX}, without `__` (which separates the namespaces the router makes, such as \
             `cache__<entity>`)"
        ))
    })
}

/// `store`, named at `path`, is not among the `declared` stores.
pub(crate) fn unknown_store(path: &str, store: &str, declared: &[&str]) -> ConfigProblem {
    ConfigProblem::new(
        ProblemKind::UnknownStore,
        path,
        format!("unknown store `{store}`"),
    )
    .with_fix(format!("declared stores: {}", listing(declared, store)))
}

/// `entity`, named at `path`, is not among the `declared` entities; `what` says what was set
/// for it, when something was (such as "timeout set").
pub(crate) fn unknown_entity(
    path: &str,
    what: Option<&str>,
    entity: &str,
    declared: &[&str],
) -> ConfigProblem {
    let message = match what {
        Some(what) => format!("{what} for unknown entity `{entity}`"),
        None => format!("unknown entity `{entity}`"),
    };
    ConfigProblem::new(ProblemKind::UnknownEntity, path, message)
        .with_fix(format!("declared entities: {}", listing(declared, entity)))
}

/// A timeout of zero at `path`.
pub(crate) fn zero_timeout(path: &str) -> ConfigProblem {
    ConfigProblem::new(
        ProblemKind::BadDuration,
        path,
        "a timeout of zero is not allowed",
    )
    .with_fix("give a positive duration such as `250ms`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_the_kind_says() {
        assert!(store_name_problem("stores.a", "cache__x").is_none());
        assert!(store_name_problem("stores.a", "1bad").is_some());
        let problem = entity_name_problem("entities.a__b", "a__b").unwrap();
        assert_eq!(problem.kind, ProblemKind::InvalidName);
        assert!(problem.fix.unwrap().contains("`__`"));
        assert!(entity_name_problem("entities.orders", "orders").is_none());
    }

    #[test]
    fn unknown_names_suggest_the_declared_ones() {
        assert_eq!(
            unknown_store("entities.orders.store", "mian", &["main", "cache"]).to_string(),
            "entities.orders.store: unknown store `mian`; declared stores: main, cache (did you \
             mean `main`?)"
        );
        assert_eq!(
            unknown_entity(
                "entities.ordres.timeout",
                Some("timeout set"),
                "ordres",
                &["orders"]
            )
            .to_string(),
            "entities.ordres.timeout: timeout set for unknown entity `ordres`; declared entities: \
             orders (did you mean `orders`?)"
        );
    }
}
