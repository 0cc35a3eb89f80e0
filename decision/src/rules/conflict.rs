//! Conflict rules: what the spec asks for that the placement cannot give, or gives at a price.

use std::collections::BTreeSet;

use polyroute_adapters::StoreKind;

use super::profile::{comfortable_depth, p99_ms};
use super::{Check, Placement, Rule, RuleKind};
use crate::capacity::{estimate, human_bytes, human_rate, profile, Load};
use crate::spec::{format_duration, Consistency, Op};

pub const STRONG_MULTI_REGION: Rule = Rule {
    id: "strong-multi-region",
    statement: "Strong consistency with writes in several regions puts a cross-region round trip on every write.",
    evidence: "Strongly consistent writes in several regions need agreement across regions, so each commit waits for at least one inter-region round trip (Spanner, Corbett et al., OSDI 2012; the PACELC trade-off, Abadi, IEEE Computer 2012). Accept that latency with a consensus-replicated store, write in one region, or relax the entity to eventual.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(|placement, index| {
        let Some(entity) = placement.spec.entities.get(index) else {
            return Vec::new();
        };
        if entity.consistency == Consistency::Strong && entity.regions > 1 {
            vec![format!(
                "`{}` is strongly consistent and written in {} regions: every write waits for a cross-region round trip (tens to hundreds of ms), and single-leader stores such as PostgreSQL accept writes in one region only; write in one region, or make it eventual",
                entity.name, entity.regions
            )]
        } else {
            Vec::new()
        }
    }),
};

pub const TXN_ACROSS_STORES: Rule = Rule {
    id: "txn-across-stores",
    statement: "A transaction whose entities are placed in different stores cannot commit atomically.",
    evidence: "No atomic commit spans two different stores; a change across them is a saga with compensating steps (Garcia-Molina and Salem, 'Sagas', SIGMOD 1987) or a transactional outbox that feeds the other store after the commit.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(txn_across_stores),
};

fn txn_across_stores(placement: &Placement<'_>, index: usize) -> Vec<String> {
    let Some(entity) = placement.spec.entities.get(index) else {
        return Vec::new();
    };
    let primary_of = |name: &str| {
        placement
            .spec
            .entities
            .iter()
            .position(|e| e.name == name)
            .and_then(|at| placement.entities.get(at))
            .map(|placed| placed.primary)
    };
    let mut warnings = Vec::new();
    for access in entity.accesses.iter().filter(|a| a.op == Op::Transaction) {
        let mut members: Vec<&str> = vec![entity.name.as_str()];
        for name in &access.entities {
            if !members.contains(&name.as_str()) {
                members.push(name);
            }
        }
        let kinds: BTreeSet<StoreKind> = members.iter().filter_map(|m| primary_of(m)).collect();
        if kinds.len() > 1 {
            let placed: Vec<String> = members
                .iter()
                .filter_map(|m| primary_of(m).map(|kind| format!("{m} in {kind}")))
                .collect();
            warnings.push(format!(
                "the `transaction` of `{}` spans {}: no atomic commit across stores; keep them in one relational store, or split it into a saga or an outbox",
                entity.name,
                placed.join(", ")
            ));
        }
    }
    warnings
}

pub const TRAVERSE_TOO_DEEP: Rule = Rule {
    id: "traverse-too-deep",
    statement: "A traversal deeper than the serving kind handles well fans out as degree^depth.",
    evidence: "The LDBC SNB Interactive workload keeps traversals within three hops and uses shortest-path search for longer reach (Erling et al., SIGMOD 2015): the number of nodes reached grows as the average degree to the power of the depth. Bound the fan-out, precompute, or narrow the query.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(|placement, index| {
        let (Some(entity), Some(placed)) = (
            placement.spec.entities.get(index),
            placement.entities.get(index),
        ) else {
            return Vec::new();
        };
        entity
            .accesses
            .iter()
            .zip(&placed.serving)
            .filter_map(|(access, kind)| {
                let depth = access.depth?;
                let comfortable = comfortable_depth(*kind);
                (matches!(access.op, Op::Traverse | Op::ShortestPath) && depth > comfortable)
                    .then(|| {
                        format!(
                            "`{}` of `{}` goes {depth} hops; {kind} handles {comfortable} well: bound the fan-out (limit per hop), precompute, or narrow the query",
                            access.op, entity.name
                        )
                    })
            })
            .collect()
    }),
};

