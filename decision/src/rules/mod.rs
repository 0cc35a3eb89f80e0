//! The rules, as data. Each [`Rule`] has an id, a one-line statement, the evidence it stands on,
//! a [`RuleKind`] and the [`Check`] that evaluates it.
//!
//! Rules act in three stages, in the order of [`RULES`]:
//!
//! 1. **primary** — for each entity, hard constraints *require* a kind as its system of record
//!    and scored-fit rules add to or take from each candidate kind's score;
//! 2. **route** — for each access, the first route rule that applies sends it to another kind
//!    (a projection of the entity: a search index, a cache, a graph);
//! 3. **conflict** — once everything is placed, conflict rules warn about what the spec asks
//!    for that the placement cannot give (or gives at a price).

use polyroute_adapters::StoreKind;
use serde::Serialize;

use crate::capacity::Load;
use crate::spec::{Entity, Spec};

mod conflict;
mod primary;
pub mod profile;
mod route;

/// Whether a rule decides or weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A hard constraint: when it applies, it decides (a primary kind, or where an access goes).
    Hard,
    /// A scored fit: it adds to or takes from candidates' scores (or routes past a threshold).
    Scored,
    /// A conflict check: it warns about what the placement cannot give.
    Conflict,
}

impl RuleKind {
    /// Its name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Hard => "hard",
            RuleKind::Scored => "scored",
            RuleKind::Conflict => "conflict",
        }
    }
}

/// What a primary-stage rule says about one entity.
#[derive(Clone, Debug, PartialEq)]
pub enum Vote {
    /// The entity's system of record must be this kind.
    Require {
        /// The kind.
        kind: StoreKind,
        /// Why, in terms of the spec.
        detail: String,
    },
    /// Score changes per kind.
    Score {
        /// The change of each kind's score (kinds not listed: 0).
        deltas: Vec<(StoreKind, f64)>,
        /// Why, in terms of the spec.
        detail: String,
    },
}

/// Where a route-stage rule sends one access.
#[derive(Clone, Debug, PartialEq)]
pub struct Serve {
    /// The kind that serves it.
    pub kind: StoreKind,
    /// Why, in terms of the spec.
    pub detail: String,
}

