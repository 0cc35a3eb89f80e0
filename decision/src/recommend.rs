//! Runs the rules over a spec: per entity the primary kind (system of record), the kind serving
//! each access, the rules that fired, the runner-up and why it lost, the capacity math and the
//! warnings.

use std::time::Duration;

use polyroute_adapters::StoreKind;
use serde::Serialize;

use crate::capacity::{estimate, Estimate, Load, CACHE_SHARE, CACHE_TTL_SECS};
use crate::rules::profile::slot;
use crate::rules::{Check, Facts, Placed, Placement, RuleKind, Vote, PRIMARY_CANDIDATES, RULES};
use crate::spec::{Op, Rate, Spec};

/// The recommendation for a whole spec.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// The spec's name.
    pub name: String,
    /// The spec's description.
    pub description: Option<String>,
    /// One per entity, in spec order.
    pub entities: Vec<EntityRecommendation>,
}

/// What decided an entity's primary kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "rule")]
pub enum Decider {
    /// The spec pins it (`primary:`).
    Pinned,
    /// A hard constraint, by id.
    Required(&'static str),
    /// The highest score.
    Scored,
}

/// A rule that fired for an entity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fired {
    /// The rule's id.
    pub rule: &'static str,
    /// Hard, scored or conflict.
    pub kind: RuleKind,
    /// What it found, in terms of the spec.
    pub detail: String,
}

/// A candidate's score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KindScore {
    /// The kind.
    pub kind: StoreKind,
    /// Its score: the access fit (0–3, weighted by traffic) plus the other scored rules.
    pub score: f64,
}

/// A scored rule's effect on each candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contribution {
    /// The rule's id.
    pub rule: &'static str,
    /// The change of each kind's score.
    pub deltas: Vec<(StoreKind, f64)>,
}

impl Contribution {
    /// The change of `kind`'s score.
    pub fn delta(&self, kind: StoreKind) -> f64 {
        self.deltas
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| d)
            .sum()
    }
}

/// The second choice and why it lost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunnerUp {
    /// The kind.
    pub kind: StoreKind,
    /// Its score.
    pub score: f64,
    /// Why it lost.
    pub why: String,
}

/// Where one access is served.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccessPlacement {
    /// Its position in the entity's accesses.
    pub index: usize,
    /// Its op.
    pub op: Op,
    /// Its rate.
    pub rate: Rate,
    /// Its p99 target.
    pub p99: Option<Duration>,
    /// The kind that serves it.
    pub served_by: StoreKind,
    /// The rule that routed it away from the primary, if one did.
    pub rule: Option<&'static str>,
    /// Why, when a rule routed it.
    pub detail: Option<String>,
}

/// A conflict found in the placement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Warning {
    /// The conflict rule's id.
    pub rule: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// The recommendation for one entity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityRecommendation {
    /// The entity.
    pub name: String,
    /// Its system of record.
    pub primary: StoreKind,
    /// What decided it.
    pub decided_by: Decider,
    /// Every primary candidate's score, best first.
    pub scores: Vec<KindScore>,
    /// What each scored rule gave each candidate.
    pub contributions: Vec<Contribution>,
    /// The best other candidate, and why it lost.
    pub runner_up: Option<RunnerUp>,
    /// Where each access is served, in spec order.
    pub routes: Vec<AccessPlacement>,
    /// The rules that fired, in rule order (routes: once per access).
    pub fired: Vec<Fired>,
    /// Nodes for the primary, then for each projection.
    pub capacity: Vec<Estimate>,
    /// The conflicts.
    pub warnings: Vec<Warning>,
}

impl EntityRecommendation {
    /// The kinds that serve some access and are not the primary, in first-use order.
    pub fn projections(&self) -> Vec<StoreKind> {
        let mut kinds = Vec::new();
        for route in &self.routes {
            if route.served_by != self.primary && !kinds.contains(&route.served_by) {
                kinds.push(route.served_by);
            }
        }
        kinds
    }

