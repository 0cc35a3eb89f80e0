//! The output formats: the JSON shape tools rely on, and smoke tests of the others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use polyroute_decision::render::{render, Format};
use polyroute_decision::rules::rule;
use polyroute_decision::{recommend, Spec};

const KINDS: [&str; 7] = [
    "key_value",
    "time_series",
    "graph",
    "relational",
    "wide_column",
    "document",
    "search",
];

fn shop() -> Spec {
    Spec::from_path(support::root().join("examples/workloads/e-commerce.yaml")).unwrap()
}

#[test]
fn json_has_the_stable_shape() {
    let spec = shop();
    let text = render(&spec, &recommend(&spec), Format::Json);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entities = value["entities"].as_array().expect("entities is a list");
    assert_eq!(entities.len(), spec.entities.len());
    for (entity, declared) in entities.iter().zip(&spec.entities) {
        assert_eq!(entity["name"], declared.name.as_str());
        assert!(
            KINDS.contains(&entity["primary"].as_str().unwrap()),
            "{entity}"
        );
        let routes = entity["routes"].as_object().expect("routes is an object");
        for access in &declared.accesses {
            let kind = routes[access.op.name()].as_str().unwrap();
            assert!(KINDS.contains(&kind), "{entity}");
        }
        for id in entity["rules"].as_array().unwrap() {
            assert!(rule(id.as_str().unwrap()).is_some(), "{id}");
        }
        let runner = &entity["runner_up"];
        assert!(runner.is_null() || KINDS.contains(&runner.as_str().unwrap()));
        for warning in entity["warnings"].as_array().unwrap() {
            assert!(rule(warning["rule"].as_str().unwrap()).is_some());
            assert!(!warning["message"].as_str().unwrap().is_empty());
        }
    }
    let products = &entities[1];
    assert_eq!(products["name"], "products");
    assert_eq!(products["routes"]["full_text"], "search");
    assert!(products["rules"]
        .as_array()
        .unwrap()
        .contains(&"full-text-search-projection".into()));
}

#[test]
fn markdown_is_a_design_doc() {
    let spec = shop();
    let text = render(&spec, &recommend(&spec), Format::Markdown);
    assert!(text.starts_with("# Storage design: shop\n"), "{text}");
    for section in ["## Context", "## Decision", "## Risks"] {
        assert!(text.contains(section), "{section} missing");
    }
    for entity in &spec.entities {
        assert!(text.contains(&format!("### {}\n", entity.name)));
    }
    assert!(text.contains("Alternative: **"));
    assert!(text.contains("Capacity: "));
}

#[test]
fn mermaid_draws_every_entity_to_its_stores() {
    let spec = shop();
    let recommendation = recommend(&spec);
    let text = render(&spec, &recommendation, Format::Mermaid);
    assert!(text.starts_with("flowchart LR\n"));
    for entity in &recommendation.entities {
        assert!(text.contains(&format!(
            "e_{} -->|system of record| s_{}",
            entity.name,
            entity.primary.as_str()
        )));
    }
    assert!(
        text.contains("e_products -.->|full_text| s_search"),
        "{text}"
    );
}

#[test]
fn table_lists_entities_accesses_and_warnings() {
    let spec = shop();
    let text = render(&spec, &recommend(&spec), Format::Table);
    assert!(text.starts_with("shop: 6 entities\n"));
    assert!(text.contains("ENTITY     PRIMARY"), "{text}");
    assert!(text.contains("ACCESSES"));
    assert!(text.contains("WARNINGS ("));
}

#[test]
fn the_framework_doc_states_every_rule_as_the_code_does() {
    let doc = std::fs::read_to_string(support::root().join("docs/decision-framework.md")).unwrap();
    for rule in polyroute_decision::rules::RULES {
        assert!(
            doc.contains(&format!("#### `{}`", rule.id)),
            "{} missing",
            rule.id
        );
        assert!(
            doc.contains(rule.statement),
            "{}: statement differs",
            rule.id
        );
        assert!(doc.contains(rule.evidence), "{}: evidence differs", rule.id);
    }
    for op in polyroute_decision::spec::Op::ALL {
        assert!(doc.contains(&format!("| `{op}` |")), "op {op} missing");
    }
}
