//! Every rule fires on a spec made for it and stays silent on a near miss.

// Helpers fail the test the way `#[test]` functions do: by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use polyroute_decision::rules::{RuleKind, RULES};
use polyroute_decision::{recommend, Spec};

/// A spec named `t` with these entities (YAML list items).
fn spec(entities: &str) -> Spec {
    let text = format!("name: t\nentities:\n{entities}");
    Spec::from_yaml_str(&text).unwrap_or_else(|err| panic!("{err}\n---\n{text}"))
}

/// The ids of the rules that fired for entity `a` (hard, scored, route and conflict).
fn fired(entities: &str) -> Vec<&'static str> {
    let spec = spec(entities);
    let recommendation = recommend(&spec);
    recommendation
        .entities
        .iter()
        .find(|e| e.name == "a")
        .expect("entity a")
        .rule_ids()
}

const B: &str =
    "  - { name: b, records: 1000, record_bytes: 100, accesses: [{ op: get, rate: 10/s }] }\n";

/// (rule id, entities where it fires for `a`, entities where it does not).
fn cases() -> Vec<(&'static str, String, String)> {
    let a = |rest: &str| format!("  - name: a\n    records: 1000\n    record_bytes: 100\n{rest}");
    vec![
        (
            "txn-multi-entity-relational",
            a("    accesses: [{ op: transaction, rate: 5/s, entities: [a, b] }]\n") + B,
            a("    accesses: [{ op: transaction, rate: 5/s, entities: [a] }]\n") + B,
        ),
        (
            "multi-region-eventual-wide-column",
            a("    regions: 3\n    consistency: eventual\n    accesses: [{ op: get, rate: 5/s }]\n"),
            a("    consistency: eventual\n    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "ephemeral-ttl-key-value",
            a("    durability: ephemeral\n    accesses: [{ op: get, rate: 5000/s }, { op: put, rate: 100/s }, { op: expire, rate: 1/s, ttl: 30m }]\n"),
            a("    durability: ephemeral\n    accesses: [{ op: get, rate: 10/s }, { op: put, rate: 100/s }, { op: expire, rate: 1/s, ttl: 30m }]\n"),
        ),
        (
            "fit-keyed",
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
            a("    accesses: [{ op: append, rate: 5/s }]\n"),
        ),
        (
            "fit-time-ordered",
            a("    accesses: [{ op: append, rate: 5/s }]\n"),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "fit-relational-query",
            a("    accesses: [{ op: aggregate, rate: 5/s, group_by: [day] }]\n"),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "fit-secondary-filter",
            a("    accesses: [{ op: filter, rate: 5/s, fields: [status] }]\n"),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "fit-relationships",
            a("    accesses: [{ op: traverse, rate: 5/s, depth: 2 }]\n"),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "fit-partition",
            a("    accesses: [{ op: partition_scan, rate: 5/s }]\n"),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "fit-expiry",
            a("    accesses: [{ op: expire, rate: 5/s, ttl: 1h }]\n"),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "flexible-schema-document",
            a("    schema: flexible\n    accesses: [{ op: get, rate: 5/s }]\n"),
            a("    schema: fixed\n    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "ephemeral-in-memory",
            a("    durability: ephemeral\n    accesses: [{ op: get, rate: 5/s }]\n"),
            a("    durability: durable\n    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "durable-off-memory",
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
            a("    durability: ephemeral\n    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "retention-by-partition",
            a("    retention: 30d\n    accesses: [{ op: append, rate: 5/s }]\n"),
            a("    accesses: [{ op: append, rate: 5/s }]\n"),
        ),
        (
            "scale-out-size",
            "  - { name: a, records: 10_000_000_000, record_bytes: 1024, accesses: [{ op: get, rate: 5/s }] }\n".to_owned(),
            a("    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "scale-out-writes",
            a("    accesses: [{ op: put, rate: 50_000/s }]\n"),
            a("    accesses: [{ op: put, rate: 10/s }]\n"),
        ),
        (
            "latency-target",
            a("    accesses: [{ op: filter, rate: 5/s, fields: [status], p99: 1ms }]\n"),
            a("    accesses: [{ op: filter, rate: 5/s, fields: [status], p99: 1000ms }]\n"),
        ),
        (
            "full-text-search-projection",
            a("    accesses: [{ op: full_text, rate: 5/s, fields: [title] }]\n"),
            a("    accesses: [{ op: filter, rate: 5/s, fields: [title] }]\n"),
        ),
        (
            "deep-traverse-graph-projection",
            a("    accesses: [{ op: get, rate: 10000/s }, { op: filter, rate: 1000/s, fields: [x] }, { op: traverse, rate: 1/s, depth: 3 }]\n"),
            a("    accesses: [{ op: get, rate: 10000/s }, { op: filter, rate: 1000/s, fields: [x] }, { op: traverse, rate: 1/s, depth: 1 }]\n"),
        ),
        (
            "hot-read-cache",
            a("    accesses: [{ op: get, rate: 50_000/s }, { op: update, rate: 10/s }]\n"),
            a("    accesses: [{ op: get, rate: 100/s }, { op: update, rate: 10/s }]\n"),
        ),
        (
            "poorly-served-projection",
            a("    regions: 2\n    consistency: eventual\n    accesses: [{ op: append, rate: 500/s }, { op: filter, rate: 10/s, fields: [status] }]\n"),
            a("    regions: 2\n    consistency: eventual\n    accesses: [{ op: append, rate: 500/s }, { op: partition_scan, rate: 10/s }]\n"),
        ),
        (
            "strong-multi-region",
            a("    regions: 2\n    accesses: [{ op: get, rate: 5/s }]\n"),
            a("    regions: 1\n    accesses: [{ op: get, rate: 5/s }]\n"),
        ),
        (
            "txn-across-stores",
            a("    accesses: [{ op: transaction, rate: 5/s, entities: [b] }]\n")
                + "  - { name: b, records: 1000, record_bytes: 100, primary: key_value }\n",
            a("    accesses: [{ op: transaction, rate: 5/s, entities: [b] }]\n")
                + "  - { name: b, records: 1000, record_bytes: 100 }\n",
        ),
        (
            "traverse-too-deep",
            a("    accesses: [{ op: traverse, rate: 5/s, depth: 6 }]\n"),
            a("    accesses: [{ op: traverse, rate: 5/s, depth: 2 }]\n"),
        ),
        (
            "projection-staleness",
            a("    accesses: [{ op: get, rate: 5/s }, { op: full_text, rate: 5/s, fields: [title] }]\n"),
            a("    consistency: eventual\n    accesses: [{ op: get, rate: 5/s }, { op: full_text, rate: 5/s, fields: [title] }]\n"),
        ),
        (
            "latency-target-missed",
            a("    accesses: [{ op: append, rate: 5/s, p99: 1ms }]\n"),
            a("    accesses: [{ op: append, rate: 5/s, p99: 1000ms }]\n"),
        ),
        (
            "single-leader-sharding",
            "  - { name: a, records: 10_000_000_000, record_bytes: 1024, primary: relational }\n".to_owned(),
            "  - { name: a, records: 1000, record_bytes: 1024, primary: relational }\n".to_owned(),
        ),
        (
            "constraints-disagree",
            a("    primary: key_value\n    accesses: [{ op: transaction, rate: 5/s, entities: [a, b] }]\n") + B,
            a("    accesses: [{ op: transaction, rate: 5/s, entities: [a, b] }]\n") + B,
        ),
    ]
}

#[test]
fn every_rule_fires_where_it_should_and_not_on_a_near_miss() {
    let cases = cases();
    for (id, fires, silent) in &cases {
        let on = fired(fires);
        assert!(
            on.contains(id),
            "`{id}` did not fire on:\n{fires}\nfired: {on:?}"
        );
        let off = fired(silent);
        assert!(
            !off.contains(id),
            "`{id}` fired on:\n{silent}\nfired: {off:?}"
        );
    }
    for rule in RULES {
        assert!(
            cases.iter().any(|(id, _, _)| *id == rule.id),
            "rule `{}` has no test case",
            rule.id
        );
    }
}

#[test]
fn hard_constraints_decide_and_the_first_one_wins() {
    let spec = spec(
        "  - name: a\n    records: 1000\n    record_bytes: 100\n    accesses: [{ op: transaction, rate: 5/s, entities: [a, b] }]\n  - { name: b, records: 1000, record_bytes: 100, regions: 3, consistency: eventual, accesses: [{ op: get, rate: 10/s }] }\n",
    );
    let recommendation = recommend(&spec);
    let b = &recommendation.entities[1];
    // Both a's transaction and b's multi-region writes apply; the transaction is listed first.
    assert_eq!(b.primary.as_str(), "relational");
    assert!(b
        .warnings
        .iter()
        .any(|w| w.rule == "constraints-disagree" && w.message.contains("wide_column")));
    let runner = b.runner_up.as_ref().expect("a runner-up");
    assert!(
        runner.why.contains("txn-multi-entity-relational"),
        "{}",
        runner.why
    );
}

#[test]
fn a_cacheable_read_target_is_left_to_the_cache() {
    // A 2 ms target on a hot read of durable data: a cache meets it, so it does not push the
    // system of record into memory.
    let on = fired(
        "  - name: a\n    records: 1000\n    record_bytes: 100\n    accesses: [{ op: get, rate: 3000/s, p99: 2ms }, { op: update, rate: 1/s }]\n",
    );
    assert!(!on.contains(&"latency-target"), "{on:?}");
    assert!(on.contains(&"hot-read-cache"), "{on:?}");
    let spec = spec(
        "  - name: a\n    records: 1000\n    record_bytes: 100\n    accesses: [{ op: get, rate: 3000/s, p99: 2ms }, { op: update, rate: 1/s }]\n",
    );
    let a = &recommend(&spec).entities[0];
    assert_ne!(a.primary.as_str(), "key_value");
    assert_eq!(a.routes[0].served_by.as_str(), "key_value");
}

#[test]
fn rule_kinds_match_their_stage() {
    let kinds: Vec<RuleKind> = RULES.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&RuleKind::Hard));
    assert!(kinds.contains(&RuleKind::Scored));
    assert!(kinds.contains(&RuleKind::Conflict));
}

#[test]
fn writes_stay_on_the_system_of_record() {
    let spec = spec(
        "  - name: a\n    records: 1000\n    record_bytes: 100\n    accesses: [{ op: put, rate: 500/s }, { op: full_text, rate: 5/s, fields: [t] }, { op: get, rate: 90000/s }]\n",
    );
    let a = &recommend(&spec).entities[0];
    assert_eq!(a.routes[0].served_by, a.primary);
    assert_eq!(a.routes[1].served_by.as_str(), "search");
    assert_eq!(a.routes[2].served_by.as_str(), "key_value");
}