    /// The ids of the rules that fired, each once, in rule order.
    pub fn rule_ids(&self) -> Vec<&'static str> {
        let mut ids = Vec::new();
        for fired in &self.fired {
            if !ids.contains(&fired.rule) {
                ids.push(fired.rule);
            }
        }
        for warning in &self.warnings {
            if !ids.contains(&warning.rule) {
                ids.push(warning.rule);
            }
        }
        ids
    }
}

/// Runs every rule over `spec`.
pub fn recommend(spec: &Spec) -> Recommendation {
    let mut entities: Vec<EntityRecommendation> = Vec::new();
    let mut placed: Vec<Placed> = Vec::new();
    for entity in &spec.entities {
        let facts = Facts::new(spec, entity);
        let (recommendation, overridden) = place(&facts);
        placed.push(Placed {
            primary: recommendation.primary,
            serving: recommendation.routes.iter().map(|r| r.served_by).collect(),
            overridden,
        });
        entities.push(recommendation);
    }
    let placement = Placement {
        spec,
        entities: &placed,
    };
    for (index, recommendation) in entities.iter_mut().enumerate() {
        for rule in RULES {
            if let Check::Conflict(check) = rule.check {
                for message in check(&placement, index) {
                    recommendation.warnings.push(Warning {
                        rule: rule.id,
                        message,
                    });
                }
            }
        }
    }
    Recommendation {
        name: spec.name.clone(),
        description: spec.description.clone(),
        entities,
    }
}