/// How a rule is evaluated.
#[derive(Clone, Copy)]
pub enum Check {
    /// Votes on an entity's primary kind.
    Primary(fn(&Facts<'_>) -> Option<Vote>),
    /// Routes the access at this index, given the entity's primary kind.
    Route(fn(&Facts<'_>, StoreKind, usize) -> Option<Serve>),
    /// Warns about the entity at this index, given every entity's placement.
    Conflict(fn(&Placement<'_>, usize) -> Vec<String>),
}

/// One rule.
#[derive(Clone, Copy)]
pub struct Rule {
    /// Stable id, used in every output.
    pub id: &'static str,
    /// What it says, in one line.
    pub statement: &'static str,
    /// What it stands on.
    pub evidence: &'static str,
    /// Whether it decides, weighs or warns.
    pub kind: RuleKind,
    /// The check.
    pub check: Check,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish()
    }
}

/// What the rules know about one entity of a spec.
#[derive(Debug)]
pub struct Facts<'a> {
    /// The whole spec.
    pub spec: &'a Spec,
    /// The entity.
    pub entity: &'a Entity,
    /// Each access's weight: 1 + log10 of its rate per second (at least 0.25), so a hundred
    /// times the traffic counts twice as much, not a hundred times.
    pub weights: Vec<f64>,
    /// The sum of the weights.
    pub total_weight: f64,
    /// The entity's whole load and data.
    pub load: Load,
    /// The transactions this entity takes part in: (owning entity, access index, members).
    pub transactions: Vec<(&'a str, usize, Vec<&'a str>)>,
}

impl<'a> Facts<'a> {
    /// The facts of `entity` in `spec`.
    pub fn new(spec: &'a Spec, entity: &'a Entity) -> Facts<'a> {
        let weights: Vec<f64> = entity
            .accesses
            .iter()
            .map(|access| (1.0 + access.rate.per_second.log10()).max(0.25))
            .collect();
        let total_weight = weights.iter().sum();
        let mut transactions = Vec::new();
        for owner in &spec.entities {
            for (index, access) in owner.accesses.iter().enumerate() {
                if access.op != crate::spec::Op::Transaction {
                    continue;
                }
                let mut members: Vec<&str> = vec![owner.name.as_str()];
                for name in &access.entities {
                    if !members.contains(&name.as_str()) {
                        members.push(name);
                    }
                }
                if members.contains(&entity.name.as_str()) {
                    transactions.push((owner.name.as_str(), index, members));
                }
            }
        }
        Facts {
            spec,
            entity,
            load: Load::of(entity, &entity.accesses),
            weights,
            total_weight,
            transactions,
        }
    }

    /// The share of the entity's weight carried by access `index` (0 when it has none).
    pub fn share(&self, index: usize) -> f64 {
        if self.total_weight > 0.0 {
            self.weights.get(index).copied().unwrap_or(0.0) / self.total_weight
        } else {
            0.0
        }
    }
}

/// One entity as placed, for conflict checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// Its system of record.
    pub primary: StoreKind,
    /// The kind serving each access, in the order of its accesses.
    pub serving: Vec<StoreKind>,
    /// Hard constraints that asked for another primary and lost: (rule id, kind asked).
    pub overridden: Vec<(&'static str, StoreKind)>,
}

/// Every entity as placed.
#[derive(Clone, Copy, Debug)]
pub struct Placement<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// One per entity, in spec order.
    pub entities: &'a [Placed],
}

/// Every rule, in evaluation order. Hard constraints earlier in the list win over later ones.
pub const RULES: &[Rule] = &[
    primary::TXN_MULTI_ENTITY_RELATIONAL,
    primary::MULTI_REGION_EVENTUAL_WIDE_COLUMN,
    primary::EPHEMERAL_TTL_KEY_VALUE,
    primary::FIT_KEYED,
    primary::FIT_TIME_ORDERED,
    primary::FIT_RELATIONAL_QUERY,
    primary::FIT_SECONDARY_FILTER,
    primary::FIT_RELATIONSHIPS,
    primary::FIT_PARTITION,
    primary::FIT_EXPIRY,
    primary::FLEXIBLE_SCHEMA_DOCUMENT,
    primary::EPHEMERAL_IN_MEMORY,
    primary::DURABLE_OFF_MEMORY,
    primary::RETENTION_BY_PARTITION,
    primary::SCALE_OUT_SIZE,
    primary::SCALE_OUT_WRITES,
    primary::LATENCY_TARGET,
    route::FULL_TEXT_SEARCH_PROJECTION,
    route::DEEP_TRAVERSE_GRAPH_PROJECTION,
    route::HOT_READ_CACHE,
    route::POORLY_SERVED_PROJECTION,
    conflict::STRONG_MULTI_REGION,
    conflict::TXN_ACROSS_STORES,
    conflict::TRAVERSE_TOO_DEEP,
    conflict::PROJECTION_STALENESS,
    conflict::LATENCY_TARGET_MISSED,
    conflict::SINGLE_LEADER_SHARDING,
    conflict::CONSTRAINTS_DISAGREE,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// Kinds that may be an entity's system of record: all but search, which is always a
/// projection (near-real-time, no multi-document transactions).
pub const PRIMARY_CANDIDATES: [StoreKind; 6] = [
    StoreKind::Relational,
    StoreKind::Document,
    StoreKind::WideColumn,
    StoreKind::KeyValue,
    StoreKind::TimeSeries,
    StoreKind::Graph,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_rule_is_described() {
        for (index, rule) in RULES.iter().enumerate() {
            assert!(
                RULES[..index].iter().all(|other| other.id != rule.id),
                "{} twice",
                rule.id
            );
            assert!(!rule.statement.is_empty() && !rule.evidence.is_empty());
            assert!(!rule.statement.contains('\n'), "{}", rule.id);
            let stage_matches = matches!(
                (rule.kind, rule.check),
                (RuleKind::Conflict, Check::Conflict(_))
                    | (RuleKind::Hard | RuleKind::Scored, Check::Primary(_))
                    | (RuleKind::Hard | RuleKind::Scored, Check::Route(_))
            );
            assert!(stage_matches, "{}", rule.id);
        }
        assert!(rule("fit-keyed").is_some());
        assert!(rule("no-such-rule").is_none());
    }
}
