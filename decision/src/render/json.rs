//! The stable JSON report: `{"entities":[{"name", "primary", "routes", "rules", "runner_up",
//! "warnings", …}]}`. Fields are only ever added, never renamed or removed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::capacity::Estimate;
use crate::recommend::{Recommendation, Warning};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// The spec's name.
    pub name: &'a str,
    /// One per entity, in spec order.
    pub entities: Vec<JsonEntity<'a>>,
}

/// One entity of the report.
#[derive(Debug, Serialize)]
pub struct JsonEntity<'a> {
    /// The entity.
    pub name: &'a str,
    /// Its system of record (a store kind).
    pub primary: &'static str,
    /// Op → the kind serving it (for several accesses with one op: the busiest one's).
    pub routes: BTreeMap<&'static str, &'static str>,
    /// Ids of the rules that fired, in rule order, each once.
    pub rules: Vec<&'static str>,
    /// The best other candidate kind, if any.
    pub runner_up: Option<&'static str>,
    /// Why the runner-up lost.
    pub runner_up_reason: Option<&'a str>,
    /// The conflicts: `{"rule", "message"}`.
    pub warnings: &'a [Warning],
    /// Candidate kind → score.
    pub scores: BTreeMap<&'static str, f64>,
    /// Nodes per kind serving the entity, primary first.
    pub capacity: &'a [Estimate],
}

/// `recommendation` as pretty-printed JSON.
pub fn to_json(recommendation: &Recommendation) -> String {
    let report = JsonReport {
        name: &recommendation.name,
        entities: recommendation
            .entities
            .iter()
            .map(|entity| {
                let mut busiest: BTreeMap<&'static str, (f64, &'static str)> = BTreeMap::new();
                for route in &entity.routes {
                    let rate = route.rate.per_second;
                    let slot = busiest
                        .entry(route.op.name())
                        .or_insert((rate, route.served_by.as_str()));
                    if rate > slot.0 {
                        *slot = (rate, route.served_by.as_str());
                    }
                }
                JsonEntity {
                    name: &entity.name,
                    primary: entity.primary.as_str(),
                    routes: busiest
                        .into_iter()
                        .map(|(op, (_, kind))| (op, kind))
                        .collect(),
                    rules: entity.rule_ids(),
                    runner_up: entity.runner_up.as_ref().map(|r| r.kind.as_str()),
                    runner_up_reason: entity.runner_up.as_ref().map(|r| r.why.as_str()),
                    warnings: &entity.warnings,
                    scores: entity
                        .scores
                        .iter()
                        .map(|s| (s.kind.as_str(), (s.score * 100.0).round() / 100.0))
                        .collect(),
                    capacity: &entity.capacity,
                }
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|err| {
        // Every field is a plain string, number, list or map: this cannot fail in practice.
        format!("{{\"error\": {:?}}}", err.to_string())
    });
    text.push('\n');
    text
}
