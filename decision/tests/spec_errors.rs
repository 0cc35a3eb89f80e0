//! Every class of bad spec is reported, with the entity, the access and the field, and a fix;
//! all problems of a spec come back at once.

// Helpers fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use polyroute_decision::spec::{Problem, ProblemKind};
use polyroute_decision::Spec;

fn problems(text: &str) -> Vec<Problem> {
    match Spec::from_yaml_str(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err.problems().to_vec(),
    }
}

/// The one problem of `text`, checked for its kind and path.
fn only(text: &str, kind: ProblemKind, path: &str) -> Problem {
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let problem = found.into_iter().next().unwrap();
    assert_eq!(problem.kind, kind, "{problem}");
    assert_eq!(problem.path, path, "{problem}");
    assert!(problem.fix.is_some(), "no fix: {problem}");
    problem
}

fn entity(body: &str) -> String {
    format!(
        "name: t\nentities:\n  - name: orders\n    records: 1000\n    record_bytes: 100\n{body}"
    )
}

#[test]
fn unknown_op() {
    let problem = only(
        &entity("    accesses:\n      - { op: get, rate: 5/s }\n      - { op: trasnaction, rate: 5/s }\n"),
        ProblemKind::UnknownOp,
        "entities.orders.accesses[1].op",
    );
    assert!(
        problem.to_string().contains("did you mean `transaction`"),
        "{problem}"
    );
}

#[test]
fn bad_rate() {
    let problem = only(
        &entity("    accesses:\n      - { op: get, rate: 300/x }\n"),
        ProblemKind::BadRate,
        "entities.orders.accesses[0].rate",
    );
    assert!(problem.to_string().contains("`300/s`"), "{problem}");
    only(
        &entity("    accesses:\n      - { op: get, rate: 300 }\n"),
        ProblemKind::BadRate,
        "entities.orders.accesses[0].rate",
    );
    only(
        &entity("    accesses:\n      - { op: get, rate: 0/s }\n"),
        ProblemKind::BadRate,
        "entities.orders.accesses[0].rate",
    );
}

#[test]
fn negative_or_zero_records() {
    only(
        "name: t\nentities:\n  - { name: orders, records: -5, record_bytes: 100 }\n",
        ProblemKind::BadCount,
        "entities.orders.records",
    );
    only(
        "name: t\nentities:\n  - { name: orders, records: 0, record_bytes: 100 }\n",
        ProblemKind::BadCount,
        "entities.orders.records",
    );
    only(
        "name: t\nentities:\n  - { name: orders, records: 10, record_bytes: lots }\n",
        ProblemKind::BadCount,
        "entities.orders.record_bytes",
    );
}

#[test]
fn underscored_counts_are_read() {
    let spec = Spec::from_yaml_str(
        "name: t\nentities:\n  - { name: orders, records: 50_000_000, record_bytes: \"2_048\" }\n",
    )
    .unwrap();
    assert_eq!(spec.entities[0].records, 50_000_000);
    assert_eq!(spec.entities[0].record_bytes, 2048);
}

#[test]
fn relation_to_an_unknown_entity() {
    let problem = only(
        &entity("    relations: [{ to: custmers, kind: many_to_one }]\n"),
        ProblemKind::UnknownEntity,
        "entities.orders.relations[0].to",
    );
    assert!(
        problem.to_string().contains("declared entities: orders"),
        "{problem}"
    );
    only(
        &entity("    accesses:\n      - { op: join, rate: 1/s, entities: [orders, ghosts] }\n"),
        ProblemKind::UnknownEntity,
        "entities.orders.accesses[0].entities[1]",
    );
}

#[test]
fn entity_names_the_router_or_a_projection_would_refuse() {
    // Found by fuzzing: `audit__x` passed the spec, then the config it emitted was refused (the
    // router keeps `__` for its namespaces), and `audit_` would make `audit__search`.
    for name in ["audit__x", "audit_", "1audit", "audit-log"] {
        let problem = only(
            &format!("name: t\nentities:\n  - {{ name: {name}, records: 1, record_bytes: 1 }}\n"),
            ProblemKind::InvalidValue,
            "entities[0].name",
        );
        assert!(problem.to_string().contains("`__`"), "{problem}");
    }
}

#[test]
fn duplicate_entity_names() {
    only(
        "name: t\nentities:\n  - { name: orders, records: 1, record_bytes: 1 }\n  - { name: orders, records: 1, record_bytes: 1 }\n",
        ProblemKind::Duplicate,
        "entities[1].name",
    );
}

#[test]
fn missing_op_specific_fields() {
    only(
        &entity("    accesses:\n      - { op: traverse, rate: 1/s }\n"),
        ProblemKind::MissingOpField,
        "entities.orders.accesses[0].depth",
    );
    let found = problems(&entity(
        "    accesses:\n      - { op: window_aggregate, rate: 1/s }\n",
    ));
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "entities.orders.accesses[0].range",
            "entities.orders.accesses[0].every"
        ]
    );
    only(
        &entity("    accesses:\n      - { op: expire, rate: 1/s }\n"),
        ProblemKind::MissingOpField,
        "entities.orders.accesses[0].ttl",
    );
}

#[test]
fn fields_an_op_does_not_take() {
    let problem = only(
        &entity("    accesses:\n      - { op: get, rate: 1/s, depth: 2 }\n"),
        ProblemKind::FieldNotForOp,
        "entities.orders.accesses[0].depth",
    );
    assert!(problem.to_string().contains("remove it"), "{problem}");
}

#[test]
fn bad_durations() {
    only(
        &entity("    retention: 400q\n"),
        ProblemKind::BadDuration,
        "entities.orders.retention",
    );
    only(
        &entity("    accesses:\n      - { op: get, rate: 1/s, p99: fast }\n"),
        ProblemKind::BadDuration,
        "entities.orders.accesses[0].p99",
    );
}

#[test]
fn unknown_keys_and_values() {
    let problem = only(
        &entity("    retension: 30d\n"),
        ProblemKind::UnknownKey,
        "entities.orders.retension",
    );
    assert!(
        problem.to_string().contains("did you mean `retention`"),
        "{problem}"
    );
    only(
        &entity("    durability: forever\n"),
        ProblemKind::InvalidValue,
        "entities.orders.durability",
    );
    only(
        "entities:\n  - { name: orders, records: 1, record_bytes: 1 }\n",
        ProblemKind::MissingKey,
        "name",
    );
    only(
        "name: t\nentities:\n  - { records: 1, record_bytes: 1 }\n",
        ProblemKind::MissingKey,
        "entities[0].name",
    );
}

#[test]
fn syntax_errors_say_where() {
    let problem = only("name: t\nentities: [\n", ProblemKind::Syntax, "");
    assert!(problem.message.contains("line"), "{problem}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(
        "name: t
entities:
  - name: orders
    records: -1
    record_bytes: 100
    retention: 400q
    relations: [{ to: nobody, kind: many_to_one }]
    accesses:
      - { op: teleport, rate: 5/s }
      - { op: get, rate: 300/x }
      - { op: traverse, rate: 1/s }
  - { name: orders, records: 1, record_bytes: 1 }
",
    );
    let kinds: Vec<ProblemKind> = found.iter().map(|p| p.kind).collect();
    for kind in [
        ProblemKind::BadCount,
        ProblemKind::BadDuration,
        ProblemKind::UnknownEntity,
        ProblemKind::UnknownOp,
        ProblemKind::BadRate,
        ProblemKind::MissingOpField,
        ProblemKind::Duplicate,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from {found:#?}");
    }
    assert_eq!(found.len(), 7, "{found:#?}");
}