pub const PROJECTION_STALENESS: Rule = Rule {
    id: "projection-staleness",
    statement: "Reads of a strongly consistent entity that a projection serves may miss the latest writes.",
    evidence: "Projections are updated after the system of record commits: search indexes are near-real-time (Elasticsearch refreshes every second by default, docs 'Near real-time search'); caches serve stale values until invalidated ('Scaling Memcache at Facebook', NSDI 2013, on leases and invalidation). Reads that must see their own writes go to the system of record.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(|placement, index| {
        let (Some(entity), Some(placed)) = (
            placement.spec.entities.get(index),
            placement.entities.get(index),
        ) else {
            return Vec::new();
        };
        if entity.consistency != Consistency::Strong {
            return Vec::new();
        }
        let stale: Vec<String> = entity
            .accesses
            .iter()
            .zip(&placed.serving)
            .filter(|(access, kind)| !access.op.is_write() && **kind != placed.primary)
            .map(|(access, kind)| format!("`{}` from {kind}", access.op))
            .collect();
        if stale.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "`{}` is strongly consistent but {} may lag its writes: read from the {} system of record where a caller must see its own write",
                entity.name,
                stale.join(", "),
                placed.primary
            )]
        }
    }),
};

pub const LATENCY_TARGET_MISSED: Rule = Rule {
    id: "latency-target-missed",
    statement: "An access whose serving kind's latency model is above its p99 target will likely miss it.",
    evidence: "The planning p99 of each op on each kind (docs/decision-framework.md, 'Latency model'). A miss in the model is a risk to measure, not a certainty: run `polyroute decide --validate`, then benchmark the chosen servers.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(|placement, index| {
        let (Some(entity), Some(placed)) = (
            placement.spec.entities.get(index),
            placement.entities.get(index),
        ) else {
            return Vec::new();
        };
        entity
            .accesses
            .iter()
            .zip(&placed.serving)
            .filter_map(|(access, kind)| {
                let target = access.p99?;
                let target_ms = target.as_secs_f64() * 1000.0;
                match p99_ms(access, *kind) {
                    Some(model) if model <= target_ms => None,
                    Some(model) => Some(format!(
                        "`{}` of `{}` targets p99 {} but {kind} is modelled at {model:.0} ms",
                        access.op,
                        entity.name,
                        format_duration(target)
                    )),
                    None => Some(format!(
                        "`{}` of `{}` targets p99 {} but {kind} does not serve `{}` natively",
                        access.op,
                        entity.name,
                        format_duration(target),
                        access.op
                    )),
                }
            })
            .collect()
    }),
};

pub const SINGLE_LEADER_SHARDING: Rule = Rule {
    id: "single-leader-sharding",
    statement: "A single-leader system of record that needs more than one node for its writes or its data must be partitioned, archived or sharded.",
    evidence: "PostgreSQL and Neo4j write through one leader and keep a whole database on every member (PostgreSQL docs, 'High Availability, Load Balancing, and Replication'; Neo4j Operations Manual, 'Clustering'): past one node, partition by time and archive old partitions (PostgreSQL docs, 'Table Partitioning'), or shard by key with the application or an extension such as Citus.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(|placement, index| {
        let (Some(entity), Some(placed)) = (
            placement.spec.entities.get(index),
            placement.entities.get(index),
        ) else {
            return Vec::new();
        };
        if profile(placed.primary).scales_out {
            return Vec::new();
        }
        let all = Load::of(entity, &entity.accesses);
        let needs = estimate(
            placed.primary,
            Load {
                writes: all.writes,
                bytes: all.bytes,
                ..Load::default()
            },
        );
        if needs.nodes <= 1 {
            return Vec::new();
        }
        let amount = if needs.bound_by == "writes" {
            human_rate(all.writes)
        } else {
            human_bytes(all.bytes)
        };
        vec![format!(
            "`{}` on {} needs {} nodes for its {} ({amount}) but has one write leader: partition by time and archive, or shard by key",
            entity.name, placed.primary, needs.nodes, needs.bound_by
        )]
    }),
};

pub const CONSTRAINTS_DISAGREE: Rule = Rule {
    id: "constraints-disagree",
    statement: "When hard constraints (or a pinned primary) ask for different systems of record, the one that loses leaves its guarantee unmet.",
    evidence: "A direct consequence of the spec: each hard constraint stands on its own evidence (above); the earlier rule in the list wins, and the loser's need must be met another way or the spec changed.",
    kind: RuleKind::Conflict,
    check: Check::Conflict(|placement, index| {
        let (Some(entity), Some(placed)) = (
            placement.spec.entities.get(index),
            placement.entities.get(index),
        ) else {
            return Vec::new();
        };
        placed
            .overridden
            .iter()
            .map(|(rule, kind)| {
                format!(
                    "`{rule}` asks for {kind} as the system of record of `{}`, but it is {}: what `{rule}` protects is not given by this placement",
                    entity.name, placed.primary
                )
            })
            .collect()
    }),
};