/// Primary, runner-up, routes and capacity of one entity; also the hard constraints that lost.
fn place(facts: &Facts<'_>) -> (EntityRecommendation, Vec<(&'static str, StoreKind)>) {
    let entity = facts.entity;
    let mut scores = [0.0f64; 7];
    let mut contributions = Vec::new();
    let mut requires: Vec<(&'static str, StoreKind)> = Vec::new();
    let mut fired = Vec::new();
    for rule in RULES {
        let Check::Primary(check) = rule.check else {
            continue;
        };
        match check(facts) {
            None => {}
            Some(Vote::Require { kind, detail }) => {
                requires.push((rule.id, kind));
                fired.push(Fired {
                    rule: rule.id,
                    kind: rule.kind,
                    detail: format!("requires {kind}: {detail}"),
                });
            }
            Some(Vote::Score { deltas, detail }) => {
                for (kind, delta) in &deltas {
                    scores[slot(*kind)] += delta;
                }
                contributions.push(Contribution {
                    rule: rule.id,
                    deltas,
                });
                fired.push(Fired {
                    rule: rule.id,
                    kind: rule.kind,
                    detail,
                });
            }
        }
    }
    let score = |kind: StoreKind| scores[slot(kind)];

    let (primary, decided_by) = match (entity.primary, requires.first()) {
        (Some(pinned), _) => (pinned, Decider::Pinned),
        (None, Some((rule, kind))) => (*kind, Decider::Required(rule)),
        (None, None) => (best_of(&PRIMARY_CANDIDATES, score), Decider::Scored),
    };
    let overridden: Vec<(&'static str, StoreKind)> = requires
        .iter()
        .copied()
        .filter(|(_, kind)| *kind != primary)
        .collect();

    let others: Vec<StoreKind> = PRIMARY_CANDIDATES
        .iter()
        .copied()
        .filter(|kind| *kind != primary)
        .collect();
    let runner_up = (!others.is_empty()).then(|| {
        let kind = best_of(&others, score);
        RunnerUp {
            kind,
            score: score(kind),
            why: why_lost(primary, kind, decided_by, &scores, &contributions),
        }
    });

    let mut routes = Vec::new();
    for (index, access) in entity.accesses.iter().enumerate() {
        let mut route = AccessPlacement {
            index,
            op: access.op,
            rate: access.rate.clone(),
            p99: access.p99,
            served_by: primary,
            rule: None,
            detail: None,
        };
        for rule in RULES {
            let Check::Route(check) = rule.check else {
                continue;
            };
            if let Some(serve) = check(facts, primary, index) {
                route.served_by = serve.kind;
                route.rule = Some(rule.id);
                route.detail = Some(serve.detail.clone());
                fired.push(Fired {
                    rule: rule.id,
                    kind: rule.kind,
                    detail: format!("`{}` → {}: {}", access.op, serve.kind, serve.detail),
                });
                break;
            }
        }
        routes.push(route);
    }

    let mut ranked: Vec<KindScore> = PRIMARY_CANDIDATES
        .iter()
        .map(|kind| KindScore {
            kind: *kind,
            score: score(*kind),
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));

    let mut recommendation = EntityRecommendation {
        name: entity.name.clone(),
        primary,
        decided_by,
        scores: ranked,
        contributions,
        runner_up,
        routes,
        fired,
        capacity: Vec::new(),
        warnings: Vec::new(),
    };
    recommendation.capacity = capacity(facts, &recommendation);
    (recommendation, overridden)
}

/// The best-scoring kind of `kinds`; ties go to the one listed first.
fn best_of(kinds: &[StoreKind], score: impl Fn(StoreKind) -> f64) -> StoreKind {
    let mut best = kinds.first().copied().unwrap_or(StoreKind::Relational);
    for kind in kinds {
        if score(*kind) > score(best) + 1e-9 {
            best = *kind;
        }
    }
    best
}

fn why_lost(
    primary: StoreKind,
    runner: StoreKind,
    decided_by: Decider,
    scores: &[f64; 7],
    contributions: &[Contribution],
) -> String {
    let ours = scores[slot(primary)];
    let theirs = scores[slot(runner)];
    let against = format!("{theirs:.2} against {ours:.2}");
    match decided_by {
        Decider::Pinned => format!("the spec pins {primary}; {runner} scores {against}"),
        Decider::Required(rule) => {
            let compared = if theirs > ours {
                format!("scores higher ({against})")
            } else {
                format!("scores {against}")
            };
            format!("{compared}, but `{rule}` requires {primary}")
        }
        Decider::Scored if (ours - theirs).abs() < 1e-9 => format!(
            "tied at {ours:.2}; ties go to the kind listed first of relational, document, wide_column, key_value, time_series, graph"
        ),
        Decider::Scored => {
            let mut gaps: Vec<(&str, f64)> = contributions
                .iter()
                .map(|c| (c.rule, c.delta(primary) - c.delta(runner)))
                .filter(|(_, gap)| *gap >= 0.05)
                .collect();
            gaps.sort_by(|a, b| b.1.total_cmp(&a.1));
            let reasons: Vec<String> = gaps
                .iter()
                .take(3)
                .map(|(rule, gap)| format!("`{rule}` {:+.2}", -gap))
                .collect();
            if reasons.is_empty() {
                format!("scores {against}")
            } else {
                format!("scores {against}; behind on {}", reasons.join(", "))
            }
        }
    }
}

/// Nodes for the primary (every write, the reads it serves, all data) and for each projection
/// (every write again, the reads routed to it, all data — a cache only its hot set).
fn capacity(facts: &Facts<'_>, recommendation: &EntityRecommendation) -> Vec<Estimate> {
    let entity = facts.entity;
    let mut kinds = vec![recommendation.primary];
    kinds.extend(recommendation.projections());
    kinds
        .into_iter()
        .map(|kind| {
            let mut load = Load {
                bytes: facts.load.bytes,
                writes: facts.load.writes,
                ..Load::default()
            };
            let cache = kind != recommendation.primary && kind == StoreKind::KeyValue;
            for route in &recommendation.routes {
                let Some(access) = entity.accesses.get(route.index) else {
                    continue;
                };
                if route.served_by == kind && !access.op.is_write() {
                    load.add(access);
                }
            }
            if cache {
                // The hot set: a share of the data, and no more than what is read in a TTL.
                let read_in_ttl = (load.light_reads + load.heavy_reads)
                    * CACHE_TTL_SECS as f64
                    * entity.record_bytes as f64;
                load.bytes = (load.bytes * CACHE_SHARE).min(read_in_ttl);
            }
            estimate(kind, load)
        })
        .collect()
}
