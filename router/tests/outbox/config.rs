//! Record keys in `polyroute.toml`: parsed into settings, and every mistake reported at its
//! field with a fix.

use polyroute::{Config, ProblemKind};

const STORES: &str = r#"
[stores.main]
kind = "relational"
[stores.docs]
kind = "document"
[stores.catalog]
kind = "search"
[stores.cache]
kind = "key_value"
[stores.social]
kind = "graph"
"#;

fn parse(entities: &str) -> Result<Config, Vec<(String, ProblemKind, String)>> {
    Config::from_toml_str(&format!("{STORES}{entities}"), ".").map_err(|err| {
        err.problems()
            .iter()
            .map(|p| (p.path.clone(), p.kind, p.to_string()))
            .collect()
    })
}

#[test]
fn a_record_entity_parses_with_defaults() {
    let config = parse(
        r#"
[entities.products]
store = "main"
routes = { get = "products_docs", search = "products_search" }
propagate = { to = ["products_search", "products_docs"], batch = 50, lease = "5s" }
read_your_writes = true
[entities.products_search]
store = "catalog"
fields = { name = "text" }
[entities.products_docs]
store = "docs"
[entities.orders]
store = "main"
"#,
    )
    .unwrap();
    let record = config.entities()["products"].record.clone().unwrap();
    assert_eq!(record.table, "products");
    assert_eq!(record.key, "id");
    assert_eq!(record.routes.get.as_deref(), Some("products_docs"));
    assert!(record.read_your_writes);
    let propagation = record.propagate.unwrap();
    assert_eq!(propagation.to, ["products_search", "products_docs"]);
    assert_eq!(propagation.batch, 50);
    assert_eq!(propagation.lease, std::time::Duration::from_secs(5));
    assert_eq!(propagation.attempts, 5);
    assert!(config.entities()["orders"].record.is_none());
}

#[test]
fn field_mistakes_are_reported_at_their_path() {
    let problems = parse(
        r#"
[entities.products]
store = "main"
table = "bad table"
propagate = { to = ["products_docs"], via = "kafka", batch = 0 }
[entities.products_docs]
store = "docs"
propagate = { to = ["products"] }
"#,
    )
    .unwrap_err();
    let paths: Vec<(&str, ProblemKind)> =
        problems.iter().map(|(p, k, _)| (p.as_str(), *k)).collect();
    assert_eq!(
        paths,
        [
            ("entities.products.table", ProblemKind::InvalidValue),
            ("entities.products.propagate.via", ProblemKind::InvalidValue),
            (
                "entities.products.propagate.batch",
                ProblemKind::InvalidValue
            ),
            (
                "entities.products_docs.propagate",
                ProblemKind::KindMismatch
            ),
        ],
        "{problems:#?}"
    );
    assert!(problems[3]
        .2
        .contains("only a relational entity can be a system of record"));
}

#[test]
fn reference_mistakes_name_the_fix() {
    let problems = parse(
        r#"
[entities.products]
store = "main"
routes = { get = "products_search", search = "nope" }
propagate = { to = ["friends", "products", "products_search"] }
[entities.products_search]
store = "catalog"
fields = { name = "text" }
[entities.products_kv]
store = "cache"
[entities.friends]
store = "social"
"#,
    )
    .unwrap_err();
    let got: Vec<(&str, ProblemKind)> = problems.iter().map(|(p, k, _)| (p.as_str(), *k)).collect();
    assert_eq!(
        got,
        [
            (
                "entities.products.propagate.to[0]",
                ProblemKind::KindMismatch
            ),
            (
                "entities.products.propagate.to[1]",
                ProblemKind::InvalidValue
            ),
            ("entities.products.routes.get", ProblemKind::KindMismatch),
            (
                "entities.products.routes.search",
                ProblemKind::UnknownEntity
            ),
        ],
        "{problems:#?}"
    );
    assert!(
        problems[0]
            .2
            .contains("propagate to search, document or key_value entities"),
        "{}",
        problems[0].2
    );
    assert!(
        problems[3].2.contains("declared entities"),
        "{}",
        problems[3].2
    );

    let problems = parse(
        r#"
[entities.products]
store = "main"
routes = { get = "products_kv" }
[entities.products_kv]
store = "cache"
"#,
    )
    .unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].0, "entities.products.routes.get");
    assert!(
        problems[0].2.contains("add `products_kv` to `propagate"),
        "{}",
        problems[0].2
    );
}
